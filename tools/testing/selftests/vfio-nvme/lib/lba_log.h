/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The host administrator's LBA change log of an NVMe VF (linux/nvme_lm_log.h):
 * opened on the PF's controller (/dev/nvmeN), read as records, acknowledged
 * for the migration gate.  Thin wrappers of the uAPI for the tests; the
 * namespace copy that uses it is nvme-vfio-copy (tools/nvme-vfio).
 */
#ifndef VFIO_NVME_LBA_LOG_H
#define VFIO_NVME_LBA_LOG_H

#include <linux/nvme_lm_log.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * NVME_IOCTL_LM_LOG_OPEN on ctrl_fd (the PF's /dev/nvmeN, opened for
 * writing) for VF vf (the PF's sysfs virtfn<vf>: VFN 1 is vf 0): the log fd,
 * or -errno
 */
int lm_log_open(int ctrl_fd, uint32_t vf, uint32_t flags, uint32_t entries,
		uint32_t ack_timeout_ms);
/* the same with every field of the argument given: the log fd, or -errno */
int lm_log_open_raw(int ctrl_fd, struct nvme_lm_log_open *arg);
/*
 * read(2) up to max records: the number read (> 0), -EAGAIN if the log has
 * O_NONBLOCK and none is there, 0 if read() returned 0, or -errno
 */
int lm_log_read(int log_fd, struct nvme_lm_log_rec *rec, int max);
/*
 * up to max records, waiting up to ms milliseconds (poll) for the first:
 * the number read, 0 if none came, or -errno (-ESTALE: the log broke)
 */
int lm_log_read_wait(int log_fd, struct nvme_lm_log_rec *rec, int max, int ms);
/* O_NONBLOCK on or off: 0 or -errno */
int lm_log_nonblock(int log_fd, bool on);
/* NVME_LM_LOG_ACK of seq, or with NVME_LM_LOG_NACK: 0 or -errno */
int lm_log_ack(int log_fd, uint64_t seq);
int lm_log_nack(int log_fd, uint64_t seq);
/* the name of a record's flags, for messages */
const char *lm_log_flags_str(uint32_t flags, char *buf, size_t len);

/* the block device of namespace nsid on controller ctrl (nvmeN), into path */
int nvme_ns_bdev(const char *ctrl, uint32_t nsid, char *path, size_t len);
/*
 * 1 if block device b holds the bytes of block device a (b may be
 * larger), 0 if not (*first_diff: the first byte that differs), -errno
 */
int bdev_compare(const char *a, const char *b, uint64_t *first_diff);

#endif
