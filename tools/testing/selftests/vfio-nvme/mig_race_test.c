// SPDX-License-Identifier: GPL-2.0
/*
 * Races on nvme-vfio-pci's VFIO migration uAPI.  For a bounded time
 * (MIG_RACE_SECONDS, default 20, at most 240), threads hit VFs 1 and 2 of
 * PF 0 at once: random walks over the migration states (single arcs and
 * multi-arc requests), VFIO_DEVICE_RESET and a function reset through
 * sysfs, closing and reopening the device fd, read() on the saving data
 * fd, write() of real and corrupt streams on the resuming data fd,
 * VFIO_MIG_GET_PRECOPY_INFO and MIG_DATA_SIZE.  Every call must succeed or
 * fail with an errno listed in allowed[] below; the kernel must log no
 * report (KASAN, lockdep, WARN, BUG: lib/kmsg.c); afterwards each VF
 * resets to RUNNING, its controller starts, does I/O, and migrates
 * (save/load loopback) and does I/O again.
 *
 * Then the deterministic case: a read() or write() on a data fd stalled
 * in a userfaultfd-registered buffer (holding the data file's lock) while
 * the VF is reset, its device fd closed and the VF unbound from the
 * driver, which frees the driver's device; the fault is resolved and the
 * call returns, touching nothing freed (the data file pins the VF's
 * struct device; KASAN on the debug kernel).
 *
 * Threads share fds by dup(): a fd is dup()ed under the VF's lock and
 * closed after use, so closing a slot never closes a number another thread
 * is using; the device is closed (close_device) by whichever close is last.
 *
 * Expects PF 0 prepared by "vfio-nvme-setup sriov 0 3 2" (VFs 1 and 2 online).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "vfio_nvme.h"
#include "vfio_mig.h"
#include "nvme_drv.h"
#include "kmsg.h"
#include "../kselftest_harness.h"

#define SHARED_NSID	2
#define QSIZE		16
#define DRIVER		"nvme_vfio_pci"
#define NVF		2
#define RACE_SECONDS	20
#define MAX_SECONDS	240
#define MAXERR		256

#define S_ERROR		VFIO_DEVICE_STATE_ERROR
#define S_STOP		VFIO_DEVICE_STATE_STOP
#define S_RUNNING	VFIO_DEVICE_STATE_RUNNING
#define S_STOP_COPY	VFIO_DEVICE_STATE_STOP_COPY
#define S_RESUMING	VFIO_DEVICE_STATE_RESUMING
#define S_P2P		VFIO_DEVICE_STATE_RUNNING_P2P
#define S_PRE_COPY	VFIO_DEVICE_STATE_PRE_COPY
#define S_PRE_COPY_P2P	VFIO_DEVICE_STATE_PRE_COPY_P2P

enum slot { DEV, SAVE, RESUME, NSLOT };

enum op {
	OP_SET, OP_GET, OP_SIZE, OP_RESET, OP_SYSFS_RESET, OP_OPEN, OP_READ, OP_WRITE,
	OP_PRECOPY, NOPS
};

static const char *const op_name[NOPS] = {
	[OP_SET] = "MIG_DEVICE_STATE set",
	[OP_GET] = "MIG_DEVICE_STATE get",
	[OP_SIZE] = "MIG_DATA_SIZE",
	[OP_RESET] = "VFIO_DEVICE_RESET",
	[OP_SYSFS_RESET] = "sysfs reset",
	[OP_OPEN] = "reopen (GET_DEVICE_FD)",
	[OP_READ] = "read(saving fd)",
	[OP_WRITE] = "write(resuming fd)",
	[OP_PRECOPY] = "GET_PRECOPY_INFO",
};

/*
 * The errnos each call may fail with while everything else runs (success
 * is always allowed), from the uAPI (include/uapi/linux/vfio.h), the
 * driver (lm.c) and the VFIO and PCI cores:
 * - set: EINVAL: RESUMING -> STOP without a complete, accepted stream, or
 *   the device in ERROR (only a reset leaves it), or the PF refused a
 *   command (Invalid Field); EAGAIN: the PF was busy while a data file was
 *   described; ESTALE: a concurrent reset resumed the controller between
 *   two commands of the arc (the device is then in ERROR until the reset
 *   is processed, which makes it RUNNING).
 * - MIG_DATA_SIZE: ESTALE: a concurrent reset resumed the controller
 *   whose state size was asked (stopped states only).
 * - VFIO_DEVICE_RESET: EAGAIN: pci_try_reset_function() found the device
 *   locked (a reset through sysfs, or the core's reset at open or close).
 * - reopen: EAGAIN: the same, for the reset vfio_pci_core_enable() does.
 * - read: ENOMSG: PRE_COPY and all of it read for now; ENODEV: the
 *   session ended (arc, reset, close, ERROR).
 * - write: ENODEV: the session ended or the stream was rejected before;
 *   EINVAL, EBADMSG: the stream is rejected (the corrupt writes).
 * - GET_PRECOPY_INFO: EINVAL: the device is not in PRE_COPY(_P2P) any
 *   more; ENODEV: the session ended.
 */
static const int allowed[NOPS][8] = {
	[OP_SET] = { EINVAL, EAGAIN, ESTALE },
	[OP_SIZE] = { ESTALE },
	[OP_RESET] = { EAGAIN },
	[OP_OPEN] = { EAGAIN },
	[OP_READ] = { ENOMSG, ENODEV },
	[OP_WRITE] = { ENODEV, EINVAL, EBADMSG },
	[OP_PRECOPY] = { EINVAL, ENODEV },
};

/* the single arcs of STOP_COPY | P2P | PRE_COPY (vfio_mig_get_next_state()) */
static const int arcs[8][4] = {
	[S_RUNNING] = { S_P2P, S_PRE_COPY },
	[S_STOP] = { S_P2P, S_STOP_COPY, S_RESUMING },
	[S_STOP_COPY] = { S_STOP },
	[S_RESUMING] = { S_STOP },
	[S_P2P] = { S_RUNNING, S_STOP, S_PRE_COPY_P2P },
	[S_PRE_COPY] = { S_RUNNING, S_PRE_COPY_P2P },
	[S_PRE_COPY_P2P] = { S_PRE_COPY, S_P2P, S_STOP_COPY },
};

struct race;

struct rvf {
	struct vfio_dev dev;	/* its own container; dev.fd unused during the race */
	struct race *r;
	int idx;
	pthread_mutex_t lock;	/* protects fd[] and gen[] */
	int fd[NSLOT];		/* device fd, latest saving and resuming data fds, or -1 */
	unsigned int gen[NSLOT];	/* how many fds were put in each slot */
};

/* unexpected errnos, the first few with what was going on */
#define NOTES	16

struct race {
	volatile int stop;
	unsigned long count[NOPS][MAXERR];	/* [op][0]: successes, [op][e]: errno e */
	pthread_mutex_t lock;	/* protects the stream and notes */
	uint8_t *stream;	/* a complete, valid stream for the writers */
	size_t len;
	unsigned long streams_read;	/* complete streams read during the race */
	unsigned long loads;		/* streams applied: RESUMING -> STOP done */
	unsigned long saves;		/* states read: -> STOP_COPY done */
	int nnotes;
	char note[NOTES][160];
};

static unsigned int rnd(unsigned int *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void pause_us(unsigned int *s, unsigned int max)
{
	if (max)
		usleep(rnd(s) % max);
}

static bool is_allowed(enum op op, int err)
{
	for (int i = 0; i < 8 && allowed[op][i]; i++)
		if (allowed[op][i] == err)
			return true;
	return false;
}

/* count the outcome of one call: err is 0 or a positive errno */
static void record(struct rvf *vf, enum op op, int err, const char *what)
{
	struct race *r = vf->r;

	__atomic_fetch_add(&r->count[op][err < MAXERR ? err : MAXERR - 1], 1, __ATOMIC_RELAXED);
	if (!err || is_allowed(op, err))
		return;
	pthread_mutex_lock(&r->lock);
	if (r->nnotes < NOTES)
		snprintf(r->note[r->nnotes++], sizeof(r->note[0]), "%s: %s: %s (%s)",
			 vf->dev.bdf, op_name[op], strerror(err), what ? what : "");
	pthread_mutex_unlock(&r->lock);
}

/* a dup of slot s, or -1 if it is empty; *gen: which fd it is */
static int take(struct rvf *vf, enum slot s, unsigned int *gen)
{
	int fd = -1;

	pthread_mutex_lock(&vf->lock);
	if (vf->fd[s] >= 0)
		fd = dup(vf->fd[s]);
	if (gen)
		*gen = vf->gen[s];
	pthread_mutex_unlock(&vf->lock);
	return fd;
}

/* put fd (or -1) in slot s, closing what was there */
static void put(struct rvf *vf, enum slot s, int fd)
{
	int old;

	pthread_mutex_lock(&vf->lock);
	old = vf->fd[s];
	vf->fd[s] = fd;
	vf->gen[s]++;
	pthread_mutex_unlock(&vf->lock);
	if (old >= 0)
		close(old);
}

/* empty slot s if it still holds fd number gen */
static void drop(struct rvf *vf, enum slot s, unsigned int gen)
{
	int old = -1;

	pthread_mutex_lock(&vf->lock);
	if (vf->gen[s] == gen) {
		old = vf->fd[s];
		vf->fd[s] = -1;
	}
	pthread_mutex_unlock(&vf->lock);
	if (old >= 0)
		close(old);
}

static const char *state_name(int s)
{
	static const char *const n[] = {
		"ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P",
		"PRE_COPY", "PRE_COPY_P2P",
	};

	return s >= 0 && s < 8 ? n[s] : "?";
}

/* random walk: mostly single arcs, sometimes a multi-arc request */
static void *state_walker(void *arg)
{
	struct rvf *vf = arg;
	unsigned int seed = 0x9e3779b9u * (vf->idx + 1);
	char what[64];

	while (!vf->r->stop) {
		struct vfio_dev d = { .fd = take(vf, DEV, NULL) };
		int cur, next, ret, dfd;

		if (d.fd < 0) {
			pause_us(&seed, 2000);
			continue;
		}
		cur = vfio_mig_get(&d);
		record(vf, OP_GET, cur < 0 ? -cur : 0, NULL);
		if (cur == S_RESUMING)
			pause_us(&seed, 20000);	/* the writer's turn */
		if (cur <= S_ERROR || cur > S_PRE_COPY_P2P) {
			/* ERROR: only a reset leaves it */
			close(d.fd);
			pause_us(&seed, 5000);
			continue;
		}
		if (rnd(&seed) % 5 == 0) {
			do
				next = 1 + rnd(&seed) % 7;
			while (next == cur);
		} else {
			int n = 0;

			while (n < 4 && arcs[cur][n])
				n++;
			next = arcs[cur][rnd(&seed) % n];
		}
		ret = vfio_mig_set(&d, next, &dfd);
		snprintf(what, sizeof(what), "%s -> %s", state_name(cur), state_name(next));
		record(vf, OP_SET, -ret, what);
		if (!ret && cur == S_RESUMING)
			__atomic_fetch_add(&vf->r->loads, 1, __ATOMIC_RELAXED);
		if (!ret && next == S_STOP_COPY)
			__atomic_fetch_add(&vf->r->saves, 1, __ATOMIC_RELAXED);
		if (!ret && dfd >= 0)
			put(vf, next == S_RESUMING ? RESUME : SAVE, dfd);
		close(d.fd);
		pause_us(&seed, 3000);
	}
	return NULL;
}

static void *resetter(void *arg)
{
	struct rvf *vf = arg;
	unsigned int seed = 0x85ebca6bu * (vf->idx + 1);

	while (!vf->r->stop) {
		int fd;

		pause_us(&seed, 150000);
		if (rnd(&seed) % 4 == 0) {
			/* a reset that does not go through VFIO (no memory_lock) */
			int ret = sysfs_write_dev(vf->dev.bdf, "reset", "1");

			record(vf, OP_SYSFS_RESET, -ret, NULL);
			continue;
		}
		fd = take(vf, DEV, NULL);
		if (fd < 0)
			continue;
		record(vf, OP_RESET, ioctl(fd, VFIO_DEVICE_RESET) ? errno : 0, NULL);
		close(fd);
	}
	return NULL;
}

static void *reopener(void *arg)
{
	struct rvf *vf = arg;
	unsigned int seed = 0xc2b2ae35u * (vf->idx + 1);

	while (!vf->r->stop) {
		int fd;

		pause_us(&seed, 300000);
		put(vf, DEV, -1);
		pause_us(&seed, 20000);
		for (;;) {
			fd = ioctl(vf->dev.group, VFIO_GROUP_GET_DEVICE_FD, vf->dev.bdf);
			record(vf, OP_OPEN, fd < 0 ? errno : 0, NULL);
			if (fd >= 0 || vf->r->stop)
				break;
			usleep(1000);
		}
		if (fd >= 0)
			put(vf, DEV, fd);
	}
	return NULL;
}

/* read the saving fd; a complete stream becomes the writers' next one */
static void *reader(void *arg)
{
	struct rvf *vf = arg;
	struct race *r = vf->r;
	unsigned int seed = 0x27d4eb2fu * (vf->idx + 1), mygen = ~0u, gen;
	uint8_t *acc = NULL, buf[8192];
	size_t len = 0;

	while (!r->stop) {
		int fd = take(vf, SAVE, &gen);
		ssize_t n;

		if (fd < 0) {
			pause_us(&seed, 2000);
			continue;
		}
		if (gen != mygen) {
			mygen = gen;
			len = 0;
		}
		n = read(fd, buf, 1 + rnd(&seed) % sizeof(buf));
		record(vf, OP_READ, n < 0 ? errno : 0, NULL);
		if (n > 0) {
			uint8_t *nb = realloc(acc, len + n);

			if (nb) {
				acc = nb;
				memcpy(acc + len, buf, n);
				len += n;
			}
		} else if (n == 0 || errno == ENODEV) {
			if (n == 0 && len) {
				uint8_t *copy = malloc(len);

				if (copy) {
					memcpy(copy, acc, len);
					pthread_mutex_lock(&r->lock);
					free(r->stream);
					r->stream = copy;
					r->len = len;
					r->streams_read++;
					pthread_mutex_unlock(&r->lock);
				}
			}
			len = 0;
			drop(vf, SAVE, gen);	/* the session is over */
		}
		close(fd);
		pause_us(&seed, 1000);
	}
	free(acc);
	return NULL;
}

/* write a real stream in random pieces, now and then corrupt bytes */
static void *writer(void *arg)
{
	struct rvf *vf = arg;
	struct race *r = vf->r;
	unsigned int seed = 0x165667b1u * (vf->idx + 1), mygen = ~0u, gen;
	uint8_t *s = NULL, junk[512];
	size_t len = 0, off = 0;

	while (!r->stop) {
		int fd = take(vf, RESUME, &gen);
		unsigned int dice = rnd(&seed) % 100;
		ssize_t n;

		if (fd < 0) {
			pause_us(&seed, 2000);
			continue;
		}
		if (gen != mygen) {
			mygen = gen;
			off = 0;
			pthread_mutex_lock(&r->lock);
			free(s);
			s = malloc(r->len);
			len = s ? r->len : 0;
			if (s)
				memcpy(s, r->stream, len);
			pthread_mutex_unlock(&r->lock);
		}
		if (dice < 6 || (off == len && dice < 10)) {
			size_t jl = 1 + rnd(&seed) % sizeof(junk);

			for (size_t i = 0; i < jl; i++)
				junk[i] = rnd(&seed);
			n = write(fd, junk, jl);
		} else if (off < len) {
			size_t chunk = dice & 1 ? len - off : 1 + rnd(&seed) % (len - off);

			n = write(fd, s + off, chunk);
			if (n > 0)
				off += n;
		} else {
			close(fd);
			pause_us(&seed, 2000);
			continue;
		}
		record(vf, OP_WRITE, n < 0 ? errno : 0, NULL);
		if (n < 0 && errno == ENODEV)
			drop(vf, RESUME, gen);
		close(fd);
		pause_us(&seed, 1000);
	}
	free(s);
	return NULL;
}

static void *informer(void *arg)
{
	struct rvf *vf = arg;
	unsigned int seed = 0xd3a2646cu * (vf->idx + 1);

	while (!vf->r->stop) {
		struct vfio_dev d;
		uint64_t a, b;
		int fd = take(vf, SAVE, NULL);

		if (fd >= 0) {
			record(vf, OP_PRECOPY, -vfio_mig_precopy_info(fd, &a, &b), NULL);
			close(fd);
		}
		d.fd = take(vf, DEV, NULL);
		if (d.fd >= 0) {
			record(vf, OP_SIZE, -vfio_mig_data_size(&d, &a), NULL);
			close(d.fd);
		}
		pause_us(&seed, 3000);
	}
	return NULL;
}

static void *(*const roles[])(void *) = {
	state_walker, resetter, reopener, reader, writer, informer,
};
#define NROLES	(sizeof(roles) / sizeof(roles[0]))

FIXTURE(race) {
	struct nvme_pf pf;
	char bdf[NVF][BDF_LEN];
	struct rvf vf[NVF];
	struct race r;
	struct kmsg km;
	struct nvme_drv drv[NVF];
	struct vfio_dma buf[NVF];
};

FIXTURE_SETUP(race)
{
	int ret;

	self->km.fd = -1;
	for (int i = 0; i < NVF; i++) {
		self->vf[i].dev.fd = -1;
		for (int s = 0; s < NSLOT; s++)
			self->vf[i].fd[s] = -1;
	}
	ret = nvme_pf_open(0, &self->pf);
	if (ret == -ENODEV)
		SKIP(return, "needs an NVMe PF with SR-IOV");
	ASSERT_EQ(0, ret);
	for (int i = 0; i < NVF; i++) {
		struct nvme_secondary_ctrl sc;
		struct rvf *vf = &self->vf[i];

		ASSERT_EQ(0, nvme_pf_sec_ctrl(&self->pf, i + 1, &sc));
		ASSERT_TRUE(sc.scs & 1) TH_LOG("VF %d is offline", i + 1);
		ASSERT_EQ(0, nvme_pf_vf_bdf(&self->pf, i + 1, self->bdf[i]));
		ASSERT_EQ(0, pci_bind(self->bdf[i], DRIVER));
		ASSERT_EQ(0, vfio_dev_open(self->bdf[i], &vf->dev));
		vf->r = &self->r;
		vf->idx = i;
		pthread_mutex_init(&vf->lock, NULL);
	}
	if (vfio_mig_flags(&self->vf[0].dev) <= 0)
		SKIP(return, "the PF does not migrate VFs");
	pthread_mutex_init(&self->r.lock, NULL);
	ASSERT_EQ(0, kmsg_open(&self->km));
	/* a real stream for the writers to start with */
	ASSERT_EQ(0, vfio_mig_save(&self->vf[0].dev, &self->r.stream, &self->r.len));
	ASSERT_EQ(0, vfio_mig_set(&self->vf[0].dev, S_RUNNING, NULL));
}

FIXTURE_TEARDOWN(race)
{
	for (int i = 0; i < NVF; i++) {
		struct rvf *vf = &self->vf[i];

		nvme_drv_fini(&self->drv[i]);
		if (vf->dev.ctr)
			vfio_dma_free(vf->dev.ctr, &self->buf[i]);
		for (int s = SAVE; s < NSLOT; s++)
			if (vf->fd[s] >= 0)
				close(vf->fd[s]);
		if (vf->fd[DEV] >= 0 && vf->fd[DEV] != vf->dev.fd)
			close(vf->fd[DEV]);
		vfio_dev_close(&vf->dev);
		if (self->bdf[i][0])
			pci_unbind(self->bdf[i]);
	}
	free(self->r.stream);
	kmsg_close(&self->km);
	nvme_pf_close(&self->pf);
}

/* the controller of VF i starts, writes block blk and reads it back */
static int vf_io_works(FIXTURE_DATA(race) *self, int i, uint64_t blk, uint32_t gen)
{
	struct nvme_drv *drv = &self->drv[i];
	struct vfio_dma *b = &self->buf[i];
	uint8_t want[4096];
	int ret;

	nvme_drv_pattern(b->va, blk, gen);
	memcpy(want, b->va, sizeof(want));
	ret = nvme_drv_io_sync(drv, nvme_cmd_write, blk, b->iova);
	if (!ret) {
		memset(b->va, 0, sizeof(want));
		ret = nvme_drv_io_sync(drv, nvme_cmd_read, blk, b->iova);
	}
	return ret ? ret : memcmp(want, b->va, sizeof(want)) ? -EILSEQ : 0;
}

static int race_seconds(void)
{
	const char *e = getenv("MIG_RACE_SECONDS");
	int s = e ? atoi(e) : RACE_SECONDS;

	return s < 1 ? 1 : s > MAX_SECONDS ? MAX_SECONDS : s;
}

TEST_F_TIMEOUT(race, everything_at_once, MAX_SECONDS + 120)
{
	pthread_t t[NVF][NROLES];
	int seconds = race_seconds(), unexpected = 0;
	double t0;

	for (int i = 0; i < NVF; i++) {
		struct rvf *vf = &self->vf[i];

		/* the race owns the device fd from here on */
		vf->fd[DEV] = vf->dev.fd;
		vf->dev.fd = -1;
		for (unsigned int k = 0; k < NROLES; k++)
			ASSERT_EQ(0, pthread_create(&t[i][k], NULL, roles[k], vf));
	}
	t0 = now_ms();
	sleep(seconds);
	self->r.stop = 1;
	for (int i = 0; i < NVF; i++)
		for (unsigned int k = 0; k < NROLES; k++)
			pthread_join(t[i][k], NULL);
	TH_LOG("raced %d s (%.1f s with the threads' last calls): %lu states saved, %lu streams read whole, %lu loaded",
	       seconds, (now_ms() - t0) / 1000, self->r.saves, self->r.streams_read,
	       self->r.loads);

	for (int o = 0; o < NOPS; o++) {
		char line[512];
		int n = snprintf(line, sizeof(line), "%-24s %6lu ok", op_name[o],
				 self->r.count[o][0]);

		for (int e = 1; e < MAXERR; e++) {
			if (!self->r.count[o][e])
				continue;
			n += snprintf(line + n, sizeof(line) - n, ", %s%s %lu",
				      is_allowed(o, e) ? "" : "UNEXPECTED ", strerrorname_np(e),
				      self->r.count[o][e]);
			if (!is_allowed(o, e))
				unexpected += self->r.count[o][e];
			if (n >= (int)sizeof(line))
				break;
		}
		printf("# %s\n", line);
	}
	for (int i = 0; i < self->r.nnotes; i++)
		TH_LOG("%s", self->r.note[i]);
	EXPECT_EQ(0, unexpected);

	/* every VF: reset, RUNNING, its controller starts and does I/O, and migrates */
	for (int i = 0; i < NVF; i++) {
		struct rvf *vf = &self->vf[i];
		uint8_t *stream;
		size_t len;

		put(vf, SAVE, -1);
		put(vf, RESUME, -1);
		if (vf->fd[DEV] < 0)
			vf->fd[DEV] = ioctl(vf->dev.group, VFIO_GROUP_GET_DEVICE_FD, vf->dev.bdf);
		ASSERT_LE(0, vf->fd[DEV]) TH_LOG("reopen %s: %s", vf->dev.bdf, strerror(errno));
		vf->dev.fd = vf->fd[DEV];
		ASSERT_EQ(0, ioctl(vf->dev.fd, VFIO_DEVICE_RESET)) TH_LOG("%s", vf->dev.bdf);
		ASSERT_EQ(S_RUNNING, vfio_mig_get(&vf->dev)) TH_LOG("%s", vf->dev.bdf);
		ASSERT_EQ(0, nvme_drv_init(&self->drv[i], &vf->dev, SHARED_NSID))
			TH_LOG("%s", vf->dev.bdf);
		ASSERT_EQ(0, nvme_drv_create_ioq(&self->drv[i], 1, QSIZE));
		ASSERT_EQ(0, vfio_dma_alloc(vf->dev.ctr, 4096, &self->buf[i]));
		EXPECT_EQ(0, vf_io_works(self, i, 700 + i, 1)) TH_LOG("%s", vf->dev.bdf);
		ASSERT_EQ(0, vfio_mig_save(&vf->dev, &stream, &len)) TH_LOG("%s", vf->dev.bdf);
		ASSERT_EQ(0, vfio_mig_load(&vf->dev, stream, len, 4096)) TH_LOG("%s", vf->dev.bdf);
		free(stream);
		EXPECT_EQ(0, vf_io_works(self, i, 710 + i, 2)) TH_LOG("%s after a loopback", vf->dev.bdf);
	}
	EXPECT_EQ(0, kmsg_reports(&self->km));
}

static int uffd_open(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

struct stalled {
	int fd;
	bool write;
	void *buf;
	size_t len;
	ssize_t ret;
	int err;
};

static void *stalled_io(void *arg)
{
	struct stalled *s = arg;

	s->ret = s->write ? write(s->fd, s->buf, s->len) : read(s->fd, s->buf, s->len);
	s->err = s->ret < 0 ? errno : 0;
	return NULL;
}

/*
 * A data file's read() or write() stalls in a page fault on its user
 * buffer (userfaultfd) while it holds the file's lock.  Meanwhile the VF is
 * reset (which ends the session without waiting for that lock), its device
 * fd closed and the VF unbound from nvme-vfio-pci, which frees the
 * driver's device.  Then the fault is resolved: the call finishes (it was
 * past its check before the reset) without touching the freed device:
 * only the file and the VF's struct device, which the file pins.  Rounds:
 * a valid stream written (accepted), a corrupt one (rejected, logged
 * against the VF's device), a read of the PRE_COPY header.  The VF binds
 * and works again after each.
 */
TEST_F_TIMEOUT(race, stalled_data_fd_outlives_reset_close_unbind, 180)
{
	static const char *const what[] = { "valid write", "corrupt write", "read" };
	struct rvf *vf = &self->vf[0];
	long page = sysconf(_SC_PAGESIZE);
	int uffd = uffd_open();

	if (uffd == -ENOSYS || uffd == -EPERM)
		SKIP(return, "no userfaultfd in this kernel (CONFIG_USERFAULTFD)");
	ASSERT_LE(0, uffd) TH_LOG("userfaultfd: %s", strerror(-uffd));
	ASSERT_GE(page, (long)self->r.len);

	for (int round = 0; round < 3; round++) {
		struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
		struct pollfd pfd = { .fd = uffd, .events = POLLIN };
		struct stalled s = { .write = round < 2, .len = self->r.len };
		struct uffdio_copy copy = {};
		struct uffd_msg msg;
		uint8_t *src, b[8];
		pthread_t t;

		/* the bytes the stalled call will see */
		src = aligned_alloc(page, page);
		ASSERT_NE(NULL, src);
		memset(src, 0, page);
		memcpy(src, self->r.stream, self->r.len);
		if (round == 1)
			src[20] ^= 0x40;	/* the header record's payload: its CRC fails */

		s.buf = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, s.buf);
		reg.range.start = (uintptr_t)s.buf;
		reg.range.len = page;
		ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));

		ASSERT_EQ(0, vfio_mig_set(&vf->dev, s.write ? S_RESUMING : S_PRE_COPY, &s.fd));
		if (!s.write)
			s.len = page;
		ASSERT_EQ(0, pthread_create(&t, NULL, stalled_io, &s));
		/* the call is inside the data file, stalled on its buffer */
		ASSERT_EQ(1, poll(&pfd, 1, -1));
		ASSERT_EQ((ssize_t)sizeof(msg), read(uffd, &msg, sizeof(msg)));
		ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);

		ASSERT_EQ(0, ioctl(vf->dev.fd, VFIO_DEVICE_RESET));
		EXPECT_EQ(S_RUNNING, vfio_mig_get(&vf->dev));
		vfio_dev_close(&vf->dev);
		ASSERT_EQ(0, pci_unbind(self->bdf[0]));
		TH_LOG("%s: reset, closed and unbound with the call stalled", what[round]);

		copy.dst = (uintptr_t)s.buf;
		copy.src = (uintptr_t)src;
		copy.len = page;
		ASSERT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy));
		pthread_join(t, NULL);
		switch (round) {
		case 0:		/* past its check before the reset: accepted */
			EXPECT_EQ((ssize_t)self->r.len, s.ret) TH_LOG("%s", strerror(s.err));
			break;
		case 1:
			EXPECT_EQ(-1, s.ret);
			EXPECT_EQ(EBADMSG, s.err);
			break;
		case 2:		/* the PRE_COPY part: the header record */
			EXPECT_LT(0, s.ret) TH_LOG("%s", strerror(s.err));
			break;
		}
		/* the session ended with the reset */
		EXPECT_EQ(-1, s.write ? write(s.fd, src, 8) : read(s.fd, b, sizeof(b)));
		EXPECT_EQ(ENODEV, errno);
		close(s.fd);
		munmap(s.buf, page);
		free(src);

		ASSERT_EQ(0, pci_bind(self->bdf[0], DRIVER));
		ASSERT_EQ(0, vfio_dev_open(self->bdf[0], &vf->dev));
		EXPECT_EQ(S_RUNNING, vfio_mig_get(&vf->dev));
	}
	close(uffd);
	ASSERT_EQ(0, nvme_drv_init(&self->drv[0], &vf->dev, SHARED_NSID));
	ASSERT_EQ(0, nvme_drv_create_ioq(&self->drv[0], 1, QSIZE));
	ASSERT_EQ(0, vfio_dma_alloc(vf->dev.ctr, 4096, &self->buf[0]));
	EXPECT_EQ(0, vf_io_works(self, 0, 720, 3));
	EXPECT_EQ(0, kmsg_reports(&self->km));
}

TEST_HARNESS_MAIN
