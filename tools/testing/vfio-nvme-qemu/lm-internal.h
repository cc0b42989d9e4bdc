/*
 * QEMU NVM Express: host managed live migration (NVMe TP4159), internals
 *
 * What the lm*.c files share and ctrl.c does not need; ctrl.c sees lm.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_NVME_LM_INTERNAL_H
#define HW_NVME_LM_INTERNAL_H

#include "nvme.h"

/* Event Status and Attributes of a User Data Migration Queue entry */
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

/* memory change tracking granularity, log2 of bytes (MINMRTG, MAXMRTG) */
#define NVME_LM_MIN_GRAN_BITS   12
#define NVME_LM_MAX_GRAN_BITS   21

/* CDW10 of the TP4159 commands: Select and Management Operation Specific */
static inline uint8_t lm_sel(NvmeRequest *req)
{
    return le32_to_cpu(req->cmd.cdw10) & 0xff;
}

static inline uint16_t lm_mos(NvmeRequest *req)
{
    return le32_to_cpu(req->cmd.cdw10) >> 16;
}

/* lm.c */
NvmeCtrl *nvme_lm_pf(NvmeCtrl *n);
uint16_t nvme_lm_target(NvmeCtrl *n, uint16_t cntlid, NvmeCtrl **sn);

/* lm-migration.c: Migration Send / Migration Receive */
uint16_t nvme_lm_suspend(NvmeCtrl *n, NvmeRequest *req);
uint16_t nvme_lm_resume(NvmeCtrl *n, NvmeRequest *req);
uint16_t nvme_lm_get_state(NvmeCtrl *n, NvmeRequest *req);
uint16_t nvme_lm_set_state(NvmeCtrl *n, NvmeRequest *req);

/* lm-state.c: the controller state, encoded and decoded */
/* NVME_LM_FAULT_VS_PAD: bytes a vendor state may be padded with, at most */
#define NVME_LM_MAX_VS_PAD      (512 * 1024)

/* 1-based CNS 20h index of this model's version and UUID */
static inline uint8_t nvme_lm_own_fmt(NvmeCtrl *n)
{
    return n->lm.foreign_fmts ? 2 : 1;
}

GByteArray *nvme_lm_save(NvmeCtrl *sn, uint32_t vs_pad, uint8_t csvi,
                         bool vendor, uint16_t *status);
uint16_t nvme_lm_load(NvmeCtrl *sn, const uint8_t *buf, uint32_t len,
                      uint8_t csuuidi);

/* lm-track.c: Track Send / Track Receive */
uint16_t nvme_lm_track_user_data(NvmeCtrl *n, NvmeRequest *req);
uint16_t nvme_lm_track_memory(NvmeCtrl *n, NvmeRequest *req);
uint16_t nvme_lm_track_recv(NvmeCtrl *n, NvmeRequest *req);

/* lm-cdq.c: Controller Data Queues (User Data Migration Queues) */
NvmeLmCdq *nvme_lm_cdq(NvmeCtrl *pf, uint16_t cdqid);
NvmeLmCdq *nvme_lm_cdq_for(NvmeCtrl *pf, uint16_t cntlid);
void nvme_lm_udmq_post(NvmeCtrl *pf, NvmeLmCdq *q, uint32_t nsid,
                       uint64_t slba, uint32_t nlb, uint8_t esa,
                       uint8_t lbaci);
void nvme_lm_udmq_mark(NvmeCtrl *sn, uint8_t esa);
void nvme_lm_cdq_free(NvmeCtrl *pf, NvmeLmCdq *q);
uint16_t nvme_lm_cdq_cmd(NvmeCtrl *n, NvmeRequest *req);

/* lm-fault.c: fault injection */
uint16_t nvme_lm_fault_cmd(NvmeCtrl *n, NvmeRequest *req);
bool nvme_lm_fault_hit(NvmeCtrl *n, NvmeRequest *req);
uint16_t nvme_lm_fault_delay(NvmeCtrl *n, NvmeRequest *req, uint16_t status);
void nvme_lm_delayed_complete(void *opaque);

#endif /* HW_NVME_LM_INTERNAL_H */
