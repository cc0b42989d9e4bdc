// SPDX-License-Identifier: GPL-2.0
/*
 * nvme-vfio-pci's LBA change log (VFIO_DEVICE_FEATURE_NVME_LBA_LOG) and
 * local storage migration with it.  A userspace NVMe driver on VF 1 of PF 0
 * (the "guest") writes to namespace 1, which is the source drive's own
 * disk; the log must report exactly those writes, and a copy of namespace 1
 * to the destination drive driven by the log (while the guest keeps writing
 * at random) must end byte-identical, also when the log overflows.
 *
 * Expects the PFs prepared by "vfio-nvme-setup sriov PF 3 2".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vfio_nvme.h"
#include "vfio_mig.h"
#include "nvme_drv.h"
#include "vf_pair.h"
#include "lba_log.h"
#include "lm_cmd.h"
#include "../kselftest_harness.h"

#define LOCAL_NSID	1
#define QSIZE		32
#define NBUF		VF_PAIR_NBUF
#define DRIVER		"nvme_vfio_pci"

FIXTURE(lba) {
	struct vf_pair p;
	int log;
	uint32_t blk_lbas;	/* logical blocks per 4 KiB I/O */
};

FIXTURE_SETUP(lba)
{
	int ret = vf_pair_open(&self->p, DRIVER, LOCAL_NSID, QSIZE);

	self->log = -1;
	if (ret == -ENODEV)
		SKIP(return, "needs two NVMe PFs with SR-IOV, VF 1 online");
	ASSERT_EQ(0, ret);
	self->blk_lbas = 4096 / self->p.drv.lba_size;
}

FIXTURE_TEARDOWN(lba)
{
	if (self->log >= 0)
		close(self->log);
	vf_pair_close(&self->p, false);
}

/* read records until want have arrived or 2 s passed: the number read */
static int read_records(int fd, struct vfio_nvme_lba_change *rec, int want)
{
	int n = 0;

	for (int tries = 0; n < want && tries < 200; tries++) {
		int ret = vfio_lba_log_read(fd, rec + n, want - n);

		if (ret < 0)
			return n ? n : ret;
		if (!ret)
			usleep(10000);
		n += ret;
	}
	return n;
}

/* Write Zeroes of nlb (up to 65536) blocks; deac: deallocate them too */
static int write_zeroes_sync(struct nvme_drv *drv, uint64_t slba, uint32_t nlb, bool deac)
{
	struct nvme_sqe cmd = {
		.opcode = nvme_cmd_write_zeroes,
		.cid = 999,
		.nsid = drv->nsid,
		.cdw10 = (uint32_t)slba,
		.cdw11 = (uint32_t)(slba >> 32),
		.cdw12 = (nlb - 1) | (deac ? (uint32_t)NVME_IO_DEAC << 16 : 0),
	};
	struct nvme_cqe cqe;
	int ret = nvme_drv_submit(drv, 1, &cmd, true);

	if (!ret)
		ret = nvme_drv_reap(drv, 1, &cqe, 5000);
	return ret ? ret : cqe.status >> 1 ? -EIO : 0;
}

TEST_F(lba, markers_and_stop)
{
	struct vfio_nvme_lba_change rec[4];

	self->log = vfio_lba_log_start(&self->p.dev[0], 64);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(1, read_records(self->log, rec, 1));
	EXPECT_EQ(VFIO_NVME_LBA_FIRST, rec[0].flags);
	EXPECT_EQ(0, rec[0].nlb);
	/* nothing logged: no record, and read() does not block */
	EXPECT_EQ(0, vfio_lba_log_read(self->log, rec, 4));
	EXPECT_EQ(-1, read(self->log, rec, sizeof(rec[0]) - 1));
	EXPECT_EQ(EINVAL, errno);

	ASSERT_EQ(0, vfio_lba_log_stop(&self->p.dev[0]));
	EXPECT_EQ(-ENODATA, vfio_lba_log_read(self->log, rec, 4));
	EXPECT_EQ(-ENOENT, vfio_lba_log_stop(&self->p.dev[0]));
	/* the queue was deleted on the PF: logging starts again */
	close(self->log);
	self->log = vfio_lba_log_start(&self->p.dev[0], 64);
	ASSERT_LE(0, self->log);
	EXPECT_EQ(0, vfio_lba_log_stop(&self->p.dev[0]));
}

TEST_F(lba, bad_arguments)
{
	struct vfio_nvme_lba_log_feature {
		struct vfio_device_feature hdr;
		struct vfio_nvme_lba_log log;
	} f = {
		.hdr.argsz = sizeof(f),
		.hdr.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_NVME_LBA_LOG,
	};
	struct vfio_device_feature probe = {
		.argsz = sizeof(probe),
		.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
			 VFIO_DEVICE_FEATURE_NVME_LBA_LOG,
	};
	int fd;

	EXPECT_EQ(0, ioctl(self->p.dev[0].fd, VFIO_DEVICE_FEATURE, &probe));
	EXPECT_EQ(-EINVAL, vfio_lba_log_start(&self->p.dev[0], VFIO_NVME_LBA_LOG_MIN_ENTRIES - 1));
	EXPECT_EQ(-EINVAL, vfio_lba_log_start(&self->p.dev[0], VFIO_NVME_LBA_LOG_MAX_ENTRIES + 1));
	f.log.flags = VFIO_NVME_LBA_LOG_START | VFIO_NVME_LBA_LOG_STOP;
	f.log.entries = 64;
	EXPECT_EQ(-1, ioctl(self->p.dev[0].fd, VFIO_DEVICE_FEATURE, &f));
	EXPECT_EQ(EINVAL, errno);
	f.log.flags = VFIO_NVME_LBA_LOG_START;
	f.log.reserved = 1;
	EXPECT_EQ(-1, ioctl(self->p.dev[0].fd, VFIO_DEVICE_FEATURE, &f));
	EXPECT_EQ(EINVAL, errno);
	f.hdr.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_NVME_LBA_LOG;
	EXPECT_EQ(-1, ioctl(self->p.dev[0].fd, VFIO_DEVICE_FEATURE, &f));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-ENOENT, vfio_lba_log_stop(&self->p.dev[0]));

	/* one log per VF; none while the controller is suspended */
	self->log = vfio_lba_log_start(&self->p.dev[0], 64);
	ASSERT_LE(0, self->log);
	EXPECT_EQ(-EBUSY, vfio_lba_log_start(&self->p.dev[0], 64));
	EXPECT_EQ(0, vfio_lba_log_stop(&self->p.dev[0]));
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_RUNNING_P2P, NULL));
	fd = vfio_lba_log_start(&self->p.dev[0], 64);
	EXPECT_EQ(-EBUSY, fd);
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_RUNNING, NULL));
}

TEST_F(lba, records_match_writes)
{
	static const struct { uint64_t blk; int n; } w[] = {
		{ 5, 1 }, { 17, 1 }, { 100, 1 }, { 101, 1 }, { 3000, 1 },
	};
	struct vfio_nvme_lba_change rec[16];
	int i, n;

	self->log = vfio_lba_log_start(&self->p.dev[0], 64);
	ASSERT_LE(0, self->log);
	for (i = 0; i < (int)(sizeof(w) / sizeof(w[0])); i++) {
		nvme_drv_pattern(self->p.buf[i].va, w[i].blk, 7);
		ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, w[i].blk,
					      self->p.buf[i].iova));
	}
	/* reads change nothing: not logged */
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 5, self->p.buf[NBUF - 1].iova));
	ASSERT_EQ(0, write_zeroes_sync(&self->p.drv, 4096 * self->blk_lbas, 3, false));

	n = read_records(self->log, rec, 16);
	ASSERT_EQ(7, n);
	EXPECT_EQ(VFIO_NVME_LBA_FIRST, rec[0].flags);
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(0, rec[i + 1].flags);
		EXPECT_EQ(LOCAL_NSID, rec[i + 1].nsid);
		EXPECT_EQ(w[i].blk * self->blk_lbas, rec[i + 1].slba);
		EXPECT_EQ(self->blk_lbas, rec[i + 1].nlb);
	}
	EXPECT_EQ(0, rec[6].flags);
	EXPECT_EQ(4096 * self->blk_lbas, rec[6].slba);
	EXPECT_EQ(3, rec[6].nlb);
	EXPECT_EQ(0, vfio_lba_log_read(self->log, rec, 16));
	ASSERT_EQ(0, vfio_lba_log_stop(&self->p.dev[0]));
}

/*
 * Writes in flight when the VF is suspended (RUNNING_P2P): every write that
 * completed is logged before the SUSPENDED marker, the rest after resume.
 */
TEST_F(lba, suspend_marker_follows_completed_writes)
{
	struct vfio_nvme_lba_change rec[32];
	struct nvme_cqe cqe;
	int n, writes = 0, done = 0, suspended_at = -1, firsts = 0;

	self->log = vfio_lba_log_start(&self->p.dev[0], 64);
	ASSERT_LE(0, self->log);
	for (int i = 0; i < 12; i++) {
		nvme_drv_pattern(self->p.buf[i].va, 200 + i, 1);
		ASSERT_EQ(0, nvme_drv_io(&self->p.drv, nvme_cmd_write, 200 + i,
					 self->p.buf[i].iova, true));
	}
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_RUNNING_P2P, NULL));
	while (!nvme_drv_reap(&self->p.drv, 1, &cqe, 200))
		done++;
	n = read_records(self->log, rec, 32);
	for (int i = 0; i < n; i++) {
		if (rec[i].flags & VFIO_NVME_LBA_SUSPENDED)
			suspended_at = i;
		else if (!rec[i].flags)
			writes++;
	}
	ASSERT_EQ(n - 1, suspended_at);
	EXPECT_EQ(done, writes);
	TH_LOG("%d of 12 writes completed before the suspend", done);

	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_RUNNING, NULL));
	while (done < 12 && !nvme_drv_reap(&self->p.drv, 1, &cqe, 2000))
		done++;
	ASSERT_EQ(12, done);
	n = read_records(self->log, rec, 12 - writes + 1);
	for (int i = 0; i < n; i++) {
		if (rec[i].flags & VFIO_NVME_LBA_FIRST)
			firsts++;
		else if (!rec[i].flags)
			writes++;
	}
	EXPECT_EQ(1, firsts);	/* resume says logging goes on */
	EXPECT_EQ(12, writes);
	ASSERT_EQ(0, vfio_lba_log_stop(&self->p.dev[0]));
}

/* a full queue says so (copy everything again) and logging goes on after it */
TEST_F(lba, queue_full_reports_overflow)
{
	struct vfio_nvme_lba_change rec[16];
	int n, overflow = -1;

	self->log = vfio_lba_log_start(&self->p.dev[0], 4);
	ASSERT_LE(0, self->log);
	for (int i = 0; i < 8; i++) {
		nvme_drv_pattern(self->p.buf[i].va, 300 + i, 1);
		ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 300 + i,
					      self->p.buf[i].iova));
	}
	n = read_records(self->log, rec, 16);
	ASSERT_LE(1, n);
	ASSERT_GE(3, n);	/* a queue of 4 holds 3 */
	for (int i = 0; i < n; i++)
		if (rec[i].flags & VFIO_NVME_LBA_OVERFLOW)
			overflow = i;
	ASSERT_EQ(n - 1, overflow);
	EXPECT_EQ(VFIO_NVME_LBA_OVERFLOW | VFIO_NVME_LBA_ALL, rec[overflow].flags);
	EXPECT_EQ(0, rec[overflow].nsid);

	/* room again: the next write is logged */
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 400, self->p.buf[0].iova));
	ASSERT_EQ(1, read_records(self->log, rec, 1));
	EXPECT_EQ(0, rec[0].flags);
	EXPECT_EQ(400 * self->blk_lbas, rec[0].slba);
	ASSERT_EQ(0, vfio_lba_log_stop(&self->p.dev[0]));
}

/* a function reset of the VF does not stop logging: the namespace is still written */
TEST_F(lba, reset_keeps_logging)
{
	struct vfio_nvme_lba_change rec[4];

	self->log = vfio_lba_log_start(&self->p.dev[0], 64);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(1, read_records(self->log, rec, 1));
	nvme_drv_fini(&self->p.drv);
	ASSERT_EQ(0, ioctl(self->p.dev[0].fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, nvme_drv_init(&self->p.drv, &self->p.dev[0], LOCAL_NSID));
	ASSERT_EQ(0, nvme_drv_create_ioq(&self->p.drv, 1, QSIZE));
	nvme_drv_pattern(self->p.buf[0].va, 77, 1);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 77, self->p.buf[0].iova));
	ASSERT_EQ(1, read_records(self->log, rec, 1));
	EXPECT_EQ(0, rec[0].flags);
	EXPECT_EQ(77 * self->blk_lbas, rec[0].slba);
	ASSERT_EQ(0, vfio_lba_log_stop(&self->p.dev[0]));
}

/*
 * The device's answers to misuse of the queue the driver created for the
 * VF (raw commands through the PF), none of which changes the queue: the
 * log goes on afterwards.
 */
TEST_F(lba, device_rejects_queue_misuse)
{
	struct vfio_nvme_lba_change rec[4];
	struct nvme_secondary_ctrl sc;
	uint16_t cntlid, cdqid = 0;
	struct nvme_pf *pf = &self->p.pf[0];
	uint32_t hp;

	ASSERT_EQ(0, nvme_pf_sec_ctrl(pf, 1, &sc));
	cntlid = le16toh(sc.scid);
	self->log = vfio_lba_log_start(&self->p.dev[0], 64);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(1, read_records(self->log, rec, 1));
	/* the driver's queue: the one CDQ ID the PF knows */
	for (uint16_t id = 1; id < 64 && !cdqid; id++)
		if (!lm_cdq_get_head(pf, id, &hp))
			cdqid = id;
	ASSERT_NE(0, cdqid);
	EXPECT_EQ(1, hp);		/* the driver consumed the FIRST entry */

	EXPECT_EQ(LM_SC_NOT_ENOUGH_RES, lm_sc(lm_cdq_create(pf, 0, true, cntlid, 64 * 8, NULL)));
	EXPECT_EQ(LM_SC_INVALID_FIELD, lm_sc(lm_cdq_create(pf, 0, true, cntlid, 8, NULL)));
	EXPECT_EQ(LM_SC_INVALID_FIELD, lm_sc(lm_cdq_create(pf, 0, false, cntlid, 64 * 8, NULL)));
	EXPECT_EQ(LM_SC_INVALID_FIELD, lm_sc(lm_cdq_create(pf, 1, true, cntlid, 64 * 8, NULL)));
	EXPECT_EQ(LM_SC_INVALID_CTRL_ID, lm_sc(lm_cdq_create(pf, 0, true, pf->cntlid, 64 * 8, NULL)));
	EXPECT_EQ(LM_SC_CMD_SEQ_ERROR, lm_sc(lm_track_user_data(pf, cdqid, true)));
	EXPECT_EQ(LM_SC_INVALID_CDQ, lm_sc(lm_track_user_data(pf, cdqid + 100, true)));
	EXPECT_EQ(LM_SC_INVALID_CDQ, lm_sc(lm_cdq_delete(pf, cdqid + 100)));
	EXPECT_EQ(LM_SC_INVALID_CDQ, lm_sc(lm_cdq_set_head(pf, cdqid + 100, 0)));
	/* the head may not pass the tail (nothing is posted past the FIRST entry) */
	EXPECT_EQ(LM_SC_INVALID_FIELD, lm_sc(lm_cdq_set_head(pf, cdqid, hp + 1)));
	EXPECT_EQ(LM_SC_INVALID_FIELD, lm_sc(lm_cdq_set_head(pf, cdqid, 64)));
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_RUNNING_P2P, NULL));
	EXPECT_EQ(LM_SC_CTRL_SUSPENDED, lm_sc(lm_track_user_data(pf, cdqid, false)));
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_RUNNING, NULL));

	/* unchanged: SUSPENDED, FIRST (resume), then the next write */
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 500, self->p.buf[0].iova));
	ASSERT_EQ(3, read_records(self->log, rec, 3));
	EXPECT_EQ(VFIO_NVME_LBA_SUSPENDED, rec[0].flags);
	EXPECT_EQ(VFIO_NVME_LBA_FIRST, rec[1].flags);
	EXPECT_EQ(500 * self->blk_lbas, rec[2].slba);
	ASSERT_EQ(0, vfio_lba_log_stop(&self->p.dev[0]));
	EXPECT_EQ(LM_SC_INVALID_CDQ, lm_sc(lm_cdq_get_head(pf, cdqid, &hp)));
}


/*
 * The PF fails to delete the log's queue: STOP reports it, and the next
 * START works (the PF side deletes the queue again first) instead of
 * failing with ENOSPC until the PF is reset.
 */
TEST_F(lba, failed_queue_delete_is_reported_and_start_recovers)
{
	struct vfio_dev *d = &self->p.dev[0];

	self->log = vfio_lba_log_start(d, 64);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(0, lm_fault(&self->p.pf[0], LM_OPC_CDQ, 1, 1, LM_SC_INTERNAL, 1));
	EXPECT_EQ(-EIO, vfio_lba_log_stop(d));
	close(self->log);
	self->log = vfio_lba_log_start(d, 64);
	EXPECT_LE(0, self->log);
	EXPECT_EQ(0, vfio_lba_log_stop(d));
	/* and a second time, so the first queue is surely gone */
	close(self->log);
	self->log = vfio_lba_log_start(d, 64);
	EXPECT_LE(0, self->log);
	EXPECT_EQ(0, vfio_lba_log_stop(d));
}
/* closing the VFIO device stops logging; the log file reads as ended */
TEST_F(lba, close_device_stops_logging)
{
	struct vfio_nvme_lba_change rec[4];

	self->log = vfio_lba_log_start(&self->p.dev[0], 64);
	ASSERT_LE(0, self->log);
	nvme_drv_fini(&self->p.drv);
	vfio_dev_close(&self->p.dev[0]);
	EXPECT_EQ(-ENODATA, vfio_lba_log_read(self->log, rec, 4));
	ASSERT_EQ(0, vfio_dev_reopen(&self->p.ctr, &self->p.dev[0]));
	close(self->log);
	self->log = vfio_lba_log_start(&self->p.dev[0], 64);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(0, nvme_drv_init(&self->p.drv, &self->p.dev[0], LOCAL_NSID));
}

/* the guest: random 4 KiB writes over the namespace, some always in flight */
struct writer {
	uint32_t *gen;		/* generation last written to each 4 KiB block */
	uint64_t nblk;
	uint64_t inflight[8];
	int ninflight;
	unsigned long writes;
	unsigned int seed;
};

static int writer_burst(FIXTURE_DATA(lba) *self, struct writer *w, int n)
{
	for (int i = 0; i < n && w->ninflight < 8; i++) {
		uint64_t blk = rand_r(&w->seed) % w->nblk;
		struct vfio_dma *b = &self->p.buf[w->ninflight];
		int ret;

		for (int j = 0; j < w->ninflight; j++)
			if (w->inflight[j] == blk)
				blk = (blk + 1) % w->nblk;	/* one write per block in flight */
		nvme_drv_pattern(b->va, blk, w->gen[blk] + 1);
		ret = nvme_drv_io(&self->p.drv, nvme_cmd_write, blk, b->iova, true);
		if (ret)
			return ret;
		w->inflight[w->ninflight++] = blk;
	}
	return 0;
}

static int writer_reap(FIXTURE_DATA(lba) *self, struct writer *w)
{
	struct nvme_cqe cqe;

	while (w->ninflight) {
		int ret = nvme_drv_reap(&self->p.drv, 1, &cqe, 5000);
		int j;

		if (ret)
			return ret;
		for (j = 0; j < w->ninflight && w->inflight[j] != cqe.cid; j++)
			;
		if (j == w->ninflight || cqe.status >> 1)
			return -EIO;
		w->gen[cqe.cid]++;
		w->writes++;
		/* keep buffer i with in-flight slot i: move the last one down */
		w->ninflight--;
		if (j != w->ninflight) {
			struct vfio_dma t = self->p.buf[j];

			w->inflight[j] = w->inflight[w->ninflight];
			self->p.buf[j] = self->p.buf[w->ninflight];
			self->p.buf[w->ninflight] = t;
		}
	}
	return 0;
}

/*
 * The VMM's local storage migration: log, copy everything, copy what the
 * log reports while the guest writes, stop the VF (STOP_COPY), copy what
 * was logged up to the SUSPENDED marker, resume the VF on the destination
 * drive.  The namespaces must then be byte-identical and the guest's data
 * must read back through the destination VF.
 */
static inline __attribute__((always_inline)) void
migrate_local_namespace(struct __test_metadata *_metadata,
			FIXTURE_DATA(lba) *self, uint32_t entries)
{
	/* more writes between two reads than a small queue holds */
	int burst = entries < 64 ? 8 : 4;
	struct writer w = { .seed = entries };
	char src[64], dst[64];
	uint8_t *stream = NULL;
	struct ns_copy c;
	uint64_t pos, diff = 0;
	size_t len;
	int pass, ret;

	ASSERT_EQ(0, nvme_ns_bdev(self->p.pf[0].ctrl, LOCAL_NSID, src, sizeof(src)));
	ASSERT_EQ(0, nvme_ns_bdev(self->p.pf[1].ctrl, LOCAL_NSID, dst, sizeof(dst)));
	ASSERT_EQ(0, ns_copy_open(&c, src, dst, LOCAL_NSID));
	w.nblk = c.nlb * c.lba_size / 4096;
	ASSERT_GE(65536, w.nblk);	/* the command ID is the block */
	w.gen = calloc(w.nblk, sizeof(*w.gen));
	ASSERT_NE(NULL, w.gen);

	/* the guest frees its first 8 MiB: the source no longer has them allocated */
	ASSERT_EQ(0, write_zeroes_sync(&self->p.drv, 0, (8 << 20) / c.lba_size, true));

	/* start logging and wait until it has started */
	self->log = vfio_lba_log_start(&self->p.dev[0], entries);
	ASSERT_LE(0, self->log);
	for (int i = 0; i < 100 && !c.records; i++) {
		ASSERT_LE(0, ns_copy_take_log(&c, self->log));
		usleep(10000);
	}
	ASSERT_LT(0, c.records);

	/* what the source has allocated (the rest is zeroed), or everything */
	ret = ns_copy_mark_allocated(&c, self->p.pf[0].fd);
	ASSERT_LE(0, ret);
	if (!ret)
		ns_copy_mark_all(&c);
	TH_LOG("first pass: %s, %llu of %llu blocks, %llu MiB zeroed on the destination",
	       ret ? "the allocated ranges (Get LBA Status)" : "everything",
	       (unsigned long long)ns_copy_pending(&c), (unsigned long long)c.nlb,
	       (unsigned long long)(c.zeroed >> 20));
	if (ret)	/* the freed 8 MiB at least are zeroed, not copied */
		EXPECT_LE(8 << 20, c.zeroed);

	/* live: the first pass, then two passes of what changed, writes all along */
	for (pass = 0; pass < 3; pass++) {
		for (pos = 0; pos < c.nlb;) {
			ASSERT_EQ(0, writer_burst(self, &w, burst));
			ASSERT_LE(0, ns_copy_step(&c, &pos, 1 << 20));
			ASSERT_EQ(0, writer_reap(self, &w));
			ASSERT_LE(0, ns_copy_take_log(&c, self->log));
		}
		TH_LOG("pass %d: %llu blocks marked after it", pass,
		       (unsigned long long)ns_copy_pending(&c));
	}

	/* stop with writes in flight; the device state goes to the destination */
	ASSERT_EQ(0, writer_burst(self, &w, 8));
	ASSERT_EQ(0, vfio_mig_save(&self->p.dev[0], &stream, &len));
	/*
	 * The VF is suspended: every change it made is in the queue already.
	 * The SUSPENDED marker ends it, unless the queue was full then (the
	 * overflow record has marked everything).
	 */
	while ((ret = ns_copy_take_log(&c, self->log)) > 0)
		;
	ASSERT_EQ(0, ret);
	if (entries >= 64)
		ASSERT_TRUE(c.suspended);
	while (ns_copy_pending(&c))
		for (pos = 0; pos < c.nlb;)
			ASSERT_LE(0, ns_copy_step(&c, &pos, 1 << 20));
	ASSERT_EQ(0, vfio_lba_log_stop(&self->p.dev[0]));

	EXPECT_EQ(1, ns_copy_compare(&c, &diff)) TH_LOG("first difference at byte %llu",
							(unsigned long long)diff);
	TH_LOG("%lu random writes, %llu MiB copied (namespace %llu MiB), %llu log records, %llu overflows",
	       w.writes, (unsigned long long)(c.bytes >> 20),
	       (unsigned long long)(c.nlb * c.lba_size >> 20),
	       (unsigned long long)c.records, (unsigned long long)c.overflows);
	if (entries < 64)
		EXPECT_LT(0, c.overflows);

	/* the guest goes on on the destination drive and finds its data */
	ASSERT_EQ(0, vfio_pci_enable_dma(&self->p.dev[1]));
	ASSERT_EQ(0, vfio_mig_load(&self->p.dev[1], stream, len, 4096));
	/*
	 * The source is done with, as a VMM closes it: reset, not resumed,
	 * for a resumed source would fetch from and complete into the same
	 * queues the destination now runs (with QEMU 10.0's timing it did).
	 */
	ASSERT_EQ(0, ioctl(self->p.dev[0].fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, nvme_drv_switch(&self->p.drv, &self->p.dev[1]));
	ASSERT_EQ(0, writer_reap(self, &w));
	for (uint64_t blk = 0; blk < w.nblk; blk++) {
		uint8_t want[4096];

		if (!w.gen[blk])
			continue;
		ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, blk,
					      self->p.buf[NBUF - 1].iova));
		nvme_drv_pattern(want, blk, w.gen[blk]);
		ASSERT_EQ(0, memcmp(want, self->p.buf[NBUF - 1].va, sizeof(want)))
			TH_LOG("block %llu", (unsigned long long)blk);
	}
	free(stream);
	free(w.gen);
	ns_copy_close(&c);
}

TEST_F_TIMEOUT(lba, migrate_local_namespace, 240)
{
	migrate_local_namespace(_metadata, self, 4096);
}

/* a queue too small for the writes between two reads: overflows, still identical */
TEST_F_TIMEOUT(lba, migrate_local_namespace_queue_full, 240)
{
	migrate_local_namespace(_metadata, self, 8);
}

TEST_HARNESS_MAIN
