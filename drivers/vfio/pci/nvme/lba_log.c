// SPDX-License-Identifier: GPL-2.0-only
/*
 * nvme-vfio-pci: the log of logical blocks the VF writes
 * (VFIO_DEVICE_FEATURE_NVME_LBA_LOG, include/uapi/linux/nvme-vfio.h).
 *
 * A VMM migrating a VM whose namespace lives on the source drive copies the
 * namespace while the VM runs, then copies again what changed.  The PF logs
 * the changes into a User Data Migration Queue (a Controller Data Queue in
 * the PF's memory, owned by nvme-pci); this file turns its entries into
 * struct vfio_nvme_lba_change records that userspace reads from a file.
 *
 * Lifetime: the device keeps a reference to the log file while logging is
 * on; STOP and closing the device delete the queue (under state_mutex, then
 * the file's lock) and drop it.  read() only takes the file's lock, so a
 * queue it sees is alive and so is the device.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/lockdep.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/nvme-vfio.h>

#include "nvmevf.h"

/* entries taken from the queue at a time */
#define NVMEVF_LBA_LOG_BATCH	64

/**
 * struct nvmevf_lba_log - an open log (the file of VFIO_NVME_LBA_LOG_START)
 * @filp: the anonymous inode file
 * @lock: protects everything below
 * @nvmevf_dev: the device, for messages
 * @q: the queue, NULL once logging stopped
 * @err: the queue failed with this errno; reported once records run out
 * @raw: entries just taken from the queue
 * @rec: records not yet read by userspace
 * @nrec: number of @rec
 * @pos: next of @rec to read
 */
struct nvmevf_lba_log {
	struct file *filp;
	struct mutex lock; /* protects the queue and the records */
	struct nvmevf_pci_core_device *nvmevf_dev;
	struct nvme_lm_udmq *q;
	int err;
	struct nvme_lm_udmq_entry raw[NVMEVF_LBA_LOG_BATCH];
	struct vfio_nvme_lba_change rec[NVMEVF_LBA_LOG_BATCH];
	unsigned int nrec;
	unsigned int pos;
};

static void nvmevf_lba_change_from(struct vfio_nvme_lba_change *r,
				   const struct nvme_lm_udmq_entry *e)
{
	u8 esa = NVME_LM_UDMQ_ESA(e->attr);
	u8 lbaci = NVME_LM_UDMQ_LBACI(e->attr);

	memset(r, 0, sizeof(*r));
	r->nsid = le32_to_cpu(e->nsid);
	switch (esa) {
	case NVME_LM_ESA_NORMAL:
		break;
	case NVME_LM_ESA_FIRST:
		r->flags |= VFIO_NVME_LBA_FIRST;
		break;
	case NVME_LM_ESA_STOPPED:
		r->flags |= VFIO_NVME_LBA_STOPPED;
		break;
	case NVME_LM_ESA_SUSPENDED:
		r->flags |= VFIO_NVME_LBA_SUSPENDED;
		break;
	case NVME_LM_ESA_FULL:
	default:
		/* changes were dropped, or an attribute this driver does not know */
		r->flags |= VFIO_NVME_LBA_OVERFLOW | VFIO_NVME_LBA_ALL;
		r->nsid = 0;
		return;
	}
	switch (lbaci) {
	case NVME_LM_LBACI_RANGE:
		if (esa == NVME_LM_ESA_NORMAL) {
			r->slba = le64_to_cpu(e->slba);
			r->nlb = (u64)le32_to_cpu(e->nlb) + 1;
		}
		break;
	case NVME_LM_LBACI_NONE:
		break;
	default:
		r->flags |= VFIO_NVME_LBA_ALL;
		break;
	}
}

/* refill the records from the queue; log->lock held */
static void nvmevf_lba_log_fill(struct nvmevf_lba_log *log)
{
	unsigned int i, n;
	int ret;

	lockdep_assert_held(&log->lock);
	ret = nvme_lm_udmq_read(log->q, log->raw, NVMEVF_LBA_LOG_BATCH, &n);
	for (i = 0; i < n; i++)
		nvmevf_lba_change_from(&log->rec[i], &log->raw[i]);
	log->nrec = n;
	log->pos = 0;
	if (ret) {
		dev_err(&log->nvmevf_dev->core_device.pdev->dev,
			"LBA change log failed (%d): copy every namespace again\n", ret);
		log->err = ret;
	}
}

static ssize_t nvmevf_lba_log_read(struct file *filp, char __user *buf,
				   size_t len, loff_t *pos)
{
	struct nvmevf_lba_log *log = filp->private_data;
	size_t done = 0;
	ssize_t ret;

	if (pos)
		return -ESPIPE;
	if (len < sizeof(struct vfio_nvme_lba_change))
		return -EINVAL;

	mutex_lock(&log->lock);
	while (len - done >= sizeof(struct vfio_nvme_lba_change)) {
		if (log->pos == log->nrec) {
			if (!log->q || log->err || done)
				break;
			nvmevf_lba_log_fill(log);
			if (!log->nrec)
				break;
		}
		if (copy_to_user(buf + done, &log->rec[log->pos], sizeof(log->rec[0]))) {
			ret = -EFAULT;
			goto out;
		}
		log->pos++;
		done += sizeof(log->rec[0]);
	}
	if (done)
		ret = done;
	else if (log->err)
		ret = log->err;
	else if (!log->q)
		ret = 0;		/* logging stopped */
	else
		ret = -EAGAIN;
out:
	mutex_unlock(&log->lock);
	return ret;
}

static int nvmevf_lba_log_release(struct inode *inode, struct file *filp)
{
	struct nvmevf_lba_log *log = filp->private_data;

	/* the device dropped its reference, so the queue is gone */
	WARN_ON(log->q);
	mutex_destroy(&log->lock);
	kfree(log);
	return 0;
}

static const struct file_operations nvmevf_lba_log_fops = {
	.owner = THIS_MODULE,
	.read = nvmevf_lba_log_read,
	.release = nvmevf_lba_log_release,
};

/*
 * Delete the PF's queue; state_mutex held.  If the PF fails to, its helper
 * keeps the queue and deletes it again before the next one is created.
 */
static int nvmevf_lba_log_delete_queue(struct nvmevf_pci_core_device *nvmevf_dev,
				       struct nvme_lm_udmq *q)
{
	return nvmevf_lm(nvmevf_dev, "delete lba queue", 0, 0, nvme_lm_udmq_delete(q));
}

/* delete the queue: the file reads as empty from now on */
static int nvmevf_lba_log_disable(struct nvmevf_pci_core_device *nvmevf_dev,
				  struct nvmevf_lba_log *log)
{
	int ret;

	lockdep_assert_held(&nvmevf_dev->state_mutex);
	mutex_lock(&log->lock);
	ret = nvmevf_lba_log_delete_queue(nvmevf_dev, log->q);
	log->q = NULL;
	log->nrec = 0;
	log->pos = 0;
	mutex_unlock(&log->lock);
	return ret;
}

/**
 * nvmevf_lba_log_stop_locked() - stop logging and delete the queue
 * @nvmevf_dev: the device, state_mutex held
 *
 * Records not read yet are dropped; the log file then reads as empty.
 *
 * Return: 0, or the error of the PF's queue delete (logging is off for
 * this VF either way; the PF deletes the queue again before the next START).
 */
int nvmevf_lba_log_stop_locked(struct nvmevf_pci_core_device *nvmevf_dev)
{
	struct nvmevf_lba_log *log = nvmevf_dev->lba_log;
	int ret;

	lockdep_assert_held(&nvmevf_dev->state_mutex);
	if (!log)
		return 0;
	ret = nvmevf_lba_log_disable(nvmevf_dev, log);
	nvmevf_dev->lba_log = NULL;
	fput(log->filp);
	return ret;
}

/* create the queue, start logging, open the file; state_mutex held */
static struct nvmevf_lba_log *
nvmevf_lba_log_start(struct nvmevf_pci_core_device *nvmevf_dev, u32 entries)
{
	struct nvmevf_lba_log *log;
	struct nvme_lm_udmq *q;
	u64 start;
	int ret;

	lockdep_assert_held(&nvmevf_dev->state_mutex);
	log = kzalloc(sizeof(*log), GFP_KERNEL_ACCOUNT);
	if (!log)
		return ERR_PTR(-ENOMEM);
	mutex_init(&log->lock);
	log->nvmevf_dev = nvmevf_dev;

	start = ktime_get_ns();
	q = nvme_lm_udmq_create(nvmevf_dev->lm, entries);
	ret = PTR_ERR_OR_ZERO(q);
	nvmevf_trace_lm(nvmevf_dev, "create lba queue", 0, entries, start, ret);
	if (ret)
		goto err_free;
	ret = nvmevf_lm(nvmevf_dev, "start lba log", 0, 0,
			nvme_lm_udmq_log(q, true));
	if (ret) {
		nvmevf_lba_log_delete_queue(nvmevf_dev, q);
		goto err_free;
	}
	log->filp = anon_inode_getfile("nvmevf_lba_log", &nvmevf_lba_log_fops, log,
				       O_RDONLY);
	if (IS_ERR(log->filp)) {
		ret = PTR_ERR(log->filp);
		nvmevf_lba_log_delete_queue(nvmevf_dev, q);
		goto err_free;
	}
	stream_open(log->filp->f_inode, log->filp);
	log->q = q;
	return log;

err_free:
	mutex_destroy(&log->lock);
	kfree(log);
	return ERR_PTR(ret);
}

/* VFIO_NVME_LBA_LOG_START: 0 or a negative errno; state_mutex held */
static int nvmevf_lba_log_feature_start(struct nvmevf_pci_core_device *nvmevf_dev,
					struct vfio_nvme_lba_log *arg,
					void __user *uarg)
{
	struct nvmevf_lba_log *log;
	int fd;

	if (arg->entries < VFIO_NVME_LBA_LOG_MIN_ENTRIES ||
	    arg->entries > VFIO_NVME_LBA_LOG_MAX_ENTRIES)
		return -EINVAL;
	if (nvmevf_dev->lba_log)
		return -EBUSY;
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	log = nvmevf_lba_log_start(nvmevf_dev, arg->entries);
	if (IS_ERR(log)) {
		put_unused_fd(fd);
		return PTR_ERR(log);
	}
	arg->log_fd = fd;
	if (copy_to_user(uarg, arg, sizeof(*arg))) {
		nvmevf_lba_log_disable(nvmevf_dev, log);
		fput(log->filp);
		put_unused_fd(fd);
		return -EFAULT;
	}
	/* the device's reference, dropped when logging stops */
	nvmevf_dev->lba_log = log;
	get_file(log->filp);
	fd_install(fd, log->filp);
	return 0;
}

/**
 * nvmevf_lba_log_feature() - VFIO_DEVICE_FEATURE_NVME_LBA_LOG
 * @nvmevf_dev: the device
 * @flags: VFIO_DEVICE_FEATURE flags
 * @uarg: struct vfio_nvme_lba_log
 * @argsz: its size
 *
 * Return: 0, or a negative errno (include/uapi/linux/nvme-vfio.h).
 */
int nvmevf_lba_log_feature(struct nvmevf_pci_core_device *nvmevf_dev, u32 flags,
			   void __user *uarg, size_t argsz)
{
	struct vfio_nvme_lba_log arg;
	int ret;

	if (!nvmevf_dev->lm)
		return -ENOTTY;
	ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET, sizeof(arg));
	if (ret != 1)
		return ret;
	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.reserved ||
	    (arg.flags != VFIO_NVME_LBA_LOG_START && arg.flags != VFIO_NVME_LBA_LOG_STOP))
		return -EINVAL;

	mutex_lock(&nvmevf_dev->state_mutex);
	if (arg.flags == VFIO_NVME_LBA_LOG_STOP)
		ret = nvmevf_dev->lba_log ? nvmevf_lba_log_stop_locked(nvmevf_dev) : -ENOENT;
	else
		ret = nvmevf_lba_log_feature_start(nvmevf_dev, &arg, uarg);
	nvmevf_state_mutex_unlock(nvmevf_dev);
	if (ret)
		dev_dbg(&nvmevf_dev->core_device.pdev->dev, "LBA log %s: %d\n",
			arg.flags == VFIO_NVME_LBA_LOG_STOP ? "stop" : "start", ret);
	return ret;
}
