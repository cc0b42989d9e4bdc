// SPDX-License-Identifier: GPL-2.0
/*
 * nvme-vfio-pci through the VFIO migration uAPI, as a VMM drives it: the
 * state machine's arcs, save/resume on one VF, and a live migration from a
 * VF of PF 0 to a VF of PF 1 while a userspace NVMe driver (queues in
 * VFIO-mapped memory, shared by both VFs' container) keeps writing; then
 * the abort paths, and a stream that lists a namespace the destination VF
 * does not have.  Namespace 2 of both drives is one shared image.
 *
 * Expects both PFs prepared by "vfio-nvme-setup sriov PF 3 2".
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vfio_nvme.h"
#include "vfio_mig.h"
#include "nvme_drv.h"
#include "vf_pair.h"
#include "lm_cmd.h"
#include "lba_log.h"
#include "mig_stream.h"
#include "../kselftest_harness.h"

#define SHARED_NSID	2
#define QSIZE		16
#define NBUF		VF_PAIR_NBUF
#define DRIVER		"nvme_vfio_pci"

#define S_ERROR		VFIO_DEVICE_STATE_ERROR
#define S_STOP		VFIO_DEVICE_STATE_STOP
#define S_RUNNING	VFIO_DEVICE_STATE_RUNNING
#define S_STOP_COPY	VFIO_DEVICE_STATE_STOP_COPY
#define S_RESUMING	VFIO_DEVICE_STATE_RESUMING
#define S_P2P		VFIO_DEVICE_STATE_RUNNING_P2P
#define S_PRE_COPY	VFIO_DEVICE_STATE_PRE_COPY
#define S_PRE_COPY_P2P	VFIO_DEVICE_STATE_PRE_COPY_P2P


FIXTURE(mig) {
	struct vf_pair p;
	int seen[64];
};

FIXTURE_SETUP(mig)
{
	int ret = vf_pair_open(&self->p, DRIVER, SHARED_NSID, QSIZE);

	if (ret == -ENODEV)
		SKIP(return, "needs two NVMe PFs with SR-IOV, VF 1 online");
	ASSERT_EQ(0, ret);
}

FIXTURE_TEARDOWN(mig)
{
	vf_pair_close(&self->p, false);
}


/* read back blocks [first, first + n) of generation gen through drv */
static int verify(struct nvme_drv *drv, struct vfio_dma *b, uint64_t first, int n,
		  uint32_t gen)
{
	uint8_t want[4096];

	for (int i = 0; i < n; i++) {
		int ret = nvme_drv_io_sync(drv, nvme_cmd_read, first + i, b->iova);

		if (ret)
			return ret;
		nvme_drv_pattern(want, first + i, gen);
		if (memcmp(want, b->va, sizeof(want)))
			return -EILSEQ;
	}
	return 0;
}

TEST_F(mig, every_arc)
{
	struct vfio_dev *d = &self->p.dev[0];
	/* the 15 arcs of STOP_COPY | P2P | PRE_COPY, walked as one path */
	static const enum vfio_device_mig_state path[] = {
		S_P2P, S_STOP, S_P2P, S_RUNNING, S_PRE_COPY, S_PRE_COPY_P2P,
		S_PRE_COPY, S_RUNNING, S_P2P, S_PRE_COPY_P2P, S_P2P, S_PRE_COPY_P2P,
		S_STOP_COPY, S_STOP, S_RESUMING,
	};
	uint8_t *stream = NULL;
	size_t len = 0;
	int fd;

	EXPECT_EQ(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY,
		  vfio_mig_flags(d));
	ASSERT_EQ(S_RUNNING, vfio_mig_get(d));
	for (unsigned int i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
		ASSERT_EQ(0, vfio_mig_set(d, path[i], &fd)) TH_LOG("arc to %d", path[i]);
		EXPECT_EQ(path[i], vfio_mig_get(d));
		/* a data fd exactly where a data session starts */
		if ((path[i] == S_PRE_COPY && path[i - 1] == S_RUNNING) ||
		    (path[i] == S_PRE_COPY_P2P && path[i - 1] == S_P2P) ||
		    path[i] == S_RESUMING) {
			EXPECT_LE(0, fd);
		} else {
			EXPECT_EQ(-1, fd);
		}
		/* the driver holds its own reference until the session ends */
		if (fd >= 0)
			close(fd);
	}
	/* an empty stream cannot be applied; the device stays RESUMING */
	EXPECT_EQ(-EINVAL, vfio_mig_set(d, S_STOP, NULL));
	EXPECT_EQ(S_RESUMING, vfio_mig_get(d));
	/* the core rejects what is not a state */
	EXPECT_EQ(-EINVAL, vfio_mig_set(d, S_ERROR, NULL));
	EXPECT_EQ(-EINVAL, vfio_mig_set(d, 8, NULL));
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_RESET));
	EXPECT_EQ(S_RUNNING, vfio_mig_get(d));
	/* multi-arc requests: the core splits them into the arcs above */
	ASSERT_EQ(0, vfio_mig_save(d, &stream, &len));
	EXPECT_EQ(S_STOP, vfio_mig_get(d));
	EXPECT_EQ(0, vfio_mig_set(d, S_RUNNING, NULL));
	free(stream);
}

/* save and resume on the same VF: the queues carry on */
TEST_F(mig, loopback)
{
	struct vfio_dev *d = &self->p.dev[0];
	uint8_t *stream;
	size_t len;

	for (int i = 0; i < 4; i++) {
		nvme_drv_pattern(self->p.buf[i].va, 10 + i, 1);
		ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 10 + i, self->p.buf[i].iova));
	}
	ASSERT_EQ(0, vfio_mig_save(d, &stream, &len));
	ASSERT_EQ(0, vfio_mig_load(d, stream, len, 100));
	free(stream);
	EXPECT_EQ(S_RUNNING, vfio_mig_get(d));
	EXPECT_EQ(0, verify(&self->p.drv, &self->p.buf[NBUF - 1], 10, 4, 1));
}

/*
 * Live migration, the sequence QEMU uses: PRE_COPY with the header early,
 * PRE_COPY_P2P, STOP_COPY; the destination goes STOP -> RESUMING -> RUNNING.
 * Writes are in flight at the switch and more are queued while stopped.
 */
TEST_F(mig, live_migration_between_pfs)
{
	struct vfio_dev *src = &self->p.dev[0], *dst = &self->p.dev[1];
	uint64_t initial, dirty, size_running, size_stopped;
	uint8_t *stream = NULL;
	size_t len = 0, early;
	struct nvme_cqe cqe;
	int sfd, dfd, done = 0;

	for (int i = 0; i < 8; i++) {
		nvme_drv_pattern(self->p.buf[i].va, 20 + i, 2);
		ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 20 + i, self->p.buf[i].iova));
	}
	ASSERT_EQ(0, vfio_mig_data_size(src, &size_running));

	ASSERT_EQ(0, vfio_mig_set(src, S_PRE_COPY, &sfd));
	ASSERT_EQ(0, vfio_mig_precopy_info(sfd, &initial, &dirty));
	EXPECT_LT(0, initial);
	EXPECT_EQ(0, dirty);
	ASSERT_LT(0, vfio_mig_read_all(sfd, &stream, &len));
	early = len;
	EXPECT_EQ(initial, early);
	EXPECT_EQ(-ENOMSG, vfio_mig_read_all(sfd, &stream, &len));
	ASSERT_EQ(0, vfio_mig_precopy_info(sfd, &initial, &dirty));
	EXPECT_EQ(0, initial);

	/* the destination checks the header before anything else arrives */
	ASSERT_EQ(0, vfio_mig_set(dst, S_RESUMING, &dfd));
	ASSERT_EQ(0, vfio_mig_write_all(dfd, stream, early, 7));

	/* the guest keeps writing while the header travels */
	for (int i = 8; i < 12; i++) {
		nvme_drv_pattern(self->p.buf[i].va, 20 + i, 2);
		ASSERT_EQ(0, nvme_drv_io(&self->p.drv, nvme_cmd_write, 20 + i, self->p.buf[i].iova, true));
	}
	ASSERT_EQ(0, vfio_mig_set(src, S_PRE_COPY_P2P, NULL));
	ASSERT_EQ(0, vfio_mig_data_size(src, &size_stopped));
	for (int i = 12; i < 14; i++) {		/* queued while suspended */
		nvme_drv_pattern(self->p.buf[i].va, 20 + i, 2);
		ASSERT_EQ(0, nvme_drv_io(&self->p.drv, nvme_cmd_write, 20 + i, self->p.buf[i].iova, true));
	}
	ASSERT_EQ(0, vfio_mig_set(src, S_STOP_COPY, NULL));
	ASSERT_LT(0, vfio_mig_read_all(sfd, &stream, &len));
	close(sfd);
	EXPECT_EQ(size_stopped, len);
	EXPECT_LE(size_stopped, size_running);
	TH_LOG("stream %zu bytes (%zu in PRE_COPY); estimate while running %llu",
	       len, early, (unsigned long long)size_running);

	ASSERT_EQ(0, vfio_mig_write_all(dfd, stream + early, len - early, 1000));
	close(dfd);
	/* what QEMU restores with config space */
	ASSERT_EQ(0, vfio_pci_enable_dma(dst));
	ASSERT_EQ(0, vfio_mig_set(dst, S_RUNNING, NULL));
	ASSERT_EQ(0, vfio_mig_set(src, S_STOP, NULL));
	ASSERT_EQ(0, nvme_drv_switch(&self->p.drv, dst));
	free(stream);

	/* every command completes exactly once */
	while (!nvme_drv_reap(&self->p.drv, 1, &cqe, 2000)) {
		EXPECT_EQ(0, cqe.status >> 1);
		ASSERT_LE(28, cqe.cid);
		ASSERT_GT(34, cqe.cid);
		self->seen[cqe.cid - 20]++;
		done++;
	}
	EXPECT_EQ(6, done);
	for (int i = 8; i < 14; i++)
		EXPECT_EQ(1, self->seen[i]);
	EXPECT_EQ(0, verify(&self->p.drv, &self->p.buf[NBUF - 1], 20, 14, 2));
	/* and new I/O works on the destination */
	nvme_drv_pattern(self->p.buf[0].va, 40, 3);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 40, self->p.buf[0].iova));
	EXPECT_EQ(0, verify(&self->p.drv, &self->p.buf[NBUF - 1], 40, 1, 3));
}

/* a migration abandoned after STOP_COPY: the source runs on */
TEST_F(mig, stop_copy_back_to_running)
{
	struct vfio_dev *src = &self->p.dev[0];
	uint8_t *stream;
	size_t len;

	nvme_drv_pattern(self->p.buf[0].va, 50, 4);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 50, self->p.buf[0].iova));
	ASSERT_EQ(0, vfio_mig_save(src, &stream, &len));
	free(stream);
	ASSERT_EQ(0, vfio_mig_set(src, S_RUNNING, NULL));
	EXPECT_EQ(0, verify(&self->p.drv, &self->p.buf[NBUF - 1], 50, 1, 4));
}

/* a reset in PRE_COPY: RUNNING again, the data fd is dead, the device works */
TEST_F(mig, reset_during_precopy)
{
	struct vfio_dev *src = &self->p.dev[0];
	uint8_t b[64];
	int fd;

	ASSERT_EQ(0, vfio_mig_set(src, S_PRE_COPY, &fd));
	ASSERT_EQ(0, vfio_mig_set(src, S_PRE_COPY_P2P, NULL));
	ASSERT_EQ(0, ioctl(src->fd, VFIO_DEVICE_RESET));
	EXPECT_EQ(S_RUNNING, vfio_mig_get(src));
	EXPECT_EQ(-1, read(fd, b, sizeof(b)));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
	/* the reset also reset the controller: bring it up again */
	nvme_drv_fini(&self->p.drv);
	ASSERT_EQ(0, nvme_drv_init(&self->p.drv, src, SHARED_NSID));
	ASSERT_EQ(0, nvme_drv_create_ioq(&self->p.drv, 1, QSIZE));
	nvme_drv_pattern(self->p.buf[0].va, 60, 5);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 60, self->p.buf[0].iova));
	EXPECT_EQ(0, verify(&self->p.drv, &self->p.buf[NBUF - 1], 60, 1, 5));
}

/* corrupt or truncated streams are refused; the destination is untouched */
TEST_F(mig, bad_stream_is_rejected)
{
	struct vfio_dev *src = &self->p.dev[0], *dst = &self->p.dev[1];
	uint8_t *stream, *bad;
	size_t len;
	int fd;

	nvme_drv_pattern(self->p.buf[0].va, 70, 6);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 70, self->p.buf[0].iova));
	ASSERT_EQ(0, vfio_mig_save(src, &stream, &len));
	bad = malloc(len);
	ASSERT_NE(NULL, bad);

	/* wrong magic (with a CRC to match): refused as soon as the header is complete */
	memcpy(bad, stream, len);
	bad[16] ^= 0xff;
	mig_stream_seal(bad, len, 0);
	ASSERT_EQ(0, vfio_mig_set(dst, S_RESUMING, &fd));
	EXPECT_EQ(-EINVAL, vfio_mig_write_all(fd, bad, len, len));
	close(fd);
	EXPECT_EQ(-EINVAL, vfio_mig_set(dst, S_STOP, NULL));
	ASSERT_EQ(0, ioctl(dst->fd, VFIO_DEVICE_RESET));

	/* the same byte changed in transit: the header record's CRC says so */
	memcpy(bad, stream, len);
	bad[16] ^= 0xff;
	ASSERT_EQ(0, vfio_mig_set(dst, S_RESUMING, &fd));
	EXPECT_EQ(-EBADMSG, vfio_mig_write_all(fd, bad, len, len));
	close(fd);
	ASSERT_EQ(0, ioctl(dst->fd, VFIO_DEVICE_RESET));

	/* a record length past any limit */
	memcpy(bad, stream, len);
	bad[8] = 0xff;
	bad[13] = 0x7f;
	ASSERT_EQ(0, vfio_mig_set(dst, S_RESUMING, &fd));
	EXPECT_EQ(-EINVAL, vfio_mig_write_all(fd, bad, len, len));
	close(fd);
	ASSERT_EQ(0, ioctl(dst->fd, VFIO_DEVICE_RESET));

	/* truncated: no END record, so RESUMING -> STOP fails */
	ASSERT_EQ(0, vfio_mig_set(dst, S_RESUMING, &fd));
	EXPECT_EQ(0, vfio_mig_write_all(fd, stream, len - 16, 64));
	close(fd);
	EXPECT_EQ(-EINVAL, vfio_mig_set(dst, S_STOP, NULL));
	EXPECT_EQ(S_RESUMING, vfio_mig_get(dst));
	ASSERT_EQ(0, ioctl(dst->fd, VFIO_DEVICE_RESET));
	EXPECT_EQ(S_RUNNING, vfio_mig_get(dst));

	/* the real stream still applies, and the source resumes unharmed */
	ASSERT_EQ(0, vfio_pci_enable_dma(dst));
	ASSERT_EQ(0, vfio_mig_load(dst, stream, len, 4096));
	/* only one of the two may run the queues: this time the source */
	ASSERT_EQ(0, ioctl(dst->fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, vfio_mig_set(src, S_RUNNING, NULL));
	EXPECT_EQ(0, verify(&self->p.drv, &self->p.buf[NBUF - 1], 70, 1, 6));
	free(bad);
	free(stream);
}

/*
 * A VF's resources can change while it stays bound (Virtualization
 * Management while its controller is offline): VF 3 of the destination
 * drive is bound while offline with none, then given 2 queue and 1
 * interrupt resources and brought online.  It must then take the source's
 * stream: the driver looks at the VF when the data file is made, not at
 * probe.
 */
TEST_F(mig, resources_given_after_bind_are_seen)
{
	struct nvme_pf *pf = &self->p.pf[1];
	struct nvme_secondary_ctrl sc;
	struct vfio_dev d3 = { .fd = -1 };
	uint8_t *stream;
	size_t len;
	char bdf[BDF_LEN];

	ASSERT_EQ(0, nvme_pf_sec_ctrl(pf, 3, &sc));
	if (sc.scs & 1)
		SKIP(return, "VF 3 of %s is online: the rig keeps it offline", pf->bdf);
	ASSERT_EQ(0, nvme_pf_vf_bdf(pf, 3, bdf));
	ASSERT_EQ(0, pci_bind(bdf, DRIVER));
	ASSERT_EQ(0, nvme_pf_vf_online(pf, 3, 2, 1));
	ASSERT_EQ(0, vfio_dev_open_in(&self->p.ctr, bdf, &d3));

	ASSERT_EQ(0, vfio_mig_save(&self->p.dev[0], &stream, &len));
	EXPECT_EQ(0, vfio_mig_load(&d3, stream, len, 4096));
	free(stream);
	/* only one of the two may run the queues: the source */
	EXPECT_EQ(0, ioctl(d3.fd, VFIO_DEVICE_RESET));
	EXPECT_EQ(0, vfio_mig_set(&self->p.dev[0], S_RUNNING, NULL));
	EXPECT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 0, self->p.buf[0].iova));

	/* back as the rig prepared it: offline, no resources */
	vfio_dev_close(&d3);
	pci_unbind(bdf);
	ASSERT_EQ(0, nvme_pf_vf_offline(pf, 3));
	ASSERT_EQ(0, nvme_pf_virt_mgmt(pf, NVME_VIRT_MGMT_ACT_ASSIGN_SEC_CTRL,
				       NVME_VIRT_MGMT_RT_VQ_RESOURCE, le16toh(sc.scid), 0));
	ASSERT_EQ(0, nvme_pf_virt_mgmt(pf, NVME_VIRT_MGMT_ACT_ASSIGN_SEC_CTRL,
				       NVME_VIRT_MGMT_RT_VI_RESOURCE, le16toh(sc.scid), 0));
}

/*
 * PRE_COPY_P2P -> STOP_COPY fails on the PF's Get Controller State (the
 * first, which also gives the size): the device stays in PRE_COPY_P2P, the data
 * file gives nothing new (no byte the device did not write), and the arc
 * tried again gives a stream the destination takes.  If the PF fails with
 * an unknown status, the device goes to ERROR and the file is dead.
 */
TEST_F(mig, failed_stop_copy_leaks_nothing_and_retries)
{
	struct vfio_dev *src = &self->p.dev[0], *dst = &self->p.dev[1];
	struct nvme_pf *pf = &self->p.pf[0];
	uint8_t *stream = NULL, b[64];
	size_t len = 0;
	int fd;

	nvme_drv_pattern(self->p.buf[0].va, 80, 2);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 80, self->p.buf[0].iova));
	ASSERT_EQ(0, vfio_mig_set(src, S_PRE_COPY, &fd));
	ASSERT_LT(0, vfio_mig_read_all(fd, &stream, &len));
	ASSERT_EQ(0, vfio_mig_set(src, S_PRE_COPY_P2P, NULL));
	ASSERT_EQ(0, lm_fault_after(pf, LM_OPC_MIG_RECV, 0xff, LM_FAULT_STATUS,
				    LM_SC_INVALID_FIELD, 1, 0));
	EXPECT_EQ(-EINVAL, vfio_mig_set(src, S_STOP_COPY, NULL));
	EXPECT_EQ(S_PRE_COPY_P2P, vfio_mig_get(src));
	EXPECT_EQ(-1, read(fd, b, sizeof(b)));
	EXPECT_EQ(ENOMSG, errno);

	ASSERT_EQ(0, vfio_mig_set(src, S_STOP_COPY, NULL));
	ASSERT_LT(0, vfio_mig_read_all(fd, &stream, &len));
	close(fd);
	ASSERT_EQ(0, vfio_mig_set(src, S_STOP, NULL));
	ASSERT_EQ(0, vfio_pci_enable_dma(dst));
	EXPECT_EQ(0, vfio_mig_load(dst, stream, len, 4096));
	free(stream);
	ASSERT_EQ(0, ioctl(dst->fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, vfio_mig_set(src, S_RUNNING, NULL));
	EXPECT_EQ(0, verify(&self->p.drv, &self->p.buf[NBUF - 1], 80, 1, 2));

	/* an unknown failure: ERROR, and the file gives nothing at all */
	ASSERT_EQ(0, vfio_mig_set(src, S_PRE_COPY, &fd));
	ASSERT_EQ(0, vfio_mig_set(src, S_PRE_COPY_P2P, NULL));
	ASSERT_EQ(0, lm_fault_after(pf, LM_OPC_MIG_RECV, 0xff, LM_FAULT_STATUS,
				    LM_SC_INTERNAL, 1, 0));
	EXPECT_EQ(-EIO, vfio_mig_set(src, S_STOP_COPY, NULL));
	EXPECT_EQ(S_ERROR, vfio_mig_get(src));
	EXPECT_EQ(-1, read(fd, b, sizeof(b)));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
	ASSERT_EQ(0, ioctl(src->fd, VFIO_DEVICE_RESET));
	EXPECT_EQ(S_RUNNING, vfio_mig_get(src));
}

/* a vendor state this much larger than the rig's drives make: several pieces */
#define BIG_PAD		(96 * 1024)

/*
 * A PF may list a newer state format first and the source's second: the
 * destination takes any format its PF lists, not only its first.
 */
TEST_F(mig, state_format_listed_second_loads)
{
	struct vfio_dev *src = &self->p.dev[0], *dst = &self->p.dev[1];
	uint8_t *stream = NULL;
	size_t len = 0;
	int ret;

	nvme_drv_pattern(self->p.buf[0].va, 90, 4);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 90, self->p.buf[0].iova));
	ASSERT_EQ(0, lm_fault(&self->p.pf[1], 0, 0xff, LM_FAULT_FMTS, 1, 0));
	ASSERT_EQ(0, vfio_mig_save(src, &stream, &len));
	ASSERT_EQ(0, vfio_pci_enable_dma(dst));
	ret = vfio_mig_load(dst, stream, len, 4096);
	ASSERT_EQ(0, lm_fault(&self->p.pf[1], 0, 0xff, LM_FAULT_FMTS, 0, 0));
	EXPECT_EQ(0, ret);
	free(stream);
	ASSERT_EQ(0, ioctl(dst->fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, vfio_mig_set(src, S_RUNNING, NULL));
	EXPECT_EQ(0, verify(&self->p.drv, &self->p.buf[NBUF - 1], 90, 1, 4));
}

/*
 * Drive 1's MDTS is 32 KiB: a state of more than 96 KiB goes to a VF of
 * it, and back, in pieces each command can carry; the controller then
 * runs on with its queues.
 */
TEST_F(mig, large_state_moves_within_mdts)
{
	struct vfio_dev *src = &self->p.dev[0], *dst = &self->p.dev[1];
	uint8_t *stream = NULL, *back = NULL;
	size_t len = 0, blen = 0;
	int ret;

	nvme_drv_pattern(self->p.buf[0].va, 91, 5);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 91, self->p.buf[0].iova));
	ASSERT_EQ(0, lm_fault(&self->p.pf[0], 0, 0xff, LM_FAULT_VS_PAD, BIG_PAD, 0));
	ASSERT_EQ(0, lm_fault(&self->p.pf[1], 0, 0xff, LM_FAULT_VS_PAD, BIG_PAD, 0));
	ret = vfio_mig_save(src, &stream, &len);
	EXPECT_EQ(0, ret);
	EXPECT_LT(BIG_PAD, len);
	ASSERT_EQ(0, vfio_pci_enable_dma(dst));
	if (!ret)
		ret = vfio_mig_load(dst, stream, len, 65536);
	EXPECT_EQ(0, ret) TH_LOG("to drive 1: %s", strerror(-ret));
	/* and back: read from drive 1 in pieces, loaded where it came from */
	if (!ret)
		ret = vfio_mig_save(dst, &back, &blen);
	EXPECT_EQ(0, ret) TH_LOG("from drive 1: %s", strerror(-ret));
	if (!ret)
		ret = vfio_mig_load(src, back, blen, 65536);
	EXPECT_EQ(0, ret) TH_LOG("back to drive 0: %s", strerror(-ret));
	ASSERT_EQ(0, lm_fault(&self->p.pf[0], 0, 0xff, LM_FAULT_VS_PAD, 0, 0));
	ASSERT_EQ(0, lm_fault(&self->p.pf[1], 0, 0xff, LM_FAULT_VS_PAD, 0, 0));
	free(stream);
	free(back);
	ASSERT_EQ(0, ioctl(dst->fd, VFIO_DEVICE_RESET));
	if (vfio_mig_get(src) != S_RUNNING)
		ASSERT_EQ(0, vfio_mig_set(src, S_RUNNING, NULL));
	EXPECT_EQ(0, verify(&self->p.drv, &self->p.buf[NBUF - 1], 91, 1, 5));
}

/*
 * A Set Controller State piece refused after the PF took earlier pieces
 * leaves the PF holding part of a state: ERROR, not "nothing happened".
 */
TEST_F(mig, state_piece_refused_midway_means_error)
{
	struct vfio_dev *src = &self->p.dev[0], *dst = &self->p.dev[1];
	uint8_t *stream = NULL;
	size_t len = 0;
	int ret;

	ASSERT_EQ(0, lm_fault(&self->p.pf[0], 0, 0xff, LM_FAULT_VS_PAD, BIG_PAD, 0));
	ret = vfio_mig_save(src, &stream, &len);
	ASSERT_EQ(0, lm_fault(&self->p.pf[0], 0, 0xff, LM_FAULT_VS_PAD, 0, 0));
	ASSERT_EQ(0, ret);
	/* Set Controller State (select 2): the second piece is refused */
	ASSERT_EQ(0, lm_fault_after(&self->p.pf[1], LM_OPC_MIG_SEND, 2, LM_FAULT_STATUS,
				    LM_SC_INVALID_FIELD, 1, 1));
	ret = vfio_mig_load(dst, stream, len, 65536);
	lm_fault(&self->p.pf[1], LM_OPC_MIG_SEND, 0xff, LM_FAULT_CLEAR, 0, 0);
	EXPECT_EQ(-EINVAL, ret);
	EXPECT_EQ(S_ERROR, vfio_mig_get(dst));
	free(stream);
	ASSERT_EQ(0, ioctl(dst->fd, VFIO_DEVICE_RESET));
	EXPECT_EQ(S_RUNNING, vfio_mig_get(dst));
	ASSERT_EQ(0, vfio_mig_set(src, S_RUNNING, NULL));
}

/* poll()'s events for the data fd, now */
static short data_fd_events(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) < 0 ? -1 : p.revents;
}

/*
 * The uAPI tells a VMM to poll the PRE_COPY data fd for more data: it is
 * readable while bytes are unread, not once the pre-copy data is drained
 * (a poll/read loop would spin on ENOMSG), readable again when STOP_COPY
 * appends the state, and in error once the file is disabled.
 */
TEST_F(mig, saving_file_polls_readable_only_with_data)
{
	struct vfio_dev *src = &self->p.dev[0];
	uint8_t *stream = NULL;
	size_t len = 0;
	int fd;

	ASSERT_EQ(0, vfio_mig_set(src, S_PRE_COPY, &fd));
	EXPECT_EQ(POLLIN, data_fd_events(fd));
	ASSERT_LT(0, vfio_mig_read_all(fd, &stream, &len));
	EXPECT_EQ(0, data_fd_events(fd));
	ASSERT_EQ(0, vfio_mig_set(src, S_STOP_COPY, NULL));
	EXPECT_EQ(POLLIN, data_fd_events(fd));
	ASSERT_LT(0, vfio_mig_read_all(fd, &stream, &len));
	EXPECT_EQ(POLLIN, data_fd_events(fd));		/* the end: read() gives 0 */
	ASSERT_EQ(0, vfio_mig_set(src, S_STOP, NULL));
	EXPECT_EQ(POLLERR | POLLHUP, data_fd_events(fd));
	close(fd);
	free(stream);
	ASSERT_EQ(0, vfio_mig_set(src, S_RUNNING, NULL));
}

/*
 * A PF that says "suspended" only in the state header's CSATTR bit, not in
 * completion dword 0 (sources disagree; some implementations do): the
 * state is taken, and the destination loads it.
 */
TEST_F(mig, suspended_in_state_header_only)
{
	struct vfio_dev *src = &self->p.dev[0], *dst = &self->p.dev[1];
	uint8_t *stream = NULL;
	size_t len = 0;

	ASSERT_EQ(0, lm_fault(&self->p.pf[0], LM_OPC_MIG_RECV, 0xff, LM_FAULT_NO_CSUP, 0, 64));
	EXPECT_EQ(0, vfio_mig_save(src, &stream, &len));
	ASSERT_EQ(0, lm_fault(&self->p.pf[0], LM_OPC_MIG_RECV, 0xff, LM_FAULT_CLEAR, 0, 0));
	if (!len)
		return;
	ASSERT_EQ(0, vfio_pci_enable_dma(dst));
	EXPECT_EQ(0, vfio_mig_load(dst, stream, len, 4096));
	free(stream);
	ASSERT_EQ(0, ioctl(dst->fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, ioctl(src->fd, VFIO_DEVICE_RESET));
}

/* a Suspend the PF fails for an unknown reason leaves ERROR, and reset recovers */
TEST_F(mig, pf_failure_means_error_state)
{
	struct vfio_dev *src = &self->p.dev[0];

	ASSERT_EQ(0, lm_fault(&self->p.pf[0], LM_OPC_MIG_SEND, 0, 1, LM_SC_INTERNAL, 1));
	EXPECT_EQ(-EIO, vfio_mig_set(src, S_P2P, NULL));
	EXPECT_EQ(S_ERROR, vfio_mig_get(src));
	EXPECT_EQ(-EINVAL, vfio_mig_set(src, S_RUNNING, NULL));
	ASSERT_EQ(0, ioctl(src->fd, VFIO_DEVICE_RESET));
	EXPECT_EQ(S_RUNNING, vfio_mig_get(src));
	ASSERT_EQ(0, vfio_mig_set(src, S_P2P, NULL));
	ASSERT_EQ(0, vfio_mig_set(src, S_RUNNING, NULL));
}

#define KMEMLEAK	"/sys/kernel/debug/kmemleak"

/* 1 if kmemleak reports an object allocated by nvme-vfio-pci or the PF helpers */
static int kmemleak_ours(void)
{
	char line[512];
	int found = 0;
	FILE *f;

	/* an object is reported once two scans saw it unreferenced, unchanged */
	if (sysfs_write(KMEMLEAK, "scan") || sysfs_write(KMEMLEAK, "scan"))
		return -EIO;
	f = fopen(KMEMLEAK, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "nvmevf_") || strstr(line, "nvme_lm_"))
			found = 1;
		if (strstr(line, "unreferenced object") || strstr(line, "backtrace") ||
		    strstr(line, "nvme"))
			printf("# %s", line);
	}
	fclose(f);
	return found;
}

/*
 * Closing the VFIO device in the middle of a migration (a VMM that dies):
 * with a saving file half read in PRE_COPY and in STOP_COPY, a resuming
 * file half written, and the LBA change log on while suspended.  Each
 * time the data file then fails, the device opens again in RUNNING and
 * works, and (where the kernel has kmemleak) nothing of ours leaked.
 */
/* two kmemleak scans can outlast the harness's default 30 s on the debug kernel */
TEST_F_TIMEOUT(mig, close_mid_migration_leaks_nothing, 180)
{
	static const char *const what[] = {
		"PRE_COPY", "STOP_COPY", "RESUMING", "RUNNING_P2P with the LBA log",
	};
	bool leakcheck = !access(KMEMLEAK, R_OK);
	uint8_t *stream = NULL;
	size_t len = 0;
	char b[64];

	if (leakcheck)
		ASSERT_EQ(0, sysfs_write(KMEMLEAK, "clear"));
	ASSERT_EQ(0, vfio_mig_save(&self->p.dev[0], &stream, &len));
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], S_RUNNING, NULL));
	nvme_drv_fini(&self->p.drv);
	for (int i = 0; i < 4; i++) {
		struct vfio_dev *d = &self->p.dev[i == 2];
		int fd = -1, log = -1;

		switch (i) {
		case 0:
			ASSERT_EQ(0, vfio_mig_set(d, S_PRE_COPY, &fd));
			ASSERT_LT(0, read(fd, b, 8));
			break;
		case 1:
			ASSERT_EQ(0, vfio_mig_set(d, S_STOP_COPY, &fd));
			ASSERT_LT(0, read(fd, b, 8));
			break;
		case 2:
			ASSERT_EQ(0, vfio_mig_set(d, S_RESUMING, &fd));
			ASSERT_EQ(0, vfio_mig_write_all(fd, stream, len / 2, len / 2));
			break;
		case 3:
			/* the log is the host administrator's, on the PF (VF 1 is virtfn0) */
			log = lm_log_open(self->p.pf[0].fd, 0, 0, 64, 0);
			ASSERT_LE(0, log);
			ASSERT_EQ(0, vfio_mig_set(d, S_P2P, NULL));
			break;
		}
		vfio_dev_close(d);
		if (fd >= 0) {
			EXPECT_EQ(-1, read(fd, b, sizeof(b))) TH_LOG("%s", what[i]);
			EXPECT_EQ(-1, write(fd, stream, len));
			close(fd);
		}
		if (log >= 0) {
			struct nvme_lm_log_rec rec[8];
			int n;

			/* it outlives the VFIO device, without an error */
			ASSERT_EQ(0, lm_log_nonblock(log, true));
			while ((n = lm_log_read(log, rec, 8)) > 0)
				;
			EXPECT_EQ(-EAGAIN, n) TH_LOG("the log after the VF closed: %s",
						     strerror(-n));
			close(log);
		}
		ASSERT_EQ(0, vfio_dev_reopen(&self->p.ctr, d));
		EXPECT_EQ(S_RUNNING, vfio_mig_get(d)) TH_LOG("after closing in %s", what[i]);
	}
	free(stream);
	ASSERT_EQ(0, nvme_drv_init(&self->p.drv, &self->p.dev[0], SHARED_NSID));
	ASSERT_EQ(0, nvme_drv_create_ioq(&self->p.drv, 1, QSIZE));
	nvme_drv_pattern(self->p.buf[0].va, 90, 1);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 90, self->p.buf[0].iova));
	EXPECT_EQ(0, verify(&self->p.drv, &self->p.buf[NBUF - 1], 90, 1, 1));
	if (!leakcheck) {
		TH_LOG("no kmemleak on this kernel: leaks not checked");
		return;
	}
	sleep(6);	/* kmemleak ignores objects younger than 5 s */
	EXPECT_EQ(0, kmemleak_ours());
}

static bool bit_set(const uint64_t *bm, uint64_t bit)
{
	return bm[bit / 64] & (1ULL << (bit % 64));
}

/*
 * DMA logging over two ranges (the data buffers, the I/O CQ): reads make
 * the device write the even buffers, writes only read the odd ones; every
 * written page is reported, in several rounds, and a report clears it.
 * Needs iova_bitmap (CONFIG_IOMMUFD_DRIVER): the debug kernel, not Debian's.
 */
TEST_F(mig, dma_logging_reports_device_writes)
{
	struct vfio_dev *d = &self->p.dev[0];
	uint64_t base = self->p.buf[0].iova;
	uint64_t span = self->p.buf[NBUF - 1].iova + 4096 - base;
	uint64_t cq = self->p.drv.cq[1].mem.iova;
	uint64_t ranges[2][2] = { { base, span }, { cq, 4096 } };
	uint64_t pgsize = 4096, npages = span / 4096, cqbm = 0;
	uint64_t *bm = calloc((npages + 63) / 64, 8);

	ASSERT_NE(NULL, bm);
	if (vfio_dma_log_probe(d))
		SKIP(return, "no DMA logging on this kernel");
	ASSERT_EQ(0, vfio_dma_log_start(d, ranges, 2, &pgsize));
	EXPECT_EQ(4096, pgsize);
	EXPECT_EQ(-EBUSY, vfio_dma_log_start(d, ranges, 2, &pgsize));

	for (int round = 0; round < 3; round++) {
		int extra = 0;

		/* reads into the buffers of this round's parity, writes from the rest */
		for (int i = 0; i < NBUF; i++)
			ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, (i + round) % 2 ?
						      nvme_cmd_write : nvme_cmd_read,
						      80 + i, self->p.buf[i].iova));
		memset(bm, 0, (npages + 63) / 64 * 8);
		ASSERT_EQ(0, vfio_dma_log_report(d, base, span, 4096, bm));
		for (int i = 0; i < NBUF; i++) {
			uint64_t bit = (self->p.buf[i].iova - base) / 4096;

			EXPECT_EQ(!((i + round) % 2), bit_set(bm, bit))
				TH_LOG("round %d buffer %d", round, i);
		}
		for (uint64_t bit = 0; bit < npages; bit++)
			extra += bit_set(bm, bit);
		extra -= NBUF / 2;
		EXPECT_EQ(0, extra);
		/* the completion queue was written too */
		ASSERT_EQ(0, vfio_dma_log_report(d, cq, 4096, 4096, &cqbm));
		EXPECT_EQ(1, cqbm & 1);
		cqbm = 0;
		/* reported means cleared */
		memset(bm, 0, (npages + 63) / 64 * 8);
		ASSERT_EQ(0, vfio_dma_log_report(d, base, span, 4096, bm));
		for (uint64_t bit = 0; bit < npages; bit++)
			EXPECT_FALSE(bit_set(bm, bit));
	}
	/* logging survives PRE_COPY */
	int fd;

	ASSERT_EQ(0, vfio_mig_set(d, S_PRE_COPY, &fd));
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 80, self->p.buf[0].iova));
	memset(bm, 0, (npages + 63) / 64 * 8);
	ASSERT_EQ(0, vfio_dma_log_report(d, base, span, 4096, bm));
	EXPECT_TRUE(bit_set(bm, 0));
	ASSERT_EQ(0, vfio_mig_set(d, S_RUNNING, NULL));
	close(fd);
	ASSERT_EQ(0, vfio_dma_log_stop(d));
	EXPECT_NE(0, vfio_dma_log_report(d, base, span, 4096, bm));
	free(bm);
}

/*
 * QEMU reports each memory section on its own: reporting one page of a
 * range must not lose the device writes to the pages around it.
 */
TEST_F(mig, dma_logging_page_by_page_reports)
{
	struct vfio_dev *d = &self->p.dev[0];
	uint64_t base = self->p.buf[0].iova;
	uint64_t span = self->p.buf[NBUF - 1].iova + 4096 - base;
	uint64_t ranges[1][2] = { { base, span } };
	uint64_t pgsize = 4096, bm;

	if (vfio_dma_log_probe(d))
		SKIP(return, "no DMA logging on this kernel");
	ASSERT_EQ(0, vfio_dma_log_start(d, ranges, 1, &pgsize));
	for (int round = 0; round < 2; round++) {
		/* the device writes every buffer */
		for (int i = 0; i < NBUF; i++)
			ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 80 + i,
						      self->p.buf[i].iova));
		/* one page at a time, first in one direction, then the other */
		for (int n = 0; n < NBUF; n++) {
			int i = round ? NBUF - 1 - n : n;

			bm = 0;
			ASSERT_EQ(0, vfio_dma_log_report(d, self->p.buf[i].iova, 4096, 4096, &bm));
			EXPECT_EQ(1, bm) TH_LOG("round %d buffer %d", round, i);
		}
		/* and each was reported once */
		for (int i = 0; i < NBUF; i++) {
			bm = 0;
			ASSERT_EQ(0, vfio_dma_log_report(d, self->p.buf[i].iova, 4096, 4096, &bm));
			EXPECT_EQ(0, bm) TH_LOG("round %d buffer %d reported twice", round, i);
		}
	}
	ASSERT_EQ(0, vfio_dma_log_stop(d));
}

/* DMA_LOGGING_REPORT of [iova, iova + len) in 4 KiB pages: the bitmap's first word */
static uint64_t report_word(struct __test_metadata *_metadata, struct vfio_dev *d,
			    uint64_t iova, uint64_t len)
{
	uint64_t bm = 0;

	EXPECT_EQ(0, vfio_dma_log_report(d, iova, len, 4096, &bm));
	return bm;
}

/*
 * The PF's granule is larger than the pages reported, and reports split it
 * (QEMU's memory sections do when one ends inside a granule): each part of
 * a dirty granule is reported once, whichever report covers it, and the
 * whole granule again once the device writes it again.  Granule 64 KiB
 * (the rig's PF tracks at 4 KiB to 2 MiB), reported in halves and
 * quarters of 4 KiB pages.  Debug kernel only, as above.
 */
TEST_F(mig, dma_logging_split_granule_reported_once)
{
	struct vfio_dev *d = &self->p.dev[0];
	const uint64_t G = 64 * 1024, H = G / 2, Q = G / 4;
	const uint64_t g = self->p.buf[0].iova & ~(G - 1);
	const uint64_t half = 0xff, quarter = 0xf;	/* 8 and 4 pages */
	uint64_t ranges[1][2] = { { g, G } };	/* START wants them page aligned */
	uint64_t pgsize = G;

	if (vfio_dma_log_probe(d))
		SKIP(return, "no DMA logging on this kernel");
	ASSERT_EQ(0, vfio_dma_log_start(d, ranges, 1, &pgsize));
	ASSERT_EQ(G, pgsize);

	/* the review's case: halves, twice, no device write in between */
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 80, self->p.buf[0].iova));
	EXPECT_EQ(half, report_word(_metadata, d, g, H));
	EXPECT_EQ(half, report_word(_metadata, d, g + H, H));
	EXPECT_EQ(0, report_word(_metadata, d, g, H)) TH_LOG("first half reported twice");
	EXPECT_EQ(0, report_word(_metadata, d, g + H, H)) TH_LOG("second half reported twice");

	/* written again: dirty again, whole; the half not yet reported stays */
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 80, self->p.buf[0].iova));
	EXPECT_EQ(half, report_word(_metadata, d, g + H, H));
	EXPECT_EQ(0, report_word(_metadata, d, g + H, H));
	EXPECT_EQ(half << 16, report_word(_metadata, d, g - G, 2 * G));
	EXPECT_EQ(0, report_word(_metadata, d, g, G));

	/* a report inside the granule leaves a part on each side */
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 80, self->p.buf[0].iova));
	EXPECT_EQ(half, report_word(_metadata, d, g + Q, H));
	EXPECT_EQ(quarter, report_word(_metadata, d, g, Q));
	EXPECT_EQ(quarter << 12, report_word(_metadata, d, g, G));
	EXPECT_EQ(0, report_word(_metadata, d, g, G));

	/* STOP drops what was not reported; a new START begins clean */
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 80, self->p.buf[0].iova));
	EXPECT_EQ(half, report_word(_metadata, d, g, H));
	ASSERT_EQ(0, vfio_dma_log_stop(d));
	ASSERT_EQ(0, vfio_dma_log_start(d, ranges, 1, &pgsize));
	EXPECT_EQ(0, report_word(_metadata, d, g, G));
	ASSERT_EQ(0, vfio_dma_log_stop(d));
}

/*
 * The PF fails a Track Send stop: DMA_LOGGING_STOP reports it, and the
 * next START works (the driver stops the PF's tracking again first)
 * instead of failing with EPROTO for good.  Debug kernel only, as above.
 */
TEST_F(mig, dma_logging_failed_stop_is_reported_and_start_recovers)
{
	struct vfio_dev *d = &self->p.dev[0];
	uint64_t ranges[1][2] = { { self->p.buf[0].iova, 4096 } };
	uint64_t pgsize = 4096;

	if (vfio_dma_log_probe(d))
		SKIP(return, "no DMA logging on this kernel");
	ASSERT_EQ(0, vfio_dma_log_start(d, ranges, 1, &pgsize));
	ASSERT_EQ(0, lm_fault(&self->p.pf[0], LM_OPC_TRACK_SEND, 1, 1, LM_SC_INTERNAL, 1));
	EXPECT_EQ(-EIO, vfio_dma_log_stop(d));
	EXPECT_EQ(0, vfio_dma_log_start(d, ranges, 1, &pgsize));
	EXPECT_EQ(0, vfio_dma_log_stop(d));
	/* the VF reset does not bring back a stuck state either */
	ASSERT_EQ(0, vfio_dma_log_start(d, ranges, 1, &pgsize));
	ASSERT_EQ(0, lm_fault(&self->p.pf[0], LM_OPC_TRACK_SEND, 1, 1, LM_SC_INTERNAL, 1));
	EXPECT_EQ(-EIO, vfio_dma_log_stop(d));
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_RESET));
	EXPECT_EQ(0, vfio_dma_log_start(d, ranges, 1, &pgsize));
	EXPECT_EQ(0, vfio_dma_log_stop(d));
}

#define TRACE_EV	"/sys/kernel/tracing/events/nvme_vfio_pci/nvmevf_lm_cmd/enable"

/*
 * The lines of the trace since it was cleared that contain @what, or
 * -errno; with @log, the command of each (what follows "cmd=") goes there.
 */
static int trace_lines(const char *what, char *log, size_t loglen)
{
	char line[512], *cmd;
	size_t used = 0;
	int n = 0;
	FILE *f = fopen("/sys/kernel/tracing/trace", "r");

	if (!f)
		return -errno;
	if (log)
		log[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, what))
			continue;
		n++;
		cmd = strstr(line, "cmd=");
		line[strcspn(line, "\n")] = '\0';
		if (log && cmd && used < loglen)
			used += snprintf(log + used, loglen - used, "%s; ", cmd);
	}
	fclose(f);
	return n;
}

/* nvmevf_lm_cmd events with "op=<op>" since the trace was cleared, or -errno */
static int trace_count(const char *op)
{
	char want[64];

	snprintf(want, sizeof(want), "op=%s ", op);
	return trace_lines(want, NULL, 0);
}

/*
 * A DMA_LOGGING_REPORT costs Track Receive commands on the PF's shared
 * admin queue only for the tracked memory it covers: one command for one
 * tracked page, whatever the report's size or where it lies, including a
 * range at the top of the IOVA space.  Debug kernel only, as above.
 */
TEST_F(mig, dma_logging_report_costs_only_tracked_memory)
{
	struct vfio_dev *d = &self->p.dev[0];
	uint64_t ranges[1][2] = { { self->p.buf[0].iova, 4096 } };
	uint64_t pgsize = 4096, big = 1ULL << 40;
	size_t bmlen = big / 4096 / 8;
	uint64_t *bm;
	int n;

	if (vfio_dma_log_probe(d))
		SKIP(return, "no DMA logging on this kernel");
	if (access(TRACE_EV, W_OK))
		SKIP(return, "no tracefs at /sys/kernel/tracing");
	/* 32 MiB of bitmap, touched only where a bit is set */
	bm = mmap(NULL, bmlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
		  MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, bm);
	ASSERT_EQ(0, vfio_dma_log_start(d, ranges, 1, &pgsize));
	ASSERT_EQ(0, sysfs_write(TRACE_EV, "1"));

	/* events are counted before and after each report */
	n = trace_count("memory changes");
	EXPECT_EQ(0, vfio_dma_log_report(d, 0, big, 4096, bm));
	EXPECT_GE(1, trace_count("memory changes") - n) TH_LOG("report of [0, 1 TiB)");
	n = trace_count("memory changes");
	EXPECT_EQ(0, vfio_dma_log_report(d, 0xfffffffff8000000ULL, 0x7fff000, 4096, bm));
	EXPECT_EQ(0, trace_count("memory changes") - n) TH_LOG("report at the top of the space");
	n = trace_count("memory changes");
	EXPECT_EQ(0, vfio_dma_log_report(d, self->p.buf[0].iova, 4096, 4096, bm));
	EXPECT_EQ(1, trace_count("memory changes") - n) TH_LOG("report of the tracked page");

	ASSERT_EQ(0, sysfs_write(TRACE_EV, "0"));
	EXPECT_EQ(0, vfio_dma_log_stop(d));
	munmap(bm, bmlen);
}

/*
 * A report reads the PF's bitmap in pieces as large as one admin command
 * carries, not 4 KiB at a time: 1 GiB tracked at 4 KiB is 32 KiB of
 * bitmap, one Track Receive on either of the rig's PFs (the smaller MDTS
 * is 32 KiB), where 4 KiB pieces cost eight.  What the device wrote in
 * the range is reported.  Debug kernel only, as above.
 */
TEST_F(mig, dma_logging_report_reads_whole_commands)
{
	struct vfio_dev *d = &self->p.dev[0];
	uint64_t gib = 1ULL << 30, pgsize = 4096;
	uint64_t base = self->p.buf[0].iova, last = self->p.buf[NBUF - 1].iova;
	uint64_t ranges[1][2] = { { base, gib } };
	size_t bmlen = gib / 4096 / 8;
	uint64_t *bm = calloc(1, bmlen);
	uint64_t bit;
	int n;

	ASSERT_NE(NULL, bm);
	if (vfio_dma_log_probe(d))
		SKIP(return, "no DMA logging on this kernel");
	if (access(TRACE_EV, W_OK))
		SKIP(return, "no tracefs at /sys/kernel/tracing");
	ASSERT_EQ(0, vfio_dma_log_start(d, ranges, 1, &pgsize));
	ASSERT_EQ(4096, pgsize);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 80, last));
	ASSERT_EQ(0, sysfs_write(TRACE_EV, "1"));
	n = trace_count("memory changes");
	EXPECT_EQ(0, vfio_dma_log_report(d, base, gib, 4096, bm));
	n = trace_count("memory changes") - n;
	EXPECT_EQ(1, n) TH_LOG("%d Track Receive commands for 32 KiB of bitmap", n);
	bit = (last - base) / 4096;
	EXPECT_TRUE(bit_set(bm, bit));
	ASSERT_EQ(0, sysfs_write(TRACE_EV, "0"));
	EXPECT_EQ(0, vfio_dma_log_stop(d));
	free(bm);
}

#define SETUP_EV	"/sys/kernel/tracing/events/nvme/nvme_setup_cmd"

/*
 * The downtime of a migration costs the PFs' shared admin queues four
 * commands, the minimum: Suspend, Get Controller State, Set Controller
 * State and Resume.  The state's size comes with the state (no separate
 * header read) and the destination uses the state formats it read when
 * its data file was opened (no Identify CNS 20h at load).  Counted with
 * the PFs' nvme:nvme_setup_cmd events on admin queues (qid 0) from the
 * source's PRE_COPY_P2P to the destination's RUNNING, QEMU's sequence.
 */
TEST_F(mig, downtime_costs_four_pf_admin_commands)
{
	struct vfio_dev *src = &self->p.dev[0], *dst = &self->p.dev[1];
	uint8_t *stream = NULL;
	size_t len = 0, early;
	char cmds[2048];
	int sfd, dfd, n;

	if (access(SETUP_EV "/enable", W_OK))
		SKIP(return, "no nvme:nvme_setup_cmd event in tracefs");
	ASSERT_EQ(0, vfio_mig_set(src, S_PRE_COPY, &sfd));
	ASSERT_LT(0, vfio_mig_read_all(sfd, &stream, &len));
	early = len;
	ASSERT_EQ(0, vfio_mig_set(dst, S_RESUMING, &dfd));
	ASSERT_EQ(0, vfio_mig_write_all(dfd, stream, early, 4096));

	ASSERT_EQ(0, sysfs_write(SETUP_EV "/filter", "qid == 0"));
	ASSERT_EQ(0, sysfs_write("/sys/kernel/tracing/trace", ""));
	ASSERT_EQ(0, sysfs_write(SETUP_EV "/enable", "1"));
	ASSERT_EQ(0, vfio_mig_set(src, S_PRE_COPY_P2P, NULL));
	ASSERT_EQ(0, vfio_mig_set(src, S_STOP_COPY, NULL));
	ASSERT_LT(0, vfio_mig_read_all(sfd, &stream, &len));
	ASSERT_EQ(0, vfio_mig_write_all(dfd, stream + early, len - early, 4096));
	close(dfd);
	ASSERT_EQ(0, vfio_pci_enable_dma(dst));
	ASSERT_EQ(0, vfio_mig_set(dst, S_RUNNING, NULL));
	ASSERT_EQ(0, sysfs_write(SETUP_EV "/enable", "0"));
	n = trace_lines("nvme_setup_cmd", cmds, sizeof(cmds));
	TH_LOG("%d PF admin commands in the downtime: %s", n, cmds);
	EXPECT_EQ(4, n);
	ASSERT_EQ(0, sysfs_write(SETUP_EV "/filter", "0"));
	close(sfd);
	free(stream);
	ASSERT_EQ(0, vfio_mig_set(src, S_STOP, NULL));
}

/* each operation on the PF is a trace event; debugfs shows the state */
TEST_F(mig, trace_and_debugfs)
{
	const char *ev = "/sys/kernel/tracing/events/nvme_vfio_pci/nvmevf_lm_cmd/enable";
	char path[256], buf[8192] = "";
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/kernel/debug/nvme-vfio-pci/%s/migration",
		 self->p.bdf[0]);
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], S_P2P, NULL));
	ASSERT_EQ(0, sysfs_read(path, buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "state: 5"));	/* RUNNING_P2P */
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], S_RUNNING, NULL));

	if (access(ev, W_OK))
		SKIP(return, "no tracefs at /sys/kernel/tracing");
	ASSERT_EQ(0, sysfs_write("/sys/kernel/tracing/trace", ""));
	ASSERT_EQ(0, sysfs_write(ev, "1"));
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], S_P2P, NULL));
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], S_RUNNING, NULL));
	ASSERT_EQ(0, sysfs_write(ev, "0"));
	fd = open("/sys/kernel/tracing/trace", O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LT(0, n);
	buf[n] = '\0';
	snprintf(path, sizeof(path), "%s cntlid=%u op=suspend", self->p.bdf[0], self->p.drv.cntlid);
	EXPECT_NE(NULL, strstr(buf, path));
	snprintf(path, sizeof(path), "%s cntlid=%u op=resume", self->p.bdf[0], self->p.drv.cntlid);
	EXPECT_NE(NULL, strstr(buf, path));
	EXPECT_NE(NULL, strstr(buf, "ret=0"));
}

/*
 * Namespace attachment stays the host administrator's decision: the
 * stream never attaches a namespace to the destination VF.  Namespace 3 of
 * both drives is created detached (the rig's run-vm.sh: detached=on), so
 * only Namespace Attachment gives it to a controller.  Namespaces 1 and 2
 * cannot show this on the test device: QEMU 10.0 attaches them again to
 * any controller that is enabled (nvme_start_ctrl()), so a detach of them
 * from a VF lasts only until its next controller enable.
 */
#define GRANT_NSID	3

FIXTURE(ns) {
	struct vf_pair p;
	struct nvme_drv dst;	/* a driver of its own on the destination VF */
};

/* detach nsid from every controller of pf's subsystem that has it */
static int ns_revoke_all(struct nvme_pf *pf, uint32_t nsid)
{
	struct nvme_ctrl_list list;
	int ret = nvme_pf_ns_ctrls(pf, nsid, &list);

	for (int i = 0; !ret && i < le16toh(list.num); i++)
		ret = nvme_pf_ns_attach(pf, nsid, le16toh(list.identifier[i]), false);
	return ret;
}

FIXTURE_SETUP(ns)
{
	struct nvme_ctrl_list list;
	int ret = vf_pair_open(&self->p, DRIVER, SHARED_NSID, QSIZE);

	if (ret == -ENODEV)
		SKIP(return, "needs two NVMe PFs with SR-IOV, VF 1 online");
	ASSERT_EQ(0, ret);
	for (int i = 0; i < 2; i++) {
		ret = nvme_pf_ns_ctrls(&self->p.pf[i], GRANT_NSID, &list);
		if (lm_sc(ret) == LM_SC_INVALID_FIELD)
			SKIP(return, "drive %s has no namespace %d", self->p.pf[i].bdf,
			     GRANT_NSID);
		ASSERT_EQ(0, ret);
		/* what a test before this one may have left */
		ASSERT_EQ(0, ns_revoke_all(&self->p.pf[i], GRANT_NSID));
	}
}

FIXTURE_TEARDOWN(ns)
{
	nvme_drv_fini(&self->dst);
	/* later tests must find namespace 3 attached nowhere */
	for (int i = 0; i < 2; i++)
		if (self->p.pf[i].fd >= 0)
			EXPECT_EQ(0, ns_revoke_all(&self->p.pf[i], GRANT_NSID));
	vf_pair_close(&self->p, false);
}

/* the active namespace list (Identify CNS 02h) of drv's controller: bit n for NSID n < 32 */
static long long active_ns(struct nvme_drv *drv)
{
	struct nvme_sqe cmd = {
		.opcode = nvme_admin_identify,
		.cdw10 = NVME_IDENTIFY_CNS_NS_ACTIVE_LIST,
	};
	long long mask = 0;
	struct vfio_dma buf;
	uint32_t *ids;
	int ret;

	ret = vfio_dma_alloc(drv->dev->ctr, 4096, &buf);
	if (ret)
		return ret;
	cmd.prp1 = buf.iova;
	ret = nvme_drv_admin(drv, &cmd, NULL);
	ids = buf.va;
	for (int i = 0; !ret && i < 1024 && ids[i]; i++)
		mask |= le32toh(ids[i]) < 32 ? 1LL << le32toh(ids[i]) : 1LL << 32;
	vfio_dma_free(drv->dev->ctr, &buf);
	return ret ? (ret > 0 ? -EIO : ret) : mask;
}

/* whether nsid is attached to controller cntlid of pf's subsystem: 1, 0 or < 0 */
static int ns_attached(struct nvme_pf *pf, uint32_t nsid, uint16_t cntlid)
{
	struct nvme_ctrl_list list;
	int ret = nvme_pf_ns_ctrls(pf, nsid, &list);

	if (ret)
		return ret > 0 ? -EIO : ret;
	for (int i = 0; i < le16toh(list.num); i++)
		if (le16toh(list.identifier[i]) == cntlid)
			return 1;
	return 0;
}

/*
 * The review's sequence: the administrator gave namespace 3 to both VFs,
 * then took it from the destination.  The source's state lists it; the
 * destination controller refuses the state (Invalid Field, -EINVAL from
 * RESUMING -> STOP), the VF does not get the namespace, and after a reset
 * it works with what the administrator left it.
 */
TEST_F(ns, detached_namespace_is_not_attached_by_the_stream)
{
	struct vfio_dev *src = &self->p.dev[0], *dst = &self->p.dev[1];
	uint8_t *stream = NULL;
	size_t len = 0;

	ASSERT_EQ(0, nvme_pf_ns_attach(&self->p.pf[0], GRANT_NSID, self->p.scid[0], true));
	ASSERT_EQ(0, nvme_pf_ns_attach(&self->p.pf[1], GRANT_NSID, self->p.scid[1], true));
	ASSERT_EQ(0, nvme_pf_ns_attach(&self->p.pf[1], GRANT_NSID, self->p.scid[1], false));
	EXPECT_EQ(1 << 1 | 1 << 2 | 1 << GRANT_NSID, active_ns(&self->p.drv));

	nvme_drv_pattern(self->p.buf[0].va, 90, 7);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 90, self->p.buf[0].iova));
	ASSERT_EQ(0, vfio_mig_save(src, &stream, &len));
	ASSERT_EQ(0, vfio_pci_enable_dma(dst));
	EXPECT_EQ(-EINVAL, vfio_mig_load(dst, stream, len, 4096));
	free(stream);
	EXPECT_EQ(S_RESUMING, vfio_mig_get(dst));
	EXPECT_EQ(0, ns_attached(&self->p.pf[1], GRANT_NSID, self->p.scid[1]));

	/* the destination after a reset: namespaces 1 and 2, and it works */
	ASSERT_EQ(0, ioctl(dst->fd, VFIO_DEVICE_RESET));
	EXPECT_EQ(S_RUNNING, vfio_mig_get(dst));
	ASSERT_EQ(0, nvme_drv_init(&self->dst, dst, SHARED_NSID));
	EXPECT_EQ(1 << 1 | 1 << 2, active_ns(&self->dst));
	ASSERT_EQ(0, nvme_drv_create_ioq(&self->dst, 1, QSIZE));
	EXPECT_EQ(0, verify(&self->dst, &self->p.buf[NBUF - 1], 90, 1, 7));

	/* the source was never touched: it runs on */
	ASSERT_EQ(0, vfio_mig_set(src, S_RUNNING, NULL));
	EXPECT_EQ(0, verify(&self->p.drv, &self->p.buf[NBUF - 1], 90, 1, 7));
}

/* namespace 3 given to both VFs: the same namespaces, the state loads */
TEST_F(ns, same_namespaces_load)
{
	struct vfio_dev *src = &self->p.dev[0], *dst = &self->p.dev[1];
	uint8_t *stream = NULL;
	size_t len = 0;

	ASSERT_EQ(0, nvme_pf_ns_attach(&self->p.pf[0], GRANT_NSID, self->p.scid[0], true));
	ASSERT_EQ(0, nvme_pf_ns_attach(&self->p.pf[1], GRANT_NSID, self->p.scid[1], true));
	nvme_drv_pattern(self->p.buf[0].va, 91, 8);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 91, self->p.buf[0].iova));
	ASSERT_EQ(0, vfio_mig_save(src, &stream, &len));
	ASSERT_EQ(0, vfio_pci_enable_dma(dst));
	EXPECT_EQ(0, vfio_mig_load(dst, stream, len, 4096));
	free(stream);
	ASSERT_EQ(0, vfio_mig_set(src, S_STOP, NULL));
	ASSERT_EQ(0, nvme_drv_switch(&self->p.drv, dst));
	EXPECT_EQ(1 << 1 | 1 << 2 | 1 << GRANT_NSID, active_ns(&self->p.drv));
	EXPECT_EQ(0, verify(&self->p.drv, &self->p.buf[NBUF - 1], 91, 1, 8));
}

#define ANY_PF		"/sys/module/nvme_vfio_pci/parameters/dma_logging_any_pf"

/* 1 if the running kernel has symbol name, 0 if not, -errno */
static int kallsyms_has(const char *name)
{
	char line[512], *sym;
	FILE *f = fopen("/proc/kallsyms", "r");
	int found = 0;

	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\t\n")] = '\0';	/* a module's name follows a tab */
		sym = strrchr(line, ' ');
		found = sym && !strcmp(sym + 1, name);
	}
	fclose(f);
	return found;
}

/* whether a kernel log record read from kmsg (from where it was) has a, b and c */
static bool kmsg_has(int kmsg, const char *a, const char *b, const char *c)
{
	char rec[2048];
	bool found = false;
	ssize_t n;

	/* EPIPE: records were overwritten before being read, go on */
	while ((n = read(kmsg, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = '\0';
		found |= strstr(rec, a) && strstr(rec, b) && strstr(rec, c);
	}
	return found;
}

/*
 * DMA logging sends an encoding of Track Memory Changes that only the test
 * device is known to take: the driver offers it for a PF that lists the
 * device's vendor state format in Identify CNS 20h, for another PF only
 * with dma_logging_any_pf, and says why at probe.  The rig's PF 0 is made
 * to list no vendor format by the model's fault injection; on a kernel
 * without iova_bitmap (Debian's) there is no DMA logging either way.
 */
FIXTURE(gate) {
	struct nvme_pf pf;
	char bdf[BDF_LEN];
	int kmsg;
	int iova_bitmap;
};

FIXTURE_SETUP(gate)
{
	int ret;

	self->pf.fd = -1;
	self->kmsg = -1;
	self->bdf[0] = '\0';
	ret = nvme_pf_online_vf(0, 1, &self->pf, self->bdf);
	if (ret == -ENODEV)
		SKIP(return, "no NVMe function with SR-IOV");
	if (ret == -ENOLINK)
		SKIP(return, "VF 1 of %s is not online, run vfio-nvme-setup", self->pf.bdf);
	ASSERT_EQ(0, ret);
	self->iova_bitmap = kallsyms_has("iova_bitmap_set");
	if (self->iova_bitmap < 0)
		SKIP(return, "no /proc/kallsyms: cannot tell whether the kernel has iova_bitmap");
	self->kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, self->kmsg);
}

FIXTURE_TEARDOWN(gate)
{
	if (self->pf.fd >= 0) {
		lm_fault(&self->pf, 0, 0, LM_FAULT_CLEAR, 0, 0);
		sysfs_write(ANY_PF, "N");
		if (self->bdf[0])
			pci_bind(self->bdf, DRIVER);	/* probed again as it was */
	}
	if (self->kmsg >= 0)
		close(self->kmsg);
	nvme_pf_close(&self->pf);
}

/* bind VF 1 to the driver again (a new probe): DMA_LOGGING_START probe result */
static int gate_probe(struct __test_metadata *_metadata, FIXTURE_DATA(gate) *self)
{
	struct vfio_dev dev = { .fd = -1 };
	int ret;

	lseek(self->kmsg, 0, SEEK_END);		/* what the probe logs */
	EXPECT_EQ(0, pci_bind(self->bdf, DRIVER));
	EXPECT_EQ(0, vfio_dev_open(self->bdf, &dev));
	ret = vfio_dma_log_probe(&dev);
	vfio_dev_close(&dev);
	return ret;
}

TEST_F(gate, dma_logging_only_for_a_known_encoding)
{
	/* with iova_bitmap, what the PF gets; without, nothing */
	int on = self->iova_bitmap ? 0 : -ENOTTY;

	/* the rig's PF lists the test device's format */
	ASSERT_EQ(0, sysfs_write(ANY_PF, "N"));
	EXPECT_EQ(on, gate_probe(_metadata, self));
	/* (braces: the harness's EXPECTs take a TH_LOG after them) */
	if (self->iova_bitmap) {
		EXPECT_TRUE(kmsg_has(self->kmsg, self->bdf, "DMA logging on: ", "test device"));
	} else {
		EXPECT_TRUE(kmsg_has(self->kmsg, self->bdf, "DMA logging off: ",
				     "CONFIG_IOMMUFD_DRIVER"));
	}

	/* it does not: a PF that tracks host memory in an encoding not known */
	ASSERT_EQ(0, lm_fault(&self->pf, LM_OPC_IDENTIFY, 0x20, LM_FAULT_NO_VS_FMT, 0, 1000));
	EXPECT_EQ(-ENOTTY, gate_probe(_metadata, self));
	if (self->iova_bitmap) {
		EXPECT_TRUE(kmsg_has(self->kmsg, self->bdf, "DMA logging off: ",
				     "dma_logging_any_pf=1"));
	}

	/* unless the administrator trusts it */
	ASSERT_EQ(0, sysfs_write(ANY_PF, "Y"));
	EXPECT_EQ(on, gate_probe(_metadata, self));
	if (self->iova_bitmap) {
		EXPECT_TRUE(kmsg_has(self->kmsg, self->bdf, "DMA logging on by dma_logging_any_pf",
				     "not known"));
	}
}

#define CLOSE_VFS	4	/* VFs 1 and 2 of both PFs */
#define CLOSE_ROUNDS	6

FIXTURE(vfs) {
	struct nvme_pf pf[2];
	char bdf[CLOSE_VFS][BDF_LEN];
	uint16_t scid[CLOSE_VFS];
};

FIXTURE_SETUP(vfs)
{
	for (int i = 0; i < 2; i++)
		self->pf[i].fd = -1;
	for (int i = 0; i < 2; i++) {
		int ret = nvme_pf_open(i, &self->pf[i]);

		if (ret == -ENODEV)
			SKIP(return, "needs two NVMe PFs with SR-IOV");
		ASSERT_EQ(0, ret);
	}
	for (int v = 0; v < CLOSE_VFS; v++) {
		struct nvme_pf *pf = &self->pf[v / 2];
		struct nvme_secondary_ctrl sc;

		ASSERT_EQ(0, nvme_pf_sec_ctrl(pf, v % 2 + 1, &sc));
		ASSERT_TRUE(sc.scs & 1) TH_LOG("VF %d of PF %d is offline", v % 2 + 1, v / 2);
		self->scid[v] = le16toh(sc.scid);
		ASSERT_EQ(0, nvme_pf_vf_bdf(pf, v % 2 + 1, self->bdf[v]));
		ASSERT_EQ(0, pci_bind(self->bdf[v], DRIVER));
	}
}

FIXTURE_TEARDOWN(vfs)
{
	for (int v = 0; v < CLOSE_VFS; v++)
		if (self->bdf[v][0])
			pci_unbind(self->bdf[v]);
	for (int i = 0; i < 2; i++)
		nvme_pf_close(&self->pf[i]);
}

struct closer {
	struct vfio_dev dev;
	pthread_barrier_t *go;
};

static void *close_at_once(void *arg)
{
	struct closer *c = arg;

	pthread_barrier_wait(c->go);
	vfio_dev_close(&c->dev);
	return NULL;
}

/*
 * VFs closed while suspended, all at once (VMMs killed mid-migration):
 * vfio-pci-core skips the function reset of a VF whose parent it cannot
 * lock, which another VF of the PF closing at the same time holds.  Every
 * VF must still be handed back running: the PF sees no suspended
 * controller, and the VF opens again and does I/O.
 */
TEST_F_TIMEOUT(vfs, suspended_vfs_closed_at_once_run_again, 240)
{
	struct closer c[CLOSE_VFS];
	pthread_t t[CLOSE_VFS];
	pthread_barrier_t go;
	int left = 0;

	for (int round = 0; round < CLOSE_ROUNDS; round++) {
		ASSERT_EQ(0, pthread_barrier_init(&go, NULL, CLOSE_VFS));
		for (int v = 0; v < CLOSE_VFS; v++) {
			c[v].go = &go;
			ASSERT_EQ(0, vfio_dev_open(self->bdf[v], &c[v].dev));
			ASSERT_EQ(0, vfio_mig_set(&c[v].dev, S_P2P, NULL));
		}
		for (int v = 0; v < CLOSE_VFS; v++)
			ASSERT_EQ(0, pthread_create(&t[v], NULL, close_at_once, &c[v]));
		for (int v = 0; v < CLOSE_VFS; v++)
			pthread_join(t[v], NULL);
		pthread_barrier_destroy(&go);
		/* a running controller has no state to give */
		for (int v = 0; v < CLOSE_VFS; v++) {
			struct nvme_pf *pf = &self->pf[v / 2];
			uint8_t st[64];
			int sc = lm_sc(lm_get_state(pf, self->scid[v], 1, 1, 0, st,
						    sizeof(st), NULL));

			if (sc != LM_SC_CTRL_NOT_SUSPENDED) {
				left++;
				TH_LOG("round %d: %s left suspended (%#x)", round,
				       self->bdf[v], sc);
				lm_resume(pf, self->scid[v]);
			}
		}
	}
	EXPECT_EQ(0, left);

	/* and each works for the next user */
	for (int v = 0; v < CLOSE_VFS; v++) {
		struct nvme_drv drv = {};
		struct vfio_dev d;
		struct vfio_dma b;

		ASSERT_EQ(0, vfio_dev_open(self->bdf[v], &d));
		ASSERT_EQ(0, nvme_drv_init(&drv, &d, SHARED_NSID));
		ASSERT_EQ(0, nvme_drv_create_ioq(&drv, 1, QSIZE));
		ASSERT_EQ(0, vfio_dma_alloc(d.ctr, 4096, &b));
		EXPECT_EQ(0, nvme_drv_io_sync(&drv, nvme_cmd_read, v, b.iova))
			TH_LOG("%s", self->bdf[v]);
		nvme_drv_fini(&drv);
		vfio_dma_free(d.ctr, &b);
		vfio_dev_close(&d);
	}
}

TEST_HARNESS_MAIN
