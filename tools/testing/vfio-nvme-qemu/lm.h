/*
 * QEMU NVM Express: host managed live migration (NVMe TP4159), controller side
 *
 * The migration management controller is the PF's primary controller; the
 * migratable controllers are its secondary controllers (the VFs).  See
 * Documentation/driver-api/vfio-nvme-qemu.rst in the nvme-vfio-pci project.
 *
 * What nvme.h and ctrl.c see of lm*.c and lbas.c; lm-internal.h declares
 * what the lm*.c files share among themselves.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_NVME_LM_H
#define HW_NVME_LM_H

#include "qemu/timer.h"

/* admin opcodes */
enum {
    NVME_ADM_CMD_TRACK_SEND     = 0x3d,
    NVME_ADM_CMD_TRACK_RECV     = 0x3e,
    NVME_ADM_CMD_MIGRATION_SEND = 0x41,
    NVME_ADM_CMD_MIGRATION_RECV = 0x42,
    NVME_ADM_CMD_CDQ            = 0x45,
    NVME_ADM_CMD_GET_LBA_STATUS = 0x86,    /* lbas.c */
    /* vendor specific, this device model only: fault injection for tests */
    NVME_ADM_CMD_LM_FAULT       = 0xc0,
};

#define NVME_ID_CNS_CTRL_STATE_FMTS 0x20
#define NVME_FID_CDQ                0x21
#define NVME_OACS_HMLMS             (1 << 11)

/* status codes, command specific status code type */
enum {
    NVME_LM_INVALID_CDQ         = 0x0137,
    NVME_LM_NOT_ENOUGH_RES      = 0x0138,
    NVME_LM_CTRL_SUSPENDED      = 0x0139,
    NVME_LM_CTRL_NOT_SUSPENDED  = 0x013a,
    NVME_LM_CDQ_FULL            = 0x013b,
};

/*
 * Asynchronous events for CDQs: type one-shot (QEMU's AER mask never holds
 * it back), log page 0, completion dword 1 the CDQID
 */
#define NVME_LM_AER_TYPE_ONE_SHOT   4
enum {
    NVME_LM_AER_INFO_CDQ_TPT    = 0,   /* the tail reached the trigger */
    NVME_LM_AER_INFO_CDQ_FULL   = 1,   /* the queue-full entry was posted */
};

#define NVME_LM_MAX_CDQS        8
#define NVME_LM_MAX_MRTD        16     /* memory range tracking descriptors */

struct NvmeCtrl;
struct NvmeRequest;
struct NvmeCQueue;
struct NvmeSQueue;

/* a Controller Data Queue of type User Data Migration Queue, in PF memory */
typedef struct NvmeLmCdq {
    bool        used;
    uint16_t    cdqid;
    uint16_t    cntlid;         /* the migratable controller it logs for */
    uint64_t    base;
    uint32_t    entries;
    uint32_t    head;
    uint32_t    tail;
    uint8_t     phase;
    bool        logging;
    bool        full;           /* the queue-full entry was posted */
    bool        etpt;
    uint32_t    tpt;
} NvmeLmCdq;

typedef struct NvmeLmFault {
    uint8_t     opcode;
    uint8_t     sel;            /* 0xff: any */
    uint8_t     action;         /* NVME_LM_FAULT_* */
    uint16_t    status;
    uint32_t    delay_ms;
    uint32_t    count;
    uint32_t    skip;           /* matching commands to let through first */
} NvmeLmFault;

enum {
    NVME_LM_FAULT_CLEAR   = 0,
    NVME_LM_FAULT_STATUS  = 1,  /* complete with the given status */
    NVME_LM_FAULT_DELAY   = 2,  /* complete normally after a delay */
    NVME_LM_FAULT_NO_CSUP = 3,  /* complete normally, completion dword 0 clear */
    /* settings of the primary controller, kept until changed */
    NVME_LM_FAULT_VS_PAD  = 4,  /* vendor states saved carry CDW12 bytes more */
    NVME_LM_FAULT_FMTS    = 5,  /* CDW12 bit 0: list foreign formats first */
    NVME_LM_FAULT_NO_VS_FMT = 6, /* Identify CNS 20h lists no vendor format */
    NVME_LM_FAULT_NO_CDQ_AEN = 7, /* setting: CDW12 bit 0, no CDQ events */
};

typedef struct NvmeLmRange {
    uint64_t    addr;
    uint64_t    len;
} NvmeLmRange;

typedef struct NvmeLmCtrl {
    /* on a secondary controller */
    bool        quiesced;       /* no command fetching */
    bool        suspended;      /* no fetching and no completion posting */
    int64_t     suspended_ms;   /* when: the state's clock stops there */
    uint8_t     *set_buf;       /* Set Controller State being assembled */
    uint32_t    set_len;
    bool        set_open;
    bool        track_mem;
    uint8_t     track_gran_bits;
    uint32_t    nranges;
    NvmeLmRange ranges[NVME_LM_MAX_MRTD];
    GHashTable  *dirty;         /* page numbers written by the controller */

    /* on the primary controller */
    NvmeLmCdq   cdq[NVME_LM_MAX_CDQS];
    NvmeLmFault fault;
    uint32_t    vs_pad;         /* NVME_LM_FAULT_VS_PAD */
    bool        foreign_fmts;   /* NVME_LM_FAULT_FMTS */
    bool        no_cdq_aen;     /* NVME_LM_FAULT_NO_CDQ_AEN */
    QEMUTimer   *delay_timer;
    struct NvmeRequest *delayed_req;
} NvmeLmCtrl;

/* hooks called from ctrl.c */
void nvme_lm_init_ctrl(struct NvmeCtrl *n);
void nvme_lm_exit_ctrl(struct NvmeCtrl *n);
void nvme_lm_ctrl_reset(struct NvmeCtrl *n, int rst);
bool nvme_lm_cmd_supported(struct NvmeCtrl *n, uint8_t opcode);
uint16_t nvme_lm_admin_cmd(struct NvmeCtrl *n, struct NvmeRequest *req);
uint16_t nvme_lm_identify_state_fmts(struct NvmeCtrl *n,
                                     struct NvmeRequest *req);
uint16_t nvme_lm_set_feature_cdq(struct NvmeCtrl *n, struct NvmeRequest *req);
uint16_t nvme_lm_get_feature_cdq(struct NvmeCtrl *n, struct NvmeRequest *req);
void nvme_lm_req_completed(struct NvmeCtrl *n, struct NvmeRequest *req);
void nvme_lm_dma_written(struct NvmeCtrl *n, uint64_t addr, uint64_t len);
bool nvme_lm_abort(struct NvmeCtrl *n, uint16_t cid);

/* lbas.c: allocated LBA reporting (TP4165) */
struct NvmeNamespace;
uint16_t nvme_lbas_get_lba_status(struct NvmeCtrl *n, struct NvmeRequest *req);
void nvme_lbas_identify_ctrl_nvm(struct NvmeCtrl *n, uint8_t *id);
void nvme_lbas_identify_ns_nvm(struct NvmeCtrl *n, struct NvmeNamespace *ns);

/* gates for command fetching and for completion posting */
static inline bool nvme_lm_quiesced(NvmeLmCtrl *lm)
{
    return lm->quiesced || lm->suspended;
}

static inline bool nvme_lm_suspended(NvmeLmCtrl *lm)
{
    return lm->suspended;
}

#endif /* HW_NVME_LM_H */
