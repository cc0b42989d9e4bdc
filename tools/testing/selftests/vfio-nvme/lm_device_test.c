// SPDX-License-Identifier: GPL-2.0
/*
 * The TP4159 controller side of the test device, driven directly through the
 * PFs' primary controllers (nvme passthrough) while a userspace NVMe driver
 * in this test (queues in VFIO-mapped memory) or the kernel nvme driver uses
 * the VFs: suspend and resume with I/O in flight, controller state moved from
 * a VF of PF 0 to a VF of PF 1, memory change tracking, and the status of
 * every misuse; and the Controller Data Queue asynchronous events, on the
 * queue nvme-vfio-pci's LBA change log creates in the PF's memory (the only
 * kind the device can write: a queue created through passthrough would
 * name memory the PF's IOMMU domain maps only while that command runs).
 *
 * Expects both PFs prepared by "vfio-nvme-setup sriov PF 3 2".  Namespace 2
 * of both drives is one shared image, so data written before a migration can
 * be read after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "vfio_nvme.h"
#include "nvme_drv.h"
#include "vf_pair.h"
#include "lm_cmd.h"
#include "lba_log.h"
#include "../kselftest_harness.h"

#define SHARED_NSID	2
#define QSIZE		16
#define NBUF		VF_PAIR_NBUF

/* secondary controller ID of VF vfn of pf */
static int scid_of(struct nvme_pf *pf, int vfn)
{
	struct nvme_secondary_ctrl sc;

	if (nvme_pf_sec_ctrl(pf, vfn, &sc))
		return -1;
	return le16toh(sc.scid);
}

FIXTURE(mig) {
	struct vf_pair p;
};

FIXTURE_SETUP(mig)
{
	struct nvme_id_ctrl id;
	int ret = vf_pair_open(&self->p, "vfio-pci", SHARED_NSID, QSIZE);

	if (ret == -ENODEV)
		SKIP(return, "needs two NVMe PFs with SR-IOV");
	ASSERT_EQ(0, ret);
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, nvme_identify_ctrl(self->p.pf[i].fd, &id));
		if (!(le16toh(id.oacs) & LM_OACS_HMLMS))
			SKIP(return, "PF %s has no host managed live migration",
			     self->p.pf[i].bdf);
	}
	ASSERT_EQ(self->p.scid[0], self->p.drv.cntlid);
}

FIXTURE_TEARDOWN(mig)
{
	/* a function reset ends any suspend the test left behind */
	vf_pair_close(&self->p, true);
}


TEST_F(mig, identify_advertises_live_migration)
{
	struct nvme_id_ctrl id;
	uint8_t fmts[4096];
	uint8_t *raw = (uint8_t *)&id;

	ASSERT_EQ(0, nvme_identify_ctrl(self->p.pf[0].fd, &id));
	EXPECT_TRUE(le16toh(id.oacs) & LM_OACS_HMLMS);
	EXPECT_EQ(LM_TRATTR_THMCS | LM_TRATTR_TUDCS, raw[576] & 3);
	EXPECT_EQ(1, raw[578] | raw[579] << 8);		/* MCUDMQ */
	EXPECT_LE(raw[574], raw[575]);			/* MINMRTG <= MAXMRTG */

	/* CNS 20h: one NVMe-defined format (version 0) and one vendor format */
	struct nvme_identify_args args = {
		.result = NULL, .data = fmts, .args_size = sizeof(args),
		.fd = self->p.pf[0].fd, .cns = 0x20, .csi = NVME_CSI_NVM,
		.nsid = 0, .cntid = 0, .cns_specific_id = NVME_CNSSPECID_NONE,
		.uuidx = NVME_UUID_NONE,
	};
	ASSERT_EQ(0, nvme_identify(&args));
	EXPECT_EQ(1, fmts[0]);
	EXPECT_EQ(1, fmts[1]);
	EXPECT_EQ(0, fmts[2] | fmts[3] << 8);

	/* the secondary controller itself does not manage migration */
	struct nvme_sqe cmd = { .opcode = nvme_admin_identify, .cdw10 = 1,
				.prp1 = self->p.buf[0].iova };
	ASSERT_EQ(0, nvme_drv_admin(&self->p.drv, &cmd, NULL));
	memcpy(&id, self->p.buf[0].va, sizeof(id));
	EXPECT_FALSE(le16toh(id.oacs) & LM_OACS_HMLMS);
	cmd = (struct nvme_sqe){ .opcode = LM_OPC_MIG_SEND, .cdw11 = self->p.scid[0] };
	EXPECT_EQ(0x001, nvme_drv_admin(&self->p.drv, &cmd, NULL) & 0x7ff); /* invalid opcode */
}

TEST_F(mig, wrong_controller_is_rejected)
{
	struct nvme_pf *pf = &self->p.pf[0];

	EXPECT_EQ(LM_SC_INVALID_CTRL_ID, lm_sc(lm_suspend(pf, 0xfffe, 1, false)));
	EXPECT_EQ(LM_SC_INVALID_CTRL_ID, lm_sc(lm_suspend(pf, pf->cntlid, 1, false)));
	EXPECT_EQ(LM_SC_INVALID_CTRL_ID, lm_sc(lm_resume(pf, pf->cntlid)));
	/* VF 4 exists in the list but is not enabled */
	EXPECT_EQ(LM_SC_INVALID_SEC_CTRL_STATE,
		  lm_sc(lm_suspend(pf, scid_of(pf, 4), 1, false)));
	EXPECT_EQ(LM_SC_INVALID_FIELD, lm_sc(lm_suspend(pf, self->p.scid[0], 2, false)));
	/* the running controller is untouched */
	EXPECT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 0, self->p.buf[0].iova));
}

TEST_F(mig, running_controller_has_no_state)
{
	struct nvme_pf *pf = &self->p.pf[0];
	uint8_t st[64];

	EXPECT_EQ(LM_SC_CTRL_NOT_SUSPENDED, lm_sc(lm_resume(pf, self->p.scid[0])));
	EXPECT_EQ(LM_SC_CTRL_NOT_SUSPENDED,
		  lm_sc(lm_get_state(pf, self->p.scid[0], 1, 1, 0, st, sizeof(st), NULL)));
	EXPECT_EQ(LM_SC_CTRL_NOT_SUSPENDED,
		  lm_sc(lm_set_state(pf, self->p.scid[0], 3, 1, 1, 0, st, sizeof(st))));
	EXPECT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 0, self->p.buf[0].iova));
}

/*
 * Suspend with writes in flight and more queued while suspended, Resume:
 * every command completes exactly once, nothing is fetched while suspended.
 */
TEST_F(mig, suspend_resume_keeps_every_command)
{
	struct nvme_pf *pf = &self->p.pf[0];
	struct nvme_cqe cqe;
	int seen[2 * NBUF] = {}, early = 0;
	uint32_t dw0;
	uint8_t st[48];

	for (int i = 0; i < 4; i++) {
		nvme_drv_pattern(self->p.buf[i].va, 100 + i, 1);
		ASSERT_EQ(0, nvme_drv_io(&self->p.drv, nvme_cmd_write, 100 + i, self->p.buf[i].iova, true));
	}
	ASSERT_EQ(0, lm_suspend(pf, self->p.scid[0], 1, false));
	/* suspending again changes nothing */
	ASSERT_EQ(0, lm_suspend(pf, self->p.scid[0], 1, false));
	ASSERT_EQ(0, lm_get_state(pf, self->p.scid[0], 0, 0, 0, st, sizeof(st), &dw0));
	EXPECT_EQ(1, dw0 & 1);		/* CSUP */
	EXPECT_EQ(1, st[2] & 1);	/* CSATTR: suspended */
	EXPECT_EQ(0, lm_state_nvmecss(st));	/* CSVI 0: header only */

	for (int i = 4; i < 8; i++) {
		nvme_drv_pattern(self->p.buf[i].va, 100 + i, 1);
		ASSERT_EQ(0, nvme_drv_io(&self->p.drv, nvme_cmd_write, 100 + i, self->p.buf[i].iova, true));
	}
	/*
	 * Whatever was fetched before Suspend completed before it returned; the
	 * rest waits, however long, until Resume.
	 */
	while (!nvme_drv_reap(&self->p.drv, 1, &cqe, 200)) {
		EXPECT_EQ(0, cqe.status >> 1);
		seen[cqe.cid - 100]++;
		early++;
	}
	EXPECT_GE(4, early);
	EXPECT_EQ(-ETIMEDOUT, nvme_drv_reap(&self->p.drv, 1, &cqe, 500));

	ASSERT_EQ(0, lm_resume(pf, self->p.scid[0]));
	for (int i = early; i < 8; i++) {
		ASSERT_EQ(0, nvme_drv_reap(&self->p.drv, 1, &cqe, 5000));
		EXPECT_EQ(0, cqe.status >> 1);
		seen[cqe.cid - 100]++;
	}
	EXPECT_EQ(-ETIMEDOUT, nvme_drv_reap(&self->p.drv, 1, &cqe, 200));
	TH_LOG("%d of 8 writes completed before Resume", early);
	for (int i = 0; i < 8; i++)
		EXPECT_EQ(1, seen[i]);
	for (int i = 0; i < 8; i++) {
		uint8_t want[4096];

		ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 100 + i, self->p.buf[NBUF - 1].iova));
		nvme_drv_pattern(want, 100 + i, 1);
		EXPECT_EQ(0, memcmp(want, self->p.buf[NBUF - 1].va, sizeof(want)));
	}
}

/*
 * Move the controller from VF 1 of PF 0 to VF 1 of PF 1: the same queues go
 * on on the destination, commands queued on the source while it was
 * suspended run there, each completes exactly once, and the data is right.
 */
TEST_F(mig, state_moves_between_pfs)
{
	struct nvme_pf *src = &self->p.pf[0], *dst = &self->p.pf[1];
	uint8_t *state, *again;
	uint32_t len, len2;
	struct nvme_cqe cqe;
	int seen[12] = {};

	for (int i = 0; i < 8; i++) {
		nvme_drv_pattern(self->p.buf[i].va, 200 + i, 2);
		ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 200 + i, self->p.buf[i].iova));
	}
	for (int i = 8; i < 10; i++) {		/* in flight */
		nvme_drv_pattern(self->p.buf[i].va, 200 + i, 2);
		ASSERT_EQ(0, nvme_drv_io(&self->p.drv, nvme_cmd_write, 200 + i, self->p.buf[i].iova, true));
	}
	ASSERT_EQ(0, lm_suspend(src, self->p.scid[0], 1, false));
	for (int i = 10; i < 12; i++) {		/* queued, never fetched on the source */
		nvme_drv_pattern(self->p.buf[i].va, 200 + i, 2);
		ASSERT_EQ(0, nvme_drv_io(&self->p.drv, nvme_cmd_write, 200 + i, self->p.buf[i].iova, true));
	}

	ASSERT_EQ(0, lm_get_state_all(src, self->p.scid[0], 4096, &state, &len));
	/* in small pieces, the same bytes */
	ASSERT_EQ(0, lm_get_state_all(src, self->p.scid[0], 64, &again, &len2));
	ASSERT_EQ(len, len2);
	EXPECT_EQ(0, memcmp(state, again, len));
	free(again);
	/* one SQ and one CQ: 8 + 2 * 24 bytes of NVMe state, then the vendor part */
	EXPECT_EQ((8 + 2 * 24) / 4, lm_state_nvmecss(state));
	EXPECT_LT(0, lm_state_vss(state));

	/* what the VMM restores with config space: memory decoding, bus master */
	ASSERT_EQ(0, vfio_pci_enable_dma(&self->p.dev[1]));
	ASSERT_EQ(0, lm_suspend(dst, self->p.scid[1], 1, false));
	ASSERT_EQ(0, lm_set_state_all(dst, self->p.scid[1], 64, state, len));
	ASSERT_EQ(0, lm_resume(dst, self->p.scid[1]));
	free(state);
	ASSERT_EQ(0, nvme_drv_switch(&self->p.drv, &self->p.dev[1]));

	/* the in-flight pair completed on the source; its CQEs are in the CQ */
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(0, nvme_drv_reap(&self->p.drv, 1, &cqe, 5000));
		EXPECT_EQ(0, cqe.status >> 1);
		ASSERT_LE(208, cqe.cid);
		ASSERT_GT(212, cqe.cid);
		seen[cqe.cid - 200]++;
	}
	EXPECT_EQ(-ETIMEDOUT, nvme_drv_reap(&self->p.drv, 1, &cqe, 200));
	for (int i = 8; i < 12; i++)
		EXPECT_EQ(1, seen[i]);

	/* admin and I/O queues work on the destination; the data is all there */
	for (int i = 0; i < 12; i++) {
		uint8_t want[4096];

		ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 200 + i, self->p.buf[NBUF - 1].iova));
		nvme_drv_pattern(want, 200 + i, 2);
		EXPECT_EQ(0, memcmp(want, self->p.buf[NBUF - 1].va, sizeof(want)));
	}
	struct nvme_sqe cmd = { .opcode = nvme_admin_identify, .cdw10 = 1,
				.prp1 = self->p.buf[0].iova };
	ASSERT_EQ(0, nvme_drv_admin(&self->p.drv, &cmd, NULL));
	EXPECT_EQ(self->p.scid[1], le16toh(((struct nvme_id_ctrl *)self->p.buf[0].va)->cntlid));
}

/*
 * A state applied to a suspended controller reads back as the same bytes:
 * the destination's clock for the state (the timestamp's age) stops when
 * the state is applied, not when the destination was suspended earlier.
 */
TEST_F(mig, applied_state_reads_back_unchanged)
{
	struct nvme_pf *src = &self->p.pf[0], *dst = &self->p.pf[1];
	uint8_t *state, *back;
	uint32_t len, len2;

	ASSERT_EQ(0, lm_suspend(src, self->p.scid[0], 1, false));
	ASSERT_EQ(0, lm_get_state_all(src, self->p.scid[0], 4096, &state, &len));
	ASSERT_EQ(0, vfio_pci_enable_dma(&self->p.dev[1]));
	ASSERT_EQ(0, lm_suspend(dst, self->p.scid[1], 1, false));
	usleep(300000);		/* the destination has been suspended a while */
	ASSERT_EQ(0, lm_set_state_all(dst, self->p.scid[1], 4096, state, len));
	ASSERT_EQ(0, lm_get_state_all(dst, self->p.scid[1], 4096, &back, &len2));
	ASSERT_EQ(len, len2);
	for (uint32_t i = 0; i < len; i++) {
		EXPECT_EQ(state[i], back[i]) TH_LOG("byte %u of %u", i, len);
		if (state[i] != back[i])
			break;
	}
	free(state);
	free(back);
	/* only one of the two runs the queues: the source */
	ASSERT_EQ(0, ioctl(self->p.dev[1].fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, lm_resume(src, self->p.scid[0]));
	EXPECT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 0, self->p.buf[0].iova));
}

/* a source suspended for a migration that is then abandoned resumes in place */
TEST_F(mig, aborted_migration_resumes_on_source)
{
	struct nvme_pf *src = &self->p.pf[0];
	uint8_t *state;
	uint32_t len;

	nvme_drv_pattern(self->p.buf[0].va, 300, 3);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 300, self->p.buf[0].iova));
	ASSERT_EQ(0, lm_suspend(src, self->p.scid[0], 1, false));
	ASSERT_EQ(0, lm_get_state_all(src, self->p.scid[0], 4096, &state, &len));
	free(state);
	ASSERT_EQ(0, lm_resume(src, self->p.scid[0]));
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 300, self->p.buf[1].iova));
	EXPECT_EQ(0, memcmp(self->p.buf[0].va, self->p.buf[1].va, 4096));
}

/* corrupt, truncated or out-of-sequence state changes nothing on the destination */
TEST_F(mig, bad_state_is_rejected)
{
	struct nvme_pf *src = &self->p.pf[0], *dst = &self->p.pf[1];
	uint8_t *state, *before, *after, *bad;
	uint32_t len, blen, alen;

	ASSERT_EQ(0, lm_suspend(src, self->p.scid[0], 1, false));
	ASSERT_EQ(0, lm_get_state_all(src, self->p.scid[0], 4096, &state, &len));
	ASSERT_EQ(0, lm_suspend(dst, self->p.scid[1], 1, false));
	ASSERT_EQ(0, lm_get_state_all(dst, self->p.scid[1], 4096, &before, &blen));
	bad = malloc(len);
	ASSERT_NE(NULL, bad);

	/* truncated: one dword short */
	EXPECT_EQ(LM_SC_INVALID_FIELD,
		  lm_sc(lm_set_state(dst, self->p.scid[1], 3, 1, 1, 0, state, len - 4)));
	/* a flipped bit in the vendor part fails its checksum */
	memcpy(bad, state, len);
	bad[len - 5] ^= 0x10;
	EXPECT_EQ(LM_SC_INVALID_FIELD,
		  lm_sc(lm_set_state(dst, self->p.scid[1], 3, 1, 1, 0, bad, len)));
	/* sizes in the header that do not add up */
	memcpy(bad, state, len);
	bad[16] += 1;
	EXPECT_EQ(LM_SC_INVALID_FIELD,
		  lm_sc(lm_set_state(dst, self->p.scid[1], 3, 1, 1, 0, bad, len)));
	/* a queue ID past what the destination VF has */
	memcpy(bad, state, len);
	bad[48 + 8 + 10] = 0x7f;
	EXPECT_EQ(LM_SC_INVALID_FIELD,
		  lm_sc(lm_set_state(dst, self->p.scid[1], 3, 1, 1, 0, bad, len)));
	/* middle piece with no first, offset not where the last piece ended */
	EXPECT_EQ(LM_SC_CMD_SEQ_ERROR,
		  lm_sc(lm_set_state(dst, self->p.scid[1], 0, 1, 1, 64, state + 64, 64)));
	EXPECT_EQ(0, lm_set_state(dst, self->p.scid[1], 1, 1, 1, 0, state, 64));
	EXPECT_EQ(LM_SC_INVALID_FIELD,
		  lm_sc(lm_set_state(dst, self->p.scid[1], 2, 1, 1, 128, state + 128, 64)));
	/* unsupported format version, offset in a single-piece command */
	EXPECT_EQ(LM_SC_INVALID_FIELD,
		  lm_sc(lm_set_state(dst, self->p.scid[1], 3, 2, 1, 0, state, len)));
	EXPECT_EQ(LM_SC_INVALID_FIELD,
		  lm_sc(lm_set_state(dst, self->p.scid[1], 3, 1, 1, 4, state, len)));

	ASSERT_EQ(0, lm_get_state_all(dst, self->p.scid[1], 4096, &after, &alen));
	ASSERT_EQ(blen, alen);
	EXPECT_EQ(0, memcmp(before, after, blen));
	free(before);
	free(after);
	free(bad);
	free(state);
}

TEST_F(mig, get_state_bad_offsets)
{
	struct nvme_pf *src = &self->p.pf[0];
	uint8_t buf[64], *state;
	uint32_t len;

	ASSERT_EQ(0, lm_suspend(src, self->p.scid[0], 1, false));
	ASSERT_EQ(0, lm_get_state_all(src, self->p.scid[0], 4096, &state, &len));
	free(state);
	EXPECT_EQ(LM_SC_INVALID_FIELD,
		  lm_sc(lm_get_state(src, self->p.scid[0], 1, 1, len, buf, 64, NULL)));
	EXPECT_EQ(LM_SC_INVALID_FIELD,
		  lm_sc(lm_get_state(src, self->p.scid[0], 1, 1, 2, buf, 64, NULL)));
	EXPECT_EQ(LM_SC_INVALID_FIELD,
		  lm_sc(lm_get_state(src, self->p.scid[0], 3, 0, 0, buf, 64, NULL)));
}

/* every page the device wrote (read data, completions) is reported, once */
TEST_F(mig, memory_changes_cover_device_writes)
{
	struct nvme_pf *pf = &self->p.pf[0];
	uint64_t base = self->p.buf[0].iova;
	uint64_t span = self->p.buf[NBUF - 1].iova + 4096 - base;
	uint32_t len = ((span >> 12) + 31) / 32 * 4, count;
	uint8_t *bm = calloc(1, len);
	uint64_t cq_page = self->p.drv.cq[1].mem.iova;
	int extra = 0;

	ASSERT_NE(NULL, bm);
	EXPECT_EQ(LM_SC_CMD_SEQ_ERROR,
		  lm_sc(lm_track_recv(pf, self->p.scid[0], base, false, bm, len, &count)));
	ASSERT_EQ(0, lm_track_memory(pf, self->p.scid[0], true, 12));
	EXPECT_EQ(LM_SC_CMD_SEQ_ERROR, lm_sc(lm_track_memory(pf, self->p.scid[0], true, 12)));
	/* reads into every other buffer: the device writes those pages */
	for (int i = 0; i < NBUF; i += 2)
		ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, i, self->p.buf[i].iova));
	/* writes: the device only reads these */
	for (int i = 1; i < NBUF; i += 2)
		ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 400 + i, self->p.buf[i].iova));

	ASSERT_EQ(0, lm_track_recv(pf, self->p.scid[0], base, true, bm, len, &count));
	for (int i = 0; i < NBUF; i++) {
		uint64_t bit = (self->p.buf[i].iova - base) >> 12;
		bool set = bm[bit / 8] & (1 << (bit % 8));

		EXPECT_EQ(!(i % 2), set);
	}
	for (uint64_t bit = 0; bit < span >> 12; bit++)
		extra += !!(bm[bit / 8] & (1 << (bit % 8)));
	extra -= NBUF / 2;
	TH_LOG("%u pages reported in the buffer window, %d beyond the read buffers",
	       count, extra);
	EXPECT_EQ(0, extra);

	/* the completion queue page was written too */
	ASSERT_EQ(0, lm_track_recv(pf, self->p.scid[0], cq_page, false, bm, 4, &count));
	EXPECT_EQ(1, bm[0] & 1);
	/* reported pages were cleared */
	ASSERT_EQ(0, lm_track_recv(pf, self->p.scid[0], base, false, bm, len, &count));
	EXPECT_EQ(0, count);
	ASSERT_EQ(0, lm_track_memory(pf, self->p.scid[0], false, 0));
	EXPECT_EQ(LM_SC_CMD_SEQ_ERROR, lm_sc(lm_track_memory(pf, self->p.scid[0], false, 0)));
	free(bm);
}

/* the test hook fails the next matching command, then the device is normal again */
TEST_F(mig, injected_fault_fails_one_command)
{
	struct nvme_pf *pf = &self->p.pf[0];

	ASSERT_EQ(0, lm_fault(pf, LM_OPC_MIG_SEND, 0, 1, LM_SC_INTERNAL, 1));
	EXPECT_EQ(LM_SC_INTERNAL, lm_sc(lm_suspend(pf, self->p.scid[0], 1, false)));
	/* the failed Suspend did nothing */
	EXPECT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 0, self->p.buf[0].iova));
	EXPECT_EQ(0, lm_suspend(pf, self->p.scid[0], 1, false));
	EXPECT_EQ(0, lm_resume(pf, self->p.scid[0]));
	EXPECT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 0, self->p.buf[0].iova));
}

/*
 * Controller Data Queue asynchronous events (TP4159): one-shot events
 * (type 4) on the PF's primary controller, info 0 when the queue's tail
 * reaches the armed tail pointer trigger, info 1 when the entry that fills
 * the queue is posted; completion dword 1 is the CDQID (the nvme driver
 * traces dword 0 only).  The PF's nvme driver traces every event
 * (nvme:nvme_async_event) and asks for the next one.
 */
#define LOCAL_NSID		1
#define CDQ_ENTRIES		4
#define AEN_EVENT		"/sys/kernel/tracing/events/nvme/nvme_async_event/enable"
#define TRACE			"/sys/kernel/tracing/trace"
#define AEN_CDQ_TRIGGER		0x000004	/* one-shot, tail pointer trigger */
#define AEN_CDQ_FULL		0x000104	/* one-shot, queue full */
#define MAX_AENS		16
/* the device model's setting (lm-fault.c): CDW12 bit 0, raise no CDQ event */
#define LM_FAULT_NO_CDQ_AEN	7

FIXTURE(cdq) {
	struct vf_pair p;
	int log;
	uint16_t cdqid;
	int instance;		/* N of PF 0's /dev/nvmeN */
	uint32_t lba;		/* next block to write */
};

static int cdq_disarm(struct nvme_pf *pf, uint16_t cdqid);

FIXTURE_SETUP(cdq)
{
	struct nvme_lm_log_rec rec;
	struct nvme_id_ctrl id;
	uint32_t hp;
	int ret, fd;

	self->log = -1;
	ret = vf_pair_open(&self->p, "nvme_vfio_pci", LOCAL_NSID, QSIZE);
	if (ret == -ENODEV)
		SKIP(return, "needs two NVMe PFs with SR-IOV");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, nvme_identify_ctrl(self->p.pf[0].fd, &id));
	if (!(le16toh(id.oacs) & LM_OACS_HMLMS))
		SKIP(return, "PF %s has no host managed live migration", self->p.pf[0].bdf);
	if (access(AEN_EVENT, W_OK))
		SKIP(return, "no trace event nvme:nvme_async_event");
	ASSERT_EQ(0, strncmp(self->p.pf[0].ctrl, "/dev/nvme", 9));
	self->instance = atoi(self->p.pf[0].ctrl + 9);
	ASSERT_EQ(0, sysfs_write(AEN_EVENT, "1"));
	/* writing "" to the trace does not clear it; opening it with O_TRUNC does */
	fd = open(TRACE, O_WRONLY | O_TRUNC);
	ASSERT_LE(0, fd);
	close(fd);

	/* the host administrator's log of VF 1 (virtfn0) of PF 0 */
	self->log = lm_log_open(self->p.pf[0].fd, 0, 0, CDQ_ENTRIES, 0);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(0, lm_log_nonblock(self->log, true));
	/* the FIRST entry: reading it hands its slot back (head 1, tail 1) */
	ASSERT_EQ(1, lm_log_read_wait(self->log, &rec, 1, 2000));
	ASSERT_EQ(NVME_LM_LOG_FIRST, rec.flags);
	/* the driver's queue: the one CDQ ID the PF knows */
	for (uint16_t q = 1; q < 64 && !self->cdqid; q++)
		if (!lm_cdq_get_head(&self->p.pf[0], q, &hp))
			self->cdqid = q;
	ASSERT_NE(0, self->cdqid);
	/* the driver's read armed the trigger for its next entry: these tests arm it */
	ASSERT_EQ(0, cdq_disarm(&self->p.pf[0], self->cdqid));
	self->lba = 600;
}

FIXTURE_TEARDOWN(cdq)
{
	/* unknown to a model without it: then nothing was changed either */
	lm_fault(&self->p.pf[0], 0, 0, LM_FAULT_NO_CDQ_AEN, 0, 0);
	sysfs_write(AEN_EVENT, "0");
	if (self->log >= 0)
		close(self->log);
	vf_pair_close(&self->p, false);
}

/* Set Features 21h: head pointer hp, tail pointer trigger tpt armed */
static int cdq_arm(struct nvme_pf *pf, uint16_t cdqid, uint32_t hp, uint32_t tpt)
{
	int ret = nvme_admin_passthru(pf->fd, nvme_admin_set_features, 0, 0, 0, 0, 0,
				      LM_FID_CDQ, 1u << 31 | cdqid, hp, tpt, 0, 0, 0,
				      NULL, 0, NULL, 10000, NULL);

	return ret < 0 ? -errno : ret;
}

/* Get Features 21h: the head pointer, the trigger and whether it is armed */
static int cdq_get(struct nvme_pf *pf, uint16_t cdqid, uint32_t *hp, uint32_t *tpt,
		   bool *etpt);

/* Set Features 21h with the head pointer as it is, the trigger not armed */
static int cdq_disarm(struct nvme_pf *pf, uint16_t cdqid)
{
	uint32_t hp, tpt;
	bool etpt;
	int ret = cdq_get(pf, cdqid, &hp, &tpt, &etpt);

	if (ret)
		return ret;
	ret = nvme_admin_passthru(pf->fd, nvme_admin_set_features, 0, 0, 0, 0, 0,
				  LM_FID_CDQ, cdqid, hp, 0, 0, 0, 0, NULL, 0, NULL, 10000, NULL);
	return ret < 0 ? -errno : ret;
}

static int cdq_get(struct nvme_pf *pf, uint16_t cdqid, uint32_t *hp, uint32_t *tpt,
		   bool *etpt)
{
	uint32_t data[2] = {}, dw0 = 0;
	int ret = nvme_admin_passthru(pf->fd, nvme_admin_get_features, 0, 0, 0, 0, 0,
				      LM_FID_CDQ, cdqid, 0, 0, 0, 0, sizeof(data),
				      data, 0, NULL, 10000, &dw0);

	if (ret)
		return ret < 0 ? -errno : ret;
	*hp = le32toh(data[0]);
	*tpt = le32toh(data[1]);
	*etpt = dw0 >> 31;
	return 0;
}

/* dword 0 of the one-shot events PF nvmeN reported, in order: their number */
static int cdq_aens(int instance, uint32_t *res, int max)
{
	FILE *f = fopen(TRACE, "r");
	char line[512];
	int n = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		const char *ev = strstr(line, " nvme_async_event: ");
		unsigned int result;
		int inst;

		if (!ev || sscanf(ev, " nvme_async_event: nvme%d: NVME_AEN=%x",
				  &inst, &result) != 2)
			continue;
		if (inst != instance || (result & 7) != 4)
			continue;
		if (n < max)
			res[n] = result;
		n++;
	}
	fclose(f);
	return n;
}

/*
 * Wait (up to 10 s) until want one-shot events were reported: the number
 * reported then.  The PF reports its events in the order it raised them,
 * so once the last one a step expects is in, any it raised before are too.
 */
static int cdq_aens_wait(int instance, int want, uint32_t *res)
{
	int n = 0;

	for (int tries = 0; tries < 1000; tries++) {
		n = cdq_aens(instance, res, MAX_AENS);
		if (n >= want)
			break;
		usleep(10000);
	}
	return n;
}

/* one write on the VF: the device posts one entry */
static int cdq_write(struct vf_pair *p, uint32_t *lba)
{
	return nvme_drv_io_sync(&p->drv, nvme_cmd_write, (*lba)++, p->buf[0].iova);
}

/*
 * Read every record logged so far (the head then meets the tail): how
 * many.  The driver's reads arm the trigger for their next entry; these
 * tests arm it themselves, so it is disarmed again.
 */
static int cdq_drain(struct nvme_pf *pf, uint16_t cdqid, int log,
		     struct nvme_lm_log_rec *rec, int max)
{
	int n = 0, ret;

	while (n < max && (ret = lm_log_read(log, rec + n, max - n)) > 0)
		n += ret;
	ret = cdq_disarm(pf, cdqid);
	return ret ? ret : n;
}

/*
 * Armed, the entry that reaches the trigger raises exactly one event and
 * disarms it; the next entries raise nothing until the one that fills the
 * queue raises "full", although a one-shot event was reported before it
 * and its log page (0) is never read.
 */
TEST_F(cdq, tail_pointer_trigger_fires_once_then_full)
{
	struct nvme_pf *pf = &self->p.pf[0];
	struct nvme_lm_log_rec rec[2 * CDQ_ENTRIES];
	uint32_t res[MAX_AENS], hp, tpt;
	bool etpt;

	ASSERT_EQ(0, cdq_get(pf, self->cdqid, &hp, &tpt, &etpt));
	ASSERT_EQ(1, hp);
	EXPECT_FALSE(etpt);
	ASSERT_EQ(0, cdq_arm(pf, self->cdqid, hp, hp + 1));
	ASSERT_EQ(0, cdq_get(pf, self->cdqid, &hp, &tpt, &etpt));
	EXPECT_TRUE(etpt);
	EXPECT_EQ(2, tpt);

	ASSERT_EQ(0, cdq_write(&self->p, &self->lba));
	ASSERT_EQ(1, cdq_aens_wait(self->instance, 1, res));
	EXPECT_EQ(AEN_CDQ_TRIGGER, res[0]);
	ASSERT_EQ(0, cdq_get(pf, self->cdqid, &hp, &tpt, &etpt));
	EXPECT_FALSE(etpt);
	EXPECT_EQ(1, hp);

	/* not armed: entry 2 raises nothing, entry 3 fills the queue */
	ASSERT_EQ(0, cdq_write(&self->p, &self->lba));
	ASSERT_EQ(0, cdq_write(&self->p, &self->lba));
	ASSERT_EQ(2, cdq_aens_wait(self->instance, 2, res));
	EXPECT_EQ(AEN_CDQ_TRIGGER, res[0]);
	EXPECT_EQ(AEN_CDQ_FULL, res[1]);
	/* the driver restarts logging after the overflow: a FIRST follows */
	ASSERT_EQ(4, cdq_drain(pf, self->cdqid, self->log, rec, 2 * CDQ_ENTRIES));
	EXPECT_EQ(0, rec[0].flags);
	EXPECT_EQ(0, rec[1].flags);
	EXPECT_TRUE(rec[2].flags & NVME_LM_LOG_OVERFLOW);
	EXPECT_EQ(NVME_LM_LOG_FIRST, rec[3].flags);
}

/* armed again after it fired, the trigger fires again: the event is not masked */
TEST_F(cdq, tail_pointer_trigger_rearmed_fires_again)
{
	struct nvme_pf *pf = &self->p.pf[0];
	struct nvme_lm_log_rec rec[2 * CDQ_ENTRIES];
	uint32_t res[MAX_AENS], hp, tpt;
	bool etpt;

	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, cdq_get(pf, self->cdqid, &hp, &tpt, &etpt));
		ASSERT_EQ(0, cdq_arm(pf, self->cdqid, hp, (hp + 1) % CDQ_ENTRIES));
		ASSERT_EQ(0, cdq_write(&self->p, &self->lba));
		ASSERT_EQ(i + 1, cdq_aens_wait(self->instance, i + 1, res));
		EXPECT_EQ(AEN_CDQ_TRIGGER, res[i]);
		ASSERT_EQ(1, cdq_drain(pf, self->cdqid, self->log, rec, 2 * CDQ_ENTRIES));
	}
	/* head 3, tail 3: three more entries fill the queue */
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, cdq_write(&self->p, &self->lba));
	ASSERT_EQ(3, cdq_aens_wait(self->instance, 3, res));
	EXPECT_EQ(AEN_CDQ_TRIGGER, res[0]);
	EXPECT_EQ(AEN_CDQ_TRIGGER, res[1]);
	EXPECT_EQ(AEN_CDQ_FULL, res[2]);
}

/*
 * The fault injection's "no CDQ events": the trigger is reached (and
 * disarmed) and the queue fills, and nothing is reported; cleared, the
 * device reports again.
 */
TEST_F(cdq, fault_suppresses_events)
{
	struct nvme_pf *pf = &self->p.pf[0];
	struct nvme_lm_log_rec rec[2 * CDQ_ENTRIES];
	uint32_t res[MAX_AENS], hp, tpt;
	bool etpt;

	ASSERT_EQ(0, lm_fault(pf, 0, 0, LM_FAULT_NO_CDQ_AEN, 1, 0));
	ASSERT_EQ(0, cdq_get(pf, self->cdqid, &hp, &tpt, &etpt));
	ASSERT_EQ(0, cdq_arm(pf, self->cdqid, hp, hp + 1));
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, cdq_write(&self->p, &self->lba));
	ASSERT_EQ(0, cdq_get(pf, self->cdqid, &hp, &tpt, &etpt));
	EXPECT_FALSE(etpt);		/* reached, its event dropped */
	ASSERT_EQ(4, cdq_drain(pf, self->cdqid, self->log, rec, 2 * CDQ_ENTRIES));
	EXPECT_TRUE(rec[2].flags & NVME_LM_LOG_OVERFLOW);
	EXPECT_EQ(NVME_LM_LOG_FIRST, rec[3].flags);

	/* cleared: the queue fills again (the driver's restart took 2 slots), now reported */
	ASSERT_EQ(0, lm_fault(pf, 0, 0, LM_FAULT_NO_CDQ_AEN, 0, 0));
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, cdq_write(&self->p, &self->lba));
	ASSERT_EQ(1, cdq_aens_wait(self->instance, 1, res));
	EXPECT_EQ(AEN_CDQ_FULL, res[0]);
}

/* 64 KiB chunk i of the kernel driver test: 16 pattern blocks */
static void fill_64k(void *b, long i)
{
	for (int j = 0; j < 16; j++)
		nvme_drv_pattern((uint8_t *)b + j * 4096, i * 16 + j, 7);
}

/*
 * The kernel nvme driver on a VF keeps a write stream going across a
 * suspend: nothing progresses while suspended, no error or timeout after.
 */
TEST(kernel_driver_survives_suspend)
{
	struct nvme_pf pf;
	char bdf[BDF_LEN], path[256], dev[64] = "";
	volatile long *done;
	long before, during;
	uint16_t scid;
	pid_t child;
	FILE *p;
	int st;

	if (nvme_pf_open(0, &pf))
		SKIP(return, "no NVMe PF with SR-IOV");
	scid = scid_of(&pf, 2);
	ASSERT_EQ(0, nvme_pf_vf_bdf(&pf, 2, bdf));
	ASSERT_EQ(0, pci_bind(bdf, "nvme"));
	snprintf(path, sizeof(path),
		 "sh -c 'for i in $(seq 100); do d=$(ls -d /sys/bus/pci/devices/%s/nvme/nvme*/nvme*n1 2>/dev/null | head -1); [ -n \"$d\" ] && basename $d && break; sleep 0.05; done'",
		 bdf);
	p = popen(path, "r");
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, fgets(dev, sizeof(dev), p));
	pclose(p);
	dev[strcspn(dev, "\n")] = '\0';
	snprintf(path, sizeof(path), "/dev/%s", dev);

	done = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, done);
	*done = 0;
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		int fd = open(path, O_RDWR | O_DIRECT);
		void *b;

		if (fd < 0 || posix_memalign(&b, 4096, 65536))
			_exit(2);
		for (long i = 0; i < 256; i++) {
			fill_64k(b, i);
			if (pwrite(fd, b, 65536, i * 65536) != 65536)
				_exit(1);
			*done = i + 1;
		}
		_exit(0);
	}
	while (*done < 16)
		usleep(1000);
	ASSERT_EQ(0, lm_suspend(&pf, scid, 1, false));
	usleep(100000);
	before = *done;
	usleep(1000000);
	during = *done;
	ASSERT_EQ(0, lm_resume(&pf, scid));
	EXPECT_EQ(before, during);
	ASSERT_EQ(child, waitpid(child, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
	EXPECT_EQ(256, *done);
	TH_LOG("%ld of 256 writes done at suspend", before);

	/* everything written is there */
	int fd = open(path, O_RDONLY | O_DIRECT);
	void *b, *want = malloc(65536);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, posix_memalign(&b, 4096, 65536));
	for (long i = 0; i < 256; i++) {
		ASSERT_EQ(65536, pread(fd, b, 65536, i * 65536));
		fill_64k(want, i);
		ASSERT_EQ(0, memcmp(b, want, 65536));
	}
	close(fd);
	free(b);
	free(want);
	EXPECT_EQ(0, pci_unbind(bdf));
	nvme_pf_close(&pf);
}

TEST_HARNESS_MAIN
