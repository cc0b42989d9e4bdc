/*
 * QEMU NVM Express: host managed live migration (NVMe TP4159),
 * the controller state
 *
 * Encoding (Get Controller State) and decoding (Set Controller State) of a
 * secondary controller's state: the Controller State header, the NVMe
 * Controller State (I/O queues) and this model's vendor specific state
 * (admin queue, registers, features, outstanding AERs, queued events,
 * pending completions, namespaces), advertised in Identify CNS 20h.
 * Documentation/driver-api/vfio-nvme-qemu.rst describes the formats.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/crc32c.h"
#include "qemu/error-report.h"
#include "lm-internal.h"

/* Controller State header (48 bytes) */
typedef struct QEMU_PACKED NvmeLmStateHdr {
    uint16_t ver;
    uint8_t  csattr;
#define NVME_LM_CSATTR_SUSPENDED 0x1
    uint8_t  rsvd3[13];
    uint64_t nvmecss[2];        /* NVMe controller state size, dwords */
    uint64_t vss[2];            /* vendor specific state size, dwords */
} NvmeLmStateHdr;

/* NVMe Controller State, version 0000h */
typedef struct QEMU_PACKED NvmeLmNvmeState {
    uint16_t ver;
    uint16_t niosq;
    uint16_t niocq;
    uint16_t rsvd6;
} NvmeLmNvmeState;

typedef struct QEMU_PACKED NvmeLmIoSq {
    uint64_t prp1;
    uint16_t qsize;             /* 0's based */
    uint16_t qid;
    uint16_t cqid;
    uint16_t attr;
#define NVME_LM_SQA_PC      0x1
    uint16_t head;
    uint16_t tail;
    uint32_t rsvd20;
} NvmeLmIoSq;

typedef struct QEMU_PACKED NvmeLmIoCq {
    uint64_t prp1;
    uint16_t qsize;             /* 0's based */
    uint16_t qid;
    uint16_t head;
    uint16_t tail;
    uint32_t attr;
#define NVME_LM_CQA_PC      0x1
#define NVME_LM_CQA_IEN     0x2
#define NVME_LM_CQA_S0PT    0x4
#define NVME_LM_CQA_IV(a)   ((a) >> 16)
    uint32_t rsvd20;
} NvmeLmIoCq;

/*
 * Vendor specific state, format 1 of this model.  Everything of a live
 * controller that the NVMe-defined state leaves out.
 */
#define NVME_LM_VS_MAGIC    0x53564e51  /* "QNVS" */
#define NVME_LM_VS_VERSION  1

typedef struct QEMU_PACKED NvmeLmVsHdr {
    uint32_t magic;
    uint16_t version;
    uint16_t rsvd6;
    uint32_t len;               /* bytes, this header included */
    uint32_t crc;               /* crc32c of the bytes after this header */
} NvmeLmVsHdr;

typedef struct QEMU_PACKED NvmeLmVsRegs {
    uint32_t cc;
    uint32_t aqa;
    uint64_t asq;
    uint64_t acq;
    uint32_t intms;
    uint32_t npad;              /* dwords of padding after the lists */
    uint16_t asq_head;
    uint16_t asq_tail;
    uint16_t acq_head;
    uint16_t acq_tail;
    uint8_t  acq_phase;
    uint8_t  aer_mask;
    uint8_t  naer;              /* outstanding AER commands */
    uint8_t  nevents;           /* queued, unreported async events */
    uint16_t temp_thresh_hi;
    uint16_t temp_thresh_low;
    uint32_t async_config;
    uint64_t host_timestamp;
    uint64_t timestamp_age_ms;
    uint8_t  hbs_acre;
    uint8_t  hbs_etdas;
    uint8_t  hbs_lbafee;
    uint8_t  rsvd67;
    uint16_t npending;          /* completions not posted yet (CQ full) */
    uint16_t nns;               /* namespaces, nvme_lm_ns_ours() */
    uint8_t  changed_nsids[32]; /* bit n-1: NSID n */
} NvmeLmVsRegs;

typedef struct QEMU_PACKED NvmeLmVsEvent {
    uint8_t  type;
    uint8_t  info;
    uint8_t  log_page;
    uint8_t  rsvd3;
} NvmeLmVsEvent;

typedef struct QEMU_PACKED NvmeLmVsCqe {
    uint16_t cqid;
    uint16_t sqid;
    uint16_t cid;
    uint16_t status;
    uint32_t dw0;
    uint32_t dw1;
} NvmeLmVsCqe;

typedef struct QEMU_PACKED NvmeLmVsNs {
    uint32_t nsid;
    uint32_t lbads;             /* bytes per logical block */
    uint64_t nsze;
} NvmeLmVsNs;

/*
 * the vendor UUID advertised for NvmeLmVs* (CNS 20h); nvme-vfio-pci knows
 * this device by it (NVME_LM_TEST_DEV_VS_UUID in include/linux/nvme-tp4159.h)
 */
static const uint8_t nvme_lm_vs_uuid[16] = {
    0x6e, 0x76, 0x6d, 0x65, 0x2d, 0x6c, 0x6d, 0x2d,
    0x71, 0x65, 0x6d, 0x75, 0x2d, 0x76, 0x73, 0x01,
};

QEMU_BUILD_BUG_ON(sizeof(NvmeLmStateHdr) != 48);
QEMU_BUILD_BUG_ON(sizeof(NvmeLmNvmeState) != 8);
QEMU_BUILD_BUG_ON(sizeof(NvmeLmIoSq) != 24);
QEMU_BUILD_BUG_ON(sizeof(NvmeLmIoCq) != 24);
QEMU_BUILD_BUG_ON(sizeof(NvmeLmVsHdr) != 16);
QEMU_BUILD_BUG_ON(sizeof(NvmeLmVsRegs) % 4);

/*
 * Whether namespace nsid is one of the controller's: attached to it now, or
 * attached by QEMU's nvme_start_ctrl() whenever the controller is enabled:
 * every namespace not created detached that is shared or private to this
 * controller (and not attached elsewhere), of a command set that CC
 * enables (nvme_csi_supported()).  The state lists these namespaces, and
 * the destination, given the state's CC, must have the same.
 */
static bool nvme_lm_ns_ours(NvmeCtrl *sn, uint32_t cc, uint32_t nsid)
{
    NvmeNamespace *ns = nvme_subsys_ns(sn->subsys, nsid);

    if (nvme_ns(sn, nsid)) {
        return true;
    }
    if (!ns || ns->params.detached ||
        (!ns->params.shared && (ns->ctrl != sn || ns->attached))) {
        return false;
    }
    return ns->csi == NVME_CSI_NVM ||
           (ns->csi == NVME_CSI_ZONED && NVME_CC_CSS(cc) == NVME_CC_CSS_ALL);
}

/* Get Controller State */

static uint32_t nvme_lm_count_ioq(NvmeCtrl *sn, bool cq)
{
    uint32_t count = 0;

    for (int i = 1; i <= sn->params.max_ioqpairs; i++) {
        count += cq ? !!sn->cq[i] : !!sn->sq[i];
    }
    return count;
}

static GByteArray *nvme_lm_save_vs(NvmeCtrl *sn, uint32_t vs_pad,
                                   uint16_t *status)
{
    GByteArray *b = g_byte_array_new();
    NvmeLmVsHdr hdr = { .magic = cpu_to_le32(NVME_LM_VS_MAGIC),
                        .version = cpu_to_le16(NVME_LM_VS_VERSION) };
    NvmeLmVsRegs r = {};
    NvmeAsyncEvent *ev;
    NvmeRequest *req;
    uint32_t crc;

    g_byte_array_append(b, (uint8_t *)&hdr, sizeof(hdr));

    r.cc = sn->bar.cc;
    r.aqa = sn->bar.aqa;
    r.asq = sn->bar.asq;
    r.acq = sn->bar.acq;
    r.intms = sn->bar.intms;
    r.npad = cpu_to_le32(vs_pad / 4);
    if (sn->sq[0]) {
        r.asq_head = cpu_to_le16(sn->admin_sq.head);
        r.asq_tail = cpu_to_le16(sn->admin_sq.tail);
        r.acq_head = cpu_to_le16(sn->admin_cq.head);
        r.acq_tail = cpu_to_le16(sn->admin_cq.tail);
        r.acq_phase = sn->admin_cq.phase;
    }
    r.aer_mask = sn->aer_mask;
    r.naer = sn->outstanding_aers;
    r.nevents = sn->aer_queued;
    r.temp_thresh_hi = cpu_to_le16(sn->features.temp_thresh_hi);
    r.temp_thresh_low = cpu_to_le16(sn->features.temp_thresh_low);
    r.async_config = cpu_to_le32(sn->features.async_config);
    r.host_timestamp = cpu_to_le64(sn->host_timestamp);
    /* measured at suspend, so that the state of a suspended controller is stable */
    r.timestamp_age_ms = cpu_to_le64(sn->lm.suspended_ms -
                                     sn->timestamp_set_qemu_clock_ms);
    r.hbs_acre = sn->features.hbs.acre;
    r.hbs_etdas = sn->features.hbs.etdas;
    r.hbs_lbafee = sn->features.hbs.lbafee;
    for (int i = 1; i <= NVME_MAX_NAMESPACES; i++) {
        if (test_bit(i, sn->changed_nsids)) {
            r.changed_nsids[(i - 1) / 8] |= 1 << ((i - 1) % 8);
        }
        r.nns += nvme_lm_ns_ours(sn, ldl_le_p(&sn->bar.cc), i);
    }
    r.nns = cpu_to_le16(r.nns);
    for (int i = 0; i <= sn->params.max_ioqpairs; i++) {
        if (!sn->cq[i]) {
            continue;
        }
        QTAILQ_FOREACH(req, &sn->cq[i]->req_list, entry) {
            r.npending++;
        }
    }
    r.npending = cpu_to_le16(r.npending);
    g_byte_array_append(b, (uint8_t *)&r, sizeof(r));

    for (int i = 0; i < sn->outstanding_aers; i++) {
        uint16_t cid = sn->aer_reqs[i]->cqe.cid;   /* already LE */

        g_byte_array_append(b, (uint8_t *)&cid, sizeof(cid));
    }
    if (sn->outstanding_aers & 1) {
        uint16_t pad = 0;

        g_byte_array_append(b, (uint8_t *)&pad, sizeof(pad));
    }
    QTAILQ_FOREACH(ev, &sn->aer_queue, entry) {
        NvmeLmVsEvent e = { ev->result.event_type, ev->result.event_info,
                            ev->result.log_page };

        g_byte_array_append(b, (uint8_t *)&e, sizeof(e));
    }
    for (int i = 0; i <= sn->params.max_ioqpairs; i++) {
        if (!sn->cq[i]) {
            continue;
        }
        QTAILQ_FOREACH(req, &sn->cq[i]->req_list, entry) {
            NvmeLmVsCqe c = {
                .cqid = cpu_to_le16(i),
                .sqid = cpu_to_le16(req->sq->sqid),
                .cid = req->cqe.cid,
                .status = cpu_to_le16(req->status),
                .dw0 = req->cqe.result,
                .dw1 = req->cqe.dw1,
            };

            g_byte_array_append(b, (uint8_t *)&c, sizeof(c));
        }
    }
    for (int i = 1; i <= NVME_MAX_NAMESPACES; i++) {
        NvmeNamespace *ns = nvme_ns(sn, i) ?: nvme_subsys_ns(sn->subsys, i);
        NvmeLmVsNs e;

        if (!nvme_lm_ns_ours(sn, ldl_le_p(&sn->bar.cc), i)) {
            continue;
        }
        e.nsid = cpu_to_le32(i);
        e.lbads = cpu_to_le32(ns->lbasz);
        e.nsze = cpu_to_le64(le64_to_cpu(ns->id_ns.nsze));
        g_byte_array_append(b, (uint8_t *)&e, sizeof(e));
    }
    for (uint32_t i = 0; i < vs_pad / 4; i++) {
        uint32_t pad = cpu_to_le32(0x50414421 ^ i);     /* "PAD!" */

        g_byte_array_append(b, (uint8_t *)&pad, sizeof(pad));
    }

    /* only AERs may still be outstanding on a suspended controller */
    for (int i = 0; i <= sn->params.max_ioqpairs; i++) {
        if (!sn->sq[i]) {
            continue;
        }
        QTAILQ_FOREACH(req, &sn->sq[i]->out_req_list, entry) {
            if (i || req->cmd.opcode != NVME_ADM_CMD_ASYNC_EV_REQ) {
                error_report("nvme-lm: cntlid %u: command %u on SQ %d "
                             "still outstanding", sn->cntlid,
                             le16_to_cpu(req->cqe.cid), i);
                *status = NVME_INTERNAL_DEV_ERROR;
            }
        }
    }

    ((NvmeLmVsHdr *)b->data)->len = cpu_to_le32(b->len);
    crc = crc32c(0xffffffff, b->data + sizeof(hdr), b->len - sizeof(hdr));
    ((NvmeLmVsHdr *)b->data)->crc = cpu_to_le32(crc);
    return b;
}

GByteArray *nvme_lm_save(NvmeCtrl *sn, uint32_t vs_pad, uint8_t csvi,
                         bool vendor, uint16_t *status)
{
    GByteArray *b = g_byte_array_new();
    NvmeLmStateHdr hdr = {};
    NvmeLmNvmeState ns = {};
    GByteArray *vs;

    hdr.csattr = sn->lm.suspended ? NVME_LM_CSATTR_SUSPENDED : 0;
    g_byte_array_append(b, (uint8_t *)&hdr, sizeof(hdr));
    if (!csvi) {
        return b;   /* CSVI 0: the header only */
    }
    ns.niosq = cpu_to_le16(nvme_lm_count_ioq(sn, false));
    ns.niocq = cpu_to_le16(nvme_lm_count_ioq(sn, true));
    g_byte_array_append(b, (uint8_t *)&ns, sizeof(ns));
    for (int i = 1; i <= sn->params.max_ioqpairs; i++) {
        NvmeSQueue *sq = sn->sq[i];
        NvmeLmIoSq e = {};

        if (!sq) {
            continue;
        }
        e.prp1 = cpu_to_le64(sq->dma_addr);
        e.qsize = cpu_to_le16(sq->size - 1);
        e.qid = cpu_to_le16(sq->sqid);
        e.cqid = cpu_to_le16(sq->cqid);
        e.attr = cpu_to_le16(NVME_LM_SQA_PC);
        e.head = cpu_to_le16(sq->head);
        e.tail = cpu_to_le16(sq->tail);
        g_byte_array_append(b, (uint8_t *)&e, sizeof(e));
    }
    for (int i = 1; i <= sn->params.max_ioqpairs; i++) {
        NvmeCQueue *cq = sn->cq[i];
        NvmeLmIoCq e = {};
        uint8_t s0pt;

        if (!cq) {
            continue;
        }
        /*
         * S0PT is the phase tag in slot 0 of the queue memory, as libnvme
         * names it (QEMU's upstream proposal stores the current phase): it
         * is the current phase once slot 0 was written in this pass.
         */
        s0pt = cq->tail ? cq->phase : !cq->phase;
        e.prp1 = cpu_to_le64(cq->dma_addr);
        e.qsize = cpu_to_le16(cq->size - 1);
        e.qid = cpu_to_le16(cq->cqid);
        e.head = cpu_to_le16(cq->head);
        e.tail = cpu_to_le16(cq->tail);
        e.attr = cpu_to_le32(NVME_LM_CQA_PC |
                             (cq->irq_enabled ? NVME_LM_CQA_IEN : 0) |
                             (s0pt ? NVME_LM_CQA_S0PT : 0) |
                             (uint32_t)cq->vector << 16);
        g_byte_array_append(b, (uint8_t *)&e, sizeof(e));
    }
    ((NvmeLmStateHdr *)b->data)->nvmecss[0] =
        cpu_to_le64((b->len - sizeof(hdr)) / 4);
    if (vendor) {
        vs = nvme_lm_save_vs(sn, vs_pad, status);
        ((NvmeLmStateHdr *)b->data)->vss[0] = cpu_to_le64(vs->len / 4);
        g_byte_array_append(b, vs->data, vs->len);
        g_byte_array_free(vs, true);
    }
    return b;
}

/* Set Controller State */

typedef struct NvmeLmParsed {
    const NvmeLmIoSq *sq;
    const NvmeLmIoCq *cq;
    uint16_t niosq, niocq;
    const NvmeLmVsRegs *r;
    const uint16_t *aer_cid;
    const NvmeLmVsEvent *ev;
    const NvmeLmVsCqe *cqe;
    const NvmeLmVsNs *ns;
} NvmeLmParsed;

#define LM_BAD(fmt, ...) do { \
        error_report("nvme-lm: cntlid %u: rejected state: " fmt, \
                     sn->cntlid, ## __VA_ARGS__); \
        return NVME_INVALID_FIELD | NVME_DNR; \
    } while (0)

static uint16_t nvme_lm_check_queue(NvmeCtrl *sn, uint32_t cc, uint16_t qid,
                                    uint64_t prp1, uint16_t qsize,
                                    uint16_t head, uint16_t tail,
                                    bool pc)
{
    uint32_t page = 1 << (NVME_CC_MPS(cc) + 12);

    if (!qid || qid > sn->conf_ioqpairs) {
        LM_BAD("queue id %u (max %u)", qid, sn->conf_ioqpairs);
    }
    if (!qsize || qsize > NVME_CAP_MQES(ldq_le_p(&sn->bar.cap))) {
        LM_BAD("queue %u size %u", qid, qsize + 1);
    }
    if (head > qsize || tail > qsize || !pc || !prp1 || prp1 & (page - 1)) {
        LM_BAD("queue %u head %u tail %u base 0x%" PRIx64, qid, head, tail,
               prp1);
    }
    return NVME_SUCCESS;
}

/* validate everything before anything is changed */
static uint16_t nvme_lm_parse(NvmeCtrl *sn, const uint8_t *buf, uint32_t len,
                              uint8_t csuuidi, NvmeLmParsed *p)
{
    const NvmeLmStateHdr *hdr = (const void *)buf;
    const NvmeLmNvmeState *ns;
    const NvmeLmVsHdr *vh;
    uint64_t css, vss;
    uint32_t cc, aqa, off;
    g_autofree bool *cq_seen = g_new0(bool, sn->params.max_ioqpairs + 1);
    g_autofree bool *sq_seen = g_new0(bool, sn->params.max_ioqpairs + 1);
    DECLARE_BITMAP(listed, NVME_MAX_NAMESPACES + 1) = { 0 };

    memset(p, 0, sizeof(*p));
    if (len < sizeof(*hdr)) {
        LM_BAD("%u bytes", len);
    }
    css = le64_to_cpu(hdr->nvmecss[0]);
    vss = le64_to_cpu(hdr->vss[0]);
    if (hdr->ver || hdr->nvmecss[1] || hdr->vss[1] ||
        css > len || vss > len ||
        sizeof(*hdr) + 4 * (css + vss) != len) {
        LM_BAD("header sizes %" PRIu64 " + %" PRIu64 " dwords, %u bytes",
               css, vss, len);
    }
    if (css * 4 < sizeof(*ns) || !!vss != !!csuuidi) {
        LM_BAD("NVMe state %" PRIu64 " dwords, vendor state %" PRIu64
               " dwords, CSUUIDI %u", css, vss, csuuidi);
    }
    ns = (const void *)(buf + sizeof(*hdr));
    p->niosq = le16_to_cpu(ns->niosq);
    p->niocq = le16_to_cpu(ns->niocq);
    if (ns->ver ||
        sizeof(*ns) + sizeof(NvmeLmIoSq) * (p->niosq + p->niocq) != css * 4) {
        LM_BAD("NVMe state version %u, %u SQs, %u CQs in %" PRIu64 " dwords",
               le16_to_cpu(ns->ver), p->niosq, p->niocq, css);
    }
    p->sq = (const void *)(ns + 1);
    p->cq = (const void *)(p->sq + p->niosq);

    if (!vss) {
        /* I/O queues only: the destination must be enabled already */
        if (!NVME_CC_EN(ldl_le_p(&sn->bar.cc))) {
            LM_BAD("no vendor state for a disabled controller");
        }
        cc = ldl_le_p(&sn->bar.cc);
    } else {
        off = sizeof(*hdr) + css * 4;
        vh = (const void *)(buf + off);
        if (vss * 4 < sizeof(*vh) + sizeof(NvmeLmVsRegs) ||
            le32_to_cpu(vh->magic) != NVME_LM_VS_MAGIC ||
            le16_to_cpu(vh->version) != NVME_LM_VS_VERSION ||
            le32_to_cpu(vh->len) != vss * 4) {
            LM_BAD("vendor state header");
        }
        if (crc32c(0xffffffff, (const uint8_t *)(vh + 1),
                   vss * 4 - sizeof(*vh)) != le32_to_cpu(vh->crc)) {
            LM_BAD("vendor state checksum");
        }
        p->r = (const void *)(vh + 1);
        off = sizeof(*vh) + sizeof(NvmeLmVsRegs) +
              ROUND_UP(p->r->naer * 2, 4) +
              p->r->nevents * sizeof(NvmeLmVsEvent) +
              le16_to_cpu(p->r->npending) * sizeof(NvmeLmVsCqe) +
              le16_to_cpu(p->r->nns) * sizeof(NvmeLmVsNs);
        if (le32_to_cpu(p->r->npad) > NVME_LM_MAX_VS_PAD / 4) {
            LM_BAD("vendor state padding");
        }
        off += le32_to_cpu(p->r->npad) * 4;
        if (off != vss * 4 || p->r->naer > sn->params.aerl + 1 ||
            p->r->nevents > sn->params.aer_max_queued) {
            LM_BAD("vendor state lists");
        }
        p->aer_cid = (const void *)(p->r + 1);
        p->ev = (const void *)((const uint8_t *)p->aer_cid +
                               ROUND_UP(p->r->naer * 2, 4));
        p->cqe = (const void *)(p->ev + p->r->nevents);
        p->ns = (const void *)(p->cqe + le16_to_cpu(p->r->npending));

        cc = le32_to_cpu(p->r->cc);
        aqa = le32_to_cpu(p->r->aqa);
        if (NVME_CC_EN(cc)) {
            uint64_t cap = ldq_le_p(&sn->bar.cap);
            uint32_t page = 1 << (NVME_CC_MPS(cc) + 12);

            if (NVME_CC_MPS(cc) < NVME_CAP_MPSMIN(cap) ||
                NVME_CC_MPS(cc) > NVME_CAP_MPSMAX(cap) ||
                !(NVME_CAP_CSS(cap) & (1 << NVME_CC_CSS(cc))) ||
                !NVME_AQA_ASQS(aqa) || !NVME_AQA_ACQS(aqa) ||
                le64_to_cpu(p->r->asq) & (page - 1) ||
                le64_to_cpu(p->r->acq) & (page - 1) ||
                le16_to_cpu(p->r->asq_head) > NVME_AQA_ASQS(aqa) ||
                le16_to_cpu(p->r->asq_tail) > NVME_AQA_ASQS(aqa) ||
                le16_to_cpu(p->r->acq_head) > NVME_AQA_ACQS(aqa) ||
                le16_to_cpu(p->r->acq_tail) > NVME_AQA_ACQS(aqa) ||
                p->r->acq_phase > 1) {
                LM_BAD("controller configuration");
            }
        } else if (p->niosq || p->niocq || p->r->naer ||
                   le16_to_cpu(p->r->npending)) {
            LM_BAD("queues on a disabled controller");
        }
        for (int i = 0; i < le16_to_cpu(p->r->nns); i++) {
            uint32_t nsid = le32_to_cpu(p->ns[i].nsid);
            NvmeNamespace *dns = sn->subsys && nsid <= NVME_MAX_NAMESPACES ?
                                 nvme_subsys_ns(sn->subsys, nsid) : NULL;

            if (!dns || dns->lbasz != le32_to_cpu(p->ns[i].lbads) ||
                le64_to_cpu(dns->id_ns.nsze) < le64_to_cpu(p->ns[i].nsze)) {
                LM_BAD("namespace %u missing or smaller on the destination",
                       nsid);
            }
            if (test_and_set_bit(nsid, listed)) {
                LM_BAD("namespace %u listed twice", nsid);
            }
        }
        /*
         * Which namespaces a controller has is the host administrator's
         * decision (Namespace Attachment), never the state's: the state
         * must list exactly the namespaces this controller has, else its
         * guest would see namespaces vanish, or get one the administrator
         * did not give it.  Nothing is attached or detached here.  The
         * status is Invalid Field in Command, as for every state this
         * controller cannot take: a field of the command's data (the
         * namespace list) holds a value it does not accept; the statuses
         * about attachment (Namespace Not Attached, Namespace Is Private)
         * are specific to Namespace Attachment.
         */
        for (uint32_t nsid = 1; nsid <= NVME_MAX_NAMESPACES; nsid++) {
            bool in_state = test_bit(nsid, listed);

            if (in_state != nvme_lm_ns_ours(sn, cc, nsid)) {
                LM_BAD("namespace %u %s", nsid,
                       in_state ? "is not attached to this controller"
                                : "is attached here but not in the state");
            }
        }
    }

    for (int i = 0; i < p->niocq; i++) {
        const NvmeLmIoCq *e = &p->cq[i];
        uint16_t qid = le16_to_cpu(e->qid);
        uint32_t attr = le32_to_cpu(e->attr);

        if (nvme_lm_check_queue(sn, cc, qid, le64_to_cpu(e->prp1),
                                le16_to_cpu(e->qsize), le16_to_cpu(e->head),
                                le16_to_cpu(e->tail),
                                attr & NVME_LM_CQA_PC) || cq_seen[qid]) {
            LM_BAD("CQ %u", qid);
        }
        if (NVME_LM_CQA_IV(attr) >= sn->conf_msix_qsize ||
            (attr & 0xfff8)) {
            LM_BAD("CQ %u vector %u", qid, NVME_LM_CQA_IV(attr));
        }
        cq_seen[qid] = true;
    }
    for (int i = 0; i < p->niosq; i++) {
        const NvmeLmIoSq *e = &p->sq[i];
        uint16_t qid = le16_to_cpu(e->qid);
        uint16_t cqid = le16_to_cpu(e->cqid);

        if (nvme_lm_check_queue(sn, cc, qid, le64_to_cpu(e->prp1),
                                le16_to_cpu(e->qsize), le16_to_cpu(e->head),
                                le16_to_cpu(e->tail),
                                le16_to_cpu(e->attr) & NVME_LM_SQA_PC) ||
            sq_seen[qid] || cqid > sn->params.max_ioqpairs || !cq_seen[cqid]) {
            LM_BAD("SQ %u (CQ %u)", qid, cqid);
        }
        sq_seen[qid] = true;
    }
    for (int i = 0; p->r && i < le16_to_cpu(p->r->npending); i++) {
        uint16_t cqid = le16_to_cpu(p->cqe[i].cqid);
        uint16_t sqid = le16_to_cpu(p->cqe[i].sqid);
        bool sq_ok = sqid ? sqid <= sn->params.max_ioqpairs && sq_seen[sqid]
                          : !cqid;

        if (!sq_ok ||
            (cqid && (cqid > sn->params.max_ioqpairs || !cq_seen[cqid]))) {
            LM_BAD("pending completion on CQ %u for SQ %u", cqid, sqid);
        }
    }
    return NVME_SUCCESS;
}

static NvmeRequest *nvme_lm_take_req(NvmeSQueue *sq)
{
    NvmeRequest *req = QTAILQ_FIRST(&sq->req_list);

    if (req) {
        QTAILQ_REMOVE(&sq->req_list, req, entry);
        memset(&req->cqe, 0, sizeof(req->cqe));
        req->status = 0;
        req->ns = NULL;
        req->aiocb = NULL;
    }
    return req;
}

static void nvme_lm_apply(NvmeCtrl *sn, const NvmeLmParsed *p)
{
    const NvmeLmVsRegs *r = p->r;

    if (r) {
        nvme_ctrl_reset(sn, NVME_RESET_CONTROLLER);
        sn->bar.cc = r->cc;
        sn->bar.aqa = r->aqa;
        sn->bar.asq = r->asq;
        sn->bar.acq = r->acq;
        sn->bar.intms = r->intms;
        sn->bar.intmc = r->intms;
        if (NVME_CC_EN(le32_to_cpu(r->cc))) {
            if (nvme_start_ctrl(sn)) {
                error_report("nvme-lm: cntlid %u: cannot start", sn->cntlid);
                stl_le_p(&sn->bar.csts, NVME_CSTS_FAILED);
                return;
            }
            stl_le_p(&sn->bar.csts, NVME_CSTS_READY);
            sn->admin_sq.head = le16_to_cpu(r->asq_head);
            sn->admin_sq.tail = le16_to_cpu(r->asq_tail);
            sn->admin_cq.head = le16_to_cpu(r->acq_head);
            sn->admin_cq.tail = le16_to_cpu(r->acq_tail);
            sn->admin_cq.phase = r->acq_phase;
        }
        sn->features.temp_thresh_hi = le16_to_cpu(r->temp_thresh_hi);
        sn->features.temp_thresh_low = le16_to_cpu(r->temp_thresh_low);
        sn->features.async_config = le32_to_cpu(r->async_config);
        sn->features.hbs.acre = r->hbs_acre;
        sn->features.hbs.etdas = r->hbs_etdas;
        sn->features.hbs.lbafee = r->hbs_lbafee;
        sn->host_timestamp = le64_to_cpu(r->host_timestamp);
        /*
         * The state's clock stops while the controller is suspended: it
         * stopped on the source at Suspend, and here it stops now, so the
         * state reads back as it was applied until Resume starts it again.
         */
        sn->lm.suspended_ms = qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL);
        sn->timestamp_set_qemu_clock_ms = sn->lm.suspended_ms -
                                          le64_to_cpu(r->timestamp_age_ms);
        sn->aer_mask = r->aer_mask;
        for (int i = 1; i <= NVME_MAX_NAMESPACES; i++) {
            if (r->changed_nsids[(i - 1) / 8] & (1 << ((i - 1) % 8))) {
                set_bit(i, sn->changed_nsids);
            } else {
                clear_bit(i, sn->changed_nsids);
            }
        }
        /*
         * Namespaces: none attached or detached here.  nvme_lm_parse()
         * checked that the state lists exactly those this controller has
         * now or gets from nvme_start_ctrl() (above, or when its guest
         * enables it).
         */
    } else {
        /* I/O queues only, onto an enabled controller */
        for (int i = 1; i <= sn->params.max_ioqpairs; i++) {
            if (sn->sq[i]) {
                nvme_free_sq(sn->sq[i], sn);
            }
        }
        for (int i = 1; i <= sn->params.max_ioqpairs; i++) {
            if (sn->cq[i]) {
                nvme_free_cq(sn->cq[i], sn);
            }
        }
    }

    for (int i = 0; i < p->niocq; i++) {
        const NvmeLmIoCq *e = &p->cq[i];
        uint32_t attr = le32_to_cpu(e->attr);
        NvmeCQueue *cq = g_new0(NvmeCQueue, 1);

        nvme_init_cq(cq, sn, le64_to_cpu(e->prp1), le16_to_cpu(e->qid),
                     NVME_LM_CQA_IV(attr), le16_to_cpu(e->qsize) + 1,
                     !!(attr & NVME_LM_CQA_IEN));
        cq->head = le16_to_cpu(e->head);
        cq->tail = le16_to_cpu(e->tail);
        cq->phase = cq->tail ? !!(attr & NVME_LM_CQA_S0PT)
                             : !(attr & NVME_LM_CQA_S0PT);
        if (cq->irq_enabled && cq->head != cq->tail) {
            sn->cq_pending++;
        }
    }
    for (int i = 0; i < p->niosq; i++) {
        const NvmeLmIoSq *e = &p->sq[i];
        NvmeSQueue *sq = g_new0(NvmeSQueue, 1);

        nvme_init_sq(sq, sn, le64_to_cpu(e->prp1), le16_to_cpu(e->qid),
                     le16_to_cpu(e->cqid), le16_to_cpu(e->qsize) + 1);
        sq->head = le16_to_cpu(e->head);
        sq->tail = le16_to_cpu(e->tail);
    }
    if (p->niosq || p->niocq) {
        sn->qs_created = true;
    }
    if (!r) {
        return;
    }

    for (int i = 0; i < r->naer; i++) {
        NvmeRequest *req = nvme_lm_take_req(&sn->admin_sq);

        if (!req) {
            break;
        }
        QTAILQ_INSERT_TAIL(&sn->admin_sq.out_req_list, req, entry);
        req->cmd.opcode = NVME_ADM_CMD_ASYNC_EV_REQ;
        req->cqe.cid = p->aer_cid[i];
        sn->aer_reqs[sn->outstanding_aers++] = req;
    }
    for (int i = 0; i < r->nevents; i++) {
        NvmeAsyncEvent *ev = g_new0(NvmeAsyncEvent, 1);

        ev->result.event_type = p->ev[i].type;
        ev->result.event_info = p->ev[i].info;
        ev->result.log_page = p->ev[i].log_page;
        QTAILQ_INSERT_TAIL(&sn->aer_queue, ev, entry);
        sn->aer_queued++;
    }
    for (int i = 0; i < le16_to_cpu(r->npending); i++) {
        uint16_t sqid = le16_to_cpu(p->cqe[i].sqid);
        NvmeSQueue *sq = sqid ? sn->sq[sqid] : &sn->admin_sq;
        NvmeRequest *req = nvme_lm_take_req(sq);

        if (!req) {
            break;
        }
        req->cqe.cid = p->cqe[i].cid;
        req->cqe.result = p->cqe[i].dw0;
        req->cqe.dw1 = p->cqe[i].dw1;
        req->status = le16_to_cpu(p->cqe[i].status);
        QTAILQ_INSERT_TAIL(&sn->cq[sq->cqid]->req_list, req, entry);
    }
}

uint16_t nvme_lm_load(NvmeCtrl *sn, const uint8_t *buf, uint32_t len,
                      uint8_t csuuidi)
{
    NvmeLmParsed p;
    uint16_t status;

    status = nvme_lm_parse(sn, buf, len, csuuidi, &p);
    if (!status) {
        nvme_lm_apply(sn, &p);
    }
    return status;
}

/* Identify CNS 20h: Supported Controller State Formats */
uint16_t nvme_lm_identify_state_fmts(NvmeCtrl *n, NvmeRequest *req)
{
    uint8_t buf[NVME_IDENTIFY_DATA_SIZE] = {};

    if (!nvme_lm_cmd_supported(n, NVME_ADM_CMD_MIGRATION_RECV)) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    /* NV, NUUID, NV version IDs (2 bytes each), then NUUID UUIDs */
    if (n->lm.foreign_fmts) {
        /* a version and a UUID this model cannot save or load, first */
        buf[0] = 2;
        buf[1] = 2;
        stw_le_p(&buf[2], 0x7fff);
        stw_le_p(&buf[4], 0x0000);
        memset(&buf[6], 0xee, sizeof(nvme_lm_vs_uuid));
        memcpy(&buf[6 + sizeof(nvme_lm_vs_uuid)], nvme_lm_vs_uuid,
               sizeof(nvme_lm_vs_uuid));
        return nvme_c2h(n, buf, sizeof(buf), req);
    }
    buf[0] = 1;
    buf[1] = 1;
    stw_le_p(&buf[2], 0x0000);
    memcpy(&buf[4], nvme_lm_vs_uuid, sizeof(nvme_lm_vs_uuid));
    /* fault injection: a PF that does not identify as this device */
    if (nvme_lm_fault_hit(n, req) &&
        n->lm.fault.action == NVME_LM_FAULT_NO_VS_FMT) {
        buf[1] = 0;
        memset(&buf[4], 0, sizeof(nvme_lm_vs_uuid));
    }
    return nvme_c2h(n, buf, sizeof(buf), req);
}
