/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The log of logical blocks an NVMe SR-IOV VF writes, opened by the host
 * administrator on the PF's controller (/dev/nvmeN), so that a namespace on
 * local storage can be copied to the destination drive while the VM that
 * owns the VF runs under an unmodified VMM.
 * Documentation/driver-api/vfio-nvme.rst describes the copy and the gate.
 */
#ifndef _UAPI_LINUX_NVME_LM_LOG_H
#define _UAPI_LINUX_NVME_LM_LOG_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * NVME_IOCTL_LM_LOG_OPEN, on the PF's controller character device, opened
 * for writing, by a process with CAP_SYS_ADMIN:
 *
 * Creates a User Data Migration Queue of @entries for VF @vf of the PF
 * (the PF's sysfs virtfn@vf), starts Log User Data Changes for the VF's
 * secondary controller and returns in @fd (O_RDONLY | O_CLOEXEC) the log:
 * read(2) takes whole struct nvme_lm_log_rec records from it.  The log
 * belongs to @fd, not to whoever owns the VF: it lives on while a VMM opens
 * and closes the VFIO device, and closing @fd stops logging and deletes the
 * queue.  One log per VF.
 *
 * With NVME_LM_LOG_GATE, the VF's migration waits for the log's owner: the
 * VF's variant driver ends the migration stream (the state the destination
 * needs to run the VF) only once the owner has acknowledged
 * (NVME_LM_LOG_ACK) the SUSPENDED record of the migration's suspend, i.e.
 * once every change the VF completed is on the destination.  If the owner
 * does not within @ack_timeout_ms, refuses (NVME_LM_LOG_NACK), closes the
 * log or dies, or the log breaks, the stream fails and so does the
 * migration: the VM keeps running on the source.  A gated log also marks
 * the VF: until the VF's VFIO device is closed, its migration fails
 * without an open gated log (the copy's owner died before it began).  A
 * log opened without NVME_LM_LOG_GATE removes the mark.
 *
 * Errors: EPERM without CAP_SYS_ADMIN, EBADF unless opened for writing,
 * EINVAL for a bad @argsz, @flags, @entries, @ack_timeout_ms or reserved
 * field, ENODEV if @vf is not a VF of this PF, EBUSY if the VF already has
 * a log or its controller is suspended, EOPNOTSUPP if the PF cannot log
 * user data changes, ENOSPC if it has no queue left.
 */
struct nvme_lm_log_open {
	__u32	argsz;		/* sizeof(struct nvme_lm_log_open) */
	__u32	flags;
#define NVME_LM_LOG_GATE		(1 << 0)
	__u32	vf;		/* VF number: virtfn<vf> of the PF in sysfs */
	__u32	entries;	/* queue size */
	__u32	ack_timeout_ms;	/* NVME_LM_LOG_GATE: 0 for the default */
	__s32	fd;		/* out: the log */
	__u64	reserved;	/* 0 */
};

#define NVME_LM_LOG_MIN_ENTRIES		2
#define NVME_LM_LOG_MAX_ENTRIES		65536
#define NVME_LM_LOG_DEFAULT_ACK_MS	10000
#define NVME_LM_LOG_MAX_ACK_MS		60000

/*
 * One record.  @seq counts records from 1, without gaps.  Without flags:
 * @nlb blocks from @slba of namespace @nsid were written (or written
 * zeroes).  With NVME_LM_LOG_ALL: any block of namespace @nsid, or of every
 * namespace if @nsid is 0, may have changed: copy all of it again.  The
 * markers carry no blocks:
 *  FIRST      logging started: every write completed after this record
 *             is reported (after OVERFLOW: copy everything again from here)
 *  SUSPENDED  the VF's controller was suspended: every write it completed
 *             is in a record before this one, and nothing the controller
 *             logged after the suspend (such as the FIRST of its resume).
 *             With NVME_LM_LOG_GATE, the migration waits until this
 *             record's @seq is acknowledged.
 *  OVERFLOW   the queue filled up and changes were not recorded until
 *             logging started again (a FIRST follows); comes with
 *             NVME_LM_LOG_ALL and @nsid 0
 *  HANDED_OVER  NVME_LM_LOG_GATE: the acknowledgment released the
 *             migration stream, the VF's state has left for the
 *             destination: stop writing to it.  It comes before anything
 *             the VF logs after (if the migration still fails, the VF
 *             resumes on the source and a FIRST follows).
 * read() blocks until a record is there, unless the log was opened with
 * O_NONBLOCK (fcntl), then fails with EAGAIN; poll(2) says POLLIN when a
 * record is there.  read() fails with ESTALE once the records before the
 * failure have been read if the log broke (a controller reset of the PF
 * deleted the queue: changes may be missing, open a new log and copy
 * everything again), and with ENODEV if the PF went away; poll() then says
 * POLLERR.
 */
struct nvme_lm_log_rec {
	__u64	seq;
	__u32	nsid;
	__u32	flags;
#define NVME_LM_LOG_ALL			(1 << 0)
#define NVME_LM_LOG_FIRST		(1 << 1)
#define NVME_LM_LOG_SUSPENDED		(1 << 3)
#define NVME_LM_LOG_OVERFLOW		(1 << 4)
#define NVME_LM_LOG_HANDED_OVER		(1 << 5)
	__u64	slba;
	__u64	nlb;
};

/*
 * NVME_LM_LOG_ACK, on the log: every change in records up to @seq is on the
 * destination, written and flushed.  With NVME_LM_LOG_NACK instead: the
 * copy cannot be completed, fail the migration now.  EINVAL for a @seq not
 * read yet or a bad @flags; EPIPE if the log broke.
 */
struct nvme_lm_log_ack {
	__u64	seq;
	__u32	flags;
#define NVME_LM_LOG_NACK		(1 << 0)
	__u32	reserved;	/* 0 */
};

/*
 * The ioctl numbers are provisional: an earlier Controller Data Queue RFC
 * for the nvme host driver used 0x50 and 0x84 of the same type.
 */
#define NVME_IOCTL_LM_LOG_OPEN	_IOWR('N', 0x4a, struct nvme_lm_log_open)
#define NVME_LM_LOG_ACK		_IOW('N', 0x4b, struct nvme_lm_log_ack)

#endif /* _UAPI_LINUX_NVME_LM_LOG_H */
