// SPDX-License-Identifier: GPL-2.0
/* Open a PCI function bound to a VFIO driver through the group/container uAPI */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "vfio_nvme.h"

int vfio_dev_open(const char *bdf, struct vfio_dev *dev)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->container = dev->group = dev->fd = -1;
	snprintf(dev->bdf, sizeof(dev->bdf), "%s", bdf);

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(link));

	dev->container = open("/dev/vfio/vfio", O_RDWR);
	if (dev->container < 0)
		goto err;
	if (ioctl(dev->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		errno = EINVAL;
		goto err;
	}
	dev->group = open(path, O_RDWR);
	if (dev->group < 0)
		goto err;
	if (ioctl(dev->group, VFIO_GROUP_GET_STATUS, &st))
		goto err;
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		errno = EPERM;
		goto err;
	}
	if (ioctl(dev->group, VFIO_GROUP_SET_CONTAINER, &dev->container))
		goto err;
	if (ioctl(dev->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		goto err;
	dev->fd = ioctl(dev->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (dev->fd < 0)
		goto err;
	return 0;
err:
	ret = -errno;
	vfio_dev_close(dev);
	return ret;
}

void vfio_dev_close(struct vfio_dev *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	if (dev->group >= 0)
		close(dev->group);
	if (dev->container >= 0)
		close(dev->container);
	dev->fd = dev->group = dev->container = -1;
}

static int region_offset(struct vfio_dev *dev, int index, uint64_t off, size_t len,
			 uint64_t *pos)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = index };

	if (ioctl(dev->fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -errno;
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
