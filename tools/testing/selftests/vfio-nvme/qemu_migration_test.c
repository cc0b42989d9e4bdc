// SPDX-License-Identifier: GPL-2.0
/*
 * Live migration done by QEMU itself, the way libvirt drives it: a QEMU
 * with VFIO migration v2 (10.0, from bookworm-backports) runs a small guest
 * (l2-nvme-io.elf) that keeps commands in flight on VF 1 of PF 0, assigned
 * with vfio-pci through nvme-vfio-pci; a second QEMU waits with -incoming on
 * VF 1 of PF 1.  The test migrates through QMP over a UNIX socket and checks
 * that QEMU completes the migration, that the guest carries on at the
 * destination from where it was, and that the guest never saw a failed,
 * lost or duplicated command or data that did not read back.  A second test
 * cancels a migration half way and checks the source carries on, then
 * migrates for real.
 *
 * Skips when the image has no such QEMU.  Expects the PFs prepared by
 * "vfio-nvme-setup sriov PF 3 2".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "vfio_nvme.h"
#include "vfio_mig.h"
#include "l2_console.h"
#include "../kselftest_harness.h"

#define VMM		"/usr/bin/qemu-system-x86_64"
#define L2_GUEST	"l2-nvme-io.elf"
#define DRIVER		"nvme_vfio_pci"
#define RUN		"/tmp/qemu-mig"
#define MIG_SOCK	RUN "/mig.sock"
/* generous: QEMU's TCG runs inside the rig's TCG guest */
#define WAIT_MS		60000

enum { SRC, DST };
static const char *const side[] = { "src", "dst" };

FIXTURE(qemu) {
	struct nvme_pf pf[2];
	char bdf[2][BDF_LEN];
	char guest[PATH_MAX];
	pid_t pid[2];
	int qmp[2];
	bool dma_logging;	/* the driver offers device dirty tracking */
};

static void run_path(char *buf, size_t len, int vm, const char *what)
{
	snprintf(buf, len, RUN "/%s.%s", side[vm], what);
}

/* start QEMU for VF bdf: the source runs the guest, the destination waits for it */
static pid_t vm_start(const char *bdf, const char *guest, int vm)
{
	char serial[160], qmp[160], dev[256], path[128];
	pid_t pid;
	int fd;

	run_path(path, sizeof(path), vm, "serial");
	snprintf(serial, sizeof(serial), "file:%s", path);
	run_path(path, sizeof(path), vm, "qmp");
	snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", path);
	/* QEMU_VFIO_OPTS replaces the options, e.g. to see x-no-mmap=off fail */
	snprintf(dev, sizeof(dev), "vfio-pci,host=%s,%s", bdf,
		 getenv("QEMU_VFIO_OPTS") ?: "enable-migration=on,x-no-mmap=on");
	pid = fork();
	if (pid)
		return pid;
	/*
	 * QEMU dies with the test's process, teardown or not: an ASSERT's
	 * longjmp() may skip the harness's teardown (see the Makefile), and a
	 * QEMU left running would keep the VF from every later test.
	 */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(127);
	fd = open(RUN "/qemu.log", O_WRONLY | O_APPEND | O_CREAT, 0644);
	dup2(fd, 1);
	dup2(fd, 2);
	/* the source's arguments end before -incoming */
	execl(VMM, VMM, "-machine", "pc", "-accel", "tcg,tb-size=32", "-m", "32",
	      "-nodefaults", "-no-user-config", "-display", "none",
	      "-kernel", guest, "-serial", serial, "-qmp", qmp, "-device", dev,
	      vm == DST ? "-incoming" : NULL, "unix:" MIG_SOCK, NULL);
	_exit(127);
}

/* SIGTERM, then SIGKILL if QEMU is not gone in 20 s: the VF must be free after */
static int vm_stop(pid_t pid)
{
	double end = now_ms() + 20000;

	kill(pid, SIGTERM);
	while (now_ms() < end) {
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return 0;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -ETIMEDOUT;
}

static int qmp_connect(int vm, pid_t pid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	double end = now_ms() + WAIT_MS;
	int fd;

	run_path(sa.sun_path, sizeof(sa.sun_path), vm, "qmp");
	while (now_ms() < end) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -ECHILD;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		close(fd);
		usleep(100000);
	}
	return -ETIMEDOUT;
}

/* read one line (a QMP message) into buf; 0 or -errno */
static int qmp_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r = read(fd, buf + n, 1);

		if (r <= 0)
			return r ? -errno : -EPIPE;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	return 0;
}

/* send a command, return its reply (events are skipped); 0 or -errno */
static int qmp(int fd, const char *cmd, char *reply, size_t len)
{
	int ret;

	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		return -EIO;
	do {
		ret = qmp_line(fd, reply, len);
	} while (!ret && strstr(reply, "\"event\": ") && !strstr(reply, "\"return\": "));
	if (!ret && !strstr(reply, "\"return\""))
		ret = -EREMOTEIO;
	return ret;
}

static int qmp_open(int vm, pid_t pid)
{
	char buf[4096];
	int fd = qmp_connect(vm, pid), ret;

	if (fd < 0)
		return fd;
	ret = qmp_line(fd, buf, sizeof(buf));	/* the greeting */
	if (!ret)
		ret = qmp(fd, "{\"execute\":\"qmp_capabilities\"}\n", buf, sizeof(buf));
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* the number after "key": in a QMP reply (after "in": if given), -1 when absent */
static long long qmp_num(const char *reply, const char *in, const char *key)
{
	char pat[64];
	const char *p = reply;

	if (in) {
		snprintf(pat, sizeof(pat), "\"%s\": ", in);
		p = strstr(reply, pat);
		if (!p)
			return -1;
	}
	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(p, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static void console_scan(int vm, struct l2_console *con)
{
	char path[128];

	run_path(path, sizeof(path), vm, "serial");
	l2_console_scan(path, con);
}

/* wait until nvme-vfio-pci's debugfs shows the VF in state */
static bool vf_state_is(const char *bdf, enum vfio_device_mig_state state)
{
	double end = now_ms() + WAIT_MS;
	char path[128], buf[512], want[32];

	snprintf(path, sizeof(path), "/sys/kernel/debug/nvme-vfio-pci/%s/migration", bdf);
	snprintf(want, sizeof(want), "state: %d\n", state);
	while (now_ms() < end) {
		if (sysfs_read(path, buf, sizeof(buf)))
			return false;
		if (strstr(buf, want))
			return true;
		usleep(50000);
	}
	return false;
}

/* wait until the guest on vm has done more than io commands; its count, or -1 */
static long long guest_wait_past(struct __test_metadata *_metadata, int vm, long long io)
{
	struct l2_console con;
	char path[128];
	long long ret;

	run_path(path, sizeof(path), vm, "serial");
	ret = l2_console_wait_past(path, io, WAIT_MS, &con);
	if (ret < 0 && con.fail[0])
		TH_LOG("%s guest: %s", side[vm], con.fail);
	else if (ret < 0)
		TH_LOG("%s guest stuck at %lld commands", side[vm], con.io);
	return ret;
}

/* what the QEMUs printed, for the test log when something failed */
static void qemu_log_dump(struct __test_metadata *_metadata)
{
	char line[512];
	FILE *f = fopen(RUN "/qemu.log", "r");

	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		TH_LOG("qemu: %s", line);
	}
	if (f)
		fclose(f);
}

/*
 * poll query-migrate on the source until it leaves the active states; a
 * switch-over of the whole pinned RAM at TCG's bandwidth can itself take
 * most of WAIT_MS
 */
static int migrate_wait(int fd, char *reply, size_t len)
{
	double end = now_ms() + 2 * WAIT_MS;

	while (now_ms() < end) {
		if (qmp(fd, "{\"execute\":\"query-migrate\"}\n", reply, len))
			return -EIO;
		if (strstr(reply, "\"status\": \"completed\""))
			return 0;
		if (strstr(reply, "\"status\": \"failed\"") ||
		    strstr(reply, "\"status\": \"cancelled\""))
			return -ECANCELED;
		usleep(100000);
	}
	return -ETIMEDOUT;
}

FIXTURE_SETUP(qemu)
{
	char self_exe[PATH_MAX];
	ssize_t n;

	for (int vm = SRC; vm <= DST; vm++) {
		self->pid[vm] = 0;
		self->qmp[vm] = -1;
		self->pf[vm].fd = -1;
	}
	if (access(VMM, X_OK))
		SKIP(return, "no QEMU with VFIO migration v2 (%s) in this image", VMM);
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	ASSERT_LT(0, n);
	self_exe[n] = 0;
	snprintf(self->guest, sizeof(self->guest), "%s/" L2_GUEST, dirname(self_exe));
	if (access(self->guest, R_OK))
		SKIP(return, "no %s (tools/testing/vfio-nvme-l2) next to the test", L2_GUEST);
	for (int i = 0; i < 2; i++) {
		int ret = nvme_pf_open(i, &self->pf[i]);

		if (ret == -ENODEV)
			SKIP(return, "needs two NVMe PFs with SR-IOV");
		ASSERT_EQ(0, ret);
		ASSERT_EQ(0, nvme_pf_vf_bdf(&self->pf[i], 1, self->bdf[i]));
		ASSERT_EQ(0, pci_bind(self->bdf[i], DRIVER));
	}
	{
		struct vfio_dev dev;

		ASSERT_EQ(0, vfio_dev_open(self->bdf[SRC], &dev));
		self->dma_logging = !vfio_dma_log_probe(&dev);
		vfio_dev_close(&dev);
	}
	mkdir(RUN, 0755);
	unlink(RUN "/src.serial");
	unlink(RUN "/dst.serial");
	unlink(MIG_SOCK);
	unlink(RUN "/qemu.log");
	for (int vm = DST; vm >= SRC; vm--) {
		self->pid[vm] = vm_start(self->bdf[vm], self->guest, vm);
		ASSERT_LT(0, self->pid[vm]);
		self->qmp[vm] = qmp_open(vm, self->pid[vm]);
		ASSERT_LE(0, self->qmp[vm]) {
			TH_LOG("QEMU (%s) did not come up, see " RUN "/qemu.log", side[vm]);
			self->pid[vm] = 0;
		}
	}
}

FIXTURE_TEARDOWN(qemu)
{
	for (int vm = SRC; vm <= DST; vm++) {
		if (self->qmp[vm] >= 0)
			close(self->qmp[vm]);
		if (self->pid[vm] > 0 && vm_stop(self->pid[vm]))
			TH_LOG("QEMU (%s) ignored SIGTERM for 20 s: killed", side[vm]);
		if (self->bdf[vm][0])
			pci_unbind(self->bdf[vm]);
		nvme_pf_close(&self->pf[vm]);
	}
}

/*
 * Without device dirty tracking (a kernel without IOMMUFD_DRIVER) QEMU falls
 * back to the type1 container's, which reports every pinned page dirty on
 * every pass: what is left to send never shrinks below the guest's pinned
 * RAM (27 of its 32 MiB), and QEMU switches over only once its bandwidth
 * estimate says that fits in the downtime limit.  Under TCG, with another
 * guest on the host's two cores, the estimate fell to 14 Mbit/s (18.8 s
 * expected) and a 5 s limit never switched over.  This test checks the
 * VF's state, not RAM convergence: without device dirty tracking allow
 * 60 s, with it 5 s; the measured downtime is reported either way.
 */
#define MIGRATE_PARAMS(limit_ms)	"{\"execute\":\"migrate-set-parameters\",\"arguments\":" \
					"{\"downtime-limit\":" #limit_ms ",\"max-bandwidth\":1073741824}}\n"

/* a switch-over that never comes: 1 ms downtime at 64 KiB/s */
#define MIGRATE_STALL	"{\"execute\":\"migrate-set-parameters\",\"arguments\":" \
			"{\"downtime-limit\":1,\"max-bandwidth\":65536}}\n"

/* migrate and check the guest carried on at the destination */
static void migrate_and_check(struct __test_metadata *_metadata, FIXTURE_DATA(qemu) *self,
			      long long src_io)
{
	char reply[8192];
	struct l2_console src, dst;
	long long dst_io;

	ASSERT_EQ(0, qmp(self->qmp[SRC], self->dma_logging ? MIGRATE_PARAMS(5000) :
			 MIGRATE_PARAMS(60000), reply, sizeof(reply)));
	ASSERT_EQ(0, qmp(self->qmp[SRC], "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:"
			 MIG_SOCK "\"}}\n", reply, sizeof(reply)));
	ASSERT_EQ(0, migrate_wait(self->qmp[SRC], reply, sizeof(reply))) {
		TH_LOG("query-migrate: %s", reply);
		qemu_log_dump(_metadata);
	}
	TH_LOG("QEMU migrated the guest: total %lld ms, downtime %lld ms; "
	       "VF state %lld bytes, RAM %lld bytes",
	       qmp_num(reply, NULL, "total-time"), qmp_num(reply, NULL, "downtime"),
	       qmp_num(reply, "vfio", "transferred"), qmp_num(reply, "ram", "transferred"));
	/* the VF's device state went through nvme-vfio-pci's data stream */
	EXPECT_LT(0, qmp_num(reply, "vfio", "transferred"));
	ASSERT_EQ(0, qmp(self->qmp[SRC], "{\"execute\":\"query-status\"}\n", reply, sizeof(reply)));
	EXPECT_NE(NULL, strstr(reply, "\"postmigrate\"")) TH_LOG("source: %s", reply);
	console_scan(SRC, &src);
	ASSERT_EQ(0, src.fail[0]) TH_LOG("source guest: %s", src.fail);
	ASSERT_LE(src_io, src.io);

	/* the destination's console is empty until the guest runs there */
	dst_io = guest_wait_past(_metadata, DST, -1);
	ASSERT_LT(0, dst_io);
	/* its command count went on from the source's: the same guest, not a new one */
	EXPECT_LE(src.io, dst_io);
	console_scan(DST, &dst);
	EXPECT_FALSE(dst.ready) TH_LOG("the guest set the VF up again");
	dst_io = guest_wait_past(_metadata, DST, dst_io + 1024);
	ASSERT_LT(0, dst_io);
	ASSERT_EQ(0, qmp(self->qmp[DST], "{\"execute\":\"query-status\"}\n", reply, sizeof(reply)));
	EXPECT_NE(NULL, strstr(reply, "\"running\"")) TH_LOG("destination: %s", reply);
	TH_LOG("guest: %lld commands on the source, carried on to %lld on the destination",
	       src.io, dst_io);
}

TEST_F_TIMEOUT(qemu, migrate_guest_with_io_in_flight, 900)
{
	long long io = guest_wait_past(_metadata, SRC, 512);

	ASSERT_LT(0, io);
	migrate_and_check(_metadata, self, io);
}

TEST_F_TIMEOUT(qemu, cancelled_migration_source_carries_on, 900)
{
	char reply[8192];
	long long io = guest_wait_past(_metadata, SRC, 512);

	ASSERT_LT(0, io);
	/* stall the switch-over so the cancel lands while the VF is pre-copying */
	ASSERT_EQ(0, qmp(self->qmp[SRC], MIGRATE_STALL, reply, sizeof(reply)));
	ASSERT_EQ(0, qmp(self->qmp[SRC], "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:"
			 MIG_SOCK "\"}}\n", reply, sizeof(reply)));
	/* QEMU puts the source VF in PRE_COPY when the migration starts */
	ASSERT_TRUE(vf_state_is(self->bdf[SRC], VFIO_DEVICE_STATE_PRE_COPY));
	io = guest_wait_past(_metadata, SRC, io + 256);
	ASSERT_LT(0, io);
	ASSERT_EQ(0, qmp(self->qmp[SRC], "{\"execute\":\"migrate_cancel\"}\n", reply,
			 sizeof(reply)));
	ASSERT_EQ(-ECANCELED, migrate_wait(self->qmp[SRC], reply, sizeof(reply)));
	ASSERT_EQ(0, qmp(self->qmp[SRC], "{\"execute\":\"query-status\"}\n", reply,
			 sizeof(reply)));
	ASSERT_NE(NULL, strstr(reply, "\"running\"")) TH_LOG("source: %s", reply);
	io = guest_wait_past(_metadata, SRC, io + 1024);
	ASSERT_LT(0, io);
	TH_LOG("cancelled in PRE_COPY; the guest carried on at the source to %lld commands", io);

	/* the destination QEMU quits when its incoming migration fails: start it again */
	vm_stop(self->pid[DST]);
	close(self->qmp[DST]);
	unlink(MIG_SOCK);
	self->pid[DST] = vm_start(self->bdf[DST], self->guest, DST);
	ASSERT_LT(0, self->pid[DST]);
	self->qmp[DST] = qmp_open(DST, self->pid[DST]);
	ASSERT_LE(0, self->qmp[DST]);
	migrate_and_check(_metadata, self, io);
}

TEST_HARNESS_MAIN
