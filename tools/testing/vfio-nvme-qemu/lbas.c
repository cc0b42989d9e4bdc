/*
 * QEMU NVM Express: reporting allocated LBAs (NVMe TP4165, Get LBA Status
 * action type 02h), so that a host migrating a namespace copies only what
 * is allocated before it follows the user data change log.
 *
 * "Allocated" is what the namespace's image reports as data
 * (bdrv_block_status()), at a tracking granularity of NVME_LBAS_GRAN_BYTES.
 * Offered with the "hmlms" property, on primary controllers.  See
 * Documentation/driver-api/vfio-nvme-qemu.rst in the nvme-vfio-pci project.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "block/block.h"
#include "system/block-backend.h"
#include "nvme.h"

/* tracking granularity: TLBAAG is this in logical blocks */
#define NVME_LBAS_GRAN_BYTES    (64 * 1024)
/* the most descriptor data one command returns */
#define NVME_LBAS_MAX_BYTES     (64 * 1024)

#define NVME_LBAS_ATYPE_ALLOCATED   0x02
#define NVME_LBAS_STATUS_ALLOCATED  0x02
#define NVME_LBAS_CMPC_MORE         1
#define NVME_LBAS_CMPC_COMPLETE     2

/* NVM Identify Controller AOCS bit 0, NVM Identify Namespace TLBAAG */
#define NVME_LBAS_AOCS_OFFSET       18
#define NVME_LBAS_AOCS_RALBAS       0x1
#define NVME_LBAS_TLBAAG_OFFSET     292

typedef struct QEMU_PACKED NvmeLbasHdr {
    uint32_t nlsd;
    uint8_t  cmpc;
    uint8_t  rsvd5[3];
} NvmeLbasHdr;

/*
 * NLB is 1's based, as in the base specification's LBA Status Descriptor;
 * the TP4165 emulation in Samsung's QEMU tree emits count - 1.
 */
typedef struct QEMU_PACKED NvmeLbasDesc {
    uint64_t dslba;
    uint32_t nlb;
    uint8_t  rsvd12;
    uint8_t  status;
    uint8_t  rsvd14[2];
} NvmeLbasDesc;

QEMU_BUILD_BUG_ON(sizeof(NvmeLbasHdr) != 8);
QEMU_BUILD_BUG_ON(sizeof(NvmeLbasDesc) != 16);

static bool nvme_lbas_supported(NvmeCtrl *n)
{
    return nvme_lm_cmd_supported(n, NVME_ADM_CMD_GET_LBA_STATUS);
}

static uint32_t nvme_lbas_gran(NvmeNamespace *ns)
{
    return MAX(NVME_LBAS_GRAN_BYTES / nvme_l2b(ns, 1), 1);
}

void nvme_lbas_identify_ctrl_nvm(NvmeCtrl *n, uint8_t *id)
{
    if (nvme_lbas_supported(n)) {
        id[NVME_LBAS_AOCS_OFFSET] |= NVME_LBAS_AOCS_RALBAS;
    }
}

void nvme_lbas_identify_ns_nvm(NvmeCtrl *n, NvmeNamespace *ns)
{
    uint32_t gran = nvme_lbas_supported(n) ? nvme_lbas_gran(ns) : 0;

    stl_le_p((uint8_t *)&ns->id_ns_nvm + NVME_LBAS_TLBAAG_OFFSET, gran);
}

/* is any block of [lba, lba + nlb) allocated in the image */
static int nvme_lbas_allocated(NvmeNamespace *ns, uint64_t lba, uint64_t nlb)
{
    BlockDriverState *bs = blk_bs(ns->blkconf.blk);
    int64_t off = nvme_l2b(ns, lba), end = nvme_l2b(ns, lba + nlb);

    while (off < end) {
        int64_t pnum;
        int ret = bdrv_block_status(bs, off, end - off, &pnum, NULL, NULL);

        if (ret < 0) {
            return ret;
        }
        if (ret & BDRV_BLOCK_DATA) {
            return 1;
        }
        if (!pnum) {
            break;
        }
        off += pnum;
    }
    return 0;
}

/*
 * Get LBA Status with ATYPE 02h: CDW10/11 SLBA, CDW12 MNDW (0's based
 * dwords), CDW13[15:0] RL (0: to the end), CDW13[31:24] ATYPE.  Returns the
 * allocated ranges from the granule holding SLBA on, granule aligned, in
 * as many descriptors as fit; CMPC says whether that was all.
 */
uint16_t nvme_lbas_get_lba_status(NvmeCtrl *n, NvmeRequest *req)
{
    uint32_t nsid = le32_to_cpu(req->cmd.nsid);
    uint64_t slba = le32_to_cpu(req->cmd.cdw10) |
                    (uint64_t)le32_to_cpu(req->cmd.cdw11) << 32;
    uint64_t len = ((uint64_t)le32_to_cpu(req->cmd.cdw12) + 1) * 4;
    uint32_t dw13 = le32_to_cpu(req->cmd.cdw13);
    uint16_t rl = dw13 & 0xffff;
    uint8_t atype = dw13 >> 24;
    g_autofree uint8_t *buf = NULL;
    NvmeLbasHdr *hdr;
    NvmeLbasDesc *d = NULL;
    uint64_t nsze, end, gran, lba;
    uint32_t max, nd = 0;
    uint16_t status;
    NvmeNamespace *ns;

    if (!nvme_lbas_supported(n)) {
        return NVME_INVALID_OPCODE | NVME_DNR;
    }
    ns = nvme_ns(n, nsid);
    if (!ns) {
        return NVME_INVALID_NSID | NVME_DNR;
    }
    if (atype != NVME_LBAS_ATYPE_ALLOCATED) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    nsze = le64_to_cpu(ns->id_ns.nsze);
    if (slba >= nsze) {
        return NVME_LBA_RANGE | NVME_DNR;
    }
    len = MIN(len, NVME_LBAS_MAX_BYTES);
    if (len < sizeof(*hdr)) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    buf = g_malloc0(len);
    hdr = (NvmeLbasHdr *)buf;
    max = (len - sizeof(*hdr)) / sizeof(*d);
    gran = nvme_lbas_gran(ns);
    end = rl ? MIN(slba + rl, nsze) : nsze;
    hdr->cmpc = NVME_LBAS_CMPC_COMPLETE;

    for (lba = slba - slba % gran; lba < end; lba += gran) {
        uint64_t nlb = MIN(gran, nsze - lba);
        int ret = nvme_lbas_allocated(ns, lba, nlb);

        if (ret < 0) {
            return NVME_INTERNAL_DEV_ERROR;
        }
        if (!ret) {
            d = NULL;
            continue;
        }
        if (d && le64_to_cpu(d->dslba) + le32_to_cpu(d->nlb) == lba &&
            le32_to_cpu(d->nlb) + nlb <= UINT32_MAX) {
            d->nlb = cpu_to_le32(le32_to_cpu(d->nlb) + nlb);
            continue;
        }
        if (nd == max) {
            hdr->cmpc = NVME_LBAS_CMPC_MORE;
            break;
        }
        d = (NvmeLbasDesc *)(buf + sizeof(*hdr)) + nd++;
        d->dslba = cpu_to_le64(lba);
        d->nlb = cpu_to_le32(nlb);
        d->status = NVME_LBAS_STATUS_ALLOCATED;
    }
    hdr->nlsd = cpu_to_le32(nd);
    status = nvme_c2h(n, buf, len, req);
    return status;
}
