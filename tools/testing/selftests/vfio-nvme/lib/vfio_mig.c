// SPDX-License-Identifier: GPL-2.0
/* The VFIO migration uAPI (v2): device state, data files, sizes */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vfio_mig.h"

struct mig_state_feature {
	struct vfio_device_feature hdr;
	struct vfio_device_feature_mig_state st;
};

int vfio_mig_set(struct vfio_dev *dev, enum vfio_device_mig_state state, int *data_fd)
{
	struct mig_state_feature f = {
		.hdr.argsz = sizeof(f),
		.hdr.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
		.st.device_state = state,
		.st.data_fd = -1,
	};
	int ret = ioctl(dev->fd, VFIO_DEVICE_FEATURE, &f) ? -errno : 0;

	if (data_fd)
		*data_fd = ret ? -1 : f.st.data_fd;
	else if (!ret && f.st.data_fd >= 0)
		close(f.st.data_fd);
	return ret;
}

int vfio_mig_get(struct vfio_dev *dev)
{
	struct mig_state_feature f = {
		.hdr.argsz = sizeof(f),
		.hdr.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
	};

	return ioctl(dev->fd, VFIO_DEVICE_FEATURE, &f) ? -errno : (int)f.st.device_state;
}

long long vfio_mig_flags(struct vfio_dev *dev)
{
	struct {
		struct vfio_device_feature hdr;
		struct vfio_device_feature_migration mig;
	} f = {
		.hdr.argsz = sizeof(f),
		.hdr.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION,
	};

	return ioctl(dev->fd, VFIO_DEVICE_FEATURE, &f) ? -errno : (long long)f.mig.flags;
}

int vfio_mig_data_size(struct vfio_dev *dev, uint64_t *len)
{
	struct {
		struct vfio_device_feature hdr;
		struct vfio_device_feature_mig_data_size sz;
	} f = {
		.hdr.argsz = sizeof(f),
		.hdr.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
	};

	if (ioctl(dev->fd, VFIO_DEVICE_FEATURE, &f))
		return -errno;
	*len = f.sz.stop_copy_length;
	return 0;
}

int vfio_mig_precopy_info(int data_fd, uint64_t *initial, uint64_t *dirty)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };

	if (ioctl(data_fd, VFIO_MIG_GET_PRECOPY_INFO, &info))
		return -errno;
	*initial = info.initial_bytes;
	*dirty = info.dirty_bytes;
	return 0;
}

ssize_t vfio_mig_read_all(int data_fd, uint8_t **buf, size_t *len)
{
	size_t start = *len;

	for (;;) {
		uint8_t *nb = realloc(*buf, *len + 65536);
		ssize_t n;

		if (!nb)
			return -ENOMEM;
		*buf = nb;
		n = read(data_fd, *buf + *len, 65536);
		if (n == 0)
			break;
		if (n < 0)
			return errno == ENOMSG && *len > start ? (ssize_t)(*len - start) : -errno;
		*len += n;
	}
	return *len - start;
}

int vfio_mig_write_all(int data_fd, const uint8_t *buf, size_t len, size_t chunk)
{
	for (size_t off = 0; off < len;) {
		size_t n = len - off < chunk ? len - off : chunk;
		ssize_t w = write(data_fd, buf + off, n);

		if (w < 0)
			return -errno;
		off += w;
	}
	return 0;
}

int vfio_mig_save(struct vfio_dev *dev, uint8_t **stream, size_t *len)
{
	int fd, ret;

	*stream = NULL;
	*len = 0;
	ret = vfio_mig_set(dev, VFIO_DEVICE_STATE_STOP_COPY, &fd);
	if (ret)
		return ret;
	ret = vfio_mig_read_all(fd, stream, len) < 0 ? -EIO : 0;
	close(fd);
	return ret ? ret : vfio_mig_set(dev, VFIO_DEVICE_STATE_STOP, NULL);
}

int vfio_mig_load(struct vfio_dev *dev, const uint8_t *stream, size_t len, size_t chunk)
{
	int fd, ret;

	ret = vfio_mig_set(dev, VFIO_DEVICE_STATE_RESUMING, &fd);
	if (ret)
		return ret;
	ret = vfio_mig_write_all(fd, stream, len, chunk);
	close(fd);
	return ret ? ret : vfio_mig_set(dev, VFIO_DEVICE_STATE_RUNNING, NULL);
}

int vfio_dma_log_start(struct vfio_dev *dev, const uint64_t (*ranges)[2], int n,
		       uint64_t *page_size)
{
	struct vfio_device_feature_dma_logging_range r[16];
	struct {
		struct vfio_device_feature hdr;
		struct vfio_device_feature_dma_logging_control ctl;
	} f = {
		.hdr.argsz = sizeof(f),
		.hdr.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
		.ctl.page_size = *page_size,
		.ctl.num_ranges = n,
		.ctl.ranges = (uintptr_t)r,
	};

	if (n > 16)
		return -E2BIG;
	for (int i = 0; i < n; i++) {
		r[i].iova = ranges[i][0];
		r[i].length = ranges[i][1];
	}
	if (ioctl(dev->fd, VFIO_DEVICE_FEATURE, &f))
		return -errno;
	*page_size = f.ctl.page_size;
	return 0;
}

int vfio_dma_log_stop(struct vfio_dev *dev)
{
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
	};

	return ioctl(dev->fd, VFIO_DEVICE_FEATURE, &f) ? -errno : 0;
}

int vfio_dma_log_probe(struct vfio_dev *dev)
{
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
			 VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
	};

	return ioctl(dev->fd, VFIO_DEVICE_FEATURE, &f) ? -errno : 0;
}

int vfio_dma_log_report(struct vfio_dev *dev, uint64_t iova, uint64_t len,
			uint64_t page_size, uint64_t *bitmap)
{
	struct {
		struct vfio_device_feature hdr;
		struct vfio_device_feature_dma_logging_report rep;
	} f = {
		.hdr.argsz = sizeof(f),
		.hdr.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
		.rep.iova = iova,
		.rep.length = len,
		.rep.page_size = page_size,
		.rep.bitmap = (uintptr_t)bitmap,
	};

	return ioctl(dev->fd, VFIO_DEVICE_FEATURE, &f) ? -errno : 0;
}
