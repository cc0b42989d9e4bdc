/*
 * QEMU NVM Express: host managed live migration (NVMe TP4159),
 * Controller Data Queues
 *
 * The Controller Data Queue command (create, delete) and Set / Get Features
 * 21h (head pointer, tail pointer trigger) for queues of type User Data
 * Migration Queue: they live in the PF's memory, one per migratable
 * controller, and log the LBAs its I/O commands change (lm-track.c).  The
 * PF's primary controller raises a one-shot asynchronous event when a
 * posted entry brings the tail to the armed tail pointer trigger (which
 * disarms it) and when it posts the entry that fills the queue.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "lm-internal.h"

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

QEMU_BUILD_BUG_ON(sizeof(NvmeLmUdmqEntry) != 32);

NvmeLmCdq *nvme_lm_cdq(NvmeCtrl *pf, uint16_t cdqid)
{
    for (int i = 0; i < NVME_LM_MAX_CDQS; i++) {
        if (pf->lm.cdq[i].used && pf->lm.cdq[i].cdqid == cdqid) {
            return &pf->lm.cdq[i];
        }
    }
    return NULL;
}

NvmeLmCdq *nvme_lm_cdq_for(NvmeCtrl *pf, uint16_t cntlid)
{
    for (int i = 0; i < NVME_LM_MAX_CDQS; i++) {
        if (pf->lm.cdq[i].used && pf->lm.cdq[i].cntlid == cntlid) {
            return &pf->lm.cdq[i];
        }
    }
    return NULL;
}

/* one-shot event for q, completion dword 1 the CDQID */
static void nvme_lm_cdq_event(NvmeCtrl *pf, NvmeLmCdq *q, uint8_t info)
{
    if (!pf->lm.no_cdq_aen) {
        nvme_enqueue_event_dw1(pf, NVME_LM_AER_TYPE_ONE_SHOT, info, 0,
                               q->cdqid);
    }
}

/*
 * Post one entry.  The entry that fills the queue (at most entries - 1 are
 * unread) is turned into a "queue full" marker and nothing more is logged
 * until the host frees space: it must treat everything as changed since.
 * Then the events: the tail pointer trigger, queue full.
 */
void nvme_lm_udmq_post(NvmeCtrl *pf, NvmeLmCdq *q, uint32_t nsid,
                       uint64_t slba, uint32_t nlb, uint8_t esa,
                       uint8_t lbaci)
{
    NvmeLmUdmqEntry e = {};
    uint32_t next = (q->tail + 1) % q->entries;
    bool fills = false;

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
        fills = true;
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
    if (q->etpt && q->tail == q->tpt) {
        q->etpt = false;
        q->tpt = 0;
        nvme_lm_cdq_event(pf, q, NVME_LM_AER_INFO_CDQ_TPT);
    }
    if (fills) {
        nvme_lm_cdq_event(pf, q, NVME_LM_AER_INFO_CDQ_FULL);
    }
}

void nvme_lm_udmq_mark(NvmeCtrl *sn, uint8_t esa)
{
    NvmeCtrl *pf = nvme_lm_pf(sn);
    NvmeLmCdq *q = pf ? nvme_lm_cdq_for(pf, sn->cntlid) : NULL;

    if (q && q->logging) {
        nvme_lm_udmq_post(pf, q, 0, 0, 0, esa, NVME_LM_LBACI_NONE);
    }
}

void nvme_lm_cdq_free(NvmeCtrl *pf, NvmeLmCdq *q)
{
    memset(q, 0, sizeof(*q));
}

uint16_t nvme_lm_cdq_cmd(NvmeCtrl *n, NvmeRequest *req)
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
