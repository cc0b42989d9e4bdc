// SPDX-License-Identifier: GPL-2.0-only
/*
 * nvme-vfio-pci: device DMA dirty tracking (VFIO DMA_LOGGING_*) on the PF's
 * host memory change tracking (TP4159 Track Memory Changes, Track Receive).
 *
 * The PF tracks the VF's writes at a granularity between its MINMRTG and
 * MAXMRTG (log2 bytes): the granule is the requested page size clamped to
 * that span, and reported back to the caller.  More IOVA ranges than the
 * PF takes (CMMRTD) are merged with vfio_combine_iova_ranges().  A report
 * reads the PF's bitmap in windows and clears what it read.
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
	struct interval_tree_node *node;
	struct nvme_lm_mem_range *r;
	u8 gran;
	u32 i = 0;
	int ret;

	gran = clamp_t(u8, ilog2(*page_size), caps->min_gran_bits,
		       caps->max_gran_bits);
	if (nnodes > caps->max_ranges) {
		vfio_combine_iova_ranges(ranges, nnodes, caps->max_ranges);
		nnodes = caps->max_ranges;
	}
	r = kcalloc(nnodes, sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	for (node = interval_tree_iter_first(ranges, 0, ULONG_MAX); node && i < nnodes;
	     node = interval_tree_iter_next(node, 0, ULONG_MAX), i++) {
		u64 start = round_down(node->start, 1ULL << gran);
		u64 end = round_up((u64)node->last + 1, 1ULL << gran);

		r[i].addr = cpu_to_le64(start);
		r[i].len = cpu_to_le64(end - start);
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
		*page_size = 1ULL << gran;
	}
out:
	nvmevf_state_mutex_unlock(nvmevf_dev);
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

static int nvmevf_log_read_and_clear(struct vfio_device *vdev,
				     unsigned long iova, unsigned long length,
				     struct iova_bitmap *dirty)
{
	struct nvmevf_pci_core_device *nvmevf_dev = nvmevf_from_vdev(vdev);
	u64 gsize, start, end, addr;
	unsigned long idx;
	unsigned long *bm;
	void *entry;
	u32 count;
	int ret = 0;

	bm = kmalloc(NVMEVF_DIRTY_WINDOW, GFP_KERNEL);
	if (!bm)
		return -ENOMEM;
	mutex_lock(&nvmevf_dev->state_mutex);
	if (!nvmevf_dev->dirty_gran) {
		ret = -EINVAL;
		goto out;
	}
	gsize = 1ULL << nvmevf_dev->dirty_gran;
	start = round_down(iova, gsize);
	end = (u64)iova + length;

	/* what earlier reports read from the PF for this slice */
	xa_for_each_range(&nvmevf_dev->dirty_spill, idx, entry,
			  start >> nvmevf_dev->dirty_gran,
			  (end - 1) >> nvmevf_dev->dirty_gran) {
		u64 a = (u64)idx << nvmevf_dev->dirty_gran;

		nvmevf_dirty_mark(dirty, a, gsize, iova, end);
		if (nvmevf_dirty_within(a, gsize, iova, end))
			xa_erase(&nvmevf_dev->dirty_spill, idx);
	}

	for (addr = start; addr < end; addr += NVMEVF_DIRTY_WINDOW * 8 * gsize) {
		u64 nbits = min_t(u64, NVMEVF_DIRTY_WINDOW * 8,
				  DIV_ROUND_UP(end - addr, gsize));
		/* the PF reads (and clears) whole dwords */
		size_t len = round_up(DIV_ROUND_UP(nbits, 8), 4);
		unsigned long bit;

		ret = nvmevf_lm(nvmevf_dev, "memory changes", addr, len,
				nvme_lm_track_recv(nvmevf_dev->lm, addr, true, bm,
						   len, &count));
		if (ret)
			break;
		if (!count)
			continue;
		/* the PF's bitmap is little endian, bit i of byte i / 8 */
		for (bit = 0; bit < len * 8; bit++) {
			if (!(((u8 *)bm)[bit / 8] & BIT(bit % 8)))
				continue;
			ret = nvmevf_dirty_set(nvmevf_dev, dirty, addr + bit * gsize,
					       gsize, iova, end);
			if (ret)
				goto out;
		}
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
