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
 * This file is the glue: the init, exit and reset hooks called from ctrl.c,
 * admin command dispatch and the resolution of a command's target
 * (secondary) controller.  The rest lives in lm-migration.c (Migration Send
 * and Receive), lm-state.c (the controller state codec), lm-track.c (Track
 * Send and Receive), lm-cdq.c (Controller Data Queues) and lm-fault.c (fault
 * injection); lm-internal.h declares what they share.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "lm-internal.h"
#include "hw/pci/pcie_sriov.h"

NvmeCtrl *nvme_lm_pf(NvmeCtrl *n)
{
    PCIDevice *pf = pcie_sriov_get_pf(&n->parent_obj);

    return pf ? NVME(pf) : NULL;
}

/*
 * The secondary controller cntlid of the primary controller n.  The status
 * tells why there is none: not one of n's secondary controllers (the
 * primary's own CNTLID included), or its VF is not enabled.
 */
uint16_t nvme_lm_target(NvmeCtrl *n, uint16_t cntlid, NvmeCtrl **sn)
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

bool nvme_lm_cmd_supported(NvmeCtrl *n, uint8_t opcode)
{
    return n->params.hmlms && !pci_is_vf(&n->parent_obj) &&
           n->params.sriov_max_vfs;
}

uint16_t nvme_lm_admin_cmd(NvmeCtrl *n, NvmeRequest *req)
{
    uint16_t status;
    bool delay = false, no_csup = false;

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
        no_csup = n->lm.fault.action == NVME_LM_FAULT_NO_CSUP;
        delay = n->lm.fault.action == NVME_LM_FAULT_DELAY && !n->lm.delayed_req;
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

    if (no_csup) {
        req->cqe.result = 0;
    }
    if (delay) {
        return nvme_lm_fault_delay(n, req, status);
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
        /*
         * Clearing VF Enable (or resetting the PF) no longer destroys the
         * VFs (QEMU 7.2 did): they are reset with the function disabled.
         * Forget the memory change tracking then, as a new VF would.
         */
        if (!n->parent_obj.enabled && n->lm.dirty) {
            n->lm.track_mem = false;
            n->lm.track_gran_bits = 0;
            n->lm.nranges = 0;
            g_hash_table_remove_all(n->lm.dirty);
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
    n->id_ctrl.oacs &= ~cpu_to_le16(NVME_OACS_DBCS);
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
