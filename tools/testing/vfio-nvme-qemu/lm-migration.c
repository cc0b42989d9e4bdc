/*
 * QEMU NVM Express: host managed live migration (NVMe TP4159),
 * Migration Send / Migration Receive
 *
 * Suspend and Resume of a secondary controller, Get Controller State (in
 * pieces, at any offset) and Set Controller State (assembled from a
 * sequence of commands, then validated and applied whole).  lm-state.c
 * encodes and decodes the state itself.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "lm-internal.h"

/* what Set Controller State accepts; validation decides the rest */
#define NVME_LM_MAX_STATE       (1 << 20)

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

uint16_t nvme_lm_suspend(NvmeCtrl *n, NvmeRequest *req)
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

uint16_t nvme_lm_resume(NvmeCtrl *n, NvmeRequest *req)
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

uint16_t nvme_lm_get_state(NvmeCtrl *n, NvmeRequest *req)
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
    /* CSVI 0: the header only; otherwise this model's own formats */
    if ((csvi && csvi != nvme_lm_own_fmt(n)) ||
        (csuuidi && csuuidi != nvme_lm_own_fmt(n)) || (csuuidi && !csvi)) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    if (!sn->lm.suspended) {
        return NVME_LM_CTRL_NOT_SUSPENDED | NVME_DNR;
    }
    b = nvme_lm_save(sn, n->lm.vs_pad, csvi, csuuidi, &status);
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

uint16_t nvme_lm_set_state(NvmeCtrl *n, NvmeRequest *req)
{
    uint32_t dw11 = le32_to_cpu(req->cmd.cdw11);
    uint8_t seqind = lm_mos(req) & 0x3;
    uint8_t csvi = (dw11 >> 16) & 0xff;
    uint8_t csuuidi = dw11 >> 24;
    uint64_t off = (uint64_t)le32_to_cpu(req->cmd.cdw13) << 32 |
                   le32_to_cpu(req->cmd.cdw12);
    uint64_t len = (uint64_t)le32_to_cpu(req->cmd.cdw15) * 4;
    NvmeLmCtrl *lm;
    NvmeCtrl *sn;
    uint16_t status;

    status = nvme_lm_target(n, dw11 & 0xffff, &sn);
    if (status) {
        return status;
    }
    lm = &sn->lm;
    if (csvi != nvme_lm_own_fmt(n) ||
        (csuuidi && csuuidi != nvme_lm_own_fmt(n)) || !len) {
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
    status = nvme_lm_load(sn, lm->set_buf, lm->set_len, csuuidi);
    g_free(lm->set_buf);
    lm->set_buf = NULL;
    lm->set_len = 0;
    return status;
}
