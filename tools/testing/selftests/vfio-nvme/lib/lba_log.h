/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nvme-vfio-pci's LBA change log (VFIO_DEVICE_FEATURE_NVME_LBA_LOG) and a
 * namespace copier driven by it: what a VMM needs to migrate a namespace on
 * local storage alongside the VFIO device state.
 */
#ifndef VFIO_NVME_LBA_LOG_H
#define VFIO_NVME_LBA_LOG_H

#include <linux/nvme-vfio.h>
#include "vfio_nvme.h"

/* START with a queue of entries: the log fd, or -errno */
int vfio_lba_log_start(struct vfio_dev *dev, uint32_t entries);
/* STOP: 0 or -errno */
int vfio_lba_log_stop(struct vfio_dev *dev);
/*
 * up to max records: the number read, 0 if none is there yet, -ENODATA once
 * logging stopped, or -errno
 */
int vfio_lba_log_read(int log_fd, struct vfio_nvme_lba_change *rec, int max);

/*
 * Copies one namespace between two block devices (O_DIRECT, so what the
 * VF wrote behind the host's back is what is read): everything once, then
 * what the log reports.
 */
struct ns_copy {
	int src, dst;
	uint32_t nsid;
	uint32_t lba_size;
	uint64_t nlb;			/* namespace size in logical blocks */
	uint64_t *dirty;		/* one bit per logical block to copy (again) */
	void *buf;
	uint64_t bytes;			/* bytes copied so far */
	uint64_t zeroed;		/* destination bytes zeroed instead of copied */
	uint64_t records;		/* log records taken */
	uint64_t overflows;		/* records that said "copy everything again" */
	bool suspended;			/* the SUSPENDED marker was seen */
};

/* the block device of namespace nsid on controller ctrl (nvmeN), into path */
int nvme_ns_bdev(const char *ctrl, uint32_t nsid, char *path, size_t len);
int ns_copy_open(struct ns_copy *c, const char *src, const char *dst, uint32_t nsid);
void ns_copy_close(struct ns_copy *c);
/* mark every block to be copied */
void ns_copy_mark_all(struct ns_copy *c);
/*
 * Mark only what the source namespace has allocated (Get LBA Status,
 * TP4165, through the source PF's controller ctrl_fd) and zero the rest
 * of the destination.  1 when done, 0 when the device does not report
 * allocated LBAs (mark everything instead), -errno.
 */
int ns_copy_mark_allocated(struct ns_copy *c, int ctrl_fd);
/* number of blocks marked */
uint64_t ns_copy_pending(struct ns_copy *c);
/*
 * copy up to max_bytes of marked blocks from logical block *pos on (then
 * clear them); *pos is where to go on, nlb when a pass is over.  Returns
 * bytes copied or -errno.
 */
long long ns_copy_step(struct ns_copy *c, uint64_t *pos, uint64_t max_bytes);
/* take what the log has into the marks: records taken or -errno (-ENODATA: stopped) */
int ns_copy_take_log(struct ns_copy *c, int log_fd);
/* 1 if the two namespaces are byte-identical, 0 if not, -errno */
int ns_copy_compare(struct ns_copy *c, uint64_t *first_diff);

#endif
