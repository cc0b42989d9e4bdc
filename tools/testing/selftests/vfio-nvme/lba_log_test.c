// SPDX-License-Identifier: GPL-2.0
/*
 * The host administrator's LBA change log of a VF (linux/nvme_lm_log.h,
 * NVME_IOCTL_LM_LOG_OPEN on the PF's /dev/nvmeN), its migration gate, and
 * local storage migration with it.  A userspace NVMe driver on VF 1 of PF 0
 * (the "guest") writes to namespace 1, which is the source drive's own
 * disk; the log must report exactly those writes; with the gate, the VF's
 * STOP_COPY stream must end only once the log's owner acknowledged the
 * SUSPENDED record, and fail (the VF resuming) on a NACK, a close or a
 * timeout; and a copy of namespace 1 to the destination drive by
 * nvme-vfio-copy, the operator's tool, beside this VMM (while the guest
 * keeps writing at random) must end byte-identical, also when the log
 * overflows.
 *
 * Expects the PFs prepared by "vfio-nvme-setup sriov PF 3 2".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vfio_nvme.h"
#include "vfio_mig.h"
#include "nvme_drv.h"
#include "vf_pair.h"
#include "lba_log.h"
#include "lm_cmd.h"
#include "copy_tool.h"
#include "../kselftest_harness.h"

#define LOCAL_NSID	1
#define QSIZE		32
#define NBUF		VF_PAIR_NBUF
#define DRIVER		"nvme_vfio_pci"
#define LOG_VF		0	/* VF 1 (VFN 1) of PF 0 is the PF's virtfn0 */
#define COPY_TOOL	"./nvme-vfio-copy"

FIXTURE(lba) {
	struct vf_pair p;
	int log;
	uint64_t seq;		/* the last record's seq */
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
	vf_pair_close(&self->p, true);
}

/* the log of VF 1 of PF 0 */
static int open_log(FIXTURE_DATA(lba) *self, uint32_t flags, uint32_t entries,
		    uint32_t ack_timeout_ms)
{
	self->seq = 0;
	return lm_log_open(self->p.pf[0].fd, LOG_VF, flags, entries, ack_timeout_ms);
}

/*
 * read records until want have arrived or 2 s passed: the number read, or
 * -errno if none was; -EPROTO if a seq does not follow the one before
 */
static int read_records(FIXTURE_DATA(lba) *self, struct nvme_lm_log_rec *rec, int want)
{
	double end = now_ms() + 2000;
	int n = 0;

	while (n < want && now_ms() < end) {
		int ret = lm_log_read_wait(self->log, rec + n, want - n, end - now_ms() + 1);

		if (ret < 0)
			return n ? n : ret;
		if (!ret)
			break;
		for (int i = n; i < n + ret; i++)
			if (rec[i].seq != ++self->seq)
				return -EPROTO;
		n += ret;
	}
	return n;
}

/* read records until one with flag comes (into *rec) within 5 s: 0 or -errno */
static int wait_record(FIXTURE_DATA(lba) *self, uint32_t flag, struct nvme_lm_log_rec *rec)
{
	double end = now_ms() + 5000;

	while (now_ms() < end) {
		int ret = read_records(self, rec, 1);

		if (ret < 0)
			return ret;
		if (ret && (rec->flags & flag))
			return 0;
	}
	return -ETIMEDOUT;
}

/* the CDQ ID of the one Controller Data Queue the PF has, 0 if none */
static uint16_t pf_cdqid(struct nvme_pf *pf, uint32_t *hp)
{
	for (uint16_t id = 1; id < 64; id++)
		if (!lm_cdq_get_head(pf, id, hp))
			return id;
	return 0;
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

/* a blocking read(2) in a thread of its own */
struct bg_read {
	pthread_t t;
	int fd;
	size_t len;
	uint8_t buf[4096];
	ssize_t ret;
	int err;
	volatile bool done;
};

static void *bg_read_fn(void *arg)
{
	struct bg_read *r = arg;

	r->ret = read(r->fd, r->buf, r->len);
	r->err = r->ret < 0 ? errno : 0;
	r->done = true;
	return NULL;
}

static int bg_read_start(struct bg_read *r, int fd, size_t len)
{
	r->fd = fd;
	r->len = len < sizeof(r->buf) ? len : sizeof(r->buf);
	r->done = false;
	return -pthread_create(&r->t, NULL, bg_read_fn, r);
}

/* whether the read is over after ms (it stays blocked if not: the test fails then) */
static bool bg_read_done(struct bg_read *r, int ms)
{
	for (double end = now_ms() + ms; !r->done && now_ms() < end;)
		usleep(5000);
	if (r->done)
		pthread_join(r->t, NULL);
	return r->done;
}

TEST_F(lba, markers_and_close)
{
	struct nvme_lm_log_rec rec[4];
	uint16_t cdqid;
	uint32_t hp;

	self->log = open_log(self, 0, 64, 0);
	ASSERT_LE(0, self->log);
	EXPECT_EQ(FD_CLOEXEC, fcntl(self->log, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_RDONLY, fcntl(self->log, F_GETFL) & O_ACCMODE);
	ASSERT_EQ(1, read_records(self, rec, 1));
	EXPECT_EQ(1, rec[0].seq);
	EXPECT_EQ(NVME_LM_LOG_FIRST, rec[0].flags);
	EXPECT_EQ(0, rec[0].nlb);
	/* nothing logged: with O_NONBLOCK, EAGAIN; poll() says nothing either */
	ASSERT_EQ(0, lm_log_nonblock(self->log, true));
	EXPECT_EQ(-EAGAIN, lm_log_read(self->log, rec, 4));
	EXPECT_EQ(0, lm_log_read_wait(self->log, rec, 4, 0));
	/* whole records only */
	EXPECT_EQ(-1, read(self->log, rec, sizeof(rec[0]) - 1));
	EXPECT_EQ(EINVAL, errno);
	/* read-only */
	EXPECT_EQ(-1, write(self->log, rec, sizeof(rec[0])));

	/* closing the log deletes the queue on the PF */
	cdqid = pf_cdqid(&self->p.pf[0], &hp);
	ASSERT_NE(0, cdqid);
	close(self->log);
	self->log = -1;
	EXPECT_EQ(LM_SC_INVALID_CDQ, lm_sc(lm_cdq_get_head(&self->p.pf[0], cdqid, &hp)));
	/* and logging starts again */
	self->log = open_log(self, 0, 64, 0);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(1, read_records(self, rec, 1));
	EXPECT_EQ(NVME_LM_LOG_FIRST, rec[0].flags);
}

/* the child: without CAP_SYS_ADMIN (effective and permitted), the open's errno */
static int open_without_cap_sys_admin(int ctrl_fd)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	int fd;

	if (syscall(SYS_capget, &hdr, data))
		return 100;
	data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
	data[CAP_TO_INDEX(CAP_SYS_ADMIN)].permitted &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
	data[CAP_TO_INDEX(CAP_SYS_ADMIN)].inheritable &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
	if (prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) || syscall(SYS_capset, &hdr, data))
		return 101;
	fd = lm_log_open(ctrl_fd, LOG_VF, 0, 64, 0);
	return fd >= 0 ? 0 : -fd;
}

TEST_F(lba, open_errors)
{
	struct nvme_pf *pf = &self->p.pf[0];
	struct nvme_lm_log_open a;
	int fd, ro, status, nvfs = nvme_pf_num_vfs(pf);
	pid_t child;

#define BAD(field, val) do {						\
		a = (struct nvme_lm_log_open){ .argsz = sizeof(a), .vf = LOG_VF,	\
					       .entries = 64, .fd = -1 };	\
		a.field = val;						\
		fd = lm_log_open_raw(pf->fd, &a);			\
		EXPECT_EQ(-EINVAL, fd) TH_LOG(#field " = " #val);	\
		if (fd >= 0)						\
			close(fd);					\
	} while (0)
	BAD(argsz, 0);
	BAD(argsz, sizeof(a) - 1);
	BAD(flags, 1u << 1);
	BAD(flags, 1u << 31);
	BAD(entries, NVME_LM_LOG_MIN_ENTRIES - 1);
	BAD(entries, NVME_LM_LOG_MAX_ENTRIES + 1);
	BAD(reserved, 1);
	a = (struct nvme_lm_log_open){ .argsz = sizeof(a), .flags = NVME_LM_LOG_GATE,
				       .vf = LOG_VF, .entries = 64, .fd = -1,
				       .ack_timeout_ms = NVME_LM_LOG_MAX_ACK_MS + 1 };
	fd = lm_log_open_raw(pf->fd, &a);
	EXPECT_EQ(-EINVAL, fd) TH_LOG("ack_timeout_ms past the maximum");
	if (fd >= 0)
		close(fd);
#undef BAD

	/* a VF the PF does not have */
	ASSERT_LT(0, nvfs);
	EXPECT_EQ(-ENODEV, lm_log_open(pf->fd, nvfs, 0, 64, 0));
	EXPECT_EQ(-ENODEV, lm_log_open(pf->fd, 0xffffffff, 0, 64, 0));

	/* the PF's controller opened read-only */
	ro = open(pf->ctrl, O_RDONLY);
	ASSERT_LE(0, ro);
	fd = lm_log_open(ro, LOG_VF, 0, 64, 0);
	EXPECT_EQ(-EBADF, fd);
	if (fd >= 0)
		close(fd);
	close(ro);

	/* without CAP_SYS_ADMIN */
	child = fork();
	ASSERT_LE(0, child);
	if (!child)
		_exit(open_without_cap_sys_admin(pf->fd));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(EPERM, WEXITSTATUS(status));

	/* one log per VF; none while the VF's controller is suspended */
	self->log = open_log(self, 0, 64, 0);
	ASSERT_LE(0, self->log);
	fd = lm_log_open(pf->fd, LOG_VF, NVME_LM_LOG_GATE, 64, 0);
	EXPECT_EQ(-EBUSY, fd);
	if (fd >= 0)
		close(fd);
	close(self->log);
	self->log = -1;
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_RUNNING_P2P, NULL));
	fd = lm_log_open(pf->fd, LOG_VF, 0, 64, 0);
	EXPECT_EQ(-EBUSY, fd);
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_RUNNING, NULL));
	/* another VF of the PF has a log of its own */
	self->log = open_log(self, 0, 64, 0);
	ASSERT_LE(0, self->log);
	fd = lm_log_open(pf->fd, LOG_VF + 1, 0, 64, 0);
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);
}

/* read() blocks until a record is there, and poll() wakes up for it */
TEST_F(lba, blocking_read_and_poll)
{
	struct pollfd pfd;
	struct nvme_lm_log_rec rec[2];
	struct bg_read r;

	self->log = open_log(self, 0, 64, 0);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(1, read_records(self, rec, 1));
	EXPECT_EQ(NVME_LM_LOG_FIRST, rec[0].flags);

	ASSERT_EQ(0, bg_read_start(&r, self->log, sizeof(rec)));
	EXPECT_FALSE(bg_read_done(&r, 500)) TH_LOG("read() returned %zd (%s) with nothing logged",
						  r.ret, strerror(r.err));
	nvme_drv_pattern(self->p.buf[0].va, 60, 1);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 60, self->p.buf[0].iova));
	ASSERT_TRUE(bg_read_done(&r, 5000));
	ASSERT_EQ(sizeof(rec[0]), r.ret) TH_LOG("%s", strerror(r.err));
	memcpy(rec, r.buf, sizeof(rec[0]));
	EXPECT_EQ(2, rec[0].seq);
	EXPECT_EQ(0, rec[0].flags);
	EXPECT_EQ(60 * self->blk_lbas, rec[0].slba);

	/* poll(): nothing, then POLLIN once a write is logged */
	pfd = (struct pollfd){ .fd = self->log, .events = POLLIN };
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	nvme_drv_pattern(self->p.buf[0].va, 61, 1);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 61, self->p.buf[0].iova));
	EXPECT_EQ(1, poll(&pfd, 1, 5000));
	EXPECT_EQ(POLLIN, pfd.revents);
	self->seq = 2;
	ASSERT_EQ(1, read_records(self, rec, 1));
	EXPECT_EQ(61 * self->blk_lbas, rec[0].slba);
}

/*
 * One read(2) takes every record there is, up to the buffer's size: a copy
 * tool that reads between its copy steps must keep up with the queue (it
 * took 8 per read once, and a 4096-entry queue overflowed under libvirt).
 */
TEST_F(lba, one_read_takes_every_record_that_fits)
{
	struct nvme_lm_log_rec rec[32];

	self->log = open_log(self, 0, 64, 0);
	ASSERT_LE(0, self->log);
	for (int i = 0; i < 20; i++)
		ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 200 + i,
					      self->p.buf[0].iova));
	/* the writes completed, so their entries are posted: FIRST and 20 */
	EXPECT_EQ(21, lm_log_read(self->log, rec, 32));
	EXPECT_EQ(NVME_LM_LOG_FIRST, rec[0].flags);
	EXPECT_EQ(21, rec[20].seq);
}

TEST_F(lba, records_match_writes)
{
	static const struct { uint64_t blk; int n; } w[] = {
		{ 5, 1 }, { 17, 1 }, { 100, 1 }, { 101, 1 }, { 3000, 1 },
	};
	struct nvme_lm_log_rec rec[16];
	int i, n;

	self->log = open_log(self, 0, 64, 0);
	ASSERT_LE(0, self->log);
	for (i = 0; i < (int)(sizeof(w) / sizeof(w[0])); i++) {
		nvme_drv_pattern(self->p.buf[i].va, w[i].blk, 7);
		ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, w[i].blk,
					      self->p.buf[i].iova));
	}
	/* reads change nothing: not logged */
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 5, self->p.buf[NBUF - 1].iova));
	ASSERT_EQ(0, write_zeroes_sync(&self->p.drv, 4096 * self->blk_lbas, 3, false));

	n = read_records(self, rec, 16);
	ASSERT_EQ(7, n);
	EXPECT_EQ(NVME_LM_LOG_FIRST, rec[0].flags);
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(0, rec[i + 1].flags);
		EXPECT_EQ(LOCAL_NSID, rec[i + 1].nsid);
		EXPECT_EQ(w[i].blk * self->blk_lbas, rec[i + 1].slba);
		EXPECT_EQ(self->blk_lbas, rec[i + 1].nlb);
	}
	EXPECT_EQ(0, rec[6].flags);
	EXPECT_EQ(4096 * self->blk_lbas, rec[6].slba);
	EXPECT_EQ(3, rec[6].nlb);
	ASSERT_EQ(0, lm_log_nonblock(self->log, true));
	EXPECT_EQ(-EAGAIN, lm_log_read(self->log, rec, 16));
}

/*
 * Writes in flight when the VF is suspended (RUNNING_P2P): every write that
 * completed is logged before the SUSPENDED record, the rest after resume,
 * which a FIRST record announces.
 */
TEST_F(lba, suspend_marker_follows_completed_writes)
{
	struct nvme_lm_log_rec rec[32];
	struct nvme_cqe cqe;
	int n, writes = 0, done = 0, suspended_at = -1, firsts = 0;

	self->log = open_log(self, 0, 64, 0);
	ASSERT_LE(0, self->log);
	for (int i = 0; i < 12; i++) {
		nvme_drv_pattern(self->p.buf[i].va, 200 + i, 1);
		ASSERT_EQ(0, nvme_drv_io(&self->p.drv, nvme_cmd_write, 200 + i,
					 self->p.buf[i].iova, true));
	}
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_RUNNING_P2P, NULL));
	while (!nvme_drv_reap(&self->p.drv, 1, &cqe, 200))
		done++;
	n = read_records(self, rec, 32);
	ASSERT_LT(0, n);
	for (int i = 0; i < n; i++) {
		if (rec[i].flags & NVME_LM_LOG_SUSPENDED)
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
	n = read_records(self, rec, 12 - writes + 1);
	ASSERT_LT(0, n);
	for (int i = 0; i < n; i++) {
		if (rec[i].flags & NVME_LM_LOG_FIRST)
			firsts++;
		else if (!rec[i].flags)
			writes++;
	}
	EXPECT_EQ(NVME_LM_LOG_FIRST, rec[0].flags);	/* resume says logging goes on */
	EXPECT_EQ(1, firsts);
	EXPECT_EQ(12, writes);
}

/*
 * A full queue says so (copy everything again), then logging restarts with
 * a FIRST record, and the next write is logged after it
 */
TEST_F(lba, queue_full_reports_overflow_then_first)
{
	struct nvme_lm_log_rec rec[16];
	int n, overflow = -1;

	self->log = open_log(self, 0, 4, 0);
	ASSERT_LE(0, self->log);
	/* nobody reads: more writes than a queue of 4 holds */
	for (int i = 0; i < 8; i++) {
		nvme_drv_pattern(self->p.buf[i].va, 300 + i, 1);
		ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 300 + i,
					      self->p.buf[i].iova));
	}
	n = read_records(self, rec, 16);
	ASSERT_LE(1, n);
	for (int i = 0; i < n && overflow < 0; i++)
		if (rec[i].flags & NVME_LM_LOG_OVERFLOW)
			overflow = i;
	ASSERT_LE(0, overflow);
	EXPECT_GT(9, overflow);	/* not FIRST and all 8 writes */
	EXPECT_EQ(NVME_LM_LOG_OVERFLOW | NVME_LM_LOG_ALL, rec[overflow].flags);
	EXPECT_EQ(0, rec[overflow].nsid);
	/* logging restarts: a FIRST follows */
	if (overflow + 1 < n) {
		EXPECT_EQ(NVME_LM_LOG_FIRST, rec[overflow + 1].flags);
		EXPECT_EQ(overflow + 2, n);
	} else {
		ASSERT_EQ(1, read_records(self, rec, 1));
		EXPECT_EQ(NVME_LM_LOG_FIRST, rec[0].flags);
	}

	/* logging again: the next write is logged */
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 400, self->p.buf[0].iova));
	ASSERT_EQ(1, read_records(self, rec, 1));
	EXPECT_EQ(0, rec[0].flags);
	EXPECT_EQ(400 * self->blk_lbas, rec[0].slba);
}

/* a function reset of the VF does not stop logging: the namespace is still written */
TEST_F(lba, reset_keeps_logging)
{
	struct nvme_lm_log_rec rec[4];
	int n;

	self->log = open_log(self, 0, 64, 0);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(1, read_records(self, rec, 1));
	nvme_drv_fini(&self->p.drv);
	ASSERT_EQ(0, ioctl(self->p.dev[0].fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, nvme_drv_init(&self->p.drv, &self->p.dev[0], LOCAL_NSID));
	ASSERT_EQ(0, nvme_drv_create_ioq(&self->p.drv, 1, QSIZE));
	nvme_drv_pattern(self->p.buf[0].va, 77, 1);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 77, self->p.buf[0].iova));
	n = read_records(self, rec, 1);
	ASSERT_EQ(1, n);
	EXPECT_EQ(0, rec[0].flags);
	EXPECT_EQ(77 * self->blk_lbas, rec[0].slba);
}

/*
 * The VMM closes the VFIO device and opens it again (a QEMU restart, a
 * hot-unplug and plug): the log is the host administrator's and goes on,
 * reporting the writes of the reopened VF.
 */
TEST_F(lba, log_survives_vfio_close_and_reopen)
{
	struct nvme_lm_log_rec rec[8];
	bool found = false;
	int n;

	self->log = open_log(self, 0, 64, 0);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(1, read_records(self, rec, 1));
	nvme_drv_fini(&self->p.drv);
	vfio_dev_close(&self->p.dev[0]);
	ASSERT_EQ(0, vfio_dev_reopen(&self->p.ctr, &self->p.dev[0]));
	ASSERT_EQ(0, nvme_drv_init(&self->p.drv, &self->p.dev[0], LOCAL_NSID));
	ASSERT_EQ(0, nvme_drv_create_ioq(&self->p.drv, 1, QSIZE));
	nvme_drv_pattern(self->p.buf[0].va, 88, 1);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 88, self->p.buf[0].iova));
	/* markers may come first; no overflow, no error */
	while (!found && (n = read_records(self, rec, 1)) == 1) {
		EXPECT_EQ(0, rec[0].flags & (NVME_LM_LOG_OVERFLOW | NVME_LM_LOG_ALL));
		found = !rec[0].flags && rec[0].slba == 88 * self->blk_lbas;
	}
	EXPECT_TRUE(found) TH_LOG("read: %d", n);
}

/*
 * The device's answers to misuse of the queue the driver created for the
 * VF (raw commands through the PF), none of which changes the queue: the
 * log goes on afterwards.
 */
TEST_F(lba, device_rejects_queue_misuse)
{
	struct nvme_lm_log_rec rec[4];
	struct nvme_secondary_ctrl sc;
	uint16_t cntlid, cdqid;
	struct nvme_pf *pf = &self->p.pf[0];
	uint32_t hp;

	ASSERT_EQ(0, nvme_pf_sec_ctrl(pf, 1, &sc));
	cntlid = le16toh(sc.scid);
	self->log = open_log(self, 0, 64, 0);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(1, read_records(self, rec, 1));
	/* the driver's queue: the one CDQ ID the PF knows */
	cdqid = pf_cdqid(pf, &hp);
	ASSERT_NE(0, cdqid);
	EXPECT_GE(1, hp);		/* nothing but the FIRST entry posted */

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
	EXPECT_EQ(LM_SC_INVALID_FIELD, lm_sc(lm_cdq_set_head(pf, cdqid, 2)));
	EXPECT_EQ(LM_SC_INVALID_FIELD, lm_sc(lm_cdq_set_head(pf, cdqid, 64)));
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_RUNNING_P2P, NULL));
	EXPECT_EQ(LM_SC_CTRL_SUSPENDED, lm_sc(lm_track_user_data(pf, cdqid, false)));
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_RUNNING, NULL));

	/* unchanged: SUSPENDED, FIRST (resume), then the next write */
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 500, self->p.buf[0].iova));
	ASSERT_EQ(3, read_records(self, rec, 3));
	for (int i = 0; i < 3; i++)
		TH_LOG("record %llu: flags %#x slba %llu", (unsigned long long)rec[i].seq,
		       rec[i].flags, (unsigned long long)rec[i].slba);
	EXPECT_EQ(NVME_LM_LOG_SUSPENDED, rec[0].flags);
	EXPECT_EQ(NVME_LM_LOG_FIRST, rec[1].flags);
	EXPECT_EQ(500 * self->blk_lbas, rec[2].slba);
	close(self->log);
	self->log = -1;
	EXPECT_EQ(LM_SC_INVALID_CDQ, lm_sc(lm_cdq_get_head(pf, cdqid, &hp)));
}

/*
 * The PF fails to delete the log's queue when the log is closed: the next
 * open works (the PF side deletes the queue again first) instead of failing
 * with ENOSPC until the PF is reset.
 */
TEST_F(lba, failed_queue_delete_then_open_recovers)
{
	struct nvme_lm_log_rec rec[2];

	self->log = open_log(self, 0, 64, 0);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(0, lm_fault(&self->p.pf[0], LM_OPC_CDQ, 1, 1, LM_SC_INTERNAL, 1));
	close(self->log);
	self->log = open_log(self, 0, 64, 0);
	ASSERT_LE(0, self->log);
	EXPECT_EQ(1, read_records(self, rec, 1));
	/* and a second time, so the first queue is surely gone */
	close(self->log);
	self->log = open_log(self, 0, 64, 0);
	ASSERT_LE(0, self->log);
	EXPECT_EQ(1, read_records(self, rec, 1));
}

/*
 * The gate.  STOP_COPY on the source VF with a gated log: *data_fd, the
 * stream read (O_NONBLOCK) up to where it waits for the acknowledgement,
 * *got its bytes, *S the seq of the SUSPENDED record: 0, -EBADMSG if the
 * stream ended without waiting, -errno
 */
static int gate_stop_copy(FIXTURE_DATA(lba) *self, int *data_fd, uint64_t *S, size_t *got)
{
	struct nvme_lm_log_rec rec;
	uint8_t buf[4096];
	int ret;

	*got = 0;
	ret = vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_STOP_COPY, data_fd);
	if (ret)
		return ret;
	ret = wait_record(self, NVME_LM_LOG_SUSPENDED, &rec);
	if (ret)
		return ret;
	*S = rec.seq;
	if (fcntl(*data_fd, F_SETFL, fcntl(*data_fd, F_GETFL) | O_NONBLOCK))
		return -errno;
	for (;;) {
		ssize_t n = read(*data_fd, buf, sizeof(buf));

		if (n > 0)
			*got += n;
		else if (!n)
			return -EBADMSG;
		else
			return errno == EAGAIN ? 0 : -errno;
	}
}

static int clear_nonblock(int fd)
{
	return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) ? -errno : 0;
}

/* after a failed migration: the source VF runs again, says FIRST, and logs writes */
static inline __attribute__((always_inline)) void
source_resumes(struct __test_metadata *_metadata, FIXTURE_DATA(lba) *self, bool logged)
{
	struct nvme_lm_log_rec rec;

	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_RUNNING, NULL));
	EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, vfio_mig_get(&self->p.dev[0]));
	if (logged)
		EXPECT_EQ(0, wait_record(self, NVME_LM_LOG_FIRST, &rec));
	nvme_drv_pattern(self->p.buf[0].va, 90, 2);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 90, self->p.buf[0].iova));
	if (logged) {
		ASSERT_EQ(1, read_records(self, &rec, 1));
		EXPECT_EQ(0, rec.flags);
		EXPECT_EQ(90 * self->blk_lbas, rec.slba);
	}
}

/*
 * The stream's end waits for ACK of the SUSPENDED record, which follows
 * the write the VF completed: not for an earlier seq, nor a seq not read;
 * then it ends, and the log says HANDED_OVER.  The migration failing after
 * that, the VF resumes and the log says FIRST.
 */
TEST_F(lba, gate_stream_ends_after_ack)
{
	struct nvme_lm_log_rec rec[2];
	struct pollfd pfd;
	struct bg_read r;
	uint64_t S = 0;
	size_t got;
	int fd = -1;
	char b[64];

	self->log = open_log(self, NVME_LM_LOG_GATE, 64, NVME_LM_LOG_MAX_ACK_MS);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(1, read_records(self, rec, 1));
	nvme_drv_pattern(self->p.buf[0].va, 70, 1);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 70, self->p.buf[0].iova));
	ASSERT_EQ(0, gate_stop_copy(self, &fd, &S, &got));
	EXPECT_EQ(3, S);	/* FIRST, the write, SUSPENDED */
	EXPECT_LT(0, got);	/* the state came, the end waits */
	TH_LOG("%zu bytes of the stream before the gate", got);

	/* O_NONBLOCK: EAGAIN, and poll() does not say POLLIN */
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(-EINVAL, lm_log_ack(self->log, S + 1));	/* not read yet */
	EXPECT_EQ(0, lm_log_ack(self->log, S - 1));
	EXPECT_EQ(-1, read(fd, b, sizeof(b)));
	EXPECT_EQ(EAGAIN, errno);

	/* a blocking read waits, until ACK(S) */
	ASSERT_EQ(0, clear_nonblock(fd));
	ASSERT_EQ(0, bg_read_start(&r, fd, sizeof(r.buf)));
	EXPECT_FALSE(bg_read_done(&r, 500)) TH_LOG("read: %zd (%s) after ACK(S - 1)", r.ret,
						  strerror(r.err));
	EXPECT_EQ(0, lm_log_ack(self->log, S));
	ASSERT_TRUE(bg_read_done(&r, 10000));
	EXPECT_LE(0, r.ret) TH_LOG("%s", strerror(r.err));
	if (r.ret > 0)
		EXPECT_EQ(0, read(fd, b, sizeof(b)));
	close(fd);
	ASSERT_EQ(1, read_records(self, rec, 1));
	EXPECT_EQ(NVME_LM_LOG_HANDED_OVER, rec[0].flags);
	EXPECT_EQ(S + 1, rec[0].seq);

	/* the VMM fails the migration after all: the VF goes on on the source */
	source_resumes(_metadata, self, true);
}

/*
 * A gated log (its FIRST read), STOP_COPY, and a thread blocked reading the
 * stream at its end: the stream's fd in *fd, the SUSPENDED record in *S.
 * 0 or -errno.
 */
static int gate_waiting(FIXTURE_DATA(lba) *self, int *fd, uint64_t *S, struct bg_read *r)
{
	struct nvme_lm_log_rec rec;
	size_t got;
	int ret;

	self->log = open_log(self, NVME_LM_LOG_GATE, 64, NVME_LM_LOG_MAX_ACK_MS);
	if (self->log < 0)
		return self->log;
	if (read_records(self, &rec, 1) != 1)
		return -EIO;
	ret = gate_stop_copy(self, fd, S, &got);
	if (!ret)
		ret = clear_nonblock(*fd);
	if (!ret)
		ret = bg_read_start(r, *fd, sizeof(r->buf));
	return ret;
}

/* NACK: the stream fails with EIO, the VF resumes */
TEST_F(lba, gate_nack_fails_stream)
{
	struct bg_read r;
	uint64_t S = 0;
	int fd = -1;

	ASSERT_EQ(0, gate_waiting(self, &fd, &S, &r));
	EXPECT_EQ(0, lm_log_nack(self->log, S));
	ASSERT_TRUE(bg_read_done(&r, 10000));
	EXPECT_EQ(-1, r.ret);
	EXPECT_EQ(EIO, r.err) TH_LOG("%s", strerror(r.err));
	close(fd);
	source_resumes(_metadata, self, true);
}

/* the log's owner closes it (or dies): the waiting stream fails with EPIPE */
TEST_F(lba, gate_close_fails_stream)
{
	struct nvme_lm_log_rec rec;
	struct bg_read r;
	uint64_t S = 0;
	int fd = -1;

	ASSERT_EQ(0, gate_waiting(self, &fd, &S, &r));
	close(self->log);
	self->log = -1;
	ASSERT_TRUE(bg_read_done(&r, 10000));
	EXPECT_EQ(-1, r.ret);
	EXPECT_EQ(EPIPE, r.err) TH_LOG("%s", strerror(r.err));
	close(fd);
	source_resumes(_metadata, self, false);
	/* a new log starts with FIRST */
	self->log = open_log(self, 0, 64, 0);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(1, read_records(self, &rec, 1));
	EXPECT_EQ(NVME_LM_LOG_FIRST, rec.flags);
}

/*
 * Two threads read one stream at its end: one waits at the gate, the other
 * is refused with EBUSY (a second waiter would sleep on a gate the first
 * may drop, and free, when it wakes).  ACK(S) then ends the stream.
 */
TEST_F(lba, gate_second_reader_is_refused)
{
	struct bg_read r, r2;
	uint64_t S = 0;
	int fd = -1;

	ASSERT_EQ(0, gate_waiting(self, &fd, &S, &r));
	EXPECT_FALSE(bg_read_done(&r, 500));
	ASSERT_EQ(0, bg_read_start(&r2, fd, sizeof(r2.buf)));
	ASSERT_TRUE(bg_read_done(&r2, 5000)) TH_LOG("a second reader waits at the gate too");
	EXPECT_EQ(-1, r2.ret);
	EXPECT_EQ(EBUSY, r2.err) TH_LOG("%s", strerror(r2.err));
	EXPECT_EQ(0, lm_log_ack(self->log, S));
	ASSERT_TRUE(bg_read_done(&r, 10000));
	EXPECT_LE(0, r.ret) TH_LOG("%s", strerror(r.err));
	close(fd);
	source_resumes(_metadata, self, true);
}

/*
 * A reader waits at the gate of a stream the VMM then abandons (STOP), and a
 * second stream (STOP_COPY again) is dropped unread (closed, then STOP).  The
 * first reader's wait still ends within the log's timeout (the second
 * stream's end must not stop it: it would wake every jiffy for ever), with
 * ENODEV: its stream is gone.
 */
TEST_F(lba, gate_wait_of_abandoned_stream_ends_in_time)
{
	struct nvme_lm_log_rec rec;
	struct bg_read r;
	uint64_t S = 0;
	size_t got;
	int fd = -1, fd2 = -1;

	self->log = open_log(self, NVME_LM_LOG_GATE, 64, 5000);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(1, read_records(self, &rec, 1));
	ASSERT_EQ(0, gate_stop_copy(self, &fd, &S, &got));
	ASSERT_EQ(0, clear_nonblock(fd));
	ASSERT_EQ(0, bg_read_start(&r, fd, sizeof(r.buf)));
	EXPECT_FALSE(bg_read_done(&r, 200));
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_STOP, NULL));
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_STOP_COPY, &fd2));
	close(fd2);
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_STOP, NULL));
	ASSERT_TRUE(bg_read_done(&r, 15000)) TH_LOG("the abandoned stream still waits");
	EXPECT_EQ(-1, r.ret);
	EXPECT_EQ(ENODEV, r.err) TH_LOG("%s", strerror(r.err));
	close(fd);
	source_resumes(_metadata, self, true);
}

/* nobody acknowledges within ack_timeout_ms: the stream fails with ETIMEDOUT */
TEST_F(lba, gate_ack_timeout_fails_stream)
{
	struct nvme_lm_log_rec rec;
	uint8_t *stream = NULL;
	size_t len = 0;
	ssize_t ret;
	int fd = -1;

	self->log = open_log(self, NVME_LM_LOG_GATE, 64, 200);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(1, read_records(self, &rec, 1));
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_STOP_COPY, &fd));
	ret = vfio_mig_read_all(fd, &stream, &len);
	EXPECT_EQ(-ETIMEDOUT, ret) TH_LOG("%zd: %s after %zu bytes", ret,
					  ret < 0 ? strerror(-ret) : "", len);
	free(stream);
	close(fd);
	ASSERT_EQ(0, wait_record(self, NVME_LM_LOG_SUSPENDED, &rec));
	source_resumes(_metadata, self, true);
}

/*
 * The log's owner is gone before the switch-over: the gated log closed
 * during PRE_COPY, or before the migration began (the VF keeps the mark of
 * a gated log until its VFIO device closes).  The stream fails at its end
 * with EPIPE, though no log is open any more to wait for.
 */
static inline __attribute__((always_inline)) void
gate_closed_fails_stream(struct __test_metadata *_metadata, FIXTURE_DATA(lba) *self,
			 bool before_migration)
{
	struct nvme_lm_log_rec rec;
	uint8_t *stream = NULL;
	size_t len = 0;
	ssize_t ret;
	int fd = -1;

	self->log = open_log(self, NVME_LM_LOG_GATE, 64, 0);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(1, read_records(self, &rec, 1));
	if (before_migration) {
		close(self->log);
		self->log = -1;
	}
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_LT(0, vfio_mig_read_all(fd, &stream, &len));
	if (!before_migration) {
		close(self->log);
		self->log = -1;
	}
	ret = vfio_mig_read_all(fd, &stream, &len);
	TH_LOG("PRE_COPY read after the log closed: %zd (%s)", ret,
	       ret < 0 ? strerror(-ret) : "");
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_STOP_COPY, NULL));
	ret = vfio_mig_read_all(fd, &stream, &len);
	EXPECT_EQ(-EPIPE, ret) TH_LOG("%s", ret < 0 ? strerror(-ret) : "the stream ended");
	free(stream);
	close(fd);
	source_resumes(_metadata, self, false);
}

TEST_F(lba, gate_closed_before_switchover_fails_stream)
{
	gate_closed_fails_stream(_metadata, self, false);
}

TEST_F(lba, gate_closed_before_migration_fails_stream)
{
	gate_closed_fails_stream(_metadata, self, true);
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
 * The VMM's local storage migration, the copy by the operator's tool: the
 * tool logs, copies what is allocated, then what the log reports while the
 * guest writes at random; the VMM stops the VF (STOP_COPY), whose stream
 * ends once the tool has copied what was logged up to the SUSPENDED record
 * and acknowledged it; the guest resumes on the destination drive.  The
 * namespaces must then be byte-identical and the guest's data must read
 * back through the destination VF.
 */
static inline __attribute__((always_inline)) void
migrate_local_namespace(struct __test_metadata *_metadata,
			FIXTURE_DATA(lba) *self, uint32_t entries)
{
	struct writer w = { .seed = entries };
	char src[64], dst[64], ent[16];
	/* 60 s: a final copy of the whole namespace takes seconds on the debug kernel */
	char *argv[] = { COPY_TOOL, "--quiet", "--entries", ent, "--ack-timeout", "60000",
			 self->p.pf[0].ctrl, "0", "1", dst, NULL };
	struct copy_tool t;
	uint8_t *stream = NULL;
	uint64_t size, diff = 0;
	long long overflows;
	size_t len;
	int fd, ret, saved;

	ASSERT_EQ(0, nvme_ns_bdev(self->p.pf[0].ctrl, LOCAL_NSID, src, sizeof(src)));
	ASSERT_EQ(0, nvme_ns_bdev(self->p.pf[1].ctrl, LOCAL_NSID, dst, sizeof(dst)));
	fd = open(src, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, BLKGETSIZE64, &size));
	close(fd);
	w.nblk = size / 4096;
	ASSERT_GE(65536, w.nblk);	/* the command ID is the block */
	w.gen = calloc(w.nblk, sizeof(*w.gen));
	ASSERT_NE(NULL, w.gen);

	/* the guest frees its first 8 MiB: the source no longer has them allocated */
	ASSERT_EQ(0, write_zeroes_sync(&self->p.drv, 0, (8 << 20) / self->p.drv.lba_size, true));

	/* the operator starts the copy; the guest writes all along */
	snprintf(ent, sizeof(ent), "%u", entries);
	ASSERT_EQ(0, copy_tool_start(&t, argv));
	while (!copy_tool_said(&t, "bulk copy done")) {
		ASSERT_EQ(0, writer_burst(self, &w, 4));
		ASSERT_EQ(0, writer_reap(self, &w));
		ret = copy_tool_wait(&t, 0);
		if (ret != -ETIMEDOUT)
			copy_tool_log(&t);
		ASSERT_EQ(-ETIMEDOUT, ret) TH_LOG("the tool exited early");
	}
	if (entries < 64) {
		/* the tool does not read for a while: more writes than the queue holds */
		ASSERT_EQ(0, kill(t.pid, SIGSTOP));
		for (int i = 0; i < 4; i++) {
			ASSERT_EQ(0, writer_burst(self, &w, 8));
			ASSERT_EQ(0, writer_reap(self, &w));
		}
		ASSERT_EQ(0, kill(t.pid, SIGCONT));
	}
	for (int i = 0; i < 100; i++) {
		ASSERT_EQ(0, writer_burst(self, &w, 4));
		ASSERT_EQ(0, writer_reap(self, &w));
	}

	/*
	 * Stop with writes in flight: the stream ends once the tool has
	 * copied every change up to the suspend and acknowledged it
	 */
	ASSERT_EQ(0, writer_burst(self, &w, 8));
	saved = vfio_mig_save(&self->p.dev[0], &stream, &len);
	ret = copy_tool_wait(&t, 60000);
	overflows = copy_tool_overflows(&t);
	copy_tool_log(&t);
	copy_tool_end(&t);
	ASSERT_EQ(0, saved) TH_LOG("STOP_COPY: %s", strerror(-saved));
	ASSERT_EQ(0, ret) TH_LOG("the tool's exit status");

	EXPECT_EQ(1, bdev_compare(src, dst, &diff)) TH_LOG("first difference at byte %llu",
							    (unsigned long long)diff);
	TH_LOG("%lu random writes, %lld overflows", w.writes, overflows);
	if (entries < 64)
		EXPECT_LT(0, overflows);

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
}

TEST_F_TIMEOUT(lba, migrate_local_namespace, 280)
{
	migrate_local_namespace(_metadata, self, 4096);
}

/* a queue too small for the writes while the tool does not read: overflows, still identical */
TEST_F_TIMEOUT(lba, migrate_local_namespace_queue_full, 280)
{
	migrate_local_namespace(_metadata, self, 8);
}

/*
 * The operator interrupts the tool (SIGINT) during the live copy: it
 * refuses the migration and exits 1; STOP_COPY then fails, the VF resumes
 * on the source.
 */
TEST_F_TIMEOUT(lba, copy_tool_interrupted_fails_migration, 280)
{
	char dst[64];
	char *argv[] = { COPY_TOOL, "--quiet", self->p.pf[0].ctrl, "0", "1", dst, NULL };
	struct copy_tool t;
	uint8_t *stream = NULL;
	size_t len = 0;
	int ret, fd = -1;

	ASSERT_EQ(0, nvme_ns_bdev(self->p.pf[1].ctrl, LOCAL_NSID, dst, sizeof(dst)));
	ASSERT_EQ(0, copy_tool_start(&t, argv));
	/* the log is open; the migration has begun (PRE_COPY) when the operator gives up */
	while (!copy_tool_said(&t, "first pass:") && copy_tool_wait(&t, 100) == -ETIMEDOUT)
		;
	ASSERT_NE(NULL, copy_tool_said(&t, "first pass:"));
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_EQ(0, kill(t.pid, SIGINT));
	ret = copy_tool_wait(&t, 30000);
	copy_tool_log(&t);
	copy_tool_end(&t);
	EXPECT_EQ(1, ret);

	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_STOP_COPY, NULL));
	ret = vfio_mig_read_all(fd, &stream, &len);
	/* the stream ends at PRE_COPY's ENOMSG once, then fails at the gate */
	if (ret > 0)
		ret = vfio_mig_read_all(fd, &stream, &len);
	EXPECT_EQ(-EPIPE, ret) TH_LOG("%s", ret < 0 ? strerror(-ret) : "the stream ended");
	free(stream);
	close(fd);
	source_resumes(_metadata, self, false);
}

TEST_HARNESS_MAIN
