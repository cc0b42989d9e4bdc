/* SPDX-License-Identifier: GPL-2.0 */
/* The VFIO migration uAPI (v2) as the tests drive it */
#ifndef VFIO_NVME_MIG_H
#define VFIO_NVME_MIG_H

#include <linux/vfio.h>
#include "vfio_nvme.h"

/* MIG_DEVICE_STATE set: 0 or -errno; *data_fd gets the new data fd or -1 */
int vfio_mig_set(struct vfio_dev *dev, enum vfio_device_mig_state state, int *data_fd);
/* MIG_DEVICE_STATE get: the state, or -errno */
int vfio_mig_get(struct vfio_dev *dev);
/* MIGRATION feature flags, or -errno */
long long vfio_mig_flags(struct vfio_dev *dev);
/* MIG_DATA_SIZE: 0 or -errno */
int vfio_mig_data_size(struct vfio_dev *dev, uint64_t *len);
/* VFIO_MIG_GET_PRECOPY_INFO on a data fd: 0 or -errno */
int vfio_mig_precopy_info(int data_fd, uint64_t *initial, uint64_t *dirty);
/* read a data fd until end of stream (or -ENOMSG): bytes appended to *buf */
ssize_t vfio_mig_read_all(int data_fd, uint8_t **buf, size_t *len);
/* write len bytes in pieces of chunk bytes: 0 or -errno */
int vfio_mig_write_all(int data_fd, const uint8_t *buf, size_t len, size_t chunk);

/* RUNNING -> STOP_COPY, read the whole stream into *stream, -> STOP: 0 or -errno */
int vfio_mig_save(struct vfio_dev *dev, uint8_t **stream, size_t *len);
/* -> RESUMING, write the stream in pieces of chunk bytes, -> RUNNING: 0 or -errno */
int vfio_mig_load(struct vfio_dev *dev, const uint8_t *stream, size_t len, size_t chunk);

/* DMA_LOGGING_START over n ranges {iova, len}; *page_size in and out: 0 or -errno */
int vfio_dma_log_start(struct vfio_dev *dev, const uint64_t (*ranges)[2], int n,
		       uint64_t *page_size);
int vfio_dma_log_stop(struct vfio_dev *dev);
/* whether the device offers DMA logging: 0 or -errno (ENOTTY: no) */
int vfio_dma_log_probe(struct vfio_dev *dev);
/* DMA_LOGGING_REPORT of [iova, iova + len) at page_size into bitmap: 0 or -errno */
int vfio_dma_log_report(struct vfio_dev *dev, uint64_t iova, uint64_t len,
			uint64_t page_size, uint64_t *bitmap);

#endif
