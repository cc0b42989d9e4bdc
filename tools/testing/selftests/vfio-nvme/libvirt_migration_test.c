// SPDX-License-Identifier: GPL-2.0
/*
 * The operator's path: libvirt 11.3 and QEMU 10.0 from bookworm-backports,
 * two libvirt "hosts" in one guest (two libvirtd, each in its own mount and
 * UTS namespace with its own host UUID, see the rig's libvirt-hosts.sh),
 * a domain with a plain <hostdev managed='yes'> for VF 1 of PF 0, and
 * `virsh migrate --live` to the other host's VF 1 of PF 1 and back.
 *
 * The domain's guest is l2-nvme-io.elf, which keeps NVMe commands in flight
 * and checks every one; each case asserts it never saw a failed, lost or
 * duplicated command or data that did not read back, that it carried on
 * after the migration, and that libvirt reports VFIO device state moved
 * (vfio_data_transferred).
 *
 * The domain XML is the operator guide's (Documentation/driver-api/
 * vfio-nvme.rst, "libvirt"): with device DMA logging (a kernel with
 * CONFIG_IOMMUFD_DRIVER) a plain hostdev; without it (Debian's 6.12) the
 * hostdev also needs QEMU's enable-migration=on and x-no-mmap=on, set with
 * <qemu:override>.
 *
 * Skips when the image has no libvirt root (/libvirt).  Expects the PFs
 * prepared by "vfio-nvme-setup sriov PF 3 2".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "vfio_nvme.h"
#include "vfio_mig.h"
#include "l2_console.h"
#include "lba_log.h"
#include "copy_tool.h"
#include "../kselftest_harness.h"

#define ROOT		"/libvirt"
#define HOSTS		"/rig/libvirt-hosts.sh"
/* both hosts' shared directory (a tmpfs libvirt-hosts.sh mounts), inside the root and out */
#define SHARED		"/tmp/lv"
#define OUT		ROOT SHARED
#define L2_GUEST	"l2-nvme-io.elf"
#define DOM		"l2"
#define DOM_UUID	"2c1b6a4e-5d8f-4e55-9a3c-6e7666d6e002"
/* generous: QEMU's TCG runs inside the rig's TCG guest */
#define WAIT_MS		90000

enum { A, B };
static const char *const host[] = { "A", "B" };

/* how the domain's VF is given to it */
enum assign { MANAGED, UNMANAGED };

FIXTURE(lv) {
	struct nvme_pf pf[3];
	char vf[3][BDF_LEN];	/* VF 1 of each PF */
	bool dma_logging;	/* the driver offers device dirty tracking */
	bool started;
	struct copy_tool copy;	/* nvme-vfio-copy, if a case started it */
};

/* run a shell command line; its output (stdout and stderr) in out; exit status */
static int run(char *out, size_t len, const char *fmt, ...)
{
	char cmd[2048];
	size_t n = 0;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	if (out && len) {
		n = fread(out, 1, len - 1, p);
		out[n] = 0;
	} else {
		char sink[256];

		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/*
 * virsh on host h, inside the libvirt root, with Debian's PATH; none may hang
 * the test.  600 s: on the debug kernel a migration with the local storage
 * copy beside it took more than 240 s.
 */
#define VIRSH "timeout 600 chroot " ROOT " /usr/bin/env -i PATH=/usr/sbin:/usr/bin HOME=/root LC_ALL=C virsh"
#define virsh(out, len, h, fmt, ...) \
	run(out, len, VIRSH " -c \"$(" HOSTS " uri %s)\" " fmt, host[h], ##__VA_ARGS__)

static void bdf_fields(const char *bdf, unsigned int *d, unsigned int *b, unsigned int *s,
		       unsigned int *f)
{
	sscanf(bdf, "%x:%x:%x.%x", d, b, s, f);
}

/*
 * The operator guide's domain: VF bdf on host h, the guest's console in
 * SHARED/<h>.serial, NVMe namespace nsid; the QEMU properties only when the
 * kernel has no device DMA logging.  On namespace 1, the drive's own disk,
 * the guest writes random blocks of a 4 MiB working set ("random",
 * l2_nvme_io.c), as a VM on local storage does, for the copy beside it.
 */
static int domain_xml(const char *path, const char *bdf, int h, enum assign assign,
		      bool qemu_props, int nsid)
{
	unsigned int d, b, s, f;
	FILE *x = fopen(path, "w");

	if (!x)
		return -errno;
	bdf_fields(bdf, &d, &b, &s, &f);
	fprintf(x,
		"<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
		"  <name>" DOM "</name>\n"
		/* the same on both ends: --xml may change the host side, not the domain */
		"  <uuid>" DOM_UUID "</uuid>\n"
		"  <memory unit='MiB'>32</memory>\n"
		"  <vcpu>1</vcpu>\n"
		"  <os>\n"
		"    <type arch='x86_64' machine='pc'>hvm</type>\n"
		"    <kernel>" SHARED "/" L2_GUEST "</kernel>\n"
		"    <cmdline>nsid=%d%s</cmdline>\n"
		"  </os>\n"
		"  <devices>\n"
		"    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
		"    <controller type='usb' model='none'/>\n"
		"    <serial type='file'>\n"
		"      <source path='" SHARED "/%s.serial'/>\n"
		"    </serial>\n"
		"    <hostdev mode='subsystem' type='pci' managed='%s'>\n"
		"      <source>\n"
		"        <address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n"
		"      </source>\n"
		"      <alias name='ua-vf'/>\n"
		"    </hostdev>\n"
		"    <memballoon model='none'/>\n"
		"  </devices>\n",
		nsid, nsid == 1 ? " random" : "", host[h], assign == MANAGED ? "yes" : "no",
		d, b, s, f);
	if (qemu_props)
		fprintf(x,
			"  <qemu:override>\n"
			"    <qemu:device alias='ua-vf'>\n"
			"      <qemu:frontend>\n"
			"        <qemu:property name='enable-migration' type='string' value='on'/>\n"
			"        <qemu:property name='x-no-mmap' type='bool' value='true'/>\n"
			"      </qemu:frontend>\n"
			"    </qemu:device>\n"
			"  </qemu:override>\n");
	fprintf(x, "</domain>\n");
	return fclose(x) ? -errno : 0;
}

static void serial_path(char *buf, size_t len, int h)
{
	snprintf(buf, len, OUT "/%s.serial", host[h]);
}

/* wait until the guest on host h has done more than io commands; its count, or -1 */
static long long guest_wait_past(struct __test_metadata *_metadata, int h, long long io)
{
	struct l2_console con;
	char path[128];
	long long ret;

	serial_path(path, sizeof(path), h);
	ret = l2_console_wait_past(path, io, WAIT_MS, &con);
	if (ret < 0 && con.fail[0])
		TH_LOG("guest on %s: %s", host[h], con.fail);
	else if (ret < 0)
		TH_LOG("guest on %s stuck at %lld commands", host[h], con.io);
	else
		TH_LOG("guest on %s at %lld commands", host[h], ret);
	return ret;
}

/* the domain's state on host h ("running", "shut off", ...), "" if it has none */
static void dom_state(int h, char *buf, size_t len)
{
	if (virsh(buf, len, h, "domstate " DOM))
		buf[0] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

/* a value of `virsh domjobinfo --completed --rawstats` on host h (kept for the next), -1 if absent */
static long long job_stat(int h, const char *key)
{
	char out[4096], *p;

	if (virsh(out, sizeof(out), h, "domjobinfo " DOM " --completed --keep-completed --rawstats"))
		return -1;
	p = strstr(out, key);
	if (!p) {
		fprintf(stderr, "# no %s in domjobinfo on %s: %s\n", key, host[h], out);
		return -1;
	}
	p = strpbrk(p, ":=");
	return p ? strtoll(p + 1, NULL, 10) : -1;
}

/* define and start the domain on host h with VF bdf */
static int dom_start(struct __test_metadata *_metadata, FIXTURE_DATA(lv) *self, int h,
		     const char *bdf, enum assign assign, int nsid)
{
	char out[4096], xml[128];
	double t0;
	int ret;

	snprintf(xml, sizeof(xml), OUT "/%s.xml", host[h]);
	if (domain_xml(xml, bdf, h, assign, !self->dma_logging, nsid))
		return -EIO;
	/* persistent: the source keeps the completed job's statistics after it left */
	t0 = now_ms();
	ret = virsh(out, sizeof(out), h, "define " SHARED "/%s.xml", host[h]);
	if (!ret)
		ret = virsh(out, sizeof(out), h, "start " DOM);
	if (ret)
		TH_LOG("virsh define and start on %s: %s", host[h], out);
	else
		TH_LOG("domain started on %s in %.1f s", host[h], (now_ms() - t0) / 1000);
	return ret;
}

/*
 * Without device DMA logging, type1 reports all of the guest's memory dirty
 * on every pass (VFIO pins all of it), so the last pass copies it all and
 * takes longer under TCG than QEMU's default downtime limit of 300 ms: the
 * migration would never end.  5 s, as qemu_migration_test allows.
 */
static int max_downtime(int h, char *out, size_t len)
{
	return virsh(out, len, h, "migrate-setmaxdowntime " DOM " 5000");
}

/* virsh's arguments to migrate the domain live to host to, with to's XML */
static void migrate_args(char *buf, size_t len, int to, const char *opts)
{
	snprintf(buf, len, "migrate --live %s --xml " SHARED "/%s.xml " DOM " \"$(" HOSTS " uri %s)\" "
		 "--migrateuri unix://" SHARED "/mig.sock", opts, host[to], host[to]);
}

/*
 * virsh migrate --live from host from to host to, the destination's XML
 * naming its own VF; 0 or virsh's exit status.
 */
static int dom_migrate_ns(struct __test_metadata *_metadata, FIXTURE_DATA(lv) *self,
			  int from, int to, const char *dst_bdf, enum assign assign, int nsid,
			  const char *extra)
{
	char out[4096], xml[128], opts[256], args[640];
	double t0;
	int ret;

	snprintf(xml, sizeof(xml), OUT "/%s.xml", host[to]);
	if (domain_xml(xml, dst_bdf, to, assign, !self->dma_logging, nsid))
		return -EIO;
	t0 = now_ms();
	ret = max_downtime(from, out, sizeof(out));
	if (ret) {
		TH_LOG("virsh migrate-setmaxdowntime on %s: %s", host[from], out);
		return ret;
	}
	snprintf(opts, sizeof(opts), "--persistent --persistent-xml " SHARED "/%s.xml %s",
		 host[to], extra);
	migrate_args(args, sizeof(args), to, opts);
	ret = virsh(out, sizeof(out), from, "%s", args);
	if (ret)
		TH_LOG("virsh migrate %s -> %s: %s", host[from], host[to], out);
	else
		TH_LOG("virsh migrate %s -> %s: %.1f s", host[from], host[to],
		       (now_ms() - t0) / 1000);
	return ret;
}

static int dom_migrate(struct __test_metadata *_metadata, FIXTURE_DATA(lv) *self, int from,
		       int to, const char *dst_bdf, enum assign assign)
{
	return dom_migrate_ns(_metadata, self, from, to, dst_bdf, assign, 2, "");
}

/*
 * virsh migrate --live from A to B's VF 1 (namespace nsid) in the
 * background, with opts (--bandwidth 1: the 32 MiB guest takes half a
 * minute, time to act on the running job), its output in OUT/migrate.out.
 * Returns once the job runs (domjobinfo says so): virsh's pid, or -errno.
 */
static pid_t migrate_bg(FIXTURE_DATA(lv) *self, int nsid, const char *opts)
{
	char out[4096], xml[128], cmd[1024], args[512];
	pid_t pid;

	if (max_downtime(A, out, sizeof(out)))
		return -EIO;
	snprintf(xml, sizeof(xml), OUT "/%s.xml", host[B]);
	if (domain_xml(xml, self->vf[1], B, MANAGED, !self->dma_logging, nsid))
		return -EIO;
	migrate_args(args, sizeof(args), B, opts);
	snprintf(cmd, sizeof(cmd), VIRSH " -c \"$(" HOSTS " uri A)\" %s > " OUT "/migrate.out 2>&1",
		 args);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		execl("/bin/sh", "sh", "-c", cmd, NULL);
		_exit(127);
	}
	for (double end = now_ms() + WAIT_MS; now_ms() < end; usleep(200000)) {
		if (!virsh(out, sizeof(out), A, "domjobinfo " DOM) && strstr(out, "Unbounded"))
			break;
	}
	return pid;
}

/* both libvirt hosts answer */
static bool hosts_up(void)
{
	return !access(OUT "/A/libvirt-sock", F_OK) && !virsh(NULL, 0, A, "version") &&
	       !virsh(NULL, 0, B, "version");
}

/* the test program's end (the harness's parent; cases end with _exit()) */
static void __attribute__((destructor)) hosts_stop(void)
{
	if (!access(OUT "/A", F_OK))
		run(NULL, 0, HOSTS " stop " ROOT);
}

FIXTURE_SETUP(lv)
{
	struct vfio_dev dev = { .fd = -1 };
	char out[4096];
	bool up;
	double t0;
	int ret;

	self->copy.out = -1;
	for (int p = 0; p < 3; p++)
		self->pf[p].fd = -1;
	if (access(ROOT "/usr/sbin/libvirtd", X_OK))
		SKIP(return, "no libvirt root in the image (" ROOT ")");
	up = hosts_up();
	/*
	 * The hosts outlive a case (started once: about 40 s each time on the
	 * debug kernel); a domain an earlier case left, which holds VFs, goes.
	 */
	if (up) {
		for (int h = A; h <= B; h++) {
			virsh(NULL, 0, h, "destroy " DOM);
			virsh(NULL, 0, h, "undefine " DOM);
		}
	}
	for (int p = 0; p < 3; p++) {
		ret = nvme_pf_online_vf(p, 1, &self->pf[p], self->vf[p]);
		if (ret == -ENODEV)
			SKIP(return, "no PF %d", p);
		if (ret == -ENOLINK)
			SKIP(return, "VF 1 of %s is not online, run vfio-nvme-setup",
			     self->pf[p].bdf);
		ASSERT_EQ(0, ret);
		/* managed='yes': libvirt binds the VF itself */
		pci_unbind(self->vf[p]);
	}
	/* which XML the guide gives: does the VF offer device DMA logging? */
	ASSERT_EQ(0, pci_bind(self->vf[0], "nvme_vfio_pci"));
	ASSERT_EQ(0, vfio_dev_open(self->vf[0], &dev));
	self->dma_logging = !vfio_dma_log_probe(&dev);
	vfio_dev_close(&dev);
	pci_unbind(self->vf[0]);
	TH_LOG("device DMA logging: %s", self->dma_logging ? "yes" : "no");

	self->started = true;
	if (!up) {
		/* the daemons leave this case's process: the program's end stops them */
		t0 = now_ms();
		run(NULL, 0, HOSTS " stop " ROOT);
		ret = run(out, sizeof(out), HOSTS " start " ROOT);
		ASSERT_EQ(0, ret) TH_LOG("libvirt-hosts.sh start: %s", out);
		TH_LOG("libvirt hosts up in %.1f s", (now_ms() - t0) / 1000);
		ASSERT_EQ(0, run(out, sizeof(out), "cp /selftests/" L2_GUEST " " OUT "/"))
			TH_LOG("%s", out);
	}
}

FIXTURE_TEARDOWN(lv)
{
	/* a copy tool a failed case left: its log would keep the VF from the next */
	copy_tool_end(&self->copy);
	if (self->started) {
		for (int h = A; h <= B; h++) {
			virsh(NULL, 0, h, "destroy " DOM);
			virsh(NULL, 0, h, "undefine " DOM);
		}
	}
	for (int p = 0; p < 3; p++) {
		if (self->pf[p].fd < 0)
			continue;
		pci_unbind(self->vf[p]);
		nvme_pf_close(&self->pf[p]);
	}
}

/* the guest moved: it runs on to, not on from, and carries on from where it was */
static void assert_moved(struct __test_metadata *_metadata, int from, int to)
{
	struct l2_console src;
	char state[64], path[128];

	dom_state(to, state, sizeof(state));
	EXPECT_STREQ("running", state);
	dom_state(from, state, sizeof(state));
	EXPECT_STRNE("running", state);
	/* the outgoing job's (the incoming one on the destination has no VFIO figures) */
	EXPECT_LT(0, job_stat(from, "vfio_data_transferred"));
	serial_path(path, sizeof(path), from);
	l2_console_scan(path, &src);
	EXPECT_STREQ("", src.fail);
	/* the destination's console starts empty; the guest's count goes on */
	EXPECT_LT(src.io, guest_wait_past(_metadata, to, src.io));
}

/*
 * Cases 1 to 3: libvirt picks the driver; virsh domjobabort during a
 * migration leaves the guest running on the source; then the guest goes
 * there and back.
 */
TEST_F_TIMEOUT(lv, managed_hostdev_aborted_then_migrated_there_and_back, 900)
{
	char out[4096], state[64], drv[64];
	long long io;
	pid_t pid;
	int st;

	ASSERT_EQ(0, dom_start(_metadata, self, A, self->vf[0], MANAGED, 2));
	pci_driver_of(self->vf[0], drv, sizeof(drv));
	EXPECT_STREQ("nvme_vfio_pci", drv);
	io = guest_wait_past(_metadata, A, 512);
	ASSERT_LT(0, io);

	pid = migrate_bg(self, 2, "--bandwidth 1");
	ASSERT_LT(0, pid);
	EXPECT_EQ(0, virsh(out, sizeof(out), A, "domjobabort " DOM)) TH_LOG("%s", out);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st));
	dom_state(A, state, sizeof(state));
	EXPECT_STREQ("running", state);
	dom_state(B, state, sizeof(state));
	EXPECT_STRNE("running", state);
	EXPECT_LT(0, guest_wait_past(_metadata, A, io + 512));

	ASSERT_EQ(0, dom_migrate(_metadata, self, A, B, self->vf[1], MANAGED));
	pci_driver_of(self->vf[1], drv, sizeof(drv));
	EXPECT_STREQ("nvme_vfio_pci", drv);
	assert_moved(_metadata, A, B);

	ASSERT_EQ(0, dom_migrate(_metadata, self, B, A, self->vf[0], MANAGED));
	assert_moved(_metadata, B, A);
}

/* case 4: managed='no', the operator bound the VFs to nvme_vfio_pci beforehand */
TEST_F_TIMEOUT(lv, unmanaged_prebound_vf_migrates, 900)
{
	ASSERT_EQ(0, pci_bind(self->vf[0], "nvme_vfio_pci"));
	ASSERT_EQ(0, pci_bind(self->vf[1], "nvme_vfio_pci"));
	ASSERT_EQ(0, dom_start(_metadata, self, A, self->vf[0], UNMANAGED, 2));
	ASSERT_LT(0, guest_wait_past(_metadata, A, 512));
	ASSERT_EQ(0, dom_migrate(_metadata, self, A, B, self->vf[1], UNMANAGED));
	assert_moved(_metadata, A, B);
}

/*
 * case 5: a VF of the drive without TP4159 (namespace 1 only) in a plain
 * managed hostdev: libvirt picks nvme_vfio_pci, which passes it through;
 * the guest does I/O.  It cannot migrate: the migration fails and the guest
 * runs on.
 */
TEST_F_TIMEOUT(lv, vf_without_live_migration_passes_through, 600)
{
	char drv[64], state[64];
	long long io;

	/* the XML with QEMU properties would force migration: the plain one */
	self->dma_logging = true;
	ASSERT_EQ(0, dom_start(_metadata, self, A, self->vf[2], MANAGED, 1));
	pci_driver_of(self->vf[2], drv, sizeof(drv));
	EXPECT_STREQ("nvme_vfio_pci", drv);
	io = guest_wait_past(_metadata, A, 512);
	ASSERT_LT(0, io);
	EXPECT_NE(0, dom_migrate(_metadata, self, A, B, self->vf[1], MANAGED));
	dom_state(A, state, sizeof(state));
	EXPECT_STREQ("running", state);
	EXPECT_LT(0, guest_wait_past(_metadata, A, io + 256));
}

/*
 * case 6, the refusal the guide documents: without device DMA logging, a
 * plain hostdev leaves QEMU's enable-migration=auto, which refuses; virsh
 * says why and the guest runs on.
 */
TEST_F_TIMEOUT(lv, plain_hostdev_without_dma_logging_is_refused, 600)
{
	char out[4096], xml[128], state[64], args[512];
	long long io;

	if (self->dma_logging)
		SKIP(return, "device DMA logging: the plain hostdev migrates");
	self->dma_logging = true;	/* the plain XML */
	ASSERT_EQ(0, dom_start(_metadata, self, A, self->vf[0], MANAGED, 2));
	io = guest_wait_past(_metadata, A, 256);
	ASSERT_LT(0, io);
	snprintf(xml, sizeof(xml), OUT "/%s.xml", host[B]);
	ASSERT_EQ(0, domain_xml(xml, self->vf[1], B, MANAGED, false, 2));
	migrate_args(args, sizeof(args), B, "");
	EXPECT_NE(0, virsh(out, sizeof(out), A, "%s", args));
	TH_LOG("virsh migrate: %s", out);
	EXPECT_NE(NULL, strstr(out, "dirty tracking"));
	dom_state(A, state, sizeof(state));
	EXPECT_STREQ("running", state);
	EXPECT_LT(0, guest_wait_past(_metadata, A, io + 256));
}

/*
 * Local storage: the domain's namespace 1 lives on PF 0's drive only.  The
 * operator's nvme-vfio-copy runs beside an unmodified `virsh migrate --live`
 * and copies it to namespace 1 of PF 1's drive; its gate holds the end of
 * the VF's migration stream until every change is there.
 */
#define COPY_TOOL	"/selftests/nvme-vfio-copy"

/* the copy tool for VF 1 of PF 0 to PF 1's namespace 1, in the background: 0 or -errno */
static int copy_start(FIXTURE_DATA(lv) *self, char *src_ns, char *dst_ns, size_t len)
{
	char *src = self->pf[0].ctrl + 5, *dst = self->pf[1].ctrl + 5;
	/* VF 1 is the PF's virtfn0; 60 s: the final copy runs in the rig's TCG */
	char *argv[] = { COPY_TOOL, "--quiet", "--ack-timeout", "60000", src, "0", "1", dst_ns,
			 NULL };

	if (nvme_ns_bdev(src, 1, src_ns, len) || nvme_ns_bdev(dst, 1, dst_ns, len))
		return -ENODEV;
	return copy_tool_start(&self->copy, argv);
}

/* wait until the tool said what; false if it ended or took too long */
static bool copy_wait_for(struct copy_tool *t, const char *what)
{
	for (double end = now_ms() + WAIT_MS; now_ms() < end;)
		if (copy_tool_said(t, what) || copy_tool_wait(t, 200) != -ETIMEDOUT)
			break;
	return copy_tool_said(t, what);
}

/*
 * The domain on A runs on namespace 1, its guest writing.  The operator's
 * first run of the tool is killed once the migration runs (at full speed,
 * so QEMU may already wait at the gate, or not yet have begun): the VF
 * needs its copy and no gated log is open, so the stream fails at its end
 * and the domain runs on on A.  A rerun of the tool starts over, and the
 * next migration (--suspend: the destination stays paused, its VF has not
 * run yet) completes once the copy is done: the destination namespace is
 * then byte-identical to the source, and the guest carries on on B after
 * `virsh resume`.  One case: each domain start and migration takes minutes
 * on the debug kernel.
 */
TEST_F_TIMEOUT(lv, local_namespace_copy_killed_then_rerun_migrates, 1200)
{
	char src_ns[64], dst_ns[64], out[4096], state[64];
	struct l2_console con;
	uint64_t diff = 0;
	long long io, dt;
	pid_t mig;
	int st;

	ASSERT_EQ(0, dom_start(_metadata, self, A, self->vf[0], MANAGED, 1));
	io = guest_wait_past(_metadata, A, 256);
	ASSERT_LT(0, io);

	/* the first run: killed while the migration runs */
	ASSERT_EQ(0, copy_start(self, src_ns, dst_ns, sizeof(src_ns)));
	ASSERT_TRUE(copy_wait_for(&self->copy, "first pass:")) copy_tool_log(&self->copy);
	mig = migrate_bg(self, 1, "");
	ASSERT_LT(0, mig);
	kill(self->copy.pid, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, copy_tool_wait(&self->copy, WAIT_MS));
	copy_tool_end(&self->copy);
	ASSERT_EQ(mig, waitpid(mig, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st)) TH_LOG("wait status %#x", st);
	run(out, sizeof(out), "tail -3 " OUT "/migrate.out; dmesg | grep -i 'nvme_vfio_pci.*\\(stream\\|copy\\)' | tail -3");
	TH_LOG("virsh migrate: %s", out);
	dom_state(A, state, sizeof(state));
	EXPECT_STREQ("running", state);
	dom_state(B, state, sizeof(state));
	EXPECT_STRNE("running", state);
	io = guest_wait_past(_metadata, A, io + 512);
	ASSERT_LT(0, io);

	/* the rerun: it starts over */
	ASSERT_EQ(0, copy_start(self, src_ns, dst_ns, sizeof(src_ns)));
	ASSERT_TRUE(copy_wait_for(&self->copy, "bulk copy done")) copy_tool_log(&self->copy);
	TH_LOG("copying %s to %s beside the migration", src_ns, dst_ns);
	ASSERT_EQ(0, dom_migrate_ns(_metadata, self, A, B, self->vf[1], MANAGED, 1, "--suspend"));
	EXPECT_EQ(0, copy_tool_wait(&self->copy, WAIT_MS));
	copy_tool_log(&self->copy);
	EXPECT_EQ(1, bdev_compare(src_ns, dst_ns, &diff))
		TH_LOG("the namespaces differ from byte %llu", (unsigned long long)diff);
	dt = job_stat(A, "downtime");
	TH_LOG("downtime with the final copy: %lld ms", dt);

	ASSERT_EQ(0, virsh(out, sizeof(out), B, "resume " DOM)) TH_LOG("%s", out);
	assert_moved(_metadata, A, B);
	serial_path(out, sizeof(out), B);
	l2_console_scan(out, &con);
	EXPECT_STREQ("", con.fail);
}

TEST_HARNESS_MAIN
