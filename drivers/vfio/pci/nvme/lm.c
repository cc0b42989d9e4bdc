// SPDX-License-Identifier: GPL-2.0-only
/*
 * nvme-vfio-pci: the VFIO migration state machine and migration data files.
 *
 * TP4159 has one way to quiesce a controller, Suspend, which stops all of
 * its DMA and command processing, peer to peer or not.  So RUNNING_P2P and
 * PRE_COPY_P2P are the suspended controller, and STOP is too: the P2P <->
 * STOP arcs have nothing left to do.  The controller state can only be read
 * from a suspended controller, so PRE_COPY carries the stream header (what
 * the source is, for an early compatibility check) and the state follows at
 * STOP_COPY.  The stream format is in stream.h.
 */
#include <linux/anon_inodes.h>
#include <linux/crc32.h>
#include <linux/file.h>
#include <linux/poll.h>
#include <linux/vmalloc.h>

#include "nvmevf.h"

static int nvmevf_migf_reserve(struct nvmevf_migration_file *migf, size_t more)
{
	size_t want;
	u8 *buf;

	if (check_add_overflow(migf->len, more, &want) || want > NVMEVF_MIG_MAX_LEN)
		return -EFBIG;
	if (want <= migf->cap)
		return 0;
	want = max_t(size_t, want, min_t(size_t, 2 * migf->cap, NVMEVF_MIG_MAX_LEN));
	buf = kvrealloc(migf->buf, want, GFP_KERNEL_ACCOUNT);
	if (!buf)
		return -ENOMEM;
	migf->buf = buf;
	migf->cap = want;
	return 0;
}

/* append a record; its payload is zeroed for the caller to fill and seal */
static u8 *nvmevf_migf_add_rec(struct nvmevf_migration_file *migf, u16 tag,
			       size_t len)
{
	struct nvmevf_mig_rec rec = {
		.tag = cpu_to_le16(tag),
		.len = cpu_to_le64(len),
	};
	u8 *payload;

	if (nvmevf_migf_reserve(migf, sizeof(rec) + len))
		return NULL;
	memcpy(migf->buf + migf->len, &rec, sizeof(rec));
	payload = migf->buf + migf->len + sizeof(rec);
	memset(payload, 0, len);
	migf->len += sizeof(rec) + len;
	return payload;
}

/* the CRC of a record: its header with the CRC field zero, then its payload */
static u32 nvmevf_rec_crc(const struct nvmevf_mig_rec *hdr, const u8 *payload)
{
	struct nvmevf_mig_rec rec = *hdr;
	u32 crc;

	rec.crc = 0;
	crc = crc32_le(~0, (const u8 *)&rec, sizeof(rec));
	return ~crc32_le(crc, payload, le64_to_cpu(rec.len));
}

/* the payload of the record at @payload is final: store its CRC */
static void nvmevf_migf_seal_rec(u8 *payload)
{
	struct nvmevf_mig_rec *rec = (void *)(payload - sizeof(*rec));

	rec->crc = cpu_to_le32(nvmevf_rec_crc(rec, payload));
}

static void nvmevf_disable_fd(struct nvmevf_migration_file *migf)
{
	mutex_lock(&migf->lock);
	WRITE_ONCE(migf->disabled, true);
	migf->filp->f_pos = 0;
	mutex_unlock(&migf->lock);
	wake_up_interruptible(&migf->poll_wait);
}

/*
 * @locked: take each file's lock to stop I/O in progress.  The reset path
 * must not: it runs under the VFIO core's memory_lock, which a page fault
 * inside a file's read() takes after the file's lock.  Without it, I/O
 * already past its check finishes and the next read() or write() fails.
 */
static void nvmevf_put_fds(struct nvmevf_pci_core_device *nvmevf_dev, bool locked)
{
	struct nvmevf_migration_file **slots[] = {
		&nvmevf_dev->saving_migf, &nvmevf_dev->resuming_migf,
	};
	int i;

	lockdep_assert_held(&nvmevf_dev->state_mutex);
	for (i = 0; i < ARRAY_SIZE(slots); i++) {
		struct nvmevf_migration_file *migf = *slots[i];

		if (!migf)
			continue;
		if (locked) {
			nvmevf_disable_fd(migf);
		} else {
			WRITE_ONCE(migf->disabled, true);
			wake_up_interruptible(&migf->poll_wait);
		}
		fput(migf->filp);
		*slots[i] = NULL;
	}
}

void nvmevf_disable_fds(struct nvmevf_pci_core_device *nvmevf_dev)
{
	nvmevf_put_fds(nvmevf_dev, true);
}

/* the gate's waiters were woken: so are this file's pollers (any context) */
static int nvmevf_gate_woken(struct wait_queue_entry *wait, unsigned int mode,
			     int sync, void *key)
{
	struct nvmevf_migration_file *migf =
		container_of(wait, struct nvmevf_migration_file, gate_wait);

	wake_up_interruptible(&migf->poll_wait);
	return 0;
}

/* the end of the stream waits at @gate (a reference); migf->lock held */
static void nvmevf_migf_set_gate(struct nvmevf_migration_file *migf,
				 struct nvme_lm_log *gate)
{
	lockdep_assert_held(&migf->lock);
	migf->gate = gate;
	init_waitqueue_func_entry(&migf->gate_wait, nvmevf_gate_woken);
	nvme_lm_gate_watch(gate, &migf->gate_wait);
}

/* no more waiting at the gate; migf->lock held, or the file is being released */
static void nvmevf_migf_drop_gate(struct nvmevf_migration_file *migf)
{
	struct nvme_lm_log *gate = migf->gate;

	if (!gate)
		return;
	migf->gate = NULL;
	nvme_lm_gate_unwatch(gate, &migf->gate_wait);
	nvme_lm_gate_put(gate);
}

static int nvmevf_release_file(struct inode *inode, struct file *filp)
{
	struct nvmevf_migration_file *migf = filp->private_data;

	nvmevf_disable_fd(migf);
	nvmevf_migf_drop_gate(migf);
	mutex_destroy(&migf->lock);
	put_device(migf->dev);
	kfree(migf->fmts);
	kvfree(migf->buf);
	kfree(migf);
	return 0;
}

/* append the end record; migf->lock held */
static int nvmevf_migf_end(struct nvmevf_migration_file *migf)
{
	u8 *end;

	lockdep_assert_held(&migf->lock);
	end = nvmevf_migf_add_rec(migf, NVMEVF_TAG_END, 0);
	if (!end)
		return -ENOMEM;
	nvmevf_migf_seal_rec(end);
	migf->complete = true;
	return 0;
}

/*
 * Everything but the end record was read: wait, without the file's lock
 * (a reset disables the file under it), until the owner of the VF's gated
 * LBA change log has the VF's namespace on the destination, then append the
 * end.  A failed gate fails the stream for good; the destination never
 * loads a stream without its end.  One reader waits at a time: the gate's
 * reference is the file's, and the waiter that wakes first may drop it, so
 * a second reader gets -EBUSY (a stream has one reader; two would get its
 * bytes interleaved anyway).  migf->lock held, and held again on return.
 */
static int nvmevf_pass_gate(struct nvmevf_migration_file *migf, bool nonblock)
{
	struct nvme_lm_log *gate = migf->gate;
	int ret;

	lockdep_assert_held(&migf->lock);
	if (migf->gate_waiter)
		return -EBUSY;
	migf->gate_waiter = true;
	mutex_unlock(&migf->lock);
	ret = nvme_lm_gate_wait(gate, nonblock);
	mutex_lock(&migf->lock);
	migf->gate_waiter = false;
	if (READ_ONCE(migf->disabled))
		return -ENODEV;
	if (ret == -EAGAIN || ret == -EINTR)
		return ret;
	if (!ret)
		ret = nvmevf_migf_end(migf);
	if (ret == -ENOMEM)
		return ret;
	nvmevf_migf_drop_gate(migf);
	if (ret) {
		migf->gate_err = ret;
		dev_err_ratelimited(migf->dev,
				    "migration stream failed (%d): the local storage copy %s\n",
				    ret, ret == -ETIMEDOUT ? "did not acknowledge in time" :
				    ret == -EIO ? "was refused by its owner" :
				    "ended before it acknowledged (its LBA change log was closed or broke)");
	}
	return ret;
}

static ssize_t nvmevf_save_read(struct file *filp, char __user *buf, size_t len,
				loff_t *pos)
{
	struct nvmevf_migration_file *migf = filp->private_data;
	ssize_t done;

	if (pos)
		return -ESPIPE;
	pos = &filp->f_pos;

	mutex_lock(&migf->lock);
	if (READ_ONCE(migf->disabled)) {
		done = -ENODEV;
		goto out;
	}
	if (migf->pos == migf->len && migf->gate_err) {
		done = migf->gate_err;
		goto out;
	}
	if (migf->pos == migf->len && migf->gate) {
		done = nvmevf_pass_gate(migf, filp->f_flags & O_NONBLOCK);
		if (done)
			goto out;
	}
	if (migf->pos == migf->len) {
		/* a temporary end while the device runs (PRE_COPY) */
		done = migf->complete ? 0 : -ENOMSG;
		goto out;
	}
	len = min_t(size_t, len, migf->len - migf->pos);
	if (copy_to_user(buf, migf->buf + migf->pos, len)) {
		done = -EFAULT;
		goto out;
	}
	migf->pos += len;
	*pos += len;
	done = len;
out:
	mutex_unlock(&migf->lock);
	return done;
}

/*
 * Readable while there are bytes not read yet, or at the end of a complete
 * stream; in PRE_COPY with everything read, not until STOP_COPY appends the
 * state.  A disabled file reports an error.
 */
static __poll_t nvmevf_save_poll(struct file *filp, struct poll_table_struct *wait)
{
	struct nvmevf_migration_file *migf = filp->private_data;
	__poll_t mask = 0;

	poll_wait(filp, &migf->poll_wait, wait);
	mutex_lock(&migf->lock);
	if (READ_ONCE(migf->disabled))
		mask = EPOLLERR | EPOLLHUP;
	else if (migf->pos < migf->len || migf->complete || migf->gate_err)
		mask = EPOLLIN | EPOLLRDNORM;
	else if (migf->gate && nvme_lm_gate_ready(migf->gate))
		mask = EPOLLIN | EPOLLRDNORM;
	mutex_unlock(&migf->lock);
	return mask;
}

/*
 * Answered from the file alone: the file can outlive the device (the VMM
 * closes the VFIO device and the VF is unbound while it holds the data fd).
 */
static long nvmevf_precopy_ioctl(struct file *filp, unsigned int cmd,
				 unsigned long arg)
{
	struct nvmevf_migration_file *migf = filp->private_data;
	struct vfio_precopy_info info = {};
	unsigned long minsz;
	int ret = 0;

	if (cmd != VFIO_MIG_GET_PRECOPY_INFO)
		return -ENOTTY;
	minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);
	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	mutex_lock(&migf->lock);
	if (!migf->precopy) {
		ret = -EINVAL;	/* the device is not in PRE_COPY(_P2P) */
	} else if (READ_ONCE(migf->disabled)) {
		ret = -ENODEV;
	} else {
		/*
		 * Only the header is known before the device stops; the state
		 * itself cannot be read from a running controller, so nothing
		 * becomes dirty.
		 */
		info.initial_bytes = migf->len - migf->pos;
		info.dirty_bytes = 0;
	}
	mutex_unlock(&migf->lock);
	if (ret)
		return ret;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

static const struct file_operations nvmevf_save_fops = {
	.owner = THIS_MODULE,
	.read = nvmevf_save_read,
	.poll = nvmevf_save_poll,
	.unlocked_ioctl = nvmevf_precopy_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = nvmevf_release_file,
};

/*
 * Check the source's description against this VF, as it was when RESUMING
 * began, before anything is applied.
 */
static int nvmevf_check_hdr(struct nvmevf_migration_file *migf,
			    const struct nvmevf_mig_hdr *src)
{
	const struct nvmevf_mig_hdr *here = &migf->compat;
	struct device *dev = migf->dev;

	if (le32_to_cpu(src->magic) != NVMEVF_MIG_MAGIC ||
	    le16_to_cpu(src->version) != NVMEVF_MIG_VERSION) {
		dev_err_ratelimited(dev, "migration stream version %u is not supported\n",
				    le16_to_cpu(src->version));
		return -EINVAL;
	}
	if ((le16_to_cpu(src->flags) & ~NVMEVF_HDR_FLAGS) ||
	    memchr_inv(src->rsvd, 0, sizeof(src->rsvd))) {
		dev_err_ratelimited(dev, "migration stream header has unknown flags %#x or reserved bytes set\n",
				    le16_to_cpu(src->flags));
		return -EINVAL;
	}
	/* any format this PF lists will do, not only the one it saves with */
	if (!nvmevf_fmt_index(migf->fmts, le16_to_cpu(src->state_ver), NULL) ||
	    ((src->flags & cpu_to_le16(NVMEVF_HDR_VS)) ?
	     !nvmevf_fmt_index(migf->fmts, 0, src->vs_uuid) :
	     !!memchr_inv(src->vs_uuid, 0, sizeof(src->vs_uuid)))) {
		dev_err_ratelimited(dev, "source controller state format %#x%s is not one this PF lists\n",
				    le16_to_cpu(src->state_ver),
				    src->flags & cpu_to_le16(NVMEVF_HDR_VS) ?
				    " with a vendor part" : "");
		return -EINVAL;
	}
	if (le16_to_cpu(src->nvq) > le16_to_cpu(here->nvq) ||
	    le16_to_cpu(src->nvi) > le16_to_cpu(here->nvi)) {
		dev_err_ratelimited(dev, "source needs %u queue and %u interrupt resources, this VF has %u and %u\n",
				    le16_to_cpu(src->nvq), le16_to_cpu(src->nvi),
				    le16_to_cpu(here->nvq), le16_to_cpu(here->nvi));
		return -EINVAL;
	}
	return 0;
}

/* check every record that arrived complete; nothing read is trusted unchecked */
static int nvmevf_resume_parse(struct nvmevf_migration_file *migf)
{
	struct nvmevf_mig_rec rec;
	u64 len;
	int ret;

	while (migf->len - migf->parsed >= sizeof(rec)) {
		const u8 *payload = migf->buf + migf->parsed + sizeof(rec);

		memcpy(&rec, migf->buf + migf->parsed, sizeof(rec));
		len = le64_to_cpu(rec.len);
		if (migf->ended || len > NVMEVF_MIG_MAX_LEN ||
		    (le16_to_cpu(rec.flags) & ~NVMEVF_REC_FLAGS))
			return -EINVAL;
		if (migf->len - migf->parsed - sizeof(rec) < len)
			return 0;	/* wait for the rest of the record */
		if (nvmevf_rec_crc(&rec, payload) != le32_to_cpu(rec.crc))
			return -EBADMSG;

		if (!migf->hdr && le16_to_cpu(rec.tag) != NVMEVF_TAG_HEADER)
			return -EINVAL;
		switch (le16_to_cpu(rec.tag)) {
		case NVMEVF_TAG_HEADER:
			if (migf->hdr || len != sizeof(struct nvmevf_mig_hdr))
				return -EINVAL;
			ret = nvmevf_check_hdr(migf, (const void *)payload);
			if (ret)
				return ret;
			migf->hdr = true;
			break;
		case NVMEVF_TAG_STATE: {
			struct nvme_lm_ctrl_state_hdr sh;
			size_t want;

			if (migf->state_len || len < sizeof(sh))
				return -EINVAL;
			memcpy(&sh, payload, sizeof(sh));
			if (!nvmevf_state_bytes(&sh, &want) || want != len)
				return -EINVAL;
			migf->state_off = migf->parsed + sizeof(rec);
			migf->state_len = len;
			break;
		}
		case NVMEVF_TAG_END:
			if (len)
				return -EINVAL;
			migf->ended = true;
			break;
		default:
			if (!(le16_to_cpu(rec.flags) & NVMEVF_REC_OPTIONAL))
				return -EINVAL;
		}
		migf->parsed += sizeof(rec) + len;
	}
	return 0;
}

static ssize_t nvmevf_resume_write(struct file *filp, const char __user *buf,
				   size_t len, loff_t *pos)
{
	struct nvmevf_migration_file *migf = filp->private_data;
	ssize_t done;
	int ret;

	if (pos)
		return -ESPIPE;
	pos = &filp->f_pos;

	mutex_lock(&migf->lock);
	if (READ_ONCE(migf->disabled)) {
		done = -ENODEV;
		goto out;
	}
	ret = nvmevf_migf_reserve(migf, len);
	if (ret) {
		done = ret;
		goto out;
	}
	if (copy_from_user(migf->buf + migf->len, buf, len)) {
		done = -EFAULT;
		goto out;
	}
	migf->len += len;
	ret = nvmevf_resume_parse(migf);
	if (ret) {
		dev_err_ratelimited(migf->dev,
				    "rejected migration stream at byte %zu: %d\n",
				    migf->parsed, ret);
		/* the stream is unusable from here on */
		WRITE_ONCE(migf->disabled, true);
		done = ret;
		goto out;
	}
	*pos += len;
	done = len;
out:
	mutex_unlock(&migf->lock);
	return done;
}

static const struct file_operations nvmevf_resume_fops = {
	.owner = THIS_MODULE,
	.write = nvmevf_resume_write,
	.release = nvmevf_release_file,
};

/*
 * A new data file knows the VF as it is now: its queue and interrupt
 * resources and the PF's state formats can change while the VF stays
 * bound (Virtualization Management, PF firmware activation).  Nothing is
 * sent to the VF's controller, so a failure here leaves it as it was.
 */
static int nvmevf_migf_describe(struct nvmevf_migration_file *migf)
{
	struct nvmevf_pci_core_device *nvmevf_dev = migf->nvmevf_dev;
	int ret;

	lockdep_assert_held(&nvmevf_dev->state_mutex);
	migf->fmts = kzalloc(sizeof(*migf->fmts), GFP_KERNEL_ACCOUNT);
	if (!migf->fmts)
		return -ENOMEM;
	ret = nvmevf_query_compat(nvmevf_dev, &nvmevf_dev->compat, migf->fmts);
	/* a PF busy or resetting: try again; a PF that cannot migrate: say so */
	if (ret == -EIO || ret == -EINTR || ret == -ETIMEDOUT || ret == -ESTALE)
		return -EAGAIN;
	if (ret)
		return ret;
	migf->compat = nvmevf_dev->compat;
	return 0;
}

static struct nvmevf_migration_file *
nvmevf_migf_alloc(struct nvmevf_pci_core_device *nvmevf_dev, bool saving)
{
	struct nvmevf_migration_file *migf;
	struct file *filp;
	int ret;

	migf = kzalloc(sizeof(*migf), GFP_KERNEL_ACCOUNT);
	if (!migf)
		return ERR_PTR(-ENOMEM);
	filp = anon_inode_getfile("nvmevf_mig",
				  saving ? &nvmevf_save_fops : &nvmevf_resume_fops,
				  migf, saving ? O_RDONLY : O_WRONLY);
	if (IS_ERR(filp)) {
		kfree(migf);
		return ERR_CAST(filp);
	}
	migf->filp = filp;
	migf->nvmevf_dev = nvmevf_dev;
	migf->dev = get_device(nvmevf_dev_of(nvmevf_dev));
	mutex_init(&migf->lock);
	init_waitqueue_head(&migf->poll_wait);
	stream_open(filp->f_inode, filp);
	ret = nvmevf_migf_describe(migf);
	if (ret) {
		fput(filp);
		return ERR_PTR(ret);
	}
	return migf;
}

static struct nvmevf_migration_file *
nvmevf_save_file(struct nvmevf_pci_core_device *nvmevf_dev, bool precopy)
{
	struct nvmevf_migration_file *migf;
	u8 *hdr;

	migf = nvmevf_migf_alloc(nvmevf_dev, true);
	if (IS_ERR(migf))
		return migf;
	migf->precopy = precopy;
	hdr = nvmevf_migf_add_rec(migf, NVMEVF_TAG_HEADER, sizeof(migf->compat));
	if (!hdr) {
		fput(migf->filp);
		return ERR_PTR(-ENOMEM);
	}
	memcpy(hdr, &migf->compat, sizeof(migf->compat));
	nvmevf_migf_seal_rec(hdr);
	return migf;
}

/*
 * The device is suspended: append its state and the end of the stream.  On
 * failure the stream is left as it was, so nothing the device did not
 * write can be read and the arc can be tried again.
 */
static int nvmevf_save_state(struct nvmevf_migration_file *migf)
{
	struct nvmevf_pci_core_device *nvmevf_dev = migf->nvmevf_dev;
	struct nvme_lm_log *gate;
	size_t len, old_len;
	u8 *saved, *state;
	int ret = 0;

	gate = nvme_lm_gate_get(nvmevf_dev->lm);
	saved = nvmevf_state_save(nvmevf_dev, &len);
	if (IS_ERR(saved)) {
		if (!IS_ERR(gate))
			nvme_lm_gate_put(gate);
		return PTR_ERR(saved);
	}
	mutex_lock(&migf->lock);
	old_len = migf->len;
	state = nvmevf_migf_add_rec(migf, NVMEVF_TAG_STATE, len);
	if (state)
		memcpy(state, saved, len);
	else
		ret = -ENOMEM;
	if (!ret) {
		nvmevf_migf_seal_rec(state);
		/* the end waits at the gate, or at once if there is none */
		if (IS_ERR(gate)) {
			migf->gate_err = PTR_ERR(gate);
			dev_err_ratelimited(migf->dev,
					    "migration stream failed (%d): the VF's local storage copy is not running (no gated LBA change log)\n",
					    migf->gate_err);
		} else if (gate) {
			nvmevf_migf_set_gate(migf, gate);
		} else {
			ret = nvmevf_migf_end(migf);
		}
	}
	if (ret) {
		migf->len = old_len;
		migf->complete = false;
	} else {
		migf->precopy = false;
		gate = NULL;
	}
	mutex_unlock(&migf->lock);
	if (!IS_ERR(gate))
		nvme_lm_gate_put(gate);
	kvfree(saved);
	if (!ret)
		wake_up_interruptible(&migf->poll_wait);
	return ret;
}

/* the state machine left PRE_COPY(_P2P) without STOP_COPY */
static void nvmevf_end_precopy(struct nvmevf_pci_core_device *nvmevf_dev)
{
	struct nvmevf_migration_file *migf = nvmevf_dev->saving_migf;

	if (!migf)
		return;
	mutex_lock(&migf->lock);
	migf->precopy = false;
	mutex_unlock(&migf->lock);
}

static int nvmevf_load_state(struct nvmevf_migration_file *migf, bool *partial)
{
	struct nvmevf_pci_core_device *nvmevf_dev = migf->nvmevf_dev;
	int ret;

	mutex_lock(&migf->lock);
	if (READ_ONCE(migf->disabled) || !migf->hdr || !migf->state_len || !migf->ended ||
	    migf->parsed != migf->len) {
		dev_err_ratelimited(nvmevf_dev_of(nvmevf_dev),
				    "incomplete migration stream (%zu bytes)\n", migf->len);
		ret = -EINVAL;
	} else {
		ret = nvmevf_state_load(nvmevf_dev, migf->fmts,
					(void *)(migf->buf + sizeof(struct nvmevf_mig_rec)),
					migf->buf + migf->state_off,
					migf->state_len, partial);
	}
	mutex_unlock(&migf->lock);
	return ret;
}

static struct file *
nvmevf_new_file(struct nvmevf_pci_core_device *nvmevf_dev,
		struct nvmevf_migration_file *migf,
		struct nvmevf_migration_file **slot)
{
	if (IS_ERR(migf))
		return ERR_CAST(migf);
	get_file(migf->filp);
	*slot = migf;
	return migf->filp;
}

/*
 * Errors of one command after which the device is known to be as it was:
 * the PF refused it (invalid, out of sequence, busy), or it was never sent.
 * Any other failure (timed out, aborted, cancelled by a PF reset, a
 * transport error) leaves the device in an unknown state.
 */
static bool nvmevf_error_is_clean(int err)
{
	return err == -EINVAL || err == -EPROTO || err == -EBUSY ||
	       err == -ENOMEM || err == -EFBIG || err == -ENOSPC || err == -EAGAIN ||
	       err == -EOPNOTSUPP || err == -EOVERFLOW;
}

/*
 * One arc of the state machine; the core splits longer paths into arcs.
 * A failure leaves the device as it was if its errno says so, unless the
 * arc sets *@unknown: what was sent decides, not the errno alone.
 */
static struct file *
nvmevf_step_device_state_locked(struct nvmevf_pci_core_device *nvmevf_dev,
				u32 new, bool *unknown)
{
	u32 cur = nvmevf_dev->mig_state;
	struct nvmevf_migration_file *migf;
	bool partial = false;
	int ret;

	*unknown = false;
	if ((cur == VFIO_DEVICE_STATE_RUNNING && new == VFIO_DEVICE_STATE_RUNNING_P2P) ||
	    (cur == VFIO_DEVICE_STATE_PRE_COPY && new == VFIO_DEVICE_STATE_PRE_COPY_P2P)) {
		ret = nvmevf_lm(nvmevf_dev, "suspend", 0, 0,
				nvme_lm_suspend(nvmevf_dev->lm));
		/* "Controller Suspended": it is, though the driver did not suspend it */
		*unknown = ret == -EBUSY;
		return ret ? ERR_PTR(ret) : NULL;
	}

	if ((cur == VFIO_DEVICE_STATE_RUNNING_P2P && new == VFIO_DEVICE_STATE_RUNNING) ||
	    (cur == VFIO_DEVICE_STATE_PRE_COPY_P2P && new == VFIO_DEVICE_STATE_PRE_COPY)) {
		ret = nvmevf_lm(nvmevf_dev, "resume", 0, 0,
				nvme_lm_resume(nvmevf_dev->lm));
		return ret ? ERR_PTR(ret) : NULL;
	}

	/* suspended in both */
	if ((cur == VFIO_DEVICE_STATE_RUNNING_P2P && new == VFIO_DEVICE_STATE_STOP) ||
	    (cur == VFIO_DEVICE_STATE_STOP && new == VFIO_DEVICE_STATE_RUNNING_P2P))
		return NULL;

	if ((cur == VFIO_DEVICE_STATE_RUNNING && new == VFIO_DEVICE_STATE_PRE_COPY) ||
	    (cur == VFIO_DEVICE_STATE_RUNNING_P2P && new == VFIO_DEVICE_STATE_PRE_COPY_P2P)) {
		migf = nvmevf_save_file(nvmevf_dev, true);
		return nvmevf_new_file(nvmevf_dev, migf, &nvmevf_dev->saving_migf);
	}

	if (cur == VFIO_DEVICE_STATE_STOP && new == VFIO_DEVICE_STATE_STOP_COPY) {
		migf = nvmevf_save_file(nvmevf_dev, false);
		if (IS_ERR(migf))
			return ERR_CAST(migf);
		ret = nvmevf_save_state(migf);
		if (ret) {
			fput(migf->filp);
			return ERR_PTR(ret);
		}
		return nvmevf_new_file(nvmevf_dev, migf, &nvmevf_dev->saving_migf);
	}

	if (cur == VFIO_DEVICE_STATE_PRE_COPY_P2P && new == VFIO_DEVICE_STATE_STOP_COPY) {
		ret = nvmevf_save_state(nvmevf_dev->saving_migf);
		return ret ? ERR_PTR(ret) : NULL;
	}

	if ((cur == VFIO_DEVICE_STATE_STOP_COPY && new == VFIO_DEVICE_STATE_STOP) ||
	    (cur == VFIO_DEVICE_STATE_PRE_COPY && new == VFIO_DEVICE_STATE_RUNNING) ||
	    (cur == VFIO_DEVICE_STATE_PRE_COPY_P2P && new == VFIO_DEVICE_STATE_RUNNING_P2P)) {
		nvmevf_end_precopy(nvmevf_dev);
		nvmevf_disable_fds(nvmevf_dev);
		return NULL;
	}

	if (cur == VFIO_DEVICE_STATE_STOP && new == VFIO_DEVICE_STATE_RESUMING) {
		migf = nvmevf_migf_alloc(nvmevf_dev, false);
		return nvmevf_new_file(nvmevf_dev, migf, &nvmevf_dev->resuming_migf);
	}

	if (cur == VFIO_DEVICE_STATE_RESUMING && new == VFIO_DEVICE_STATE_STOP) {
		ret = nvmevf_load_state(nvmevf_dev->resuming_migf, &partial);
		/* the PF holds the pieces it took before one failed */
		*unknown = partial;
		if (ret)
			return ERR_PTR(ret);
		nvmevf_disable_fds(nvmevf_dev);
		return NULL;
	}

	/* vfio_mig_get_next_state() only asks for the arcs above */
	WARN_ON(true);
	return ERR_PTR(-EINVAL);
}

static struct file *
nvmevf_pci_set_device_state(struct vfio_device *vdev,
			    enum vfio_device_mig_state new_state)
{
	struct nvmevf_pci_core_device *nvmevf_dev = nvmevf_from_vdev(vdev);
	enum vfio_device_mig_state next_state;
	struct file *res = NULL;
	bool unknown, clean;
	int ret;

	mutex_lock(&nvmevf_dev->state_mutex);
	/*
	 * Only a reset leaves ERROR.  Not left to vfio_mig_get_next_state():
	 * it has no arc out of ERROR, but it WARNs when asked from ERROR.
	 */
	if (nvmevf_dev->mig_state == VFIO_DEVICE_STATE_ERROR) {
		res = ERR_PTR(-EINVAL);
		goto out;
	}
	while (new_state != nvmevf_dev->mig_state) {
		ret = vfio_mig_get_next_state(vdev, nvmevf_dev->mig_state,
					      new_state, &next_state);
		if (ret) {
			res = ERR_PTR(ret);
			break;
		}
		res = nvmevf_step_device_state_locked(nvmevf_dev, next_state, &unknown);
		if (IS_ERR(res)) {
			clean = !unknown && nvmevf_error_is_clean(PTR_ERR(res));
			nvmevf_dev->last_errno = PTR_ERR(res);
			dev_err_ratelimited(nvmevf_dev_of(nvmevf_dev),
					    "migration state %u -> %u failed: %ld%s\n",
					    nvmevf_dev->mig_state, next_state, PTR_ERR(res),
					    clean ? "" : ", device in ERROR until reset");
			if (!clean) {
				/* nothing of an unknown state may be read or applied */
				nvmevf_disable_fds(nvmevf_dev);
				nvmevf_dev->mig_state = VFIO_DEVICE_STATE_ERROR;
			}
			break;
		}
		nvmevf_dev->mig_state = next_state;
		if (WARN_ON(res && new_state != nvmevf_dev->mig_state)) {
			fput(res);
			res = ERR_PTR(-EINVAL);
			break;
		}
	}
out:
	nvmevf_state_mutex_unlock(nvmevf_dev);
	return res;
}

static int nvmevf_pci_get_device_state(struct vfio_device *vdev,
				       enum vfio_device_mig_state *curr_state)
{
	struct nvmevf_pci_core_device *nvmevf_dev = nvmevf_from_vdev(vdev);

	mutex_lock(&nvmevf_dev->state_mutex);
	*curr_state = nvmevf_dev->mig_state;
	nvmevf_state_mutex_unlock(nvmevf_dev);
	return 0;
}

/*
 * The STOP_COPY stream: exact while the controller is suspended (its state
 * header gives the size); while it runs, the largest state its queue
 * resources allow plus the vendor part's size when last seen, or 64 KiB.
 */
static int nvmevf_pci_get_data_size(struct vfio_device *vdev,
				    unsigned long *stop_copy_length)
{
	struct nvmevf_pci_core_device *nvmevf_dev = nvmevf_from_vdev(vdev);
	size_t overhead = 3 * sizeof(struct nvmevf_mig_rec) +
			  sizeof(struct nvmevf_mig_hdr);
	size_t len;
	int ret = 0;

	mutex_lock(&nvmevf_dev->state_mutex);
	switch (nvmevf_dev->mig_state) {
	case VFIO_DEVICE_STATE_STOP:
	case VFIO_DEVICE_STATE_STOP_COPY:
	case VFIO_DEVICE_STATE_RUNNING_P2P:
	case VFIO_DEVICE_STATE_PRE_COPY_P2P:
		ret = nvmevf_state_size(nvmevf_dev, &len);
		break;
	default:
		len = sizeof(struct nvme_lm_ctrl_state_hdr) + 8 +
		      2 * 24 * le16_to_cpu(nvmevf_dev->compat.nvq) + SZ_64K;
	}
	if (!ret)
		*stop_copy_length = overhead + len;
	nvmevf_state_mutex_unlock(nvmevf_dev);
	return ret;
}

const struct vfio_migration_ops nvmevf_mig_ops = {
	.migration_set_state = nvmevf_pci_set_device_state,
	.migration_get_state = nvmevf_pci_get_device_state,
	.migration_get_data_size = nvmevf_pci_get_data_size,
};

/* the controller may be suspended in @state */
static bool nvmevf_may_be_suspended(enum vfio_device_mig_state state)
{
	return state != VFIO_DEVICE_STATE_RUNNING &&
	       state != VFIO_DEVICE_STATE_PRE_COPY;
}

/**
 * nvmevf_mig_resume_locked() - make sure the controller runs, and say so
 * @nvmevf_dev: the device, state_mutex held
 *
 * A function reset is expected to end a Suspend, but vfio-pci-core skips
 * the reset when it closes a device whose parent it cannot lock (another
 * VF of the PF closing at the same time), and TP4159 does not say that a
 * VF's FLR resumes its controller.  So after a reset, a close or before an
 * open the driver resumes a controller it may have left suspended; "not
 * suspended" is the PF's answer when the reset did it.  The migration
 * state becomes RUNNING, or ERROR if the controller could not be resumed.
 *
 * Return: 0 when the controller runs, else a negative errno.
 */
int nvmevf_mig_resume_locked(struct nvmevf_pci_core_device *nvmevf_dev)
{
	int ret = 0;

	lockdep_assert_held(&nvmevf_dev->state_mutex);
	if (nvmevf_may_be_suspended(nvmevf_dev->mig_state)) {
		ret = nvmevf_lm(nvmevf_dev, "resume", 0, 0,
				nvme_lm_resume(nvmevf_dev->lm));
		if (ret == -ESTALE)
			ret = 0;
		if (ret)
			dev_err_ratelimited(nvmevf_dev_of(nvmevf_dev),
					    "cannot resume the controller after a reset or close: %d\n",
					    ret);
	}
	nvmevf_dev->mig_state = ret ? VFIO_DEVICE_STATE_ERROR :
				      VFIO_DEVICE_STATE_RUNNING;
	return ret;
}

/*
 * Release state_mutex, first completing a reset that happened while it was
 * held (see nvmevf_mig_reset()): the data files of the old state are
 * disabled and the device is RUNNING, or ERROR if its controller could not
 * be resumed.
 */
void nvmevf_state_mutex_unlock(struct nvmevf_pci_core_device *nvmevf_dev)
{
again:
	spin_lock(&nvmevf_dev->reset_lock);
	if (nvmevf_dev->deferred_reset) {
		nvmevf_dev->deferred_reset = false;
		spin_unlock(&nvmevf_dev->reset_lock);
		nvmevf_put_fds(nvmevf_dev, false);
		nvmevf_mig_resume_locked(nvmevf_dev);
		goto again;
	}
	mutex_unlock(&nvmevf_dev->state_mutex);
	spin_unlock(&nvmevf_dev->reset_lock);
}

/*
 * Called after a function reset.  The locks the VFIO core holds around a
 * reset can be taken under state_mutex elsewhere, so only try it; whoever
 * holds it finishes the job in nvmevf_state_mutex_unlock().
 */
void nvmevf_mig_reset(struct nvmevf_pci_core_device *nvmevf_dev)
{
	spin_lock(&nvmevf_dev->reset_lock);
	nvmevf_dev->deferred_reset = true;
	if (!mutex_trylock(&nvmevf_dev->state_mutex)) {
		spin_unlock(&nvmevf_dev->reset_lock);
		return;
	}
	spin_unlock(&nvmevf_dev->reset_lock);
	nvmevf_state_mutex_unlock(nvmevf_dev);
}

int nvmevf_mig_init(struct nvmevf_pci_core_device *nvmevf_dev)
{
	struct nvme_lm_ctrl_state_fmts *fmts;
	int ret;

	fmts = kzalloc(sizeof(*fmts), GFP_KERNEL);
	if (!fmts)
		return -ENOMEM;
	ret = nvmevf_query_compat(nvmevf_dev, &nvmevf_dev->compat, fmts);
	kfree(fmts);
	if (ret)
		return ret;
	mutex_init(&nvmevf_dev->state_mutex);
	spin_lock_init(&nvmevf_dev->reset_lock);
	nvmevf_dev->mig_state = VFIO_DEVICE_STATE_RUNNING;
	nvmevf_dev->core_device.vdev.migration_flags =
		VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
		VFIO_MIGRATION_PRE_COPY;
	nvmevf_dev->core_device.vdev.mig_ops = &nvmevf_mig_ops;
	return 0;
}
