// SPDX-License-Identifier: GPL-2.0
/* A polled userspace NVMe driver over VFIO for the selftests */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "nvme_drv.h"

#define PAGE		4096
#define ADMIN_QSIZE	32
#define DB_BASE		0x1000

static uint32_t rd32(struct nvme_drv *drv, uint32_t off)
{
	return *(volatile uint32_t *)(drv->bar + off);
}

static uint64_t rd64(struct nvme_drv *drv, uint32_t off)
{
	return rd32(drv, off) | (uint64_t)rd32(drv, off + 4) << 32;
}

static void wr32(struct nvme_drv *drv, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(drv->bar + off) = v;
}

static void wr64(struct nvme_drv *drv, uint32_t off, uint64_t v)
{
	wr32(drv, off, (uint32_t)v);
	wr32(drv, off + 4, v >> 32);
}

static int wait_rdy(struct nvme_drv *drv, uint32_t rdy)
{
	for (int i = 0; i < 5000; i++) {
		uint32_t csts = rd32(drv, NVME_REG_CSTS);

		if (csts == 0xffffffff || (csts & 2))
			return -EIO;	/* gone or fatal status */
		if ((csts & 1) == rdy)
			return 0;
		usleep(1000);
	}
	return -ETIMEDOUT;
}

static struct nvme_drv_queue *sq_of(struct nvme_drv *drv, uint16_t qid)
{
	return qid ? &drv->sq[qid] : &drv->asq;
}

static struct nvme_drv_queue *cq_of(struct nvme_drv *drv, uint16_t qid)
{
	return qid ? &drv->cq[qid] : &drv->acq;
}

static int queue_alloc(struct nvme_drv *drv, struct nvme_drv_queue *q, uint16_t qid,
		       uint16_t size, size_t entry)
{
	memset(q, 0, sizeof(*q));
	q->qid = qid;
	q->size = size;
	q->phase = 1;
	return vfio_dma_alloc(drv->dev->ctr, (size_t)size * entry, &q->mem);
}

void nvme_drv_ring(struct nvme_drv *drv, uint16_t qid)
{
	struct nvme_drv_queue *sq = sq_of(drv, qid);

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wr32(drv, DB_BASE + (2 * qid) * (4 << drv->dstrd), sq->tail);
}

int nvme_drv_submit(struct nvme_drv *drv, uint16_t qid, struct nvme_sqe *cmd, bool ring)
{
	struct nvme_drv_queue *sq = sq_of(drv, qid);
	uint16_t next = (sq->tail + 1) % sq->size;

	if (!sq->size)
		return -EINVAL;
	if (next == sq->head)
		return -EBUSY;
	memcpy((struct nvme_sqe *)sq->mem.va + sq->tail, cmd, sizeof(*cmd));
	sq->tail = next;
	if (ring)
		nvme_drv_ring(drv, qid);
	return 0;
}

int nvme_drv_reap(struct nvme_drv *drv, uint16_t qid, struct nvme_cqe *cqe, int ms)
{
	struct nvme_drv_queue *cq = cq_of(drv, qid);
	volatile struct nvme_cqe *e;
	double t0 = now_ms();

	for (;;) {
		e = (volatile struct nvme_cqe *)cq->mem.va + cq->head;
		if ((e->status & 1) == cq->phase)
			break;
		if (rd32(drv, NVME_REG_CSTS) & 2)
			return -EIO;
		if (now_ms() - t0 > ms)
			return -ETIMEDOUT;
		usleep(100);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memcpy(cqe, (void *)e, sizeof(*cqe));
	if (cqe->sq_id <= NVME_DRV_MAX_QID)
		sq_of(drv, cqe->sq_id)->head = cqe->sq_head;
	cq->head = (cq->head + 1) % cq->size;
	if (!cq->head)
		cq->phase ^= 1;
	wr32(drv, DB_BASE + (2 * qid + 1) * (4 << drv->dstrd), cq->head);
	return 0;
}

int nvme_drv_admin(struct nvme_drv *drv, struct nvme_sqe *cmd, uint32_t *dw0)
{
	static uint16_t cid = 0x8000;
	struct nvme_cqe cqe;
	int ret;

	cmd->cid = cid++;
	ret = nvme_drv_submit(drv, 0, cmd, true);
	if (ret)
		return ret;
	ret = nvme_drv_reap(drv, 0, &cqe, 5000);
	if (ret)
		return ret;
	if (cqe.cid != cmd->cid)
		return -EPROTO;
	if (dw0)
		*dw0 = cqe.dw0;
	return cqe.status >> 1;
}

static int identify(struct nvme_drv *drv, uint32_t cns, uint32_t nsid, struct vfio_dma *buf)
{
	struct nvme_sqe cmd = {
		.opcode = nvme_admin_identify, .nsid = nsid,
		.prp1 = buf->iova, .cdw10 = cns,
	};

	return nvme_drv_admin(drv, &cmd, NULL);
}

/* a start that fails says which step and what the controller shows */
static int init_failed(struct nvme_drv *drv, const char *step, int ret, double t0)
{
	drv->failed = step;
	fprintf(stderr, "# nvme_drv_init %s: %s: %d (CAP %#llx CC %#x CSTS %#x) after %.1f ms\n",
		drv->dev->bdf, step, ret, (unsigned long long)rd64(drv, NVME_REG_CAP),
		rd32(drv, NVME_REG_CC), rd32(drv, NVME_REG_CSTS), now_ms() - t0);
	return ret;
}

int nvme_drv_init(struct nvme_drv *drv, struct vfio_dev *dev, uint32_t nsid)
{
	struct nvme_id_ctrl *id;
	struct nvme_id_ns *ns;
	struct vfio_dma buf;
	uint64_t cap;
	double t0 = now_ms();
	int ret;

	memset(drv, 0, sizeof(*drv));
	drv->dev = dev;
	drv->nsid = nsid;
	ret = vfio_pci_enable_dma(dev);
	if (ret)
		return ret;
	drv->bar = vfio_bar_map(dev, VFIO_PCI_BAR0_REGION_INDEX, &drv->bar_size);
	if (!drv->bar)
		return -ENXIO;
	cap = rd64(drv, NVME_REG_CAP);
	drv->dstrd = NVME_CAP_DSTRD(cap);

	wr32(drv, NVME_REG_CC, 0);
	ret = wait_rdy(drv, 0);
	if (ret)
		return init_failed(drv, "CC.EN=0, waiting for CSTS.RDY=0", ret, t0);
	ret = queue_alloc(drv, &drv->asq, 0, ADMIN_QSIZE, sizeof(struct nvme_sqe));
	if (!ret)
		ret = queue_alloc(drv, &drv->acq, 0, ADMIN_QSIZE, sizeof(struct nvme_cqe));
	if (ret)
		return ret;
	wr32(drv, NVME_REG_AQA, (ADMIN_QSIZE - 1) << 16 | (ADMIN_QSIZE - 1));
	wr64(drv, NVME_REG_ASQ, drv->asq.mem.iova);
	wr64(drv, NVME_REG_ACQ, drv->acq.mem.iova);
	wr32(drv, NVME_REG_CC, 1 << NVME_CC_EN_SHIFT | NVME_CC_CSS_NVM << NVME_CC_CSS_SHIFT |
	     6 << NVME_CC_IOSQES_SHIFT | 4 << NVME_CC_IOCQES_SHIFT);
	ret = wait_rdy(drv, 1);
	if (ret)
		return init_failed(drv, "CC.EN=1, waiting for CSTS.RDY=1", ret, t0);

	ret = vfio_dma_alloc(dev->ctr, PAGE, &buf);
	if (ret)
		return ret;
	ret = identify(drv, NVME_IDENTIFY_CNS_CTRL, 0, &buf);
	if (ret)
		init_failed(drv, "Identify Controller", ret, t0);
	id = buf.va;
	drv->cntlid = le16toh(id->cntlid);
	if (!ret && nsid) {
		ret = identify(drv, NVME_IDENTIFY_CNS_NS, nsid, &buf);
		if (ret)
			init_failed(drv, "Identify Namespace", ret, t0);
		ns = buf.va;
		drv->nsze = le64toh(ns->nsze);
		drv->lba_size = 1U << ns->lbaf[ns->flbas & 0xf].ds;
	}
	vfio_dma_free(dev->ctr, &buf);
	return ret > 0 ? -EIO : ret;
}

int nvme_drv_create_ioq(struct nvme_drv *drv, uint16_t qid, uint16_t size)
{
	struct nvme_sqe cmd = {};
	int ret;

	if (!qid || qid > NVME_DRV_MAX_QID)
		return -EINVAL;
	ret = queue_alloc(drv, &drv->cq[qid], qid, size, sizeof(struct nvme_cqe));
	if (!ret)
		ret = queue_alloc(drv, &drv->sq[qid], qid, size, sizeof(struct nvme_sqe));
	if (ret)
		return ret;
	cmd.opcode = nvme_admin_create_cq;
	cmd.prp1 = drv->cq[qid].mem.iova;
	cmd.cdw10 = (uint32_t)(size - 1) << 16 | qid;
	cmd.cdw11 = 1;				/* physically contiguous, no interrupts */
	ret = nvme_drv_admin(drv, &cmd, NULL);
	if (ret)
		return ret > 0 ? -EIO : ret;
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = nvme_admin_create_sq;
	cmd.prp1 = drv->sq[qid].mem.iova;
	cmd.cdw10 = (uint32_t)(size - 1) << 16 | qid;
	cmd.cdw11 = (uint32_t)qid << 16 | 1;	/* its CQ, physically contiguous */
	ret = nvme_drv_admin(drv, &cmd, NULL);
	return ret > 0 ? -EIO : ret;
}

void nvme_drv_rw_cmd(struct nvme_drv *drv, struct nvme_sqe *cmd, uint8_t opcode,
		     uint64_t slba, uint16_t nlb, uint64_t buf_iova)
{
	uint64_t len = (uint64_t)nlb * drv->lba_size;

	memset(cmd, 0, sizeof(*cmd));
	cmd->opcode = opcode;
	cmd->nsid = drv->nsid;
	cmd->prp1 = buf_iova;
	if ((buf_iova & (PAGE - 1)) + len > PAGE)
		cmd->prp2 = (buf_iova & ~(uint64_t)(PAGE - 1)) + PAGE;
	cmd->cdw10 = (uint32_t)slba;
	cmd->cdw11 = slba >> 32;
	cmd->cdw12 = nlb - 1;
}

int nvme_drv_io(struct nvme_drv *drv, uint8_t opcode, uint64_t blk, uint64_t iova,
		bool ring)
{
	uint16_t nlb = PAGE / drv->lba_size;
	struct nvme_sqe cmd;

	nvme_drv_rw_cmd(drv, &cmd, opcode, blk * nlb, nlb, iova);
	cmd.cid = blk;
	return nvme_drv_submit(drv, 1, &cmd, ring);
}

int nvme_drv_io_sync(struct nvme_drv *drv, uint8_t opcode, uint64_t blk, uint64_t iova)
{
	struct nvme_cqe cqe;
	int ret = nvme_drv_io(drv, opcode, blk, iova, true);

	if (!ret)
		ret = nvme_drv_reap(drv, 1, &cqe, 5000);
	if (!ret && (cqe.cid != blk || cqe.status >> 1))
		ret = -EIO;
	return ret;
}

void nvme_drv_pattern(void *buf, uint64_t blk, uint32_t gen)
{
	for (size_t i = 0; i < PAGE; i += 8) {
		uint64_t v = blk << 32 | (uint64_t)gen << 16 | i;

		memcpy((uint8_t *)buf + i, &v, 8);
	}
}

int nvme_drv_check_block(struct nvme_drv *drv, uint64_t blk, uint32_t gen, uint16_t cid,
			 struct vfio_dma *b)
{
	uint16_t nlb = PAGE / drv->lba_size;
	uint8_t want[PAGE];
	struct nvme_cqe cqe;
	struct nvme_sqe cmd;

	nvme_drv_rw_cmd(drv, &cmd, nvme_cmd_read, blk * nlb, nlb, b->iova);
	cmd.cid = cid;
	if (nvme_drv_submit(drv, 1, &cmd, true) || nvme_drv_reap(drv, 1, &cqe, 5000) ||
	    cqe.status >> 1)
		return -EIO;
	nvme_drv_pattern(want, blk, gen);
	return !!memcmp(want, b->va, PAGE);
}

int nvme_drv_switch(struct nvme_drv *drv, struct vfio_dev *dev)
{
	size_t size;
	void *bar = vfio_bar_map(dev, VFIO_PCI_BAR0_REGION_INDEX, &size);

	if (!bar)
		return -ENXIO;
	/* the mapping holds the device open: drop the old one */
	munmap((void *)drv->bar, drv->bar_size);
	drv->dev = dev;
	drv->bar = bar;
	drv->bar_size = size;
	return 0;
}

void nvme_drv_fini(struct nvme_drv *drv)
{
	struct vfio_ctr *ctr = drv->dev ? drv->dev->ctr : NULL;

	if (drv->bar) {
		wr32(drv, NVME_REG_CC, 0);
		wait_rdy(drv, 0);
		munmap((void *)drv->bar, drv->bar_size);
		drv->bar = NULL;
	}
	if (!ctr)
		return;
	for (int i = 0; i <= NVME_DRV_MAX_QID; i++) {
		vfio_dma_free(ctr, &drv->sq[i].mem);
		vfio_dma_free(ctr, &drv->cq[i].mem);
	}
	vfio_dma_free(ctr, &drv->asq.mem);
	vfio_dma_free(ctr, &drv->acq.mem);
}
