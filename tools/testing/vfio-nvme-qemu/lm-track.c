/*
 * QEMU NVM Express: host managed live migration (NVMe TP4159),
 * Track Send / Track Receive
 *
 * User data change logging into a User Data Migration Queue (Track Send
 * SEL 0) and memory change tracking of the controller's DMA writes (Track
 * Send SEL 1, Track Receive SEL 0), fed by the per request and per DMA write
 * hooks in ctrl.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "lm-internal.h"

uint16_t nvme_lm_track_user_data(NvmeCtrl *n, NvmeRequest *req)
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
uint16_t nvme_lm_track_memory(NvmeCtrl *n, NvmeRequest *req)
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
uint16_t nvme_lm_track_recv(NvmeCtrl *n, NvmeRequest *req)
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
