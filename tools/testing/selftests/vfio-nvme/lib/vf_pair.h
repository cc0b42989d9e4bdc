/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The setup the migration tests share: VF 1 of PF 0 (the source) and VF 1
 * of PF 1 (the destination) bound to one driver and opened in one VFIO
 * container, a userspace NVMe driver with I/O queue 1 on the source VF,
 * and 4 KiB data buffers mapped in the container.
 */
#ifndef VFIO_NVME_VF_PAIR_H
#define VFIO_NVME_VF_PAIR_H

#include "vfio_nvme.h"
#include "nvme_drv.h"

#define VF_PAIR_NBUF	16

struct vf_pair {
	struct nvme_pf pf[2];
	char bdf[2][BDF_LEN];
	uint16_t scid[2];		/* the VFs' secondary controller IDs */
	struct vfio_ctr ctr;
	struct vfio_dev dev[2];
	struct nvme_drv drv;
	struct vfio_dma buf[VF_PAIR_NBUF];
};

/*
 * 0; -ENODEV without two NVMe PFs with SR-IOV; -ENOLINK if VF 1's secondary
 * controller is offline; -ENXIO if driver does not bind; another -errno.
 * Call vf_pair_close() whatever it returns.
 */
int vf_pair_open(struct vf_pair *p, const char *driver, uint32_t nsid, uint16_t qsize);
/* reset: a function reset of both VFs first (ends any suspend left behind) */
void vf_pair_close(struct vf_pair *p, bool reset);

#endif
