/*
 * QEMU NVM Express: host managed live migration (NVMe TP4159), controller side
 *
 * The primary controller of an SR-IOV PF manages its secondary controllers
 * (the VFs): Migration Send (Suspend, Resume, Set Controller State),
 * Migration Receive (Get Controller State), Track Send / Track Receive, and
 * Controller Data Queues (User Data Migration Queues) living in PF memory.
 *
 * Encodings follow libnvme and nvme-cli's "lm" plugin where the public
 * sources agree.  Where they are silent (the Track Memory Changes and Track
 * Receive formats) or a live controller needs more than the NVMe-defined
 * controller state (admin queue, registers, features, outstanding AERs,
 * namespaces), this model defines its own encoding; the vendor-specific part
 * of the state is versioned and advertised under its own UUID in Identify
 * CNS 20h.  Documentation/driver-api/vfio-nvme-qemu.rst describes both.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/crc32c.h"
#include "qemu/error-report.h"
#include "nvme.h"
#include "hw/pci/pcie_sriov.h"

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
    uint32_t rsvd28;
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
    uint16_t nns;               /* attached namespaces */
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

/* User Data Migration Queue entry, LBA migration queue format 0 */
typedef struct QEMU_PACKED NvmeLmUdmqEntry {
    uint32_t nsid;
    uint32_t nlb;               /* 0's based */
    uint64_t slba;
    uint8_t  rsvd16[15];
    uint8_t  attr;
#define NVME_LM_UDMQ_P          0x01
#define NVME_LM_UDMQ_ESA(x)     ((x) << 1)
#define NVME_LM_UDMQ_LBACI(x)   ((x) << 6)
} NvmeLmUdmqEntry;

enum {
    NVME_LM_ESA_NORMAL      = 0,
    NVME_LM_ESA_FIRST       = 1,
    NVME_LM_ESA_STOPPED     = 2,
    NVME_LM_ESA_SUSPENDED   = 3,
    NVME_LM_ESA_FULL        = 7,
};

enum {
    NVME_LM_LBACI_RANGE     = 0,
    NVME_LM_LBACI_ALL       = 1,
    NVME_LM_LBACI_NONE      = 2,
};

/* the vendor UUID advertised for NvmeLmVs* (CNS 20h) */
static const uint8_t nvme_lm_vs_uuid[16] = {
    0x6e, 0x76, 0x6d, 0x65, 0x2d, 0x6c, 0x6d, 0x2d,
    0x71, 0x65, 0x6d, 0x75, 0x2d, 0x76, 0x73, 0x01,
};

/* what Set Controller State accepts; validation decides the rest */
#define NVME_LM_MAX_STATE       (1 << 20)

#define NVME_LM_MIN_GRAN_BITS   12
#define NVME_LM_MAX_GRAN_BITS   21

QEMU_BUILD_BUG_ON(sizeof(NvmeLmStateHdr) != 48);
QEMU_BUILD_BUG_ON(sizeof(NvmeLmNvmeState) != 8);
QEMU_BUILD_BUG_ON(sizeof(NvmeLmIoSq) != 24);
QEMU_BUILD_BUG_ON(sizeof(NvmeLmIoCq) != 24);
QEMU_BUILD_BUG_ON(sizeof(NvmeLmVsHdr) != 16);
QEMU_BUILD_BUG_ON(sizeof(NvmeLmVsRegs) % 4);
QEMU_BUILD_BUG_ON(sizeof(NvmeLmUdmqEntry) != 32);

static inline uint8_t lm_sel(NvmeRequest *req)
{
    return le32_to_cpu(req->cmd.cdw10) & 0xff;
}

static inline uint16_t lm_mos(NvmeRequest *req)
{
    return le32_to_cpu(req->cmd.cdw10) >> 16;
}

static NvmeCtrl *nvme_lm_pf(NvmeCtrl *n)
{
    PCIDevice *pf = pcie_sriov_get_pf(&n->parent_obj);

    return pf ? NVME(pf) : NULL;
}

/*
 * The secondary controller cntlid of the primary controller n.  The status
 * tells why there is none: not one of n's secondary controllers (the
 * primary's own CNTLID included), or its VF is not enabled.
 */
static uint16_t nvme_lm_target(NvmeCtrl *n, uint16_t cntlid, NvmeCtrl **sn)
{
    NvmeSecCtrlEntry *sctrl = nvme_sctrl_for_cntlid(n, cntlid);
    PCIDevice *vf;

    *sn = NULL;
    if (!sctrl || cntlid == n->cntlid) {
        return NVME_INVALID_CTRL_ID | NVME_DNR;
    }
    vf = pcie_sriov_get_vf_at_index(&n->parent_obj,
                                    le16_to_cpu(sctrl->vfn) - 1);
    if (!vf) {
        return NVME_INVALID_SEC_CTRL_STATE | NVME_DNR;
    }
    *sn = NVME(vf);
    return NVME_SUCCESS;
}

/* User Data Migration Queues */

static NvmeLmCdq *nvme_lm_cdq(NvmeCtrl *pf, uint16_t cdqid)
{
    for (int i = 0; i < NVME_LM_MAX_CDQS; i++) {
        if (pf->lm.cdq[i].used && pf->lm.cdq[i].cdqid == cdqid) {
            return &pf->lm.cdq[i];
        }
    }
    return NULL;
}

static NvmeLmCdq *nvme_lm_cdq_for(NvmeCtrl *pf, uint16_t cntlid)
{
    for (int i = 0; i < NVME_LM_MAX_CDQS; i++) {
        if (pf->lm.cdq[i].used && pf->lm.cdq[i].cntlid == cntlid) {
            return &pf->lm.cdq[i];
        }
    }
    return NULL;
}

/*
 * Post one entry.  The entry that fills the queue (at most entries - 1 are
 * unread) is turned into a "queue full" marker and nothing more is logged
 * until the host frees space: it must treat everything as changed since.
 */
static void nvme_lm_udmq_post(NvmeCtrl *pf, NvmeLmCdq *q, uint32_t nsid,
                              uint64_t slba, uint32_t nlb, uint8_t esa,
                              uint8_t lbaci)
{
    NvmeLmUdmqEntry e = {};
    uint32_t next = (q->tail + 1) % q->entries;

    if (q->full) {
        if ((q->tail + 1) % q->entries == q->head) {
            return;
        }
        q->full = false;    /* the host made room: logging goes on */
    }
    if ((next + 1) % q->entries == q->head) {
        esa = NVME_LM_ESA_FULL;
        lbaci = NVME_LM_LBACI_ALL;
        q->full = true;
    }
    e.nsid = cpu_to_le32(nsid);
    e.nlb = cpu_to_le32(nlb);
    e.slba = cpu_to_le64(slba);
    e.attr = q->phase | NVME_LM_UDMQ_ESA(esa) | NVME_LM_UDMQ_LBACI(lbaci);
    if (pci_dma_write(&pf->parent_obj, q->base + q->tail * sizeof(e), &e,
                      sizeof(e))) {
        error_report("nvme-lm: cannot write CDQ %u entry %u", q->cdqid,
                     q->tail);
        return;
    }
    q->tail = next;
    if (!q->tail) {
        q->phase ^= 1;
    }
}

static void nvme_lm_udmq_mark(NvmeCtrl *sn, uint8_t esa)
{
    NvmeCtrl *pf = nvme_lm_pf(sn);
    NvmeLmCdq *q = pf ? nvme_lm_cdq_for(pf, sn->cntlid) : NULL;

    if (q && q->logging) {
        nvme_lm_udmq_post(pf, q, 0, 0, 0, esa, NVME_LM_LBACI_NONE);
    }
}

static void nvme_lm_cdq_free(NvmeCtrl *pf, NvmeLmCdq *q)
{
    memset(q, 0, sizeof(*q));
}

static uint16_t nvme_lm_cdq_cmd(NvmeCtrl *n, NvmeRequest *req)
{
    uint32_t dw11 = le32_to_cpu(req->cmd.cdw11);
    uint32_t size = le32_to_cpu(req->cmd.cdw12);
    uint64_t base = le64_to_cpu(req->cmd.dptr.prp1);
    uint16_t cntlid = dw11 >> 16;
    NvmeLmCdq *q = NULL;
    NvmeCtrl *sn;
    uint16_t status;

    switch (lm_sel(req)) {
    case 0: /* create */
        if ((lm_mos(req) & 0xff) != 0 || !(dw11 & 1)) {
            /* only User Data Migration Queues, physically contiguous */
            return NVME_INVALID_FIELD | NVME_DNR;
        }
        if (size < 2 * sizeof(NvmeLmUdmqEntry) / 4 ||
            size % (sizeof(NvmeLmUdmqEntry) / 4) ||
            base % sizeof(NvmeLmUdmqEntry)) {
            return NVME_INVALID_FIELD | NVME_DNR;
        }
        status = nvme_lm_target(n, cntlid, &sn);
        if (status && status != (NVME_INVALID_SEC_CTRL_STATE | NVME_DNR)) {
            return status;
        }
        if (nvme_lm_cdq_for(n, cntlid)) {
            return NVME_LM_NOT_ENOUGH_RES | NVME_DNR;
        }
        for (int i = 0; i < NVME_LM_MAX_CDQS; i++) {
            if (!n->lm.cdq[i].used) {
                q = &n->lm.cdq[i];
                q->cdqid = i + 1;
                break;
            }
        }
        if (!q) {
            return NVME_LM_NOT_ENOUGH_RES | NVME_DNR;
        }
        q->used = true;
        q->cntlid = cntlid;
        q->base = base;
        q->entries = size * 4 / sizeof(NvmeLmUdmqEntry);
        q->head = q->tail = 0;
        q->phase = 1;
        req->cqe.result = cpu_to_le32(q->cdqid);
        return NVME_SUCCESS;
    case 1: /* delete */
        q = nvme_lm_cdq(n, dw11 & 0xffff);
        if (!q) {
            return NVME_LM_INVALID_CDQ | NVME_DNR;
        }
        nvme_lm_cdq_free(n, q);
        return NVME_SUCCESS;
    default:
        return NVME_INVALID_FIELD | NVME_DNR;
    }
}

uint16_t nvme_lm_set_feature_cdq(NvmeCtrl *n, NvmeRequest *req)
{
    uint32_t dw11 = le32_to_cpu(req->cmd.cdw11);
    uint32_t hp = le32_to_cpu(req->cmd.cdw12);
    uint32_t tpt = le32_to_cpu(req->cmd.cdw13);
    NvmeLmCdq *q;

    if (!nvme_lm_cmd_supported(n, NVME_ADM_CMD_CDQ)) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    q = nvme_lm_cdq(n, dw11 & 0xffff);
    if (!q) {
        return NVME_LM_INVALID_CDQ | NVME_DNR;
    }
    /* the new head may not pass the tail */
    if (hp >= q->entries ||
        (q->head <= q->tail ? hp < q->head || hp > q->tail
                            : hp < q->head && hp > q->tail)) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    if ((dw11 >> 31) && tpt >= q->entries) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    q->head = hp;
    q->etpt = dw11 >> 31;
    q->tpt = q->etpt ? tpt : 0;
    return NVME_SUCCESS;
}

uint16_t nvme_lm_get_feature_cdq(NvmeCtrl *n, NvmeRequest *req)
{
    uint32_t dw11 = le32_to_cpu(req->cmd.cdw11);
    uint32_t data[2];
    NvmeLmCdq *q;

    if (!nvme_lm_cmd_supported(n, NVME_ADM_CMD_CDQ)) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    q = nvme_lm_cdq(n, dw11 & 0xffff);
    if (!q) {
        return NVME_LM_INVALID_CDQ | NVME_DNR;
    }
    data[0] = cpu_to_le32(q->head);
    data[1] = cpu_to_le32(q->tpt);
    req->cqe.result = cpu_to_le32(q->cdqid | (uint32_t)q->etpt << 31);
    return nvme_c2h(n, data, sizeof(data), req);
}

/* Track Send / Track Receive */

static uint16_t nvme_lm_track_user_data(NvmeCtrl *n, NvmeRequest *req)
{
    uint32_t dw11 = le32_to_cpu(req->cmd.cdw11);
    uint8_t lact = lm_mos(req) & 0xf;
    NvmeLmCdq *q = nvme_lm_cdq(n, dw11 & 0xffff);
    NvmeCtrl *sn;

    if (!q) {
        return NVME_LM_INVALID_CDQ | NVME_DNR;
    }
    if (lact > 1) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    if (!nvme_lm_target(n, q->cntlid, &sn) && sn->lm.suspended) {
        return NVME_LM_CTRL_SUSPENDED | NVME_DNR;
    }
    if (lact == q->logging) {
        return NVME_CMD_SEQ_ERROR | NVME_DNR;
    }
    if (lact) {
        q->logging = true;
        nvme_lm_udmq_post(n, q, 0, 0, 0, NVME_LM_ESA_FIRST,
                          NVME_LM_LBACI_NONE);
    } else {
        nvme_lm_udmq_post(n, q, 0, 0, 0, NVME_LM_ESA_STOPPED,
                          NVME_LM_LBACI_NONE);
        q->logging = false;
    }
    return NVME_SUCCESS;
}

/*
 * Track Memory Changes (Track Send SEL 1), encoding of this model:
 * CDW11[15:0] CNTLID, MOS[3:0] 1 = start / 0 = stop, CDW12[7:0] granularity
 * as log2 of bytes (MINMRTG..MAXMRTG), CDW13[15:0] number of {u64 address,
 * u64 length} range descriptors in the data buffer (0: all memory).
 */
static uint16_t nvme_lm_track_memory(NvmeCtrl *n, NvmeRequest *req)
{
    uint32_t dw11 = le32_to_cpu(req->cmd.cdw11);
    uint8_t act = lm_mos(req) & 0xf;
    uint8_t gran = le32_to_cpu(req->cmd.cdw12) & 0xff;
    uint16_t nr = le32_to_cpu(req->cmd.cdw13) & 0xffff;
    NvmeLmRange ranges[NVME_LM_MAX_MRTD];
    NvmeCtrl *sn;
    uint16_t status;

    status = nvme_lm_target(n, dw11 & 0xffff, &sn);
    if (status) {
        return status;
    }
    if (act > 1) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    if (act == sn->lm.track_mem) {
        return NVME_CMD_SEQ_ERROR | NVME_DNR;
    }
    if (!act) {
        sn->lm.track_mem = false;
        g_hash_table_remove_all(sn->lm.dirty);
        return NVME_SUCCESS;
    }
    if (gran < NVME_LM_MIN_GRAN_BITS || gran > NVME_LM_MAX_GRAN_BITS ||
        nr > NVME_LM_MAX_MRTD) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    if (nr) {
        status = nvme_h2c(n, ranges, nr * sizeof(ranges[0]), req);
        if (status) {
            return status;
        }
    }
    for (int i = 0; i < nr; i++) {
        uint64_t a = le64_to_cpu(ranges[i].addr);
        uint64_t l = le64_to_cpu(ranges[i].len);

        if (!l || (a | l) & ((1ULL << gran) - 1) || a + l < a) {
            return NVME_INVALID_FIELD | NVME_DNR;
        }
        sn->lm.ranges[i].addr = a;
        sn->lm.ranges[i].len = l;
    }
    sn->lm.nranges = nr;
    sn->lm.track_gran_bits = gran;
    g_hash_table_remove_all(sn->lm.dirty);
    sn->lm.track_mem = true;
    return NVME_SUCCESS;
}

static void nvme_lm_mark_dirty(NvmeCtrl *n, uint64_t addr, uint64_t len)
{
    uint8_t g = n->lm.track_gran_bits;
    uint64_t end = addr + len;

    if (!len) {
        return;
    }
    for (uint32_t i = 0; i < MAX(n->lm.nranges, 1); i++) {
        uint64_t s = addr, e = end;

        if (n->lm.nranges) {
            s = MAX(s, n->lm.ranges[i].addr);
            e = MIN(e, n->lm.ranges[i].addr + n->lm.ranges[i].len);
            if (s >= e) {
                continue;
            }
        }
        for (uint64_t p = s >> g; p <= (e - 1) >> g; p++) {
            g_hash_table_add(n->lm.dirty, GSIZE_TO_POINTER(p));
        }
    }
}

void nvme_lm_dma_written(NvmeCtrl *n, uint64_t addr, uint64_t len)
{
    if (n->lm.track_mem) {
        nvme_lm_mark_dirty(n, addr, len);
    }
}

/*
 * Track Receive SEL 0, encoding of this model: CDW11[15:0] CNTLID,
 * CDW12/13 start address (granularity aligned), CDW14 bit 0: clear what is
 * reported, CDW15 NUMD (0's based).  Data: a bitmap, bit i for the granule
 * at start + i * granularity.  Completion dword 0: number of bits set.
 */
static uint16_t nvme_lm_track_recv(NvmeCtrl *n, NvmeRequest *req)
{
    uint32_t dw11 = le32_to_cpu(req->cmd.cdw11);
    uint64_t start = (uint64_t)le32_to_cpu(req->cmd.cdw13) << 32 |
                     le32_to_cpu(req->cmd.cdw12);
    bool clear = le32_to_cpu(req->cmd.cdw14) & 1;
    uint32_t len = (le32_to_cpu(req->cmd.cdw15) + 1) * 4;
    uint64_t nbits = (uint64_t)len * 8, first, count = 0;
    g_autofree unsigned long *bm = NULL;
    GHashTableIter it;
    gpointer key;
    NvmeCtrl *sn;
    uint16_t status;

    if (lm_sel(req) != 0) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    status = nvme_lm_target(n, dw11 & 0xffff, &sn);
    if (status) {
        return status;
    }
    if (!sn->lm.track_mem) {
        return NVME_CMD_SEQ_ERROR | NVME_DNR;
    }
    if (start & ((1ULL << sn->lm.track_gran_bits) - 1) ||
        len > (1U << n->params.mdts) * n->page_size) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    first = start >> sn->lm.track_gran_bits;
    bm = bitmap_new(nbits);
    g_hash_table_iter_init(&it, sn->lm.dirty);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        uint64_t p = GPOINTER_TO_SIZE(key);

        if (p >= first && p - first < nbits) {
            set_bit(p - first, bm);
            count++;
            if (clear) {
                g_hash_table_iter_remove(&it);
            }
        }
    }
    /* the bitmap is little endian: bit i of byte i / 8 */
    for (uint64_t i = 0; i < BITS_TO_LONGS(nbits); i++) {
        bm[i] = cpu_to_le64(bm[i]);
    }
    req->cqe.result = cpu_to_le32(MIN(count, UINT32_MAX));
    return nvme_c2h(n, bm, len, req);
}

/* per request hook: user data change logging and memory change tracking */

static bool nvme_lm_req_writes_host(NvmeRequest *req)
{
    if (!req->sq->sqid) {
        switch (req->cmd.opcode) {
        case NVME_ADM_CMD_IDENTIFY:
        case NVME_ADM_CMD_GET_LOG_PAGE:
        case NVME_ADM_CMD_GET_FEATURES:
            return true;
        }
        return false;
    }
    switch (req->cmd.opcode) {
    case NVME_CMD_READ:
    case NVME_CMD_ZONE_MGMT_RECV:
        return true;
    }
    return false;
}

static void nvme_lm_log_user_data(NvmeCtrl *sn, NvmeRequest *req)
{
    NvmeCtrl *pf = nvme_lm_pf(sn);
    NvmeLmCdq *q = pf ? nvme_lm_cdq_for(pf, sn->cntlid) : NULL;
    uint32_t nsid = le32_to_cpu(req->cmd.nsid);
    NvmeRwCmd *rw = (NvmeRwCmd *)&req->cmd;

    if (!q || !q->logging || !req->sq->sqid || req->status) {
        return;
    }
    switch (req->cmd.opcode) {
    case NVME_CMD_WRITE:
    case NVME_CMD_WRITE_ZEROES:
        nvme_lm_udmq_post(pf, q, nsid, le64_to_cpu(rw->slba),
                          le16_to_cpu(rw->nlb), NVME_LM_ESA_NORMAL,
                          NVME_LM_LBACI_RANGE);
        break;
    case NVME_CMD_DSM:
    case NVME_CMD_COPY:
    case NVME_CMD_ZONE_APPEND:
    case NVME_CMD_ZONE_MGMT_SEND:
        /* ranges live in host memory or the device picks the LBA */
        nvme_lm_udmq_post(pf, q, nsid, 0, 0, NVME_LM_ESA_NORMAL,
                          NVME_LM_LBACI_ALL);
        break;
    }
}

void nvme_lm_req_completed(NvmeCtrl *n, NvmeRequest *req)
{
    if (!pci_is_vf(&n->parent_obj)) {
        return;
    }
    nvme_lm_log_user_data(n, req);
    if (n->lm.track_mem && (req->sg.flags & NVME_SG_DMA) &&
        nvme_lm_req_writes_host(req)) {
        for (int i = 0; i < req->sg.qsg.nsg; i++) {
            nvme_lm_mark_dirty(n, req->sg.qsg.sg[i].base,
                               req->sg.qsg.sg[i].len);
        }
    }
}

/* Suspend / Resume */

static void nvme_lm_kick(NvmeCtrl *sn)
{
    for (int i = 0; i <= sn->params.max_ioqpairs; i++) {
        if (sn->sq[i]) {
            qemu_bh_schedule(sn->sq[i]->bh);
        }
        if (sn->cq[i]) {
            qemu_bh_schedule(sn->cq[i]->bh);
        }
    }
}

/*
 * Stop fetching, let every fetched command complete (outstanding AERs stay
 * outstanding), post the completions that fit in their CQs, then stop
 * posting.  Completions that do not fit stay pending and are carried in the
 * controller state.
 */
static void nvme_lm_do_suspend(NvmeCtrl *sn)
{
    sn->lm.quiesced = true;
    for (int i = 1; i <= NVME_MAX_NAMESPACES; i++) {
        NvmeNamespace *ns = nvme_ns(sn, i);

        if (ns) {
            nvme_ns_drain(ns);
        }
    }
    for (int i = 0; i <= sn->params.max_ioqpairs; i++) {
        if (sn->cq[i]) {
            nvme_post_cqes(sn->cq[i]);
        }
    }
    sn->lm.suspended = true;
    sn->lm.suspended_ms = qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL);
}

static uint16_t nvme_lm_suspend(NvmeCtrl *n, NvmeRequest *req)
{
    uint32_t dw11 = le32_to_cpu(req->cmd.cdw11);
    uint8_t stype = (dw11 >> 16) & 0xff;
    bool dudmq = dw11 >> 31;
    NvmeLmCdq *q;
    NvmeCtrl *sn;
    uint16_t status;

    status = nvme_lm_target(n, dw11 & 0xffff, &sn);
    if (status) {
        return status;
    }
    if (stype > 1) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    if (stype == 0) {
        return NVME_SUCCESS;    /* notification: nothing to prepare */
    }
    if (!sn->lm.suspended) {
        nvme_lm_do_suspend(sn);
        nvme_lm_udmq_mark(sn, NVME_LM_ESA_SUSPENDED);
    }
    q = nvme_lm_cdq_for(n, sn->cntlid);
    if (dudmq && q) {
        nvme_lm_cdq_free(n, q);
    }
    return NVME_SUCCESS;
}

static uint16_t nvme_lm_resume(NvmeCtrl *n, NvmeRequest *req)
{
    NvmeCtrl *sn;
    uint16_t status;

    status = nvme_lm_target(n, le32_to_cpu(req->cmd.cdw11) & 0xffff, &sn);
    if (status) {
        return status;
    }
    if (!sn->lm.suspended) {
        return NVME_LM_CTRL_NOT_SUSPENDED | NVME_DNR;
    }
    sn->lm.suspended = false;
    sn->lm.quiesced = false;
    nvme_lm_udmq_mark(sn, NVME_LM_ESA_FIRST);
    nvme_lm_kick(sn);
    return NVME_SUCCESS;
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

static GByteArray *nvme_lm_save_vs(NvmeCtrl *sn, uint16_t *status)
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
        r.nns += !!nvme_ns(sn, i);
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
        NvmeNamespace *ns = nvme_ns(sn, i);
        NvmeLmVsNs e;

        if (!ns) {
            continue;
        }
        e.nsid = cpu_to_le32(i);
        e.lbads = cpu_to_le32(ns->lbasz);
        e.nsze = cpu_to_le64(le64_to_cpu(ns->id_ns.nsze));
        g_byte_array_append(b, (uint8_t *)&e, sizeof(e));
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

static GByteArray *nvme_lm_save(NvmeCtrl *sn, uint8_t csvi, bool vendor,
                                uint16_t *status)
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
        vs = nvme_lm_save_vs(sn, status);
        ((NvmeLmStateHdr *)b->data)->vss[0] = cpu_to_le64(vs->len / 4);
        g_byte_array_append(b, vs->data, vs->len);
        g_byte_array_free(vs, true);
    }
    return b;
}

static uint16_t nvme_lm_get_state(NvmeCtrl *n, NvmeRequest *req)
{
    uint32_t dw11 = le32_to_cpu(req->cmd.cdw11);
    uint8_t csvi = lm_mos(req) & 0xff;
    uint8_t csuuidi = (dw11 >> 16) & 0xff;
    uint64_t off = (uint64_t)le32_to_cpu(req->cmd.cdw13) << 32 |
                   le32_to_cpu(req->cmd.cdw12);
    uint64_t len = ((uint64_t)le32_to_cpu(req->cmd.cdw15) + 1) * 4;
    g_autoptr(GByteArray) b = NULL;
    uint16_t status = NVME_SUCCESS;
    NvmeCtrl *sn;

    if (lm_sel(req) != 0) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    status = nvme_lm_target(n, dw11 & 0xffff, &sn);
    if (status) {
        return status;
    }
    if (csvi > 1 || csuuidi > 1 || (csuuidi && !csvi)) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    if (!sn->lm.suspended) {
        return NVME_LM_CTRL_NOT_SUSPENDED | NVME_DNR;
    }
    b = nvme_lm_save(sn, csvi, csuuidi, &status);
    if (status) {
        return status;
    }
    if (off % 4 || off >= b->len) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    req->cqe.result = cpu_to_le32(1);   /* CSUP: the controller is suspended */
    return nvme_c2h(n, b->data + off, MIN(len, b->len - off), req);
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
            NvmeNamespace *ns = sn->subsys && nsid <= NVME_MAX_NAMESPACES ?
                                nvme_subsys_ns(sn->subsys, nsid) : NULL;

            if (!ns || ns->lbasz != le32_to_cpu(p->ns[i].lbads) ||
                le64_to_cpu(ns->id_ns.nsze) < le64_to_cpu(p->ns[i].nsze)) {
                LM_BAD("namespace %u missing or smaller on the destination",
                       nsid);
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
        sn->timestamp_set_qemu_clock_ms = qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL)
                                          - le64_to_cpu(r->timestamp_age_ms);
        sn->aer_mask = r->aer_mask;
        for (int i = 1; i <= NVME_MAX_NAMESPACES; i++) {
            if (r->changed_nsids[(i - 1) / 8] & (1 << ((i - 1) % 8))) {
                set_bit(i, sn->changed_nsids);
            } else {
                clear_bit(i, sn->changed_nsids);
            }
        }
        /* namespaces: exactly those the source had attached */
        for (int i = 1; i <= NVME_MAX_NAMESPACES; i++) {
            NvmeNamespace *ns = nvme_ns(sn, i);

            if (ns) {
                sn->namespaces[i] = NULL;
                ns->attached--;
            }
        }
        for (int i = 0; i < le16_to_cpu(r->nns); i++) {
            nvme_attach_ns(sn, nvme_subsys_ns(sn->subsys,
                                              le32_to_cpu(p->ns[i].nsid)));
        }
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

static uint16_t nvme_lm_set_state(NvmeCtrl *n, NvmeRequest *req)
{
    uint32_t dw11 = le32_to_cpu(req->cmd.cdw11);
    uint8_t seqind = lm_mos(req) & 0x3;
    uint8_t csvi = (dw11 >> 16) & 0xff;
    uint8_t csuuidi = dw11 >> 24;
    uint64_t off = (uint64_t)le32_to_cpu(req->cmd.cdw13) << 32 |
                   le32_to_cpu(req->cmd.cdw12);
    uint64_t len = (uint64_t)le32_to_cpu(req->cmd.cdw15) * 4;
    NvmeLmParsed p;
    NvmeLmCtrl *lm;
    NvmeCtrl *sn;
    uint16_t status;

    status = nvme_lm_target(n, dw11 & 0xffff, &sn);
    if (status) {
        return status;
    }
    lm = &sn->lm;
    if (csvi != 1 || csuuidi > 1 || !len) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    if (!lm->suspended) {
        return NVME_LM_CTRL_NOT_SUSPENDED | NVME_DNR;
    }
    /* SEQIND: 1 first, 0 middle, 2 last, 3 the whole state at once */
    if (seqind & 1) {
        if (off) {
            return NVME_INVALID_FIELD | NVME_DNR;
        }
        g_free(lm->set_buf);
        lm->set_buf = NULL;
        lm->set_len = 0;
        lm->set_open = true;
    } else if (!lm->set_open) {
        return NVME_CMD_SEQ_ERROR | NVME_DNR;
    } else if (off != lm->set_len) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    if (off + len > NVME_LM_MAX_STATE) {
        lm->set_open = false;
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    lm->set_buf = g_realloc(lm->set_buf, off + len);
    status = nvme_h2c(n, lm->set_buf + off, len, req);
    if (status) {
        lm->set_open = false;
        return status;
    }
    lm->set_len = off + len;
    if (!(seqind & 2)) {
        return NVME_SUCCESS;
    }
    lm->set_open = false;
    status = nvme_lm_parse(sn, lm->set_buf, lm->set_len, csuuidi, &p);
    if (!status) {
        nvme_lm_apply(sn, &p);
    }
    g_free(lm->set_buf);
    lm->set_buf = NULL;
    lm->set_len = 0;
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
    buf[0] = 1;
    buf[1] = 1;
    stw_le_p(&buf[2], 0x0000);
    memcpy(&buf[4], nvme_lm_vs_uuid, sizeof(nvme_lm_vs_uuid));
    return nvme_c2h(n, buf, sizeof(buf), req);
}

/* fault injection (vendor specific opcode, test use only) */

static void nvme_lm_delayed_complete(void *opaque)
{
    NvmeCtrl *n = opaque;
    NvmeRequest *req = n->lm.delayed_req;

    n->lm.delayed_req = NULL;
    if (req) {
        nvme_enqueue_req_completion(n->cq[req->sq->cqid], req);
    }
}

static uint16_t nvme_lm_fault_cmd(NvmeCtrl *n, NvmeRequest *req)
{
    uint32_t dw10 = le32_to_cpu(req->cmd.cdw10);
    uint32_t dw11 = le32_to_cpu(req->cmd.cdw11);
    uint32_t dw12 = le32_to_cpu(req->cmd.cdw12);
    uint32_t dw13 = le32_to_cpu(req->cmd.cdw13);

    if (dw11 > NVME_LM_FAULT_DELAY) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    n->lm.fault = (NvmeLmFault) {
        .opcode = dw10 & 0xff,
        .sel = (dw10 >> 8) & 0xff,
        .action = dw11,
        .status = dw12 & 0xffff,
        .delay_ms = dw12,
        .count = dw11 ? MAX(dw13, 1) : 0,
    };
    return NVME_SUCCESS;
}

static bool nvme_lm_fault_hit(NvmeCtrl *n, NvmeRequest *req)
{
    NvmeLmFault *f = &n->lm.fault;

    if (!f->count || f->opcode != req->cmd.opcode ||
        (f->sel != 0xff && f->sel != lm_sel(req))) {
        return false;
    }
    f->count--;
    return true;
}

bool nvme_lm_cmd_supported(NvmeCtrl *n, uint8_t opcode)
{
    return n->params.hmlms && !pci_is_vf(&n->parent_obj) &&
           n->params.sriov_max_vfs;
}

uint16_t nvme_lm_admin_cmd(NvmeCtrl *n, NvmeRequest *req)
{
    uint16_t status;
    bool delay = false;

    if (!nvme_lm_cmd_supported(n, req->cmd.opcode)) {
        return NVME_INVALID_OPCODE | NVME_DNR;
    }
    if (req->cmd.opcode == NVME_ADM_CMD_LM_FAULT) {
        return nvme_lm_fault_cmd(n, req);
    }
    if (nvme_lm_fault_hit(n, req)) {
        if (n->lm.fault.action == NVME_LM_FAULT_STATUS) {
            return n->lm.fault.status;
        }
        delay = !n->lm.delayed_req;
    }

    switch (req->cmd.opcode) {
    case NVME_ADM_CMD_MIGRATION_SEND:
        switch (lm_sel(req)) {
        case 0:
            status = nvme_lm_suspend(n, req);
            break;
        case 1:
            status = nvme_lm_resume(n, req);
            break;
        case 2:
            status = nvme_lm_set_state(n, req);
            break;
        default:
            status = NVME_INVALID_FIELD | NVME_DNR;
        }
        break;
    case NVME_ADM_CMD_MIGRATION_RECV:
        status = nvme_lm_get_state(n, req);
        break;
    case NVME_ADM_CMD_TRACK_SEND:
        switch (lm_sel(req)) {
        case 0:
            status = nvme_lm_track_user_data(n, req);
            break;
        case 1:
            status = nvme_lm_track_memory(n, req);
            break;
        default:
            status = NVME_INVALID_FIELD | NVME_DNR;
        }
        break;
    case NVME_ADM_CMD_TRACK_RECV:
        status = nvme_lm_track_recv(n, req);
        break;
    case NVME_ADM_CMD_CDQ:
        status = nvme_lm_cdq_cmd(n, req);
        break;
    default:
        status = NVME_INVALID_OPCODE | NVME_DNR;
    }

    if (delay) {
        req->status = status;
        n->lm.delayed_req = req;
        timer_mod(n->lm.delay_timer, qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL) +
                  n->lm.fault.delay_ms);
        return NVME_NO_COMPLETE;
    }
    return status;
}

void nvme_lm_ctrl_reset(NvmeCtrl *n, int rst)
{
    if (pci_is_vf(&n->parent_obj)) {
        /* a function level reset ends a suspend; a controller reset does not */
        if (rst != NVME_RESET_CONTROLLER) {
            n->lm.suspended = false;
            n->lm.quiesced = false;
            n->lm.set_open = false;
            g_free(n->lm.set_buf);
            n->lm.set_buf = NULL;
            n->lm.set_len = 0;
        }
        return;
    }
    /* resetting the primary controller deletes its CDQs */
    for (int i = 0; i < NVME_LM_MAX_CDQS; i++) {
        nvme_lm_cdq_free(n, &n->lm.cdq[i]);
    }
    memset(&n->lm.fault, 0, sizeof(n->lm.fault));
    if (n->lm.delay_timer) {
        timer_del(n->lm.delay_timer);
    }
    n->lm.delayed_req = NULL;
}

void nvme_lm_init_ctrl(NvmeCtrl *n)
{
    uint8_t *id = (uint8_t *)&n->id_ctrl;
    uint16_t nvf = n->params.sriov_max_vfs;

    n->lm.dirty = g_hash_table_new(g_direct_hash, g_direct_equal);
    if (!n->params.hmlms) {
        return;
    }
    /* shadow doorbells live in host memory the state does not carry */
    n->id_ctrl.oacs &= ~cpu_to_le16(NVME_OACS_DBBUF);
    if (!nvme_lm_cmd_supported(n, NVME_ADM_CMD_MIGRATION_SEND)) {
        return;
    }
    n->lm.delay_timer = timer_new_ms(QEMU_CLOCK_VIRTUAL,
                                     nvme_lm_delayed_complete, n);
    n->id_ctrl.oacs |= cpu_to_le16(NVME_OACS_HMLMS);
    stw_le_p(id + 570, NVME_LM_MAX_MRTD);           /* CMMRTD */
    stw_le_p(id + 572, NVME_LM_MAX_MRTD * nvf);     /* NMMRTD */
    id[574] = NVME_LM_MIN_GRAN_BITS;                /* MINMRTG */
    id[575] = NVME_LM_MAX_GRAN_BITS;                /* MAXMRTG */
    id[576] = 0x3;                                  /* TRATTR: THMCS|TUDCS */
    stw_le_p(id + 578, 1);                          /* MCUDMQ */
    stw_le_p(id + 580, NVME_LM_MAX_CDQS);           /* MNSUDMQ */
    stw_le_p(id + 582, 1);                          /* MCMR */
    stw_le_p(id + 584, 1);                          /* NMCMR */
}

void nvme_lm_exit_ctrl(NvmeCtrl *n)
{
    if (n->lm.delay_timer) {
        timer_free(n->lm.delay_timer);
        n->lm.delay_timer = NULL;
    }
    g_free(n->lm.set_buf);
    n->lm.set_buf = NULL;
    if (n->lm.dirty) {
        g_hash_table_destroy(n->lm.dirty);
        n->lm.dirty = NULL;
    }
}
