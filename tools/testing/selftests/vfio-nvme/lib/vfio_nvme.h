/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the vfio-nvme selftests and the rig's setup tool:
 * finding the NVMe SR-IOV physical functions, managing their secondary
 * controllers with Virtualization Management, binding functions to drivers
 * through sysfs, and opening a bound function through the VFIO uAPI.
 */
#ifndef VFIO_NVME_LIB_H
#define VFIO_NVME_LIB_H

#include <stdbool.h>
#include <stdint.h>
#include <libnvme.h>

#define BDF_LEN 16

/* an NVMe physical function with SR-IOV and its primary controller */
struct nvme_pf {
	char bdf[BDF_LEN];
	char ctrl[32];		/* /dev/nvmeN of the PF's primary controller */
	int fd;			/* open on ctrl, admin commands go here */
	uint16_t cntlid;	/* the primary controller's own CNTLID */
};

/* sysfs */
int sysfs_read(const char *path, char *buf, size_t len);
int sysfs_write(const char *path, const char *val);
int sysfs_read_dev(const char *bdf, const char *attr, char *buf, size_t len);
int sysfs_write_dev(const char *bdf, const char *attr, const char *val);
long sysfs_read_dev_long(const char *bdf, const char *attr);
/* name of the driver bound to bdf, "" when none */
int pci_driver_of(const char *bdf, char *drv, size_t len);
/* unbind bdf from any driver, then bind it to drv through driver_override */
int pci_bind(const char *bdf, const char *drv);
int pci_unbind(const char *bdf);

/* PFs: index counts NVMe functions with SR-IOV in BDF order */
int nvme_pf_open(int index, struct nvme_pf *pf);
void nvme_pf_close(struct nvme_pf *pf);
int nvme_pf_num_vfs(struct nvme_pf *pf);
int nvme_pf_set_num_vfs(struct nvme_pf *pf, int num);
/* BDF of the VF with 1-based number vfn (the VFN of the Secondary Controller List) */
int nvme_pf_vf_bdf(struct nvme_pf *pf, int vfn, char *bdf);

/* Identify CNS 15h; returns the NVMe status (0 = success), -errno on I/O errors */
int nvme_pf_sec_list(struct nvme_pf *pf, struct nvme_secondary_ctrl_list *list);
/* the secondary controller entry of a VF, by VFN */
int nvme_pf_sec_ctrl(struct nvme_pf *pf, int vfn, struct nvme_secondary_ctrl *sc);
/*
 * Open PF index and find its VF vfn, which must be online, as the rig's
 * "vfio-nvme-setup sriov" leaves it: 0, -ENODEV (no such PF), -ENOLINK (the
 * VF is offline or the PF cannot say), or another -errno.  The PF stays
 * open unless nvme_pf_open() failed.
 */
int nvme_pf_online_vf(int index, int vfn, struct nvme_pf *pf, char *bdf);
/* Virtualization Management; returns the NVMe status, -errno on I/O errors */
int nvme_pf_virt_mgmt(struct nvme_pf *pf, enum nvme_virt_mgmt_act act,
		      enum nvme_virt_mgmt_rt rt, uint16_t cntlid, uint16_t nr);
/*
 * Give the primary controller's flexible resources back to the pool and
 * reset the PF so that takes effect.  Only valid with no VFs enabled.
 */
int nvme_pf_release_flexible(struct nvme_pf *pf);
/* assign nvq queue and nvi interrupt resources to a VF's controller and set it online */
int nvme_pf_vf_online(struct nvme_pf *pf, int vfn, uint16_t nvq, uint16_t nvi);
int nvme_pf_vf_offline(struct nvme_pf *pf, int vfn);
/*
 * Namespace Attachment: attach namespace nsid to controller cntlid of the
 * PF's subsystem, or detach it.  Returns the NVMe status, -errno on I/O
 * errors.
 */
int nvme_pf_ns_attach(struct nvme_pf *pf, uint32_t nsid, uint16_t cntlid, bool attach);
/* Identify CNS 12h: the controllers nsid is attached to; NVMe status or -errno */
int nvme_pf_ns_ctrls(struct nvme_pf *pf, uint32_t nsid, struct nvme_ctrl_list *list);

/*
 * VFIO, group/container API with the type1 IOMMU backend.  Devices opened in
 * one container share one IOVA space, as the source and destination VF of a
 * migration do in a VMM.
 */
struct vfio_ctr {
	int fd;
	int groups[8];
	int ngroups;
	bool iommu_set;
	uint64_t next_iova;
};

struct vfio_dev {
	struct vfio_ctr *ctr;
	struct vfio_ctr own;	/* used by vfio_dev_open() */
	int group;
	int fd;
	char bdf[BDF_LEN];
};

struct vfio_dma {
	void *va;
	uint64_t iova;
	size_t size;
};

int vfio_ctr_open(struct vfio_ctr *ctr);
void vfio_ctr_close(struct vfio_ctr *ctr);
/* open bdf in ctr, or (vfio_dev_open) in a container of its own */
int vfio_dev_open_in(struct vfio_ctr *ctr, const char *bdf, struct vfio_dev *dev);
int vfio_dev_open(const char *bdf, struct vfio_dev *dev);
void vfio_dev_close(struct vfio_dev *dev);
/* open the device again after vfio_dev_close() (its group stays in ctr) */
int vfio_dev_reopen(struct vfio_ctr *ctr, struct vfio_dev *dev);
/* read or write len bytes at offset of a VFIO region, 0 or -errno */
int vfio_region_read(struct vfio_dev *dev, int index, uint64_t off, void *buf, size_t len);
int vfio_region_write(struct vfio_dev *dev, int index, uint64_t off, const void *buf, size_t len);
/* mmap a BAR, NULL on failure */
void *vfio_bar_map(struct vfio_dev *dev, int index, size_t *size);
/* enable memory decoding and bus mastering */
int vfio_pci_enable_dma(struct vfio_dev *dev);
/* zeroed memory mapped for DMA at a fresh IOVA of the container */
int vfio_dma_alloc(struct vfio_ctr *ctr, size_t size, struct vfio_dma *dma);
void vfio_dma_free(struct vfio_ctr *ctr, struct vfio_dma *dma);

/* wait up to ms milliseconds for path to exist */
bool wait_for_path(const char *path, int ms);
/* CLOCK_MONOTONIC in milliseconds */
double now_ms(void);

#endif
