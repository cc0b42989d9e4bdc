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
 * windows, and clears what it read.
 *
 * The PF clears whole dwords of its bitmap (32 granules), while a caller may
 * report any slice of its ranges: QEMU reports each memory section on its
 * own.  A granule read from the PF that is not wholly inside the slice being
 * reported goes to @dirty_spill, and the report of the slice that covers it
 * takes it from there: no dirty granule is ever lost, at the price of a
 * granule straddling two slices being reported in both.
 */
#include <linux/interval_tree.h>
#include <linux/iova_bitmap.h>
#include <linux/log2.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/vfio.h>
#include <linux/xarray.h>

#include "nvmevf.h"

/* bytes of bitmap read from the PF per Track Receive */
#define NVMEVF_DIRTY_WINDOW	4096

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
	xa_destroy(&nvmevf_dev->dirty_spill);
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

/* granule @a (@gsize bytes) lies wholly inside [@iova, @end) */
static bool nvmevf_dirty_within(u64 a, u64 gsize, u64 iova, u64 end)
{
	return a >= iova && a + gsize <= end;
}

/* mark the part of granule @a (@gsize bytes) inside [@iova, @end) dirty */
static void nvmevf_dirty_mark(struct iova_bitmap *dirty, u64 a, u64 gsize,
			      u64 iova, u64 end)
{
	u64 from = max(a, iova), to = min(a + gsize, end);

	if (from < to)
		iova_bitmap_set(dirty, from, to - from);
}

/* as above, and keep the granule for a later report if it reaches outside */
static int nvmevf_dirty_set(struct nvmevf_pci_core_device *nvmevf_dev,
			    struct iova_bitmap *dirty, u64 a, u64 gsize,
			    u64 iova, u64 end)
{
	nvmevf_dirty_mark(dirty, a, gsize, iova, end);
	if (nvmevf_dirty_within(a, gsize, iova, end))
		return 0;
	return xa_err(xa_store(&nvmevf_dev->dirty_spill,
			       a >> nvmevf_dev->dirty_gran, xa_mk_value(1),
			       GFP_KERNEL));
}

/*
 * Read and clear the PF's bitmap over [@from, @to) (granule aligned, inside
 * one tracked range) in windows, marking what is dirty in [@iova, @end).
 */
static int nvmevf_dirty_read_range(struct nvmevf_pci_core_device *nvmevf_dev,
				   struct iova_bitmap *dirty, void *bm, u64 from,
				   u64 to, u64 iova, u64 end)
{
	u8 gran = nvmevf_dev->dirty_gran;
	u64 gsize = 1ULL << gran, addr, nbits;
	unsigned long bit;
	size_t len;
	u32 count;
	int ret;

	for (addr = from; addr < to; addr += nbits << gran) {
		nbits = min_t(u64, NVMEVF_DIRTY_WINDOW * 8, (to - addr) >> gran);
		/* the PF reads (and clears) whole dwords */
		len = round_up(DIV_ROUND_UP((u32)nbits, 8), 4);

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
		     bit = find_next_bit_le(bm, len * 8, bit + 1)) {
			ret = nvmevf_dirty_set(nvmevf_dev, dirty, addr + ((u64)bit << gran),
					       gsize, iova, end);
			if (ret)
				return ret;
		}
		cond_resched();
	}
	return 0;
}

/*
 * Report [@iova, @iova + @length): only what was asked for at START is
 * read from the PF, so a report of any size costs Track Receive commands
 * in proportion to the tracked memory it covers.
 */
static int nvmevf_log_read_and_clear(struct vfio_device *vdev,
				     unsigned long iova, unsigned long length,
				     struct iova_bitmap *dirty)
{
	struct nvmevf_pci_core_device *nvmevf_dev = nvmevf_from_vdev(vdev);
	u64 gsize, end, last;
	unsigned long idx;
	void *entry, *bm;
	u32 i;
	int ret = 0;

	/* the VFIO core already refuses a report that wraps */
	if (!length || check_add_overflow((u64)iova, (u64)length, &end))
		return -EINVAL;
	last = end - 1;
	bm = kmalloc(NVMEVF_DIRTY_WINDOW, GFP_KERNEL);
	if (!bm)
		return -ENOMEM;
	mutex_lock(&nvmevf_dev->state_mutex);
	if (!nvmevf_dev->dirty_gran) {
		ret = -EINVAL;
		goto out;
	}
	gsize = 1ULL << nvmevf_dev->dirty_gran;

	/* what earlier reports read from the PF for this slice */
	xa_for_each_range(&nvmevf_dev->dirty_spill, idx, entry,
			  iova >> nvmevf_dev->dirty_gran, last >> nvmevf_dev->dirty_gran) {
		u64 a = (u64)idx << nvmevf_dev->dirty_gran;

		nvmevf_dirty_mark(dirty, a, gsize, iova, end);
		if (nvmevf_dirty_within(a, gsize, iova, end))
			xa_erase(&nvmevf_dev->dirty_spill, idx);
	}

	/* the tracked ranges inside the report, nothing else */
	for (i = 0; i < nvmevf_dev->dirty_nranges; i++) {
		const struct nvmevf_dirty_range *t = &nvmevf_dev->dirty_ranges[i];
		u64 from = max_t(u64, t->start, round_down(iova, gsize));
		u64 to = min_t(u64, t->last, last);

		if (from > to)
			continue;
		ret = nvmevf_dirty_read_range(nvmevf_dev, dirty, bm, from,
					      round_down(to, gsize) + gsize, iova, end);
		if (ret)
			break;
	}
out:
	nvmevf_state_mutex_unlock(nvmevf_dev);
	kfree(bm);
	return ret;
}

static const struct vfio_log_ops nvmevf_log_ops = {
	.log_start = nvmevf_log_start,
	.log_stop = nvmevf_log_stop,
	.log_read_and_clear = nvmevf_log_read_and_clear,
};

/* offer DMA logging when the PF tracks host memory and iova_bitmap exists */
void nvmevf_dirty_init(struct nvmevf_pci_core_device *nvmevf_dev)
{
	xa_init(&nvmevf_dev->dirty_spill);
	if (!IS_ENABLED(CONFIG_IOMMUFD_DRIVER))
		return;
	if (nvme_lm_mem_track_caps(nvmevf_dev->lm, &nvmevf_dev->track_caps))
		return;
	nvmevf_dev->core_device.vdev.log_ops = &nvmevf_log_ops;
}
