// SPDX-License-Identifier: GPL-2.0-only
/*
 * nvme-vfio-pci: device DMA dirty tracking (VFIO DMA_LOGGING_*) on the PF's
 * host memory change tracking (TP4159 Track Memory Changes, Track Receive).
 *
 * The PF tracks the VF's writes at a granularity between its MINMRTG and
 * MAXMRTG (log2 bytes): the granule is the requested page size clamped to
 * that span, and reported back to the caller.  More IOVA ranges than the
 * PF takes (CMMRTD) are merged with vfio_combine_iova_ranges(), rounded out
 * to the granule and merged again where they then meet; the driver keeps
 * them.  A report reads the PF's bitmap in windows, only over the tracked
 * ranges inside it (so a report of any size costs commands in proportion
 * to the tracked memory it covers), stops for a fatal signal between
 * windows, and clears what it read.  A window is as much bitmap as one
 * admin command carries (MDTS), up to 512 KiB: 16 GiB at 4 KiB granules.
 * That is as few commands as the PF allows, but still one per window of
 * tracked memory, dirty or not: a count in proportion to what is dirty
 * needs the PF to say where the dirty granules are (a list of them, as a
 * Controller Data Queue carries LBA changes, or a summary of which windows
 * have any), which Track Receive does not offer.
 *
 * The PF clears whole dwords of its bitmap (32 granules), while a caller may
 * report any slice of its ranges, at pages smaller than the granule: QEMU
 * reports each memory section on its own, and a section boundary may fall
 * inside a granule.  So what the PF reported dirty and a report did not
 * cover is kept, exactly, as parts of granules in @dirty_parts: each part
 * is reported once, by the first report that covers it, and a granule the
 * PF reports dirty again is whole again.
 *
 * No public document defines the fields of Track Memory Changes and Track
 * Receive; the driver sends those of this project's test device
 * (nvme-tp4159.h).  A controller that read them otherwise could lose dirty
 * pages, that is corrupt the migrated guest's memory, so DMA logging is
 * offered only for a PF that identifies as the test device (its vendor
 * state format in Identify CNS 20h), or for any PF that tracks host memory
 * changes when the dma_logging_any_pf parameter says so.
 */
#include <linux/interval_tree.h>
#include <linux/interval_tree_generic.h>
#include <linux/iova_bitmap.h>
#include <linux/log2.h>
#include <linux/moduleparam.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/vfio.h>

#include "nvmevf.h"

/* most bytes of bitmap read from the PF per Track Receive, and kept per report */
#define NVMEVF_DIRTY_WINDOW_MAX	SZ_512K

static bool dma_logging_any_pf;
module_param(dma_logging_any_pf, bool, 0644);
MODULE_PARM_DESC(dma_logging_any_pf,
		 "Offer DMA logging for VFs of any PF that tracks host memory changes (TRATTR.THMCS), trusting it to take the driver's encoding of Track Memory Changes, which only the vfio-nvme test device is known to take (default: N; read when a VF is probed)");

/**
 * struct nvmevf_dirty_part - bytes of a granule the PF reported dirty that
 *	no DMA_LOGGING_REPORT covered yet
 * @rb: in &nvmevf_pci_core_device.dirty_parts
 * @next: instead, in a report's &struct nvmevf_dirty_pool
 * @start: first byte
 * @last: last byte, in the granule of @start
 * @subtree_last: for the interval tree
 *
 * The parts lie in the tracked ranges, each inside one granule, and the
 * parts of a granule are what the reports since the PF last reported it
 * dirty did not cover, separated by what they did: a granule holds at
 * most one part more than the report boundaries that fell inside it.
 * With QEMU, which reports its memory sections, that is one or two parts
 * per granule a section boundary crosses, until the other side of the
 * boundary is reported.  The parts are freed at STOP, and charged to the
 * caller's memory cgroup (GFP_KERNEL_ACCOUNT) since its reports shape them.
 */
struct nvmevf_dirty_part {
	union {
		struct rb_node rb;
		struct nvmevf_dirty_part *next;
	};
	u64 start;
	u64 last;
	u64 subtree_last;
};

#define NVMEVF_PART_START(p)	((p)->start)
#define NVMEVF_PART_LAST(p)	((p)->last)
INTERVAL_TREE_DEFINE(struct nvmevf_dirty_part, rb, u64, subtree_last,
		     NVMEVF_PART_START, NVMEVF_PART_LAST, static inline, nvmevf_part);

/*
 * Parts allocated before a report reads and clears anything on the PF, as
 * many as it can need, so that what the PF clears is always recorded.
 */
struct nvmevf_dirty_pool {
	struct nvmevf_dirty_part *free;
};

static int nvmevf_pool_fill(struct nvmevf_dirty_pool *pool, unsigned long n)
{
	struct nvmevf_dirty_part *p;

	while (n--) {
		p = kmalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);
		if (!p)
			return -ENOMEM;
		p->next = pool->free;
		pool->free = p;
	}
	return 0;
}

static void nvmevf_pool_put(struct nvmevf_dirty_pool *pool,
			    struct nvmevf_dirty_part *p)
{
	p->next = pool->free;
	pool->free = p;
}

static void nvmevf_pool_free(struct nvmevf_dirty_pool *pool)
{
	struct nvmevf_dirty_part *p;

	while ((p = pool->free)) {
		pool->free = p->next;
		kfree(p);
	}
}

/* a new part [@start, @last], from the pool filled for it */
static void nvmevf_part_add(struct nvmevf_pci_core_device *nvmevf_dev,
			    struct nvmevf_dirty_pool *pool, u64 start, u64 last)
{
	struct nvmevf_dirty_part *p = pool->free;

	if (WARN_ON_ONCE(!p))
		return;
	pool->free = p->next;
	p->start = start;
	p->last = last;
	nvmevf_part_insert(p, &nvmevf_dev->dirty_parts);
}

static void nvmevf_dirty_parts_free(struct nvmevf_pci_core_device *nvmevf_dev)
{
	struct nvmevf_dirty_part *p, *n;

	rbtree_postorder_for_each_entry_safe(p, n, &nvmevf_dev->dirty_parts.rb_root, rb)
		kfree(p);
	nvmevf_dev->dirty_parts = RB_ROOT_CACHED;
}

static int nvmevf_dirty_track_stop(struct nvmevf_pci_core_device *nvmevf_dev);

static int nvmevf_log_start(struct vfio_device *vdev,
			    struct rb_root_cached *ranges, u32 nnodes,
			    u64 *page_size)
{
	struct nvmevf_pci_core_device *nvmevf_dev = nvmevf_from_vdev(vdev);
	const struct nvme_lm_mem_track_caps *caps = &nvmevf_dev->track_caps;
	struct nvmevf_dirty_range *tracked;
	struct interval_tree_node *node;
	struct nvme_lm_mem_range *r;
	u32 i = 0, n;
	u8 gran;
	int ret;

	gran = clamp_t(u8, ilog2(*page_size), caps->min_gran_bits,
		       caps->max_gran_bits);
	if (nnodes > caps->max_ranges) {
		vfio_combine_iova_ranges(ranges, nnodes, caps->max_ranges);
		nnodes = caps->max_ranges;
	}
	r = kcalloc(nnodes, sizeof(*r), GFP_KERNEL);
	tracked = kcalloc(nnodes, sizeof(*tracked), GFP_KERNEL);
	if (!r || !tracked) {
		ret = -ENOMEM;
		goto out_free;
	}
	/* rounded out to the granule, neighbours may meet: merge them again */
	for (node = interval_tree_iter_first(ranges, 0, ULONG_MAX); node;
	     node = interval_tree_iter_next(node, 0, ULONG_MAX)) {
		u64 start = round_down(node->start, 1ULL << gran);
		u64 end;

		/*
		 * The last granule, and the rest of the dword of the PF's
		 * bitmap it is in (32 granules), must end below 2^64.
		 */
		if (gran > 58 || (u64)node->last > U64_MAX - (32ULL << gran)) {
			ret = -EINVAL;
			goto out_free;
		}
		end = round_down((u64)node->last, 1ULL << gran);	/* last granule */
		if (i && start <= tracked[i - 1].last + 1) {
			tracked[i - 1].last = max(tracked[i - 1].last, end + (1ULL << gran) - 1);
			continue;
		}
		if (WARN_ON_ONCE(i == nnodes))
			break;
		tracked[i].start = start;
		tracked[i].last = end + (1ULL << gran) - 1;
		i++;
	}
	for (n = 0; n < i; n++) {
		r[n].addr = cpu_to_le64(tracked[n].start);
		r[n].len = cpu_to_le64(tracked[n].last - tracked[n].start + 1);
	}

	mutex_lock(&nvmevf_dev->state_mutex);
	if (nvmevf_dev->dirty_gran) {
		ret = -EBUSY;	/* one START until STOP */
		goto out;
	}
	/* a stop the PF failed earlier: the PF may still be tracking */
	if (nvmevf_dev->dirty_stop_failed) {
		ret = nvmevf_dirty_track_stop(nvmevf_dev);
		if (ret)
			goto out;
	}
	ret = nvmevf_lm(nvmevf_dev, "track start", 0, i * sizeof(*r),
			nvme_lm_track_memory(nvmevf_dev->lm, true, gran, r, i));
	if (!ret) {
		nvmevf_dev->dirty_gran = gran;
		nvmevf_dev->dirty_ranges = tracked;
		nvmevf_dev->dirty_nranges = i;
		tracked = NULL;
		*page_size = 1ULL << gran;
	}
out:
	nvmevf_state_mutex_unlock(nvmevf_dev);
out_free:
	kfree(tracked);
	kfree(r);
	return ret;
}

/*
 * Track Send, stop; state_mutex held.  "Not tracking" (-EPROTO) is a stop
 * that already happened.  A failure is remembered, and the next START
 * stops again first.
 */
static int nvmevf_dirty_track_stop(struct nvmevf_pci_core_device *nvmevf_dev)
{
	int ret;

	ret = nvmevf_lm(nvmevf_dev, "track stop", 0, 0,
			nvme_lm_track_memory(nvmevf_dev->lm, false, 0, NULL, 0));
	if (ret == -EPROTO)
		ret = 0;
	nvmevf_dev->dirty_stop_failed = ret;
	return ret;
}

/**
 * nvmevf_dirty_stop_locked() - stop DMA logging, if it is on
 * @nvmevf_dev: the device, state_mutex held
 *
 * Logging is off for the VFIO core either way; the dirty granules not
 * reported yet are dropped.
 *
 * Return: 0, or the error of the PF's Track Send stop.
 */
int nvmevf_dirty_stop_locked(struct nvmevf_pci_core_device *nvmevf_dev)
{
	lockdep_assert_held(&nvmevf_dev->state_mutex);
	if (!nvmevf_dev->dirty_gran)
		return 0;
	nvmevf_dev->dirty_gran = 0;
	kfree(nvmevf_dev->dirty_ranges);
	nvmevf_dev->dirty_ranges = NULL;
	nvmevf_dev->dirty_nranges = 0;
	nvmevf_dirty_parts_free(nvmevf_dev);
	return nvmevf_dirty_track_stop(nvmevf_dev);
}

static int nvmevf_log_stop(struct vfio_device *vdev)
{
	struct nvmevf_pci_core_device *nvmevf_dev = nvmevf_from_vdev(vdev);
	int ret;

	mutex_lock(&nvmevf_dev->state_mutex);
	ret = nvmevf_dirty_stop_locked(nvmevf_dev);
	nvmevf_state_mutex_unlock(nvmevf_dev);
	return ret;
}

/* mark [@from, @to] dirty, clipped to [@iova, @last] */
static void nvmevf_dirty_mark(struct iova_bitmap *dirty, u64 from, u64 to,
			      u64 iova, u64 last)
{
	from = max(from, iova);
	to = min(to, last);
	if (from <= to)
		iova_bitmap_set(dirty, from, to - from + 1);
}

/* report the parts inside [@iova, @last] and keep only what is outside */
static void nvmevf_dirty_take(struct nvmevf_pci_core_device *nvmevf_dev,
			      struct nvmevf_dirty_pool *pool,
			      struct iova_bitmap *dirty, u64 iova, u64 last)
{
	struct rb_root_cached *root = &nvmevf_dev->dirty_parts;
	struct nvmevf_dirty_part *p;

	while ((p = nvmevf_part_iter_first(root, iova, last))) {
		nvmevf_dirty_mark(dirty, p->start, p->last, iova, last);
		nvmevf_part_remove(p, root);
		if (p->start < iova && p->last > last) {
			/* the report is inside the part: it splits (one per report) */
			nvmevf_part_add(nvmevf_dev, pool, last + 1, p->last);
			p->last = iova - 1;
		} else if (p->start < iova) {
			p->last = iova - 1;
		} else if (p->last > last) {
			p->start = last + 1;
		} else {
			nvmevf_pool_put(pool, p);
			continue;
		}
		nvmevf_part_insert(p, root);
	}
}

/*
 * The PF reported granule @a dirty, and cleared it: its bytes in
 * [@iova, @last] are reported now, all others are unreported again.
 */
static void nvmevf_dirty_granule(struct nvmevf_pci_core_device *nvmevf_dev,
				 struct nvmevf_dirty_pool *pool,
				 struct iova_bitmap *dirty, u64 a, u64 iova,
				 u64 last)
{
	u64 glast = a + (1ULL << nvmevf_dev->dirty_gran) - 1;
	struct nvmevf_dirty_part *p;

	nvmevf_dirty_mark(dirty, a, glast, iova, last);
	if (a >= iova && glast <= last)
		return;
	/* what was left of it (outside the report, taken already) goes */
	while ((p = nvmevf_part_iter_first(&nvmevf_dev->dirty_parts, a, glast))) {
		nvmevf_part_remove(p, &nvmevf_dev->dirty_parts);
		nvmevf_pool_put(pool, p);
	}
	if (a < iova)
		nvmevf_part_add(nvmevf_dev, pool, a, min(glast, iova - 1));
	if (glast > last)
		nvmevf_part_add(nvmevf_dev, pool, max(a, last + 1), glast);
}

/*
 * Parts the granules the PF returns for a window at @addr of @nbits can
 * leave: one for the first if it starts before the report, one for each
 * at the end that reaches past it (the granule the report ends in, and
 * those the PF reads beyond to fill its last dword).
 */
static unsigned long nvmevf_dirty_window_parts(u8 gran, u64 addr, u64 nbits,
					       u64 iova, u64 last)
{
	u64 gsize = 1ULL << gran, k;
	unsigned long n = 0;

	for (k = 0; k < nbits && addr + (k << gran) < iova; k++)
		n++;
	for (k = nbits; k-- > 0 && addr + (k << gran) + gsize - 1 > last;)
		n++;
	return n;
}

/*
 * The part of tracked range @i inside [@iova, @last], rounded out to
 * whole granules: [@from, @to).  False if they do not meet.
 */
static bool nvmevf_dirty_span(struct nvmevf_pci_core_device *nvmevf_dev, u32 i,
			      u64 iova, u64 last, u64 *from, u64 *to)
{
	const struct nvmevf_dirty_range *t = &nvmevf_dev->dirty_ranges[i];
	u64 gsize = 1ULL << nvmevf_dev->dirty_gran;

	*from = max_t(u64, t->start, round_down(iova, gsize));
	*to = min_t(u64, t->last, last);
	if (*from > *to)
		return false;
	*to = round_down(*to, gsize) + gsize;
	return true;
}

/* bytes of bitmap one Track Receive reads: what the PF's admin queue carries */
static size_t nvmevf_dirty_window_max(struct nvmevf_pci_core_device *nvmevf_dev)
{
	size_t max = nvme_lm_max_transfer(nvmevf_dev->lm);

	return clamp_t(size_t, round_down(max, 4), 4, NVMEVF_DIRTY_WINDOW_MAX);
}

/*
 * Granules in the window at @addr of at most @win bytes, and the bytes
 * (whole dwords) the PF returns.
 */
static u64 nvmevf_dirty_window(u8 gran, size_t win, u64 addr, u64 to, size_t *len)
{
	u64 nbits = min_t(u64, (u64)win * 8, (to - addr) >> gran);

	*len = round_up(DIV_ROUND_UP((u32)nbits, 8), 4);
	return nbits;
}

/*
 * Every part the report can leave, allocated before anything is read: if
 * an allocation fails, the report returns -ENOMEM before the PF cleared
 * any of its bitmap, so the next report finds it all.  Reporting such a
 * part at once instead is no way out: it lies outside the report, where
 * the caller's bitmap has no bits.
 */
static int nvmevf_dirty_prealloc(struct nvmevf_pci_core_device *nvmevf_dev,
				 struct nvmevf_dirty_pool *pool, size_t win,
				 u64 iova, u64 last)
{
	u8 gran = nvmevf_dev->dirty_gran;
	unsigned long need = 1;		/* a part the report lies inside splits */
	u64 from, to, addr, nbits;
	size_t len;
	u32 i;

	for (i = 0; i < nvmevf_dev->dirty_nranges; i++) {
		if (!nvmevf_dirty_span(nvmevf_dev, i, iova, last, &from, &to))
			continue;
		for (addr = from; addr < to; addr += nbits << gran) {
			nbits = nvmevf_dirty_window(gran, win, addr, to, &len);
			need += nvmevf_dirty_window_parts(gran, addr, len * 8,
							  iova, last);
		}
	}
	return nvmevf_pool_fill(pool, need);
}

/*
 * Read and clear the PF's bitmap over [@from, @to) (granule aligned, inside
 * one tracked range) in windows, reporting what is dirty in [@iova, @last].
 */
static int nvmevf_dirty_read_range(struct nvmevf_pci_core_device *nvmevf_dev,
				   struct nvmevf_dirty_pool *pool,
				   struct iova_bitmap *dirty, void *bm,
				   size_t win, u64 from, u64 to, u64 iova,
				   u64 last)
{
	u8 gran = nvmevf_dev->dirty_gran;
	u64 addr, nbits;
	unsigned long bit;
	size_t len;
	u32 count;
	int ret;

	for (addr = from; addr < to; addr += nbits << gran) {
		/* the PF reads (and clears) whole dwords */
		nbits = nvmevf_dirty_window(gran, win, addr, to, &len);

		/* a report is the VMM's to stop: never hold it past a kill */
		if (fatal_signal_pending(current))
			return -EINTR;
		ret = nvmevf_lm(nvmevf_dev, "memory changes", addr, len,
				nvme_lm_track_recv(nvmevf_dev->lm, addr, true, bm,
						   len, &count));
		if (ret)
			return ret;
		/*
		 * The PF's bitmap is little endian, bit i of byte i / 8.  Its
		 * count only hints: every bit read is looked at.
		 */
		for (bit = find_next_bit_le(bm, len * 8, 0); bit < len * 8;
		     bit = find_next_bit_le(bm, len * 8, bit + 1))
			nvmevf_dirty_granule(nvmevf_dev, pool, dirty,
					     addr + ((u64)bit << gran), iova, last);
		cond_resched();
	}
	return 0;
}

/*
 * Report [@iova, @iova + @length): what earlier reports left of it, then
 * what the PF has.  Only what was asked for at START is read from the PF,
 * so a report of any size costs Track Receive commands in proportion to
 * the tracked memory it covers.
 */
static int nvmevf_log_read_and_clear(struct vfio_device *vdev,
				     unsigned long iova, unsigned long length,
				     struct iova_bitmap *dirty)
{
	struct nvmevf_pci_core_device *nvmevf_dev = nvmevf_from_vdev(vdev);
	struct nvmevf_dirty_pool pool = {};
	u64 end, last, from, to;
	void *bm = NULL;
	size_t win;
	u32 i;
	int ret = 0;

	/* the VFIO core already refuses a report that wraps */
	if (!length || check_add_overflow((u64)iova, (u64)length, &end))
		return -EINVAL;
	last = end - 1;
	mutex_lock(&nvmevf_dev->state_mutex);
	if (!nvmevf_dev->dirty_gran) {
		ret = -EINVAL;
		goto out;
	}
	win = nvmevf_dirty_window_max(nvmevf_dev);
	bm = kvmalloc(win, GFP_KERNEL_ACCOUNT);
	if (!bm) {
		ret = -ENOMEM;
		goto out;
	}
	ret = nvmevf_dirty_prealloc(nvmevf_dev, &pool, win, iova, last);
	if (ret)
		goto out;

	nvmevf_dirty_take(nvmevf_dev, &pool, dirty, iova, last);

	/* the tracked ranges inside the report, nothing else */
	for (i = 0; i < nvmevf_dev->dirty_nranges; i++) {
		if (!nvmevf_dirty_span(nvmevf_dev, i, iova, last, &from, &to))
			continue;
		ret = nvmevf_dirty_read_range(nvmevf_dev, &pool, dirty, bm, win,
					      from, to, iova, last);
		if (ret)
			break;
	}
out:
	nvmevf_state_mutex_unlock(nvmevf_dev);
	nvmevf_pool_free(&pool);
	kvfree(bm);
	return ret;
}

static const struct vfio_log_ops nvmevf_log_ops = {
	.log_start = nvmevf_log_start,
	.log_stop = nvmevf_log_stop,
	.log_read_and_clear = nvmevf_log_read_and_clear,
};

/* 1 if the PF lists the test device's vendor state format (CNS 20h), 0 if not */
static int nvmevf_dirty_test_device(struct nvmevf_pci_core_device *nvmevf_dev)
{
	static const uuid_t test_dev = NVME_LM_TEST_DEV_VS_UUID;
	struct nvme_lm_ctrl_state_fmts *fmts;
	int ret;

	fmts = kzalloc(sizeof(*fmts), GFP_KERNEL);
	if (!fmts)
		return -ENOMEM;
	ret = nvme_lm_state_formats(nvmevf_dev->lm, fmts);
	if (!ret)
		ret = !!nvmevf_fmt_index(fmts, 0, test_dev.b);
	kfree(fmts);
	return ret;
}

/*
 * Offer DMA logging when the kernel has iova_bitmap, the PF tracks host
 * memory changes, and the PF is known to take the driver's encoding of the
 * commands (see the top of this file).  Says why, once, at probe.
 */
void nvmevf_dirty_init(struct nvmevf_pci_core_device *nvmevf_dev)
{
	struct pci_dev *pdev = nvmevf_dev->core_device.pdev;
	int ret;

	nvmevf_dev->dirty_parts = RB_ROOT_CACHED;
	if (!IS_ENABLED(CONFIG_IOMMUFD_DRIVER)) {
		pci_info(pdev, "DMA logging off: the kernel has no iova_bitmap (CONFIG_IOMMUFD_DRIVER)\n");
		return;
	}
	ret = nvme_lm_mem_track_caps(nvmevf_dev->lm, &nvmevf_dev->track_caps);
	if (ret) {
		pci_info(pdev, "DMA logging off: the PF does not track host memory changes (%d)\n",
			 ret);
		return;
	}
	ret = nvmevf_dirty_test_device(nvmevf_dev);
	if (ret > 0) {
		pci_info(pdev, "DMA logging on: the PF is the vfio-nvme test device, whose Track Memory Changes encoding the driver uses\n");
	} else if (dma_logging_any_pf) {
		pci_warn(pdev, "DMA logging on by dma_logging_any_pf: the PF's Track Memory Changes encoding is not known to be the driver's\n");
	} else {
		if (ret)
			pci_info(pdev, "DMA logging off: the PF's state formats cannot be read (%d)\n",
				 ret);
		else
			pci_info(pdev, "DMA logging off: the PF tracks host memory changes, but is not known to take the driver's encoding of the commands (dma_logging_any_pf=1 to trust it)\n");
		return;
	}
	nvmevf_dev->core_device.vdev.log_ops = &nvmevf_log_ops;
}
