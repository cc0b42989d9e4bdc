// SPDX-License-Identifier: GPL-2.0
/*
 * NVMe live migration of SR-IOV VFs, PF side: the log of the logical blocks
 * a VF writes, for the host administrator, and the gate that holds the VF's
 * migration stream until the log's owner has copied every change.
 *
 * A VM whose namespace lives on the source drive migrates only if the
 * namespace is copied to the destination drive while it runs.  The host
 * administrator's copy tool opens the log on the PF's controller device
 * (NVME_IOCTL_LM_LOG_OPEN, include/uapi/linux/nvme_lm_log.h), whoever owns
 * the VF's VFIO device: the log belongs to the file it returns.  The PF logs
 * into a User Data Migration Queue (a Controller Data Queue in the PF's DMA
 * memory); read() turns its entries into numbered records.  A reader that
 * finds the queue empty arms the queue's tail pointer trigger and sleeps
 * until the controller's one-shot asynchronous event; no command is sent
 * while it waits.  A PF that does not send the event is covered by a tick
 * that looks at the next slot's phase tag in host memory every
 * NVME_LM_LOG_TICK while logs are open.
 *
 * The gate: when the VF's controller is suspended (nvme_lm_suspend()), the
 * next read that finds the queue empty appends a SUSPENDED record S.  The
 * controller completes Suspend only after the entries of every write it
 * completed are in the queue, so S follows all of them.  The VF's variant
 * driver holds back the end of its migration stream (without which the
 * destination does not load the VF, let alone run it) until the log's owner
 * acknowledges S (nvme_lm_gate_wait()): it does so only once every change
 * up to S is on the destination.  Anything else (the owner refuses, dies,
 * closes the log, does not answer in time, the log breaks) fails the stream
 * and with it the migration, and the VF resumes on the source.
 *
 * Lifetime and locking: a log is on its PF's list from open until its file
 * is released or the PF is removed, under nvme_lm_pf.lock; each holds a
 * reference to the PF's controller, so the PF's nvme_lm_pf outlives it.
 * nvme_lm_log.lock protects the queue and the records and is taken after
 * nvme_lm_pf.lock.  A variant driver holds a reference to the log of its
 * gate (kref) and only waits on it.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kref.h>
#include <linux/pci.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <uapi/linux/nvme_lm_log.h>

#include "nvme.h"
#include "pci-lm.h"

/* queue entries taken at a time */
#define NVME_LM_LOG_BATCH	64
/* records copied to userspace at a time */
#define NVME_LM_LOG_COPY	8
/* how often open logs are looked at without the controller's event */
#define NVME_LM_LOG_TICK	(HZ / 10)

/**
 * struct nvme_lm_pf - the logs of one PF
 * @lock: protects @logs (with @irq_lock), @next_id and @removed
 * @irq_lock: protects @logs for the asynchronous event handler
 * @logs: the open logs (struct nvme_lm_log.node)
 * @next_id: the ID of the next log; IDs are never reused
 * @removed: the PF is going away: no new log
 * @copy_wanted: the VFs (by secondary controller ID) whose migration needs
 *	a gated log's copy: a log opened with NVME_LM_LOG_GATE marks its VF
 *	until the VF's VFIO device is closed or a log without it is opened
 * @tick: looks at the open logs' queues in host memory (the fallback for a
 *	lost or missing asynchronous event) and at their gates' deadlines
 */
struct nvme_lm_pf {
	struct mutex lock; /* protects logs, next_id, removed */
	spinlock_t irq_lock; /* protects logs, for the event handler */
	struct list_head logs;
	u64 next_id;
	bool removed;
	struct xarray copy_wanted;
	struct delayed_work tick;
};

/**
 * struct nvme_lm_log - an open log, and the gate of its VF's migration
 * @ref: the file and every variant driver's gate hold one
 * @pf: the PF's logs
 * @node: on @pf->logs while the log is open
 * @id: unique on the PF; a variant driver names the log its migration began with
 * @ctrl: the PF's controller (a reference)
 * @vf: the VF (a reference)
 * @cntlid: the VF's secondary controller ID
 * @gate: opened with NVME_LM_LOG_GATE
 * @ack_timeout: how long a gate waits for the acknowledgment, in jiffies
 * @wq: the log's readers, pollers and gates wait here
 * @events: changes on every wake of @wq; a waiter sleeps until it changes
 * @cdqid: the queue's ID, for the event handler (READ_ONCE)
 * @armed: the queue's tail pointer trigger is armed (READ_ONCE: the event
 *	handler clears it)
 * @read_lock: serializes readers, held while records are copied out
 * @lock: protects everything below; never held while userspace memory is
 *	touched
 * @lm: the handle the queue's commands go through; NULL once ended
 * @q: the queue; NULL once ended
 * @err: the log broke with this errno, reported once the records are read
 * @closed: the file was released
 * @restart: the queue overflowed: restart logging (not while suspended)
 * @vf_suspended: the VF's controller is suspended
 * @seq: the last record's number
 * @read_seq: the last record read
 * @acked: the last record acknowledged
 * @nack: the owner refused the copy; fails the next gate check
 * @consumed: entries taken from the queue so far
 * @suspended: the VF was suspended and its SUSPENDED record is not out yet
 * @susp_at: where it goes: after this many entries (@consumed), the ones
 *	the controller had posted when its Suspend completed
 * @susp_seq: the SUSPENDED record of the last suspend, 0 until it is out
 * @gating: a stream waits at the gate, since @gate_time
 * @gate_time: jiffies when the stream began to wait
 * @passed: the gate released the stream
 * @handed_over: a HANDED_OVER record is to follow, after @ho_at entries
 *	(the ones posted when the gate passed: before any the VF's resume posts)
 * @ho_at: see @handed_over
 * @raw: entries just taken from the queue
 * @rec: records not read yet
 * @nrec: number of @rec
 * @pos: next of @rec to read
 */
struct nvme_lm_log {
	struct kref ref;
	struct nvme_lm_pf *pf;
	struct list_head node;
	u64 id;
	struct nvme_ctrl *ctrl;
	struct pci_dev *vf;
	u16 cntlid;
	bool gate;
	unsigned long ack_timeout;
	wait_queue_head_t wq;
	atomic_t events;
	u16 cdqid;
	bool armed;

	struct mutex read_lock; /* serializes readers */
	struct mutex lock; /* protects the queue, the records and the gate */
	struct nvme_lm_vf *lm;
	struct nvme_lm_udmq *q;
	int err;
	bool closed;
	bool restart;
	bool vf_suspended;
	u64 seq;
	u64 read_seq;
	u64 acked;
	bool nack;
	u64 consumed;
	bool suspended;
	u64 susp_at;
	u64 susp_seq;
	bool gating;
	unsigned long gate_time;
	bool passed;
	bool handed_over;
	u64 ho_at;
	struct nvme_lm_udmq_entry raw[NVME_LM_LOG_BATCH];
	/* the entries, a SUSPENDED, a HANDED_OVER and a FIRST of the driver's */
	struct nvme_lm_log_rec rec[NVME_LM_LOG_BATCH + 3];
	unsigned int nrec;
	unsigned int pos;
};

static void nvme_lm_log_wake(struct nvme_lm_log *log)
{
	atomic_inc(&log->events);
	wake_up_all(&log->wq);
}

/* a gate whose stream waited too long; log->lock held */
static bool nvme_lm_gate_expired(struct nvme_lm_log *log)
{
	lockdep_assert_held(&log->lock);
	return log->gating && !log->passed &&
	       time_after_eq(jiffies, log->gate_time + log->ack_timeout);
}

/* every open log's queue, in host memory, and its gate: wake the log if it has news */
static void nvme_lm_pf_tick(struct work_struct *work)
{
	struct nvme_lm_pf *pf = container_of(to_delayed_work(work), struct nvme_lm_pf, tick);
	struct nvme_lm_log *log;
	bool news;

	mutex_lock(&pf->lock);
	list_for_each_entry(log, &pf->logs, node) {
		if (!mutex_trylock(&log->lock))
			continue;
		news = (log->q && (nvme_lm_udmq_posted(log->q) || nvme_lm_udmq_gone(log->q))) ||
		       nvme_lm_gate_expired(log);
		mutex_unlock(&log->lock);
		if (news)
			nvme_lm_log_wake(log);
	}
	if (!list_empty(&pf->logs))
		schedule_delayed_work(&pf->tick, NVME_LM_LOG_TICK);
	mutex_unlock(&pf->lock);
}

/**
 * nvme_lm_pf_alloc() - the PF's log state, allocated with its controller
 *
 * Return: the state, or NULL without memory.
 */
struct nvme_lm_pf *nvme_lm_pf_alloc(void)
{
	struct nvme_lm_pf *pf = kzalloc(sizeof(*pf), GFP_KERNEL);

	if (!pf)
		return NULL;
	mutex_init(&pf->lock);
	spin_lock_init(&pf->irq_lock);
	xa_init(&pf->copy_wanted);
	INIT_LIST_HEAD(&pf->logs);
	INIT_DELAYED_WORK(&pf->tick, nvme_lm_pf_tick);
	return pf;
}

/**
 * nvme_lm_pf_free() - free what nvme_lm_pf_alloc() returned
 * @pf: the state; no log is left (each held the controller)
 */
void nvme_lm_pf_free(struct nvme_lm_pf *pf)
{
	if (!pf)
		return;
	WARN_ON(!list_empty(&pf->logs));
	cancel_delayed_work_sync(&pf->tick);
	xa_destroy(&pf->copy_wanted);
	mutex_destroy(&pf->lock);
	kfree(pf);
}

/**
 * nvme_lm_pf_async_event() - a Controller Data Queue event of the PF
 * @ctrl: the PF's controller
 * @result: completion dwords 0 and 1 of the Asynchronous Event Request
 *
 * Called from the completion path, in interrupt context.  Wakes the log
 * whose queue raised it (dword 1: its CDQID); every log of the PF if none
 * has that ID.
 */
void nvme_lm_pf_async_event(struct nvme_ctrl *ctrl, u64 result)
{
	struct nvme_lm_pf *pf = nvme_pci_lm_pf(ctrl);
	u16 cdqid = (result >> 32) & 0xffff;
	struct nvme_lm_log *log;
	unsigned long flags;
	bool found = false;

	if ((result & 0x7) != NVME_AER_ONESHOT)
		return;
	switch ((result >> 8) & 0xff) {
	case NVME_AER_ONESHOT_CDQ_TPT:
	case NVME_AER_ONESHOT_CDQ_FULL:
		break;
	default:
		return;
	}
	spin_lock_irqsave(&pf->irq_lock, flags);
	list_for_each_entry(log, &pf->logs, node) {
		if (READ_ONCE(log->cdqid) == cdqid) {
			WRITE_ONCE(log->armed, false);
			nvme_lm_log_wake(log);
			found = true;
		}
	}
	if (!found) {
		list_for_each_entry(log, &pf->logs, node) {
			WRITE_ONCE(log->armed, false);
			nvme_lm_log_wake(log);
		}
	}
	spin_unlock_irqrestore(&pf->irq_lock, flags);
}

/* on or off the PF's list; pf->lock held */
static void nvme_lm_pf_list(struct nvme_lm_log *log, bool add)
{
	struct nvme_lm_pf *pf = log->pf;
	unsigned long flags;

	lockdep_assert_held(&pf->lock);
	spin_lock_irqsave(&pf->irq_lock, flags);
	if (add)
		list_add_tail(&log->node, &pf->logs);
	else
		list_del_init(&log->node);
	spin_unlock_irqrestore(&pf->irq_lock, flags);
}

static void nvme_lm_log_free(struct kref *ref)
{
	struct nvme_lm_log *log = container_of(ref, struct nvme_lm_log, ref);

	mutex_destroy(&log->lock);
	mutex_destroy(&log->read_lock);
	pci_dev_put(log->vf);
	nvme_put_ctrl(log->ctrl);
	kfree(log);
}

/* delete the queue and drop the handle; log->lock held */
static void nvme_lm_log_end(struct nvme_lm_log *log, int err)
{
	lockdep_assert_held(&log->lock);
	if (log->q)
		nvme_lm_udmq_delete(log->q);	/* a failed delete is retried by the handle */
	log->q = NULL;
	if (log->lm)
		nvme_lm_vf_put(log->lm);
	log->lm = NULL;
	if (err && !log->err)
		log->err = err;
}

/**
 * nvme_lm_pf_remove() - the PF goes away: end every log
 * @ctrl: the PF's controller, still live (SR-IOV is already disabled)
 *
 * Their queues are deleted; readers and gates get ENODEV.
 */
void nvme_lm_pf_remove(struct nvme_ctrl *ctrl)
{
	struct nvme_lm_pf *pf = nvme_pci_lm_pf(ctrl);
	struct nvme_lm_log *log, *tmp;

	mutex_lock(&pf->lock);
	pf->removed = true;
	list_for_each_entry_safe(log, tmp, &pf->logs, node) {
		mutex_lock(&log->lock);
		nvme_lm_log_end(log, -ENODEV);
		mutex_unlock(&log->lock);
		nvme_lm_pf_list(log, false);
		nvme_lm_log_wake(log);
	}
	mutex_unlock(&pf->lock);
	cancel_delayed_work_sync(&pf->tick);
}

static void nvme_lm_log_rec_from(struct nvme_lm_log_rec *r,
				 const struct nvme_lm_udmq_entry *e)
{
	u8 esa = NVME_LM_UDMQ_ESA(e->attr);

	memset(r, 0, sizeof(*r));
	r->nsid = le32_to_cpu(e->nsid);
	switch (esa) {
	case NVME_LM_ESA_NORMAL:
		break;
	case NVME_LM_ESA_FIRST:
		r->flags = NVME_LM_LOG_FIRST;
		r->nsid = 0;
		return;
	case NVME_LM_ESA_FULL:
	default:
		/* changes were dropped, or an attribute this driver does not know */
		r->flags = NVME_LM_LOG_OVERFLOW | NVME_LM_LOG_ALL;
		r->nsid = 0;
		return;
	}
	switch (NVME_LM_UDMQ_LBACI(e->attr)) {
	case NVME_LM_LBACI_RANGE:
		r->slba = le64_to_cpu(e->slba);
		r->nlb = (u64)le32_to_cpu(e->nlb) + 1;
		break;
	default:
		r->flags = NVME_LM_LOG_ALL;
		break;
	}
}

/* a record of the driver's own; log->lock held, room in @rec */
static void nvme_lm_log_add(struct nvme_lm_log *log, u32 flags)
{
	struct nvme_lm_log_rec *r = &log->rec[log->nrec++];

	lockdep_assert_held(&log->lock);
	memset(r, 0, sizeof(*r));
	r->flags = flags;
	r->seq = ++log->seq;
}

static void nvme_lm_log_broke(struct nvme_lm_log *log, int err)
{
	lockdep_assert_held(&log->lock);
	dev_err_ratelimited(&log->vf->dev,
			    "LBA change log of cntlid %u broke (%d): copy every namespace again\n",
			    log->cntlid, err);
	nvme_lm_log_end(log, err);
	nvme_lm_log_wake(log);
}

/*
 * After an overflow: stop and start logging, so a FIRST marks where every
 * change is logged again.  A suspended controller refuses (-EBUSY): it
 * writes nothing then, so this is tried again on the next read.
 */
static void nvme_lm_log_restart(struct nvme_lm_log *log)
{
	int ret;

	lockdep_assert_held(&log->lock);
	ret = nvme_lm_udmq_log(log->q, false);
	if (ret && ret != -EPROTO && ret != -EBUSY) {
		nvme_lm_log_broke(log, ret);
		return;
	}
	ret = nvme_lm_udmq_log(log->q, true);
	if (ret == -EPROTO)
		nvme_lm_log_add(log, NVME_LM_LOG_FIRST);	/* it never stopped */
	else if (ret && ret != -EBUSY)
		nvme_lm_log_broke(log, ret);
	if (ret != -EBUSY)
		log->restart = false;
}

/* the queue is gone: the PF went away, was reset, or the log broke; log->lock held */
static bool nvme_lm_log_dead(struct nvme_lm_log *log)
{
	lockdep_assert_held(&log->lock);
	return log->err || !log->q || nvme_lm_udmq_gone(log->q);
}

/* the SUSPENDED record is due: every entry posted before the suspend is taken */
static bool nvme_lm_log_susp_due(struct nvme_lm_log *log)
{
	lockdep_assert_held(&log->lock);
	return log->suspended && log->consumed >= log->susp_at;
}

/* the HANDED_OVER record is due: after SUSPENDED and the entries before the pass */
static bool nvme_lm_log_ho_due(struct nvme_lm_log *log)
{
	lockdep_assert_held(&log->lock);
	return log->handed_over && !log->suspended && log->consumed >= log->ho_at;
}

/* the driver's markers due after @consumed entries; log->lock held */
static void nvme_lm_log_markers(struct nvme_lm_log *log)
{
	lockdep_assert_held(&log->lock);
	if (nvme_lm_log_susp_due(log)) {
		log->suspended = false;
		nvme_lm_log_add(log, NVME_LM_LOG_SUSPENDED);
		log->susp_seq = log->seq;
	}
	if (nvme_lm_log_ho_due(log)) {
		log->handed_over = false;
		nvme_lm_log_add(log, NVME_LM_LOG_HANDED_OVER);
	}
}

/*
 * Refill the records: the entries the PF posted, with the driver's markers
 * where they belong.  Called with every record read; log->lock held.
 */
static void nvme_lm_log_fill(struct nvme_lm_log *log)
{
	unsigned int i, n;
	int ret;

	lockdep_assert_held(&log->lock);
	log->nrec = 0;
	log->pos = 0;
	if (!log->q)
		return;
	if (nvme_lm_udmq_gone(log->q)) {
		nvme_lm_log_broke(log, -ESTALE);
		return;
	}
	/* the head update re-arms the trigger: set before, an event clears it */
	if (nvme_lm_udmq_posted(log->q))
		WRITE_ONCE(log->armed, true);
	ret = nvme_lm_udmq_read(log->q, log->raw, NVME_LM_LOG_BATCH, &n);
	for (i = 0; i < n; i++) {
		u8 esa = NVME_LM_UDMQ_ESA(log->raw[i].attr);

		nvme_lm_log_markers(log);
		log->consumed++;
		/* the driver marks the suspend itself, where it belongs */
		if (esa == NVME_LM_ESA_SUSPENDED || esa == NVME_LM_ESA_STOPPED)
			continue;
		if (esa == NVME_LM_ESA_FULL)
			log->restart = true;
		nvme_lm_log_rec_from(&log->rec[log->nrec], &log->raw[i]);
		log->rec[log->nrec++].seq = ++log->seq;
	}
	nvme_lm_log_markers(log);
	if (ret) {
		nvme_lm_log_broke(log, ret == -ENOENT ? -ESTALE : ret);
		return;
	}
	/* the queue has room again (the head moved): log from here on */
	if (log->restart && !log->vf_suspended)
		nvme_lm_log_restart(log);
}

/* a record to read, or the log's error; log->lock held */
static bool nvme_lm_log_ready(struct nvme_lm_log *log)
{
	lockdep_assert_held(&log->lock);
	return log->pos < log->nrec || nvme_lm_log_dead(log) || nvme_lm_udmq_posted(log->q) ||
	       nvme_lm_log_susp_due(log) || nvme_lm_log_ho_due(log);
}

/*
 * Up to @max records not read yet, into @out, without consuming them, or
 * the log's state: -EAGAIN (nothing yet, the trigger armed; *@seen is the
 * event count to wait for a change of), or the log's error.  log->lock held.
 */
static int nvme_lm_log_peek(struct nvme_lm_log *log, struct nvme_lm_log_rec *out,
			    unsigned int max, int *seen)
{
	unsigned int n;
	int ret;

	lockdep_assert_held(&log->lock);
	for (;;) {
		if (log->pos == log->nrec)
			nvme_lm_log_fill(log);
		n = min(max, log->nrec - log->pos);
		if (n) {
			memcpy(out, &log->rec[log->pos], n * sizeof(*out));
			return n;
		}
		if (log->err || !log->q)
			return log->err ?: -ENODEV;
		/* nothing posted: arm the trigger, then look once more */
		*seen = atomic_read(&log->events);
		if (!READ_ONCE(log->armed)) {
			WRITE_ONCE(log->armed, true);
			ret = nvme_lm_udmq_arm(log->q);
			if (ret) {
				nvme_lm_log_broke(log, ret == -ENOENT ? -ESTALE : ret);
				continue;
			}
		}
		if (!nvme_lm_log_ready(log))
			return -EAGAIN;
	}
}

/*
 * Up to @max records into @buf, waiting for the first unless @nonblock:
 * the number copied, -EAGAIN, or an error.  Each piece is consumed only
 * once userspace has it: a fault loses no record.  log->read_lock held.
 */
static int nvme_lm_log_copy_out(struct nvme_lm_log *log, char __user *buf, size_t max,
				bool nonblock)
{
	struct nvme_lm_log_rec out[NVME_LM_LOG_COPY];
	size_t done = 0;
	int n, seen = 0;

	lockdep_assert_held(&log->read_lock);
	while (done < max) {
		mutex_lock(&log->lock);
		n = nvme_lm_log_peek(log, out, min_t(size_t, max - done, NVME_LM_LOG_COPY),
				     &seen);
		mutex_unlock(&log->lock);
		if (n == -EAGAIN && !done && !nonblock) {
			if (wait_event_interruptible(log->wq,
						     atomic_read(&log->events) != seen))
				return -ERESTARTSYS;
			continue;
		}
		if (n < 0)
			break;
		if (copy_to_user(buf + done * sizeof(out[0]), out, n * sizeof(out[0]))) {
			n = -EFAULT;
			break;
		}
		mutex_lock(&log->lock);
		log->pos += n;
		log->read_seq = out[n - 1].seq;
		mutex_unlock(&log->lock);
		done += n;
	}
	return done ?: n;
}

static ssize_t nvme_lm_log_read(struct file *filp, char __user *buf, size_t len,
				loff_t *ppos)
{
	struct nvme_lm_log *log = filp->private_data;
	int n;

	if (len < sizeof(struct nvme_lm_log_rec))
		return -EINVAL;
	if (filp->f_flags & O_NONBLOCK) {
		if (!mutex_trylock(&log->read_lock))
			return -EAGAIN;
	} else if (mutex_lock_interruptible(&log->read_lock)) {
		return -ERESTARTSYS;
	}
	n = nvme_lm_log_copy_out(log, buf, len / sizeof(struct nvme_lm_log_rec),
				 filp->f_flags & O_NONBLOCK);
	mutex_unlock(&log->read_lock);
	return n > 0 ? (ssize_t)n * sizeof(struct nvme_lm_log_rec) : n;
}

static __poll_t nvme_lm_log_poll(struct file *filp, struct poll_table_struct *wait)
{
	struct nvme_lm_log *log = filp->private_data;
	__poll_t mask = 0;

	poll_wait(filp, &log->wq, wait);
	mutex_lock(&log->lock);
	if (log->pos < log->nrec)
		mask = EPOLLIN | EPOLLRDNORM;
	else if (nvme_lm_log_dead(log))
		mask = EPOLLERR;
	else if (nvme_lm_udmq_posted(log->q) || nvme_lm_log_susp_due(log) ||
		 nvme_lm_log_ho_due(log))
		mask = EPOLLIN | EPOLLRDNORM;
	mutex_unlock(&log->lock);
	return mask;
}

static long nvme_lm_log_ack(struct nvme_lm_log *log, void __user *uarg)
{
	struct nvme_lm_log_ack ack;
	int ret = 0;

	if (copy_from_user(&ack, uarg, sizeof(ack)))
		return -EFAULT;
	if (ack.reserved || ack.flags & ~NVME_LM_LOG_NACK)
		return -EINVAL;
	mutex_lock(&log->lock);
	if (nvme_lm_log_dead(log))
		ret = -EPIPE;
	else if (ack.flags & NVME_LM_LOG_NACK)
		log->nack = true;
	else if (ack.seq > log->read_seq)
		ret = -EINVAL;
	else if (ack.seq > log->acked)
		log->acked = ack.seq;
	else
		ret = 1;	/* nothing new */
	mutex_unlock(&log->lock);
	if (!ret)
		nvme_lm_log_wake(log);
	return min(ret, 0);
}

static long nvme_lm_log_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	if (cmd != NVME_LM_LOG_ACK)
		return -ENOTTY;
	return nvme_lm_log_ack(filp->private_data, (void __user *)arg);
}

/*
 * Take the log off the PF's list and end it (@closed: its file is closed).
 * Both under pf->lock, as nvme_lm_pf_remove() ends the listed logs: a log
 * off the list is not waited for by a PF removal, so its queue must be
 * deleted before the removal can tear down the admin queue.
 */
static void nvme_lm_log_unlist_end(struct nvme_lm_log *log, bool closed)
{
	struct nvme_lm_pf *pf = log->pf;

	mutex_lock(&pf->lock);
	nvme_lm_pf_list(log, false);
	mutex_lock(&log->lock);
	if (closed)
		log->closed = true;
	nvme_lm_log_end(log, 0);
	mutex_unlock(&log->lock);
	mutex_unlock(&pf->lock);
}

static int nvme_lm_log_release(struct inode *inode, struct file *filp)
{
	struct nvme_lm_log *log = filp->private_data;

	nvme_lm_log_unlist_end(log, true);
	nvme_lm_log_wake(log);
	kref_put(&log->ref, nvme_lm_log_free);
	return 0;
}

static const struct file_operations nvme_lm_log_fops = {
	.owner		= THIS_MODULE,
	.read		= nvme_lm_log_read,
	.poll		= nvme_lm_log_poll,
	.unlocked_ioctl	= nvme_lm_log_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.release	= nvme_lm_log_release,
	.llseek		= noop_llseek,
};

/* the open log of the VF with secondary controller @cntlid; pf->lock held */
static struct nvme_lm_log *nvme_lm_pf_find(struct nvme_lm_pf *pf, u16 cntlid)
{
	struct nvme_lm_log *log;

	lockdep_assert_held(&pf->lock);
	list_for_each_entry(log, &pf->logs, node)
		if (log->cntlid == cntlid)
			return log;
	return NULL;
}

/* VF @vf of the PF, with a reference, or NULL */
static struct pci_dev *nvme_lm_log_vf(struct nvme_ctrl *ctrl, u32 vf)
{
	struct pci_dev *pdev = to_pci_dev(ctrl->dev), *dev = NULL;

	if (!pdev->is_physfn || vf >= pci_num_vf(pdev))
		return NULL;
	while ((dev = pci_get_device(PCI_ANY_ID, PCI_ANY_ID, dev)))
		if (dev->is_virtfn && pci_physfn(dev) == pdev && pci_iov_vf_id(dev) == vf)
			return dev;
	return NULL;
}

/*
 * Create the queue and start logging.  The log is on the PF's list already
 * (EBUSY for another open); under its lock, so a PF removal meanwhile waits
 * and then ends what was started.
 */
static int nvme_lm_log_start(struct nvme_lm_log *log, u32 entries)
{
	struct nvme_lm_udmq *q;
	int ret;

	mutex_lock(&log->lock);
	if (!log->lm) {
		ret = log->err ?: -ENODEV;	/* the PF went away */
		goto out;
	}
	q = nvme_lm_udmq_create(log->lm, entries);
	ret = PTR_ERR_OR_ZERO(q);
	if (ret)
		goto out;
	ret = nvme_lm_udmq_log(q, true);
	if (ret) {
		nvme_lm_udmq_delete(q);
		goto out;
	}
	log->q = q;
	WRITE_ONCE(log->cdqid, nvme_lm_udmq_id(q));
out:
	mutex_unlock(&log->lock);
	return ret;
}

static int nvme_lm_log_check_arg(const struct nvme_lm_log_open *arg)
{
	if (arg->argsz < sizeof(*arg) || arg->reserved ||
	    arg->flags & ~NVME_LM_LOG_GATE ||
	    arg->entries < NVME_LM_LOG_MIN_ENTRIES ||
	    arg->entries > NVME_LM_LOG_MAX_ENTRIES ||
	    arg->ack_timeout_ms > NVME_LM_LOG_MAX_ACK_MS ||
	    (arg->ack_timeout_ms && !(arg->flags & NVME_LM_LOG_GATE)))
		return -EINVAL;
	return 0;
}

static struct nvme_lm_log *nvme_lm_log_alloc(struct nvme_ctrl *ctrl,
					     const struct nvme_lm_log_open *arg)
{
	struct nvme_lm_pf *pf = nvme_pci_lm_pf(ctrl);
	struct nvme_lm_log *log;
	struct nvme_lm_vf *lm;
	struct pci_dev *vf;

	vf = nvme_lm_log_vf(ctrl, arg->vf);
	if (!vf)
		return ERR_PTR(-ENODEV);
	/*
	 * Under pf->lock, not removed: the PF's removal disables SR-IOV, then
	 * waits for pf->lock, and only then clears the PF's driver data that
	 * nvme_lm_vf_get() looks the controller up by.
	 */
	mutex_lock(&pf->lock);
	lm = pf->removed ? ERR_PTR(-ENODEV) : nvme_lm_vf_get(vf);
	mutex_unlock(&pf->lock);
	if (IS_ERR(lm)) {
		pci_dev_put(vf);
		return ERR_CAST(lm);
	}
	log = kzalloc(sizeof(*log), GFP_KERNEL_ACCOUNT);
	if (!log) {
		nvme_lm_vf_put(lm);
		pci_dev_put(vf);
		return ERR_PTR(-ENOMEM);
	}
	kref_init(&log->ref);
	mutex_init(&log->read_lock);
	mutex_init(&log->lock);
	init_waitqueue_head(&log->wq);
	INIT_LIST_HEAD(&log->node);
	log->pf = pf;
	log->ctrl = ctrl;
	nvme_get_ctrl(ctrl);
	log->vf = vf;
	log->lm = lm;
	log->cntlid = nvme_lm_vf_cntlid(lm);
	log->cdqid = U16_MAX;
	log->gate = arg->flags & NVME_LM_LOG_GATE;
	log->ack_timeout = msecs_to_jiffies(arg->ack_timeout_ms ?:
					    NVME_LM_LOG_DEFAULT_ACK_MS);
	return log;
}

/*
 * On the PF's list, with an ID; -EBUSY if the VF has a log.  A gated log
 * marks its VF as needing the copy for its migrations (until the VF's VFIO
 * device is closed), a log without the gate unmarks it.
 */
static int nvme_lm_log_add_to_pf(struct nvme_lm_log *log)
{
	struct nvme_lm_pf *pf = log->pf;
	int ret = 0;

	mutex_lock(&pf->lock);
	if (pf->removed)
		ret = -ENODEV;
	else if (nvme_lm_pf_find(pf, log->cntlid))
		ret = -EBUSY;
	if (!ret && log->gate)
		ret = xa_err(xa_store(&pf->copy_wanted, log->cntlid, xa_mk_value(1),
				      GFP_KERNEL));
	else if (!ret)
		xa_erase(&pf->copy_wanted, log->cntlid);
	if (!ret) {
		log->id = ++pf->next_id;
		nvme_lm_pf_list(log, true);
	}
	mutex_unlock(&pf->lock);
	return ret;
}

/**
 * nvme_lm_log_open() - NVME_IOCTL_LM_LOG_OPEN on the PF's controller device
 * @ctrl: the PF's controller
 * @uarg: struct nvme_lm_log_open
 * @open_for_write: the controller device was opened for writing
 *
 * nvme-core's ioctl handler looks this up with symbol_get().
 *
 * Return: 0 with the log's file descriptor in @uarg, -ENOTTY for a
 * controller that is not nvme-pci's, or a negative errno
 * (include/uapi/linux/nvme_lm_log.h).
 */
int nvme_lm_log_open(struct nvme_ctrl *ctrl, void __user *uarg, bool open_for_write)
{
	struct nvme_lm_log_open arg;
	struct nvme_lm_log *log;
	struct file *filp;
	int fd, ret;

	/* a controller of nvme-pci: the PF of the VFs */
	if (ctrl->ops->module != THIS_MODULE)
		return -ENOTTY;
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (!open_for_write)
		return -EBADF;
	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	ret = nvme_lm_log_check_arg(&arg);
	if (ret)
		return ret;

	log = nvme_lm_log_alloc(ctrl, &arg);
	if (IS_ERR(log))
		return PTR_ERR(log);
	ret = nvme_lm_log_add_to_pf(log);
	if (ret)
		goto put;
	ret = nvme_lm_log_start(log, arg.entries);
	if (ret)
		goto unlist;
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto unlist;
	}
	filp = anon_inode_getfile("[nvme-lm-log]", &nvme_lm_log_fops, log, O_RDONLY);
	if (IS_ERR(filp)) {
		put_unused_fd(fd);
		ret = PTR_ERR(filp);
		goto unlist;
	}
	stream_open(filp->f_inode, filp);
	arg.fd = fd;
	if (copy_to_user(uarg, &arg, sizeof(arg))) {
		put_unused_fd(fd);
		fput(filp);	/* the release ends the log */
		return -EFAULT;
	}
	schedule_delayed_work(&log->pf->tick, NVME_LM_LOG_TICK);
	fd_install(fd, filp);
	return 0;

unlist:
	nvme_lm_log_unlist_end(log, false);
	kref_put(&log->ref, nvme_lm_log_free);
	return ret;
put:
	mutex_lock(&log->lock);
	nvme_lm_log_end(log, 0);	/* never listed: no queue */
	mutex_unlock(&log->lock);
	kref_put(&log->ref, nvme_lm_log_free);
	return ret;
}
EXPORT_SYMBOL_GPL(nvme_lm_log_open);

/* the VF's open log, with a reference, or NULL */
static struct nvme_lm_log *nvme_lm_log_of(struct nvme_lm_vf *lm)
{
	struct nvme_lm_pf *pf = nvme_pci_lm_pf(nvme_lm_vf_ctrl(lm));
	struct nvme_lm_log *log;

	mutex_lock(&pf->lock);
	log = nvme_lm_pf_find(pf, nvme_lm_vf_cntlid(lm));
	if (log)
		kref_get(&log->ref);
	mutex_unlock(&pf->lock);
	return log;
}

/* a new SUSPENDED record to acknowledge; log->lock held */
static void nvme_lm_log_mark_suspend(struct nvme_lm_log *log)
{
	lockdep_assert_held(&log->lock);
	log->suspended = true;
	log->susp_at = log->consumed + (log->q ? nvme_lm_udmq_pending(log->q) : 0);
	log->susp_seq = 0;
	log->passed = false;
}

/**
 * nvme_lm_log_suspended() - the VF's controller was suspended
 * @lm: the VF's handle
 *
 * The VF's log, if it has one, marks the suspend once it has handed out
 * every entry the controller posted until now.
 */
void nvme_lm_log_suspended(struct nvme_lm_vf *lm)
{
	struct nvme_lm_log *log = nvme_lm_log_of(lm);

	if (!log)
		return;
	mutex_lock(&log->lock);
	log->vf_suspended = true;
	nvme_lm_log_mark_suspend(log);
	mutex_unlock(&log->lock);
	nvme_lm_log_wake(log);
	kref_put(&log->ref, nvme_lm_log_free);
}

/**
 * nvme_lm_log_resumed() - the VF's controller runs again
 * @lm: the VF's handle
 *
 * A restart of logging after an overflow, which a suspended controller
 * refuses, may be sent again.
 */
void nvme_lm_log_resumed(struct nvme_lm_vf *lm)
{
	struct nvme_lm_log *log = nvme_lm_log_of(lm);

	if (!log)
		return;
	mutex_lock(&log->lock);
	log->vf_suspended = false;
	mutex_unlock(&log->lock);
	nvme_lm_log_wake(log);
	kref_put(&log->ref, nvme_lm_log_free);
}

/**
 * nvme_lm_gate_get() - the gate the VF's migration stream must pass to end
 * @lm: the VF's handle; the VF's controller is suspended
 *
 * The VF's open gated log, whenever it was opened (its owner copies
 * everything from its FIRST record on, which precedes the suspend: a
 * suspended controller refuses to start logging).  Each stream passes on
 * its own acknowledgment: if an earlier stream of the same suspend passed
 * (the VMM saves the stopped VF again), the log gets a new SUSPENDED
 * record.  The log's timeout runs from here.
 *
 * Return: the gate (put it with nvme_lm_gate_put()), NULL if the VF needs
 * no copy (no gated log was opened for it since its VFIO device was
 * opened, or a log without the gate was), or ERR_PTR(-EPIPE) if it needs
 * one and no gated log is open: the copy's owner closed it or died, and
 * changes may be missing on the destination.
 */
struct nvme_lm_log *nvme_lm_gate_get(struct nvme_lm_vf *lm)
{
	struct nvme_lm_pf *pf = nvme_pci_lm_pf(nvme_lm_vf_ctrl(lm));
	struct nvme_lm_log *log = nvme_lm_log_of(lm);

	if (log && !log->gate) {
		kref_put(&log->ref, nvme_lm_log_free);
		log = NULL;
	}
	if (!log)
		return xa_load(&pf->copy_wanted, nvme_lm_vf_cntlid(lm)) ? ERR_PTR(-EPIPE) : NULL;
	mutex_lock(&log->lock);
	if (log->passed || (!log->suspended && !log->susp_seq))
		nvme_lm_log_mark_suspend(log);
	log->gating = true;
	log->gate_time = jiffies;
	mutex_unlock(&log->lock);
	nvme_lm_log_wake(log);
	return log;
}
EXPORT_SYMBOL_GPL(nvme_lm_gate_get);

/**
 * nvme_lm_gate_forget() - the VF's VM is gone: its migrations need no copy
 * @lm: the VF's handle
 *
 * A variant driver calls this when the VF's VFIO device is closed: what a
 * gated log said about the VM that had the VF does not hold for the next.
 * An open gated log still gates.
 */
void nvme_lm_gate_forget(struct nvme_lm_vf *lm)
{
	struct nvme_lm_pf *pf = nvme_pci_lm_pf(nvme_lm_vf_ctrl(lm));

	mutex_lock(&pf->lock);
	if (!nvme_lm_pf_find(pf, nvme_lm_vf_cntlid(lm)))
		xa_erase(&pf->copy_wanted, nvme_lm_vf_cntlid(lm));
	mutex_unlock(&pf->lock);
}
EXPORT_SYMBOL_GPL(nvme_lm_gate_forget);

/* 0: pass, -EAGAIN: not yet, or why the gate fails; log->lock held */
static int nvme_lm_gate_check(struct nvme_lm_log *log)
{
	lockdep_assert_held(&log->lock);
	if (log->passed)
		return 0;
	if (log->closed || nvme_lm_log_dead(log))
		return -EPIPE;
	if (log->nack)
		return -EIO;
	if (log->susp_seq && log->acked >= log->susp_seq)
		return 0;
	if (nvme_lm_gate_expired(log))
		return -ETIMEDOUT;
	return -EAGAIN;
}

/**
 * nvme_lm_gate_wait() - wait until the log's owner acknowledged the suspend
 * @gate: from nvme_lm_gate_get()
 * @nonblock: return -EAGAIN instead of waiting
 *
 * Waits without any lock of the caller's; a fatal signal ends the wait.
 *
 * Return: 0 once every change up to the suspend is on the destination (the
 * log then says HANDED_OVER), -EAGAIN, -EPIPE if the log was closed or
 * broke, -EIO if its owner refused, -ETIMEDOUT if the owner did not answer
 * within the log's timeout, -EINTR on a fatal signal.
 */
int nvme_lm_gate_wait(struct nvme_lm_log *gate, bool nonblock)
{
	unsigned long deadline;
	long left;
	int ret, seen;

	/*
	 * This wait's own deadline: a later stream of the same VF restarts
	 * the log's timeout and, when it fails or is closed, stops it
	 * (gating), which must not leave this wait without one, waking it
	 * every jiffy.
	 */
	mutex_lock(&gate->lock);
	deadline = gate->gate_time + gate->ack_timeout;
	mutex_unlock(&gate->lock);
	for (;;) {
		mutex_lock(&gate->lock);
		seen = atomic_read(&gate->events);
		ret = nvme_lm_gate_check(gate);
		if (!ret && !gate->passed) {
			gate->passed = true;
			gate->handed_over = true;
			gate->ho_at = gate->consumed +
				(gate->q ? nvme_lm_udmq_pending(gate->q) : 0);
		}
		if (ret != -EAGAIN)
			gate->gating = false;
		if (ret == -EIO)
			gate->nack = false;	/* it failed this stream */
		left = (long)(deadline - jiffies);
		mutex_unlock(&gate->lock);
		if (!ret)
			nvme_lm_log_wake(gate);	/* the reader's HANDED_OVER */
		if (ret != -EAGAIN || nonblock)
			return ret;
		if (left <= 0)
			return -ETIMEDOUT;	/* this wait's, not the log's */
		if (wait_event_killable_timeout(gate->wq, atomic_read(&gate->events) != seen,
						left) < 0)
			return -EINTR;
	}
}
EXPORT_SYMBOL_GPL(nvme_lm_gate_wait);

/**
 * nvme_lm_gate_ready() - whether nvme_lm_gate_wait() would return at once
 * @gate: the gate
 *
 * Return: true if it would not wait.
 */
bool nvme_lm_gate_ready(struct nvme_lm_log *gate)
{
	int ret;

	mutex_lock(&gate->lock);
	ret = nvme_lm_gate_check(gate);
	mutex_unlock(&gate->lock);
	return ret != -EAGAIN;
}
EXPORT_SYMBOL_GPL(nvme_lm_gate_ready);

/**
 * nvme_lm_gate_watch() - have a wait queue entry woken with the gate's waiters
 * @gate: the gate
 * @wait: an entry with its own wake function (init_waitqueue_func_entry()),
 *	which may be called in interrupt context
 *
 * Unwatch before the gate is put.
 */
void nvme_lm_gate_watch(struct nvme_lm_log *gate, struct wait_queue_entry *wait)
{
	add_wait_queue(&gate->wq, wait);
}
EXPORT_SYMBOL_GPL(nvme_lm_gate_watch);

/**
 * nvme_lm_gate_unwatch() - undo nvme_lm_gate_watch()
 * @gate: the gate
 * @wait: the entry
 */
void nvme_lm_gate_unwatch(struct nvme_lm_log *gate, struct wait_queue_entry *wait)
{
	remove_wait_queue(&gate->wq, wait);
}
EXPORT_SYMBOL_GPL(nvme_lm_gate_unwatch);

/**
 * nvme_lm_gate_put() - release a gate from nvme_lm_gate_get()
 * @gate: the gate, or NULL
 */
void nvme_lm_gate_put(struct nvme_lm_log *gate)
{
	if (!gate)
		return;
	mutex_lock(&gate->lock);
	gate->gating = false;
	mutex_unlock(&gate->lock);
	kref_put(&gate->ref, nvme_lm_log_free);
}
EXPORT_SYMBOL_GPL(nvme_lm_gate_put);
