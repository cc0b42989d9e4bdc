/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nvme-vfio-pci: state shared by the PCI/VFIO glue, the migration state
 * machine and the commands to the PF.
 */
#ifndef NVMEVF_H
#define NVMEVF_H

#include <linux/ktime.h>
#include <linux/lockdep.h>
#include <linux/mutex.h>
#include <linux/nvme-lm.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/vfio_pci_core.h>

#include "stream.h"

/**
 * struct nvmevf_dirty_range - an IOVA range the PF tracks for DMA logging
 * @start: first byte, granule aligned
 * @last: last byte, one before a granule boundary
 */
struct nvmevf_dirty_range {
	u64 start;
	u64 last;
};

/**
 * struct nvmevf_migration_file - a migration data file (the VFIO data_fd)
 * @filp: the anonymous inode file
 * @lock: serializes read/write/ioctl and the state machine's use of @buf
 * @poll_wait: saving: woken when bytes are appended or the file is disabled
 * @disabled: the state machine left this file's state; I/O fails with -ENODEV
 * @nvmevf_dev: the device it belongs to; the file can outlive it, so file
 *	operations never dereference it
 * @dev: the VF's struct device, pinned while the file lives, for logging
 * @compat: the VF when the file was created: saving, the stream header;
 *	resuming, what the source's header is checked against
 * @fmts: the state formats the PF listed then (Identify CNS 20h)
 * @buf: saving: the stream produced so far; resuming: the bytes received
 * @len: valid bytes in @buf
 * @cap: allocated bytes in @buf
 * @pos: saving: bytes read by userspace
 * @complete: saving: the end record is in @buf, reading past it returns 0
 * @precopy: saving: the device is in PRE_COPY(_P2P), the state follows at
 *	STOP_COPY; VFIO_MIG_GET_PRECOPY_INFO answers only then
 * @gate: saving: the state is in @buf, the end record waits for this gate
 *	of the VF's LBA change log (nvme_lm_gate_wait()); a reference
 * @gate_wait: saving: on the gate's wait queue while @gate is set, wakes
 *	@poll_wait
 * @gate_err: saving: the gate failed with this errno, and so does the stream
 * @gate_waiter: saving: a reader waits at @gate without @lock; only it may
 *	drop @gate, and another reader gets -EBUSY meanwhile
 * @parsed: resuming: bytes of @buf checked record by record so far
 * @hdr: resuming: the header record has been received and accepted
 * @state_off: resuming: offset of the controller state payload in @buf
 * @state_len: resuming: its length, 0 until the state record is complete
 * @ended: resuming: the end record was received
 */
struct nvmevf_migration_file {
	struct file *filp;
	struct mutex lock; /* serializes I/O on the file and use of @buf */
	wait_queue_head_t poll_wait;
	bool disabled;
	struct nvmevf_pci_core_device *nvmevf_dev;
	struct device *dev;
	struct nvmevf_mig_hdr compat;
	struct nvme_lm_ctrl_state_fmts *fmts;
	u8 *buf;
	size_t len;
	size_t cap;
	size_t pos;
	bool complete;
	bool precopy;
	struct nvme_lm_log *gate;
	struct wait_queue_entry gate_wait;
	int gate_err;
	bool gate_waiter;
	size_t parsed;
	bool hdr;
	size_t state_off;
	size_t state_len;
	bool ended;
};

/**
 * struct nvmevf_pci_core_device - an NVMe VF bound to nvme-vfio-pci
 * @core_device: vfio-pci core state
 * @lm: live migration handle from the PF, NULL when the PF cannot migrate
 * @compat: what this VF's controller state is, as last queried (at probe
 *	and whenever a data file is created)
 * @csvi: controller state version index to save with (Identify CNS 20h)
 * @csuuidi: vendor specific format index to save with, 0 for none
 * @state_mutex: protects the migration state and files
 * @mig_state: current VFIO migration state
 * @reset_lock: protects @deferred_reset
 * @deferred_reset: a reset happened while @state_mutex was held elsewhere
 * @saving_migf: the open saving file, if any
 * @resuming_migf: the open resuming file, if any
 * @track_caps: the PF's host memory change tracking
 * @dirty_gran: granularity (log2 bytes) of DMA logging, 0 when it is off
 * @dirty_ranges: the ranges the PF tracks, sorted, while DMA logging is on
 * @dirty_nranges: their number
 * @dirty_stop_failed: the errno of a Track Send stop the PF failed, 0 if
 *	none: the next DMA_LOGGING_START stops again first
 * @dirty_parts: the parts of granules the PF reported dirty (and cleared)
 *	that no report covered yet, an interval tree of struct
 *	nvmevf_dirty_part (dirty.c)
 * @last_errno: errno of the last failed migration step, 0 if none
 * @debugfs: this device's debugfs directory
 */
struct nvmevf_pci_core_device {
	struct vfio_pci_core_device core_device;
	struct nvme_lm_vf *lm;
	struct nvmevf_mig_hdr compat;
	u8 csvi;
	u8 csuuidi;
	struct mutex state_mutex; /* protects the migration state and files */
	enum vfio_device_mig_state mig_state;
	spinlock_t reset_lock; /* protects @deferred_reset */
	bool deferred_reset;
	struct nvmevf_migration_file *saving_migf;
	struct nvmevf_migration_file *resuming_migf;
	struct nvme_lm_mem_track_caps track_caps;
	u8 dirty_gran;
	struct nvmevf_dirty_range *dirty_ranges;
	u32 dirty_nranges;
	int dirty_stop_failed;
	struct rb_root_cached dirty_parts;
	int last_errno;
	struct dentry *debugfs;
};

static inline struct nvmevf_pci_core_device *
nvmevf_from_vdev(struct vfio_device *vdev)
{
	return container_of(vdev, struct nvmevf_pci_core_device,
			    core_device.vdev);
}

static inline struct device *nvmevf_dev_of(struct nvmevf_pci_core_device *nvmevf_dev)
{
	return &nvmevf_dev->core_device.pdev->dev;
}

/* lm.c: the migration state machine and data files */
extern const struct vfio_migration_ops nvmevf_mig_ops;
int nvmevf_mig_init(struct nvmevf_pci_core_device *nvmevf_dev);
void nvmevf_mig_reset(struct nvmevf_pci_core_device *nvmevf_dev);
int nvmevf_mig_resume_locked(struct nvmevf_pci_core_device *nvmevf_dev);
void nvmevf_state_mutex_unlock(struct nvmevf_pci_core_device *nvmevf_dev);
void nvmevf_disable_fds(struct nvmevf_pci_core_device *nvmevf_dev);

/* state.c: the controller state on the PF, state_mutex held */
bool nvmevf_state_bytes(const struct nvme_lm_ctrl_state_hdr *hdr, size_t *len);
int nvmevf_state_size(struct nvmevf_pci_core_device *nvmevf_dev, size_t *len);
u8 *nvmevf_state_save(struct nvmevf_pci_core_device *nvmevf_dev, size_t *len);
int nvmevf_state_load(struct nvmevf_pci_core_device *nvmevf_dev,
		      const struct nvme_lm_ctrl_state_fmts *fmts,
		      const struct nvmevf_mig_hdr *src, const u8 *buf,
		      size_t len, bool *partial);
u8 nvmevf_fmt_index(const struct nvme_lm_ctrl_state_fmts *f, u16 ver, const u8 *uuid);
int nvmevf_query_compat(struct nvmevf_pci_core_device *nvmevf_dev,
			struct nvmevf_mig_hdr *hdr, struct nvme_lm_ctrl_state_fmts *fmts);

/* trace.c */
void nvmevf_trace_lm(struct nvmevf_pci_core_device *nvmevf_dev, const char *op,
		     u64 offset, u64 bytes, u64 start_ns, int ret);

/*
 * nvmevf_lm() - send a live migration command to the PF and trace it
 * @nvmevf_dev: the VF it is for; its state_mutex is held
 * @op: what it is, for the trace
 * @offset: offset in the transfer, or 0
 * @bytes: bytes moved, or 0
 * @call: the nvme_lm_*() helper call, which returns 0 or a negative errno
 *
 * Return: what @call returned.
 */
#define nvmevf_lm(nvmevf_dev, op, offset, bytes, call)			\
({									\
	struct nvmevf_pci_core_device *__dev = (nvmevf_dev);		\
	u64 __start = ktime_get_ns();					\
	int __ret;							\
									\
	lockdep_assert_held(&__dev->state_mutex);			\
	__ret = (call);							\
	nvmevf_trace_lm(__dev, op, offset, bytes, __start, __ret);	\
	__ret;								\
})

/* dirty.c: DMA logging */
void nvmevf_dirty_init(struct nvmevf_pci_core_device *nvmevf_dev);
int nvmevf_dirty_stop_locked(struct nvmevf_pci_core_device *nvmevf_dev);

/* debugfs.c */
#ifdef CONFIG_DEBUG_FS
void nvmevf_debugfs_module_init(void);
void nvmevf_debugfs_module_exit(void);
void nvmevf_debugfs_init(struct nvmevf_pci_core_device *nvmevf_dev);
void nvmevf_debugfs_exit(struct nvmevf_pci_core_device *nvmevf_dev);
#else
static inline void nvmevf_debugfs_module_init(void) {}
static inline void nvmevf_debugfs_module_exit(void) {}
static inline void nvmevf_debugfs_init(struct nvmevf_pci_core_device *nvmevf_dev) {}
static inline void nvmevf_debugfs_exit(struct nvmevf_pci_core_device *nvmevf_dev) {}
#endif

#endif /* NVMEVF_H */
