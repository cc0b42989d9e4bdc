// SPDX-License-Identifier: GPL-2.0
/*
 * nvme-vfio-pci against the PF going away under it: a controller reset of
 * the PF while the VF is suspended and logging, or while the operator's
 * copy tool gates its migration, and unbinding the PF's
 * nvme driver while the VF is open in the middle of a migration.  The VF
 * driver must fail with an errno (never crash or hang: the rig checks the
 * kernel log for warnings) and the VF must work again once the PF does.
 * Each test puts the PF back as the rig prepared it.
 *
 * Expects the PFs prepared by "vfio-nvme-setup sriov PF 3 2".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <linux/pci_regs.h>
#include <unistd.h>

#include "vfio_nvme.h"
#include "vfio_mig.h"
#include "nvme_drv.h"
#include "lba_log.h"
#include "lm_cmd.h"
#include "copy_tool.h"
#include "../kselftest_harness.h"

#define NSID		1
#define QSIZE		16
#define VF1		0	/* the log's number of VF 1: the PF's virtfn0 */
#define VF2		1
#define DRIVER		"nvme_vfio_pci"
#define COPY_TOOL	"./nvme-vfio-copy"

FIXTURE(pf) {
	struct nvme_pf pf;
	char bdf[BDF_LEN];
	struct vfio_dev dev;
	struct nvme_drv drv;
	struct vfio_dma buf;
	int log;
};

FIXTURE_SETUP(pf)
{
	int ret = nvme_pf_open(0, &self->pf);

	self->log = -1;
	self->dev.fd = -1;
	if (ret == -ENODEV)
		SKIP(return, "needs an NVMe PF with SR-IOV");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, nvme_pf_vf_bdf(&self->pf, 1, self->bdf));
	ASSERT_EQ(0, pci_bind(self->bdf, DRIVER));
	ASSERT_EQ(0, vfio_dev_open(self->bdf, &self->dev));
	if (vfio_mig_flags(&self->dev) <= 0)
		SKIP(return, "the PF does not migrate VFs");
	ASSERT_EQ(0, nvme_drv_init(&self->drv, &self->dev, NSID));
	ASSERT_EQ(0, nvme_drv_create_ioq(&self->drv, 1, QSIZE));
	ASSERT_EQ(0, vfio_dma_alloc(self->dev.ctr, 4096, &self->buf));
}

FIXTURE_TEARDOWN(pf)
{
	if (self->log >= 0)
		close(self->log);
	nvme_drv_fini(&self->drv);
	if (self->dev.ctr)
		vfio_dma_free(self->dev.ctr, &self->buf);
	vfio_dev_close(&self->dev);
	if (self->bdf[0])
		pci_unbind(self->bdf);
	nvme_pf_close(&self->pf);
}

/* the PF's controller, from the sysfs class directory */
static int pf_ctrl_attr(struct nvme_pf *pf, const char *attr, char *path, size_t len)
{
	const char *name = strrchr(pf->ctrl, '/');

	return snprintf(path, len, "/sys/class/nvme/%s/%s", name ? name + 1 : pf->ctrl,
			attr) >= (int)len ? -ENAMETOOLONG : 0;
}

static int pf_wait_live(struct nvme_pf *pf)
{
	char path[128], state[32];

	if (pf_ctrl_attr(pf, "state", path, sizeof(path)))
		return -ENAMETOOLONG;
	for (int i = 0; i < 500; i++) {
		if (!sysfs_read(path, state, sizeof(state)) && !strncmp(state, "live", 4))
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/*
 * read what a log has without waiting: 0 once it is empty (EAGAIN), or the
 * read's -errno
 */
static int log_drain(int log)
{
	struct nvme_lm_log_rec rec[8];
	int ret = lm_log_nonblock(log, true);

	if (ret)
		return ret;
	do
		ret = lm_log_read(log, rec, 8);
	while (ret > 0);
	return ret == -EAGAIN ? 0 : ret;
}

/* read a log until it fails or 5 s pass without a record: the error, 0 on the timeout */
static int log_read_until_error(int log)
{
	struct nvme_lm_log_rec rec[8];
	int ret;

	do
		ret = lm_log_read_wait(log, rec, 8, 5000);
	while (ret > 0);
	return ret;
}

static short log_poll(int log)
{
	struct pollfd p = { .fd = log, .events = POLLIN };

	return poll(&p, 1, 0) < 0 ? -1 : p.revents;
}

/* a write and a read back through the VF */
static int vf_io_works(FIXTURE_DATA(pf) *self, uint64_t blk, uint32_t gen)
{
	uint8_t want[4096];
	int ret;

	nvme_drv_pattern(self->buf.va, blk, gen);
	memcpy(want, self->buf.va, sizeof(want));
	ret = nvme_drv_io_sync(&self->drv, nvme_cmd_write, blk, self->buf.iova);
	if (!ret) {
		memset(self->buf.va, 0, 4096);
		ret = nvme_drv_io_sync(&self->drv, nvme_cmd_read, blk, self->buf.iova);
	}
	return ret ? ret : memcmp(want, self->buf.va, sizeof(want)) ? -EILSEQ : 0;
}

/* reset the PF's controller and wait until it is live again */
static int pf_reset(struct nvme_pf *pf)
{
	char path[128];
	int ret = pf_ctrl_attr(pf, "reset_controller", path, sizeof(path));

	if (!ret)
		ret = sysfs_write(path, "1");
	return ret ? ret : pf_wait_live(pf);
}

/*
 * After a PF reset: the PF's VFs online again, then a VFIO reset brings the
 * VF back to RUNNING and a write at blk reads back
 */
static inline __attribute__((always_inline)) void
vf_recovers_after_pf_reset(struct __test_metadata *_metadata, FIXTURE_DATA(pf) *self,
			   uint64_t blk)
{
	ASSERT_EQ(0, system("./vfio-nvme-setup sriov 0 3 2"));
	ASSERT_EQ(0, ioctl(self->dev.fd, VFIO_DEVICE_RESET));
	EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, vfio_mig_get(&self->dev));
	nvme_drv_fini(&self->drv);
	ASSERT_EQ(0, nvme_drv_init(&self->drv, &self->dev, NSID));
	ASSERT_EQ(0, nvme_drv_create_ioq(&self->drv, 1, QSIZE));
	ASSERT_EQ(0, vf_io_works(self, blk, 2));
}

/*
 * A controller reset of the PF takes its secondary controllers offline and
 * deletes its Controller Data Queues.  Resuming the VF then either works or
 * fails into ERROR; the LBA change log says it broke; once the secondary
 * controller is online again, a VFIO reset brings the VF back to RUNNING
 * and a save/resume loopback works.
 */
TEST_F(pf, controller_reset_while_suspended)
{
	uint8_t *stream;
	size_t len;
	int ret, state;

	ASSERT_EQ(0, vf_io_works(self, 10, 1));
	self->log = lm_log_open(self->pf.fd, VF1, 0, 64, 0);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(0, vfio_mig_set(&self->dev, VFIO_DEVICE_STATE_RUNNING_P2P, NULL));

	ASSERT_EQ(0, pf_reset(&self->pf));

	ret = vfio_mig_set(&self->dev, VFIO_DEVICE_STATE_RUNNING, NULL);
	state = vfio_mig_get(&self->dev);
	TH_LOG("resume after the PF reset: %s, state %d", strerror(-ret), state);
	EXPECT_EQ(ret ? VFIO_DEVICE_STATE_ERROR : VFIO_DEVICE_STATE_RUNNING, state);
	/* the queue is gone: the log must say so (ESTALE), not report "no changes" */
	EXPECT_EQ(-ESTALE, log_read_until_error(self->log));
	EXPECT_EQ(POLLERR, log_poll(self->log) & POLLERR);
	close(self->log);
	self->log = -1;

	vf_recovers_after_pf_reset(_metadata, self, 11);
	ASSERT_EQ(0, vfio_mig_save(&self->dev, &stream, &len));
	ASSERT_EQ(0, vfio_mig_load(&self->dev, stream, len, 4096));
	free(stream);
	EXPECT_EQ(0, vf_io_works(self, 12, 3));
}

/*
 * VF 1's LBA log queue could not be deleted when its log was closed (the
 * PF failed the command), so the PF helper keeps it to delete again later.
 * Then the PF is reset, which deletes every queue, and VF 2's log opens,
 * getting a queue ID the PF may reuse.  VF 1's next log must not delete by
 * that old ID: VF 2's log keeps working.
 */
TEST_F(pf, stale_queue_of_one_vf_spares_another)
{
	int log2, ret;

	self->log = lm_log_open(self->pf.fd, VF1, 0, 64, 0);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(0, lm_fault(&self->pf, LM_OPC_CDQ, 1, LM_FAULT_STATUS, LM_SC_INTERNAL, 1));
	close(self->log);
	self->log = -1;

	ASSERT_EQ(0, pf_reset(&self->pf));
	ASSERT_EQ(0, system("./vfio-nvme-setup sriov 0 3 2"));

	log2 = lm_log_open(self->pf.fd, VF2, 0, 64, 0);
	ASSERT_LE(0, log2);

	self->log = lm_log_open(self->pf.fd, VF1, 0, 64, 0);
	ASSERT_LE(0, self->log);
	ret = log_drain(log2);
	EXPECT_EQ(0, ret) TH_LOG("VF 2's log: %s", strerror(-ret));
	/* each deletes its own queue: VF 1's log still works after VF 2's closed */
	close(log2);
	ret = log_drain(self->log);
	EXPECT_EQ(0, ret) TH_LOG("VF 1's log after VF 2's closed: %s", strerror(-ret));
}

/*
 * The operator's copy (nvme-vfio-copy, gated) runs beside a migration that
 * has begun (PRE_COPY) when the PF is reset: the log breaks (ESTALE), the
 * tool says changes may be missing and exits 1, and the VF's stream never
 * ends: STOP_COPY fails, or the stream fails at the gate (EPIPE).  The VF
 * stays with the source and works again once the PF does.
 */
TEST_F_TIMEOUT(pf, controller_reset_during_copy_fails_migration, 240)
{
	char dst[64];
	char *argv[] = { COPY_TOOL, "--quiet", self->pf.ctrl, "0", "1", dst, NULL };
	struct nvme_pf dst_pf;
	struct copy_tool t;
	uint8_t *stream = NULL;
	size_t len = 0;
	int ret, fd = -1;

	/* the copy goes to namespace 1 of the other drive */
	ASSERT_EQ(0, nvme_pf_open(1, &dst_pf));
	ret = nvme_ns_bdev(dst_pf.ctrl, NSID, dst, sizeof(dst));
	nvme_pf_close(&dst_pf);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, vf_io_works(self, 20, 1));

	ASSERT_EQ(0, copy_tool_start(&t, argv));
	while (!copy_tool_said(&t, "first pass:") && copy_tool_wait(&t, 100) == -ETIMEDOUT)
		;
	ASSERT_NE(NULL, copy_tool_said(&t, "first pass:")) copy_tool_log(&t);
	ASSERT_EQ(0, vfio_mig_set(&self->dev, VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_EQ(0, vf_io_works(self, 21, 1));

	ASSERT_EQ(0, pf_reset(&self->pf));
	ret = copy_tool_wait(&t, 30000);
	EXPECT_NE(NULL, copy_tool_said(&t, "the log broke"));
	copy_tool_log(&t);
	copy_tool_end(&t);
	EXPECT_EQ(1, ret);

	ret = vfio_mig_set(&self->dev, VFIO_DEVICE_STATE_STOP_COPY, NULL);
	if (!ret) {
		ret = vfio_mig_read_all(fd, &stream, &len);
		/* the stream ends at PRE_COPY's ENOMSG once, then fails at the gate */
		if (ret > 0)
			ret = vfio_mig_read_all(fd, &stream, &len);
		EXPECT_EQ(-EPIPE, ret) TH_LOG("%s", ret < 0 ? strerror(-ret) : "the stream ended");
	} else {
		TH_LOG("STOP_COPY after the PF reset: %s", strerror(-ret));
		EXPECT_EQ(VFIO_DEVICE_STATE_ERROR, vfio_mig_get(&self->dev));
	}
	free(stream);
	close(fd);
	vf_recovers_after_pf_reset(_metadata, self, 22);
}

#define LM_TIMEOUT	"/sys/module/nvme/parameters/lm_timeout"

/*
 * A live migration command the PF holds past nvme's lm_timeout (a stuck
 * Suspend) is aborted: that VF's step fails into ERROR, and the PF is not
 * reset, so its other VFs go on (VF 2's I/O works, and its LBA log queue,
 * which a PF reset would delete, is still there).  A VFIO reset brings
 * the first VF back.
 */
TEST_F_TIMEOUT(pf, stuck_command_fails_one_vf_not_the_pf, 150)
{
	struct vfio_dev d2 = { .fd = -1 };
	struct nvme_drv drv2 = {};
	struct vfio_dma buf2;
	char bdf2[BDF_LEN], old[16] = "";
	uint8_t want[4096];
	int log2, ret, state;

	ASSERT_EQ(0, sysfs_read(LM_TIMEOUT, old, sizeof(old)));
	ASSERT_EQ(0, sysfs_write(LM_TIMEOUT, "2"));

	ASSERT_EQ(0, nvme_pf_vf_bdf(&self->pf, 2, bdf2));
	ASSERT_EQ(0, pci_bind(bdf2, DRIVER));
	ASSERT_EQ(0, vfio_dev_open(bdf2, &d2));
	ASSERT_EQ(0, nvme_drv_init(&drv2, &d2, NSID));
	ASSERT_EQ(0, nvme_drv_create_ioq(&drv2, 1, QSIZE));
	ASSERT_EQ(0, vfio_dma_alloc(d2.ctr, 4096, &buf2));
	log2 = lm_log_open(self->pf.fd, VF2, 0, 64, 0);
	ASSERT_LE(0, log2);

	/* VF 1's Suspend runs, then its completion is held for ten minutes */
	ASSERT_EQ(0, lm_fault(&self->pf, LM_OPC_MIG_SEND, 0, LM_FAULT_DELAY, 600000, 1));
	ret = vfio_mig_set(&self->dev, VFIO_DEVICE_STATE_STOP, NULL);
	state = vfio_mig_get(&self->dev);
	TH_LOG("STOP with the Suspend held: %s, state %d", strerror(-ret), state);
	EXPECT_EQ(-ETIMEDOUT, ret);
	EXPECT_EQ(VFIO_DEVICE_STATE_ERROR, state);
	ASSERT_EQ(0, lm_fault(&self->pf, LM_OPC_MIG_SEND, 0xff, LM_FAULT_CLEAR, 0, 0));

	/* the neighbour: I/O goes on, and its queue on the PF was not reset away */
	nvme_drv_pattern(buf2.va, 30, 7);
	memcpy(want, buf2.va, sizeof(want));
	EXPECT_EQ(0, nvme_drv_io_sync(&drv2, nvme_cmd_write, 30, buf2.iova));
	memset(buf2.va, 0, sizeof(want));
	EXPECT_EQ(0, nvme_drv_io_sync(&drv2, nvme_cmd_read, 30, buf2.iova));
	EXPECT_EQ(0, memcmp(want, buf2.va, sizeof(want)));
	ret = log_drain(log2);
	EXPECT_EQ(0, ret) TH_LOG("VF 2's log: %s", strerror(-ret));
	close(log2);
	nvme_drv_fini(&drv2);
	vfio_dma_free(d2.ctr, &buf2);
	vfio_dev_close(&d2);
	pci_unbind(bdf2);

	/* the VF that failed comes back with a reset */
	ASSERT_EQ(0, sysfs_write(LM_TIMEOUT, old));
	ASSERT_EQ(0, ioctl(self->dev.fd, VFIO_DEVICE_RESET));
	EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, vfio_mig_get(&self->dev));
	nvme_drv_fini(&self->drv);
	ASSERT_EQ(0, nvme_drv_init(&self->drv, &self->dev, NSID));
	ASSERT_EQ(0, nvme_drv_create_ioq(&self->drv, 1, QSIZE));
	EXPECT_EQ(0, vf_io_works(self, 31, 8));
}

/*
 * A migration data file outlives its VF: the VMM closes the VFIO device
 * and the VF is unbound while something still holds the PRE_COPY data fd.
 * The fd then fails with ENODEV and must not touch the freed device (KASAN
 * catches that on the debug kernel); the VF binds and works again.
 */
TEST_F(pf, data_fd_outlives_unbound_vf)
{
	uint64_t initial, dirty;
	uint8_t b[64];
	int fd;

	ASSERT_EQ(0, vfio_mig_set(&self->dev, VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_EQ(0, vfio_mig_precopy_info(fd, &initial, &dirty));
	EXPECT_LT(0, initial);
	nvme_drv_fini(&self->drv);
	vfio_dma_free(self->dev.ctr, &self->buf);
	vfio_dev_close(&self->dev);
	ASSERT_EQ(0, pci_unbind(self->bdf));

	EXPECT_EQ(-ENODEV, vfio_mig_precopy_info(fd, &initial, &dirty));
	EXPECT_EQ(-1, read(fd, b, sizeof(b)));
	EXPECT_EQ(ENODEV, errno);
	close(fd);

	ASSERT_EQ(0, pci_bind(self->bdf, DRIVER));
	ASSERT_EQ(0, vfio_dev_open(self->bdf, &self->dev));
	EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, vfio_mig_get(&self->dev));
	ASSERT_EQ(0, nvme_drv_init(&self->drv, &self->dev, NSID));
	ASSERT_EQ(0, nvme_drv_create_ioq(&self->drv, 1, QSIZE));
	ASSERT_EQ(0, vfio_dma_alloc(self->dev.ctr, 4096, &self->buf));
	EXPECT_EQ(0, vf_io_works(self, 40, 3));
}

/*
 * libvirt picks nvme-vfio-pci for every NVMe function it assigns, so a
 * PF (here the drive without TP4159, whose VFs go away while it is
 * assigned) must bind and pass through, without migration.
 */
TEST(nvme_pf_binds_and_passes_through)
{
	struct nvme_pf pf = { .fd = -1 };
	char bdf[BDF_LEN], drv[64];
	struct vfio_dev dev;
	uint16_t cmd;
	uint64_t cap;
	int ret = nvme_pf_open(2, &pf);

	if (ret == -ENODEV)
		SKIP(return, "needs a third NVMe PF");
	ASSERT_EQ(0, ret);
	strcpy(bdf, pf.bdf);
	nvme_pf_close(&pf);

	ret = pci_bind(bdf, DRIVER);
	EXPECT_EQ(0, ret);
	if (!ret) {
		ASSERT_EQ(0, vfio_dev_open(bdf, &dev));
		EXPECT_EQ(-ENOTTY, vfio_mig_flags(&dev));
		ASSERT_EQ(0, vfio_region_read(&dev, VFIO_PCI_CONFIG_REGION_INDEX,
					      PCI_COMMAND, &cmd, 2));
		cmd |= PCI_COMMAND_MEMORY;
		ASSERT_EQ(0, vfio_region_write(&dev, VFIO_PCI_CONFIG_REGION_INDEX,
					       PCI_COMMAND, &cmd, 2));
		ASSERT_EQ(0, vfio_region_read(&dev, VFIO_PCI_BAR0_REGION_INDEX, 0, &cap, 8));
		EXPECT_NE(0, cap & 0xffff);		/* CAP.MQES of a live controller */
		EXPECT_NE(~0ULL, cap);
		vfio_dev_close(&dev);
	}

	/* put the PF back as the rig prepared it */
	ASSERT_EQ(0, pci_bind(bdf, "nvme"));
	ASSERT_EQ(0, sysfs_write_dev(bdf, "driver_override", "\n"));
	ASSERT_EQ(0, pci_driver_of(bdf, drv, sizeof(drv)));
	EXPECT_STREQ("nvme", drv);
	ASSERT_EQ(0, system("./vfio-nvme-setup sriov 2 3 2"));
}

/*
 * The driver's debugfs directory belongs to the module: after a reload a
 * VF gets its migration file again.  (Built into the debug kernel: SKIP.)
 */
TEST(debugfs_survives_module_reload)
{
	struct nvme_pf pf = { .fd = -1 };
	char bdf[BDF_LEN], path[128];
	int ret;

	if (access("/sys/module/nvme_vfio_pci/refcnt", R_OK))
		SKIP(return, "nvme-vfio-pci is built in");
	ret = nvme_pf_open(0, &pf);
	if (ret == -ENODEV)
		SKIP(return, "needs an NVMe PF with SR-IOV");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, nvme_pf_vf_bdf(&pf, 1, bdf));
	nvme_pf_close(&pf);
	/* nothing is bound to the driver between tests */
	ASSERT_EQ(0, system("rmmod nvme_vfio_pci"));
	ASSERT_EQ(0, system("modprobe nvme_vfio_pci"));
	ASSERT_EQ(0, pci_bind(bdf, DRIVER));
	snprintf(path, sizeof(path), "/sys/kernel/debug/nvme-vfio-pci/%s/migration", bdf);
	EXPECT_EQ(0, access(path, R_OK)) TH_LOG("%s: %s", path, strerror(errno));
	EXPECT_EQ(0, pci_unbind(bdf));
}

/*
 * Unbinding nvme from the PF disables SR-IOV first, so the VF driver is
 * unbound (waiting for the VFIO user to close the VF) before the PF's
 * controller is torn down: while the unbind waits, migration commands
 * still work; once the VF is closed the unbind completes, with the VF's
 * LBA log still open: it then fails with ENODEV.  The PF is bound and
 * prepared again afterwards.
 */
TEST_F_TIMEOUT(pf, unbind_with_vf_open, 90)
{
	char drv[64];
	pid_t child;
	int status, ret;

	self->log = lm_log_open(self->pf.fd, VF1, 0, 64, 0);
	ASSERT_LE(0, self->log);
	ASSERT_EQ(0, vfio_mig_set(&self->dev, VFIO_DEVICE_STATE_RUNNING_P2P, NULL));

	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		char cmd[128];

		/* a process of its own: no VFIO fd or mapping of ours keeps the VF open */
		closefrom(3);
		snprintf(cmd, sizeof(cmd), "echo %s > /sys/bus/pci/drivers/nvme/unbind",
			 self->pf.bdf);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	sleep(1);
	/* still waiting for the VF to be closed */
	ASSERT_EQ(0, waitpid(child, &status, WNOHANG));
	TH_LOG("PF unbind waits for the VF");
	EXPECT_EQ(0, vfio_mig_set(&self->dev, VFIO_DEVICE_STATE_RUNNING, NULL));
	TH_LOG("VF resumed through the PF being unbound");
	/* the log works, or says the PF is going away */
	ret = log_drain(self->log);
	EXPECT_TRUE(!ret || ret == -ENODEV) TH_LOG("LBA log: %s", strerror(-ret));
	TH_LOG("LBA log read");

	/* close everything of the VF (not the log): the unbind goes on */
	nvme_drv_fini(&self->drv);
	vfio_dma_free(self->dev.ctr, &self->buf);
	vfio_dev_close(&self->dev);
	TH_LOG("VF closed");
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_EQ(0, pci_driver_of(self->pf.bdf, drv, sizeof(drv)));
	EXPECT_STREQ("", drv);
	EXPECT_EQ(0, nvme_pf_num_vfs(&self->pf));
	self->bdf[0] = 0;	/* the VF is gone */
	/* and so is the PF: the log says so */
	EXPECT_EQ(-ENODEV, log_read_until_error(self->log));
	EXPECT_EQ(POLLERR, log_poll(self->log) & POLLERR);
	close(self->log);
	self->log = -1;

	/* put the PF back as the rig prepared it */
	nvme_pf_close(&self->pf);
	ASSERT_EQ(0, sysfs_write("/sys/bus/pci/drivers/nvme/bind", self->pf.bdf));
	ASSERT_EQ(0, system("./vfio-nvme-setup sriov 0 3 2"));
	ASSERT_EQ(0, nvme_pf_open(0, &self->pf));
	ASSERT_EQ(3, nvme_pf_num_vfs(&self->pf));
}

TEST_HARNESS_MAIN
