/*
 * QEMU NVM Express: host managed live migration (NVMe TP4159),
 * fault injection
 *
 * A vendor specific admin command of this model, for tests only: make the
 * next TP4159 command(s) with a given opcode and select fail with a given
 * status, complete late, or complete without the CSUP bit in completion
 * dword 0 (as implementations that report "suspended" only in the state
 * header do), after letting a given number of them through.  Identify CNS
 * 20h (opcode 06h, select 20h: the CNS) can be made to list no vendor
 * specific state format, as a PF that is not this device would.
 *
 * CDW10: opcode, select (bits 15:8, FFh any); CDW11: action; CDW12: status
 * or delay in ms; CDW13: count (at least 1); CDW14: commands to skip.
 *
 * Three more actions are settings of the primary controller, kept until
 * changed, that let tests exercise what real PFs differ in: VS_PAD makes
 * every vendor specific state saved CDW12 bytes larger (a multiple of 4,
 * at most 512 KiB), so a state spans several commands; FMTS with CDW12
 * bit 0 set lists a foreign NVMe-defined version and a foreign vendor
 * UUID before this model's own in Identify CNS 20h, as a PF supporting a
 * newer format would; NO_CDQ_AEN with CDW12 bit 0 set raises none of the
 * Controller Data Queue events (lm-cdq.c), as if each were lost, so that
 * a host's fallback for a missed event can be tested.
 *
 * A command held by the delay can be aborted (Abort, SQID 0): it completes
 * at once with Command Abort Requested, as a host that gives up on a slow
 * command expects of a controller that honours the abort.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "lm-internal.h"

void nvme_lm_delayed_complete(void *opaque)
{
    NvmeCtrl *n = opaque;
    NvmeRequest *req = n->lm.delayed_req;

    n->lm.delayed_req = NULL;
    if (req) {
        nvme_enqueue_req_completion(n->cq[req->sq->cqid], req);
    }
}

/* Abort for an admin command: true if it was the one the delay holds */
bool nvme_lm_abort(NvmeCtrl *n, uint16_t cid)
{
    NvmeRequest *req = n->lm.delayed_req;

    if (!req || req->cqe.cid != cid) {
        return false;
    }
    timer_del(n->lm.delay_timer);
    n->lm.delayed_req = NULL;
    req->status = NVME_CMD_ABORT_REQ;
    nvme_enqueue_req_completion(n->cq[req->sq->cqid], req);
    return true;
}

uint16_t nvme_lm_fault_cmd(NvmeCtrl *n, NvmeRequest *req)
{
    uint32_t dw10 = le32_to_cpu(req->cmd.cdw10);
    uint32_t dw11 = le32_to_cpu(req->cmd.cdw11);
    uint32_t dw12 = le32_to_cpu(req->cmd.cdw12);
    uint32_t dw13 = le32_to_cpu(req->cmd.cdw13);
    uint32_t dw14 = le32_to_cpu(req->cmd.cdw14);

    if (dw11 == NVME_LM_FAULT_VS_PAD) {
        if (dw12 % 4 || dw12 > NVME_LM_MAX_VS_PAD) {
            return NVME_INVALID_FIELD | NVME_DNR;
        }
        n->lm.vs_pad = dw12;
        return NVME_SUCCESS;
    }
    if (dw11 == NVME_LM_FAULT_FMTS) {
        n->lm.foreign_fmts = dw12 & 1;
        return NVME_SUCCESS;
    }
    if (dw11 == NVME_LM_FAULT_NO_CDQ_AEN) {
        n->lm.no_cdq_aen = dw12 & 1;
        return NVME_SUCCESS;
    }
    if (dw11 > NVME_LM_FAULT_NO_CSUP && dw11 != NVME_LM_FAULT_NO_VS_FMT) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    n->lm.fault = (NvmeLmFault) {
        .opcode = dw10 & 0xff,
        .sel = (dw10 >> 8) & 0xff,
        .action = dw11,
        .status = dw12 & 0xffff,
        .delay_ms = dw12,
        .count = dw11 ? MAX(dw13, 1) : 0,
        .skip = dw14,
    };
    return NVME_SUCCESS;
}

bool nvme_lm_fault_hit(NvmeCtrl *n, NvmeRequest *req)
{
    NvmeLmFault *f = &n->lm.fault;

    if (!f->count || f->opcode != req->cmd.opcode ||
        (f->sel != 0xff && f->sel != lm_sel(req))) {
        return false;
    }
    if (f->skip) {
        f->skip--;
        return false;
    }
    f->count--;
    return true;
}

/* complete req with status after the fault's delay */
uint16_t nvme_lm_fault_delay(NvmeCtrl *n, NvmeRequest *req, uint16_t status)
{
    req->status = status;
    n->lm.delayed_req = req;
    timer_mod(n->lm.delay_timer, qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL) +
              n->lm.fault.delay_ms);
    return NVME_NO_COMPLETE;
}
