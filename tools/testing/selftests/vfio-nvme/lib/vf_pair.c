// SPDX-License-Identifier: GPL-2.0
/* Two VFs of two PFs in one VFIO container, a userspace driver on the first */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/vfio.h>

#include "vf_pair.h"

int vf_pair_open(struct vf_pair *p, const char *driver, uint32_t nsid, uint16_t qsize)
{
	int ret = 0;

	memset(p, 0, sizeof(*p));
	p->ctr.fd = -1;
	for (int i = 0; i < 2; i++)
		p->pf[i].fd = p->dev[i].fd = -1;
	for (int i = 0; !ret && i < 2; i++) {
		struct nvme_secondary_ctrl sc;

		ret = nvme_pf_open(i, &p->pf[i]);
		if (ret)
			break;		/* -ENODEV: no such PF */
		ret = nvme_pf_sec_ctrl(&p->pf[i], 1, &sc);
		if (ret)
			ret = ret < 0 ? ret : -EIO;
		else if (!(sc.scs & 1))
			ret = -ENOLINK;	/* VF 1's secondary controller is offline */
		if (!ret) {
			p->scid[i] = le16toh(sc.scid);
			ret = nvme_pf_vf_bdf(&p->pf[i], 1, p->bdf[i]);
		}
		if (!ret)
			ret = pci_bind(p->bdf[i], driver) ? -ENXIO : 0;
	}
	if (!ret)
		ret = vfio_ctr_open(&p->ctr);
	for (int i = 0; !ret && i < 2; i++)
		ret = vfio_dev_open_in(&p->ctr, p->bdf[i], &p->dev[i]);
	if (!ret)
		ret = nvme_drv_init(&p->drv, &p->dev[0], nsid);
	if (!ret)
		ret = nvme_drv_create_ioq(&p->drv, 1, qsize);
	for (int i = 0; !ret && i < VF_PAIR_NBUF; i++)
		ret = vfio_dma_alloc(&p->ctr, 4096, &p->buf[i]);
	return ret;
}

void vf_pair_close(struct vf_pair *p, bool reset)
{
	nvme_drv_fini(&p->drv);
	for (int i = 0; i < VF_PAIR_NBUF; i++)
		vfio_dma_free(&p->ctr, &p->buf[i]);
	for (int i = 0; i < 2; i++) {
		if (reset && p->dev[i].fd >= 0)
			ioctl(p->dev[i].fd, VFIO_DEVICE_RESET);
		vfio_dev_close(&p->dev[i]);
	}
	vfio_ctr_close(&p->ctr);
	for (int i = 0; i < 2; i++) {
		if (p->bdf[i][0])
			pci_unbind(p->bdf[i]);
		nvme_pf_close(&p->pf[i]);
	}
}
