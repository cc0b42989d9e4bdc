/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * nvme-vfio-pci: the VFIO device feature that logs which logical blocks an
 * NVMe VF writes, so that a VMM can copy a namespace on local storage to the
 * destination drive while the VM runs.  Documentation/driver-api/vfio-nvme.rst
 * describes the copy loop that uses it.
 */
#ifndef _UAPI_LINUX_NVME_VFIO_H
#define _UAPI_LINUX_NVME_VFIO_H

#include <linux/types.h>
#include <linux/vfio.h>

/*
 * VFIO_DEVICE_FEATURE_NVME_LBA_LOG, with VFIO_DEVICE_FEATURE_SET:
 *
 * VFIO_NVME_LBA_LOG_START creates a User Data Migration Queue (@entries in
 * size) for the VF's secondary controller in the PF's memory, starts Log
 * User Data Changes, and returns in @log_fd a file that read(2) takes
 * struct vfio_nvme_lba_change records from.  The first record carries
 * VFIO_NVME_LBA_FIRST: logging has started, every write completed after it
 * is reported.  read() never blocks: with nothing logged it fails with
 * EAGAIN.  Errors: EINVAL for a bad size or flags, EBUSY if logging is
 * already on or the controller is suspended, EOPNOTSUPP if the PF cannot
 * log, ENOSPC if it has no queue left.
 *
 * VFIO_NVME_LBA_LOG_STOP stops logging and deletes the queue (records not
 * read are dropped, read() then returns 0); ENOENT if logging is off.
 * Closing the VFIO device stops logging too; closing @log_fd does not.
 *
 * With VFIO_DEVICE_FEATURE_PROBE: 0 if the VF migrates through its PF
 * (whether the PF logs user data changes shows at START).
 *
 * read() fails with the errno of the PF command when the queue broke (e.g.
 * ENOENT: a controller reset of the PF deleted it): changes may have been
 * missed, copy everything again.
 *
 * The feature number is provisional: upstream would assign the next free
 * VFIO_DEVICE_FEATURE number in linux/vfio.h.
 */
#define VFIO_DEVICE_FEATURE_NVME_LBA_LOG	0x4e00

struct vfio_nvme_lba_log {
	__u32	flags;
#define VFIO_NVME_LBA_LOG_START		(1 << 0)
#define VFIO_NVME_LBA_LOG_STOP		(1 << 1)
	__u32	entries;
	__s32	log_fd;
	__u32	reserved;
};

#define VFIO_NVME_LBA_LOG_MIN_ENTRIES	2
#define VFIO_NVME_LBA_LOG_MAX_ENTRIES	65536

/*
 * One logged change.  Without flags: @nlb blocks from @slba of namespace
 * @nsid were written (or written zeroes).  With VFIO_NVME_LBA_ALL: any block
 * of namespace @nsid, or of every namespace if @nsid is 0, may have changed
 * (a command whose ranges the device does not report, or the queue
 * overflowed): copy all of it again.  The markers carry no blocks:
 *  FIRST      logging started (or the controller resumed after a suspend)
 *  STOPPED    logging stopped: no further records
 *  SUSPENDED  the controller was suspended: every write it completed is
 *             reported before this record
 *  OVERFLOW   the queue filled up and changes were not recorded until it
 *             had room again; comes with VFIO_NVME_LBA_ALL and @nsid 0
 */
struct vfio_nvme_lba_change {
	__u32	nsid;
	__u32	flags;
#define VFIO_NVME_LBA_ALL		(1 << 0)
#define VFIO_NVME_LBA_FIRST		(1 << 1)
#define VFIO_NVME_LBA_STOPPED		(1 << 2)
#define VFIO_NVME_LBA_SUSPENDED		(1 << 3)
#define VFIO_NVME_LBA_OVERFLOW		(1 << 4)
	__u64	slba;
	__u64	nlb;
};

#endif /* _UAPI_LINUX_NVME_VFIO_H */
