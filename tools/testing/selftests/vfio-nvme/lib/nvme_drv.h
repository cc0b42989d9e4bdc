/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small userspace NVMe driver over VFIO for the selftests: queues and data
 * buffers live in VFIO-mapped memory, completions are polled (no interrupts).
 * After a live migration the same queues carry on on the destination
 * function: nvme_drv_switch() only moves the doorbells.
 */
#ifndef VFIO_NVME_DRV_H
#define VFIO_NVME_DRV_H

#include "vfio_nvme.h"

/* the 64-byte submission and 16-byte completion queue entries (libnvme has none) */
struct nvme_sqe {
	uint8_t opcode;
	uint8_t flags;
	uint16_t cid;
	uint32_t nsid;
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t mptr;
	uint64_t prp1;
	uint64_t prp2;
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
};

struct nvme_cqe {
	uint32_t dw0;
	uint32_t dw1;
	uint16_t sq_head;
	uint16_t sq_id;
	uint16_t cid;
	uint16_t status;	/* bit 0: phase tag */
};

#define NVME_DRV_MAX_QID	16

struct nvme_drv_queue {
	struct vfio_dma mem;
	uint16_t qid;
	uint16_t size;
	uint16_t head;		/* CQ: next entry to look at; SQ: last head the controller reported */
	uint16_t tail;		/* SQ: next free slot */
	uint8_t phase;		/* CQ: phase of entries not seen yet */
};

struct nvme_drv {
	struct vfio_dev *dev;
	volatile uint8_t *bar;
	size_t bar_size;
	uint32_t dstrd;
	struct nvme_drv_queue asq, acq;
	struct nvme_drv_queue sq[NVME_DRV_MAX_QID + 1], cq[NVME_DRV_MAX_QID + 1];
	uint16_t cntlid;
	const char *failed;	/* the step of nvme_drv_init() that failed, or NULL */
	uint32_t lba_size;
	uint64_t nsze;
	uint32_t nsid;
};

/* reset and enable the controller of dev, identify it and namespace nsid */
int nvme_drv_init(struct nvme_drv *drv, struct vfio_dev *dev, uint32_t nsid);
/* disable the controller, unmap its BAR and free the queues */
void nvme_drv_fini(struct nvme_drv *drv);
/* create I/O CQ and SQ qid with size entries, polled (interrupts off) */
int nvme_drv_create_ioq(struct nvme_drv *drv, uint16_t qid, uint16_t size);
/* place a command in the SQ (cid taken from cmd); ring: write the doorbell */
int nvme_drv_submit(struct nvme_drv *drv, uint16_t qid, struct nvme_sqe *cmd, bool ring);
void nvme_drv_ring(struct nvme_drv *drv, uint16_t qid);
/* wait up to ms for the next completion on CQ qid; 0, -ETIMEDOUT or -EIO */
int nvme_drv_reap(struct nvme_drv *drv, uint16_t qid, struct nvme_cqe *cqe, int ms);
/* synchronous admin command; returns the NVMe status (0 = success) or -errno */
int nvme_drv_admin(struct nvme_drv *drv, struct nvme_sqe *cmd, uint32_t *dw0);
/* fill an I/O read or write of nlb blocks at slba from/to buf (<= 2 pages) */
void nvme_drv_rw_cmd(struct nvme_drv *drv, struct nvme_sqe *cmd, uint8_t opcode,
		     uint64_t slba, uint16_t nlb, uint64_t buf_iova);
/*
 * The tests' I/O unit: 4 KiB block blk on SQ/CQ 1, command ID blk.
 * nvme_drv_io() only submits; nvme_drv_io_sync() also waits for success.
 */
int nvme_drv_io(struct nvme_drv *drv, uint8_t opcode, uint64_t blk, uint64_t iova,
		bool ring);
int nvme_drv_io_sync(struct nvme_drv *drv, uint8_t opcode, uint64_t blk, uint64_t iova);
/* the 4 KiB pattern of generation gen of block blk */
void nvme_drv_pattern(void *buf, uint64_t blk, uint32_t gen);
/*
 * Read 4 KiB block blk into b on queue 1 (command ID cid) and compare it
 * with generation gen's pattern: 0 if it holds it, 1 if not, -EIO if the
 * read failed.
 */
int nvme_drv_check_block(struct nvme_drv *drv, uint64_t blk, uint32_t gen, uint16_t cid,
			 struct vfio_dma *b);

/* after a migration: the same queues, driven through another function */
int nvme_drv_switch(struct nvme_drv *drv, struct vfio_dev *dev);

#endif
