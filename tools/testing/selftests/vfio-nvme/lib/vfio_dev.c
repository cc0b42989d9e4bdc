// SPDX-License-Identifier: GPL-2.0
/* PCI functions bound to a VFIO driver, through the group/container uAPI */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vfio_nvme.h"

#define IOVA_BASE	0x100000000ULL

int vfio_ctr_open(struct vfio_ctr *ctr)
{
	memset(ctr, 0, sizeof(*ctr));
	ctr->next_iova = IOVA_BASE;
	ctr->fd = open("/dev/vfio/vfio", O_RDWR);
	if (ctr->fd < 0)
		return -errno;
	if (ioctl(ctr->fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		close(ctr->fd);
		ctr->fd = -1;
		return -EINVAL;
	}
	return 0;
}

void vfio_ctr_close(struct vfio_ctr *ctr)
{
	for (int i = 0; i < ctr->ngroups; i++)
		close(ctr->groups[i]);
	ctr->ngroups = 0;
	if (ctr->fd >= 0)
		close(ctr->fd);
	ctr->fd = -1;
}

static int group_open(struct vfio_ctr *ctr, const char *bdf)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;
	int group;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(link));
	group = open(path, O_RDWR);
	if (group < 0)
		return -errno;
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &st))
		goto err;
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		errno = EPERM;
		goto err;
	}
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &ctr->fd))
		goto err;
	if (!ctr->iommu_set) {
		if (ioctl(ctr->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
			goto err;
		ctr->iommu_set = true;
	}
	return group;
err:
	n = -errno;
	close(group);
	return n;
}

int vfio_dev_open_in(struct vfio_ctr *ctr, const char *bdf, struct vfio_dev *dev)
{
	int ret;

	dev->ctr = ctr;
	dev->group = dev->fd = -1;
	snprintf(dev->bdf, sizeof(dev->bdf), "%s", bdf);
	if (ctr->ngroups == (int)(sizeof(ctr->groups) / sizeof(ctr->groups[0])))
		return -ENOSPC;
	ret = group_open(ctr, bdf);
	if (ret < 0)
		return ret;
	dev->group = ret;
	dev->fd = ioctl(dev->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (dev->fd < 0) {
		ret = -errno;
		close(dev->group);
		dev->group = -1;
		return ret;
	}
	ctr->groups[ctr->ngroups++] = dev->group;
	return 0;
}

int vfio_dev_open(const char *bdf, struct vfio_dev *dev)
{
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->fd = -1;
	ret = vfio_ctr_open(&dev->own);
	if (ret)
		return ret;
	ret = vfio_dev_open_in(&dev->own, bdf, dev);
	if (ret)
		vfio_ctr_close(&dev->own);
	return ret;
}

void vfio_dev_close(struct vfio_dev *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
	if (dev->ctr == &dev->own)
		vfio_ctr_close(&dev->own);
	dev->ctr = NULL;
}

int vfio_dev_reopen(struct vfio_ctr *ctr, struct vfio_dev *dev)
{
	dev->fd = ioctl(dev->group, VFIO_GROUP_GET_DEVICE_FD, dev->bdf);
	if (dev->fd < 0)
		return -errno;
	dev->ctr = ctr;
	return 0;
}

static int region_info(struct vfio_dev *dev, int index, struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	return ioctl(dev->fd, VFIO_DEVICE_GET_REGION_INFO, ri) ? -errno : 0;
}

static int region_offset(struct vfio_dev *dev, int index, uint64_t off, size_t len,
			 uint64_t *pos)
{
	struct vfio_region_info ri;
	int ret;

	ret = region_info(dev, index, &ri);
	if (ret)
		return ret;
	if (off + len > ri.size)
		return -EINVAL;
	*pos = ri.offset + off;
	return 0;
}

int vfio_region_read(struct vfio_dev *dev, int index, uint64_t off, void *buf, size_t len)
{
	uint64_t pos;
	int ret;

	ret = region_offset(dev, index, off, len, &pos);
	if (ret)
		return ret;
	if (pread(dev->fd, buf, len, pos) != (ssize_t)len)
		return errno ? -errno : -EIO;
	return 0;
}

int vfio_region_write(struct vfio_dev *dev, int index, uint64_t off, const void *buf, size_t len)
{
	uint64_t pos;
	int ret;

	ret = region_offset(dev, index, off, len, &pos);
	if (ret)
		return ret;
	if (pwrite(dev->fd, buf, len, pos) != (ssize_t)len)
		return errno ? -errno : -EIO;
	return 0;
}

void *vfio_bar_map(struct vfio_dev *dev, int index, size_t *size)
{
	struct vfio_region_info ri;
	void *p;

	if (region_info(dev, index, &ri) || !(ri.flags & VFIO_REGION_INFO_FLAG_MMAP))
		return NULL;
	p = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev->fd, ri.offset);
	if (p == MAP_FAILED)
		return NULL;
	*size = ri.size;
	return p;
}

int vfio_pci_enable_dma(struct vfio_dev *dev)
{
	uint16_t cmd;
	int ret;

	ret = vfio_region_read(dev, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, 2);
	if (ret)
		return ret;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	return vfio_region_write(dev, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, 2);
}

int vfio_dma_alloc(struct vfio_ctr *ctr, size_t size, struct vfio_dma *dma)
{
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map) };

	size = (size + 4095) & ~4095UL;
	dma->va = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dma->va == MAP_FAILED)
		return -errno;
	map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	map.vaddr = (uintptr_t)dma->va;
	map.iova = ctr->next_iova;
	map.size = size;
	if (ioctl(ctr->fd, VFIO_IOMMU_MAP_DMA, &map)) {
		int ret = -errno;

		munmap(dma->va, size);
		return ret;
	}
	dma->iova = map.iova;
	dma->size = size;
	/* a guard gap between buffers catches overruns as IOMMU faults */
	ctr->next_iova += size + 0x100000;
	return 0;
}

void vfio_dma_free(struct vfio_ctr *ctr, struct vfio_dma *dma)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap), .iova = dma->iova, .size = dma->size,
	};

	if (!dma->size)
		return;
	ioctl(ctr->fd, VFIO_IOMMU_UNMAP_DMA, &unmap);
	munmap(dma->va, dma->size);
	dma->size = 0;
}
