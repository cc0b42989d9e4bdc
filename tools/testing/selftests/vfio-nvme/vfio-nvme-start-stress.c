// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-nvme-start-stress: start the selftests' userspace NVMe driver on VFs
 * over and over, the way the tests do, and count the starts that fail.  Ad
 * hoc, not part of a run:
 *
 *   vfio-nvme-start-stress [-n COUNT] [-d DRIVER] [-m MODE] [-v PF:VFN]...
 *
 * MODE says what each start goes through:
 *   init  nvme_drv_init() again on an open device (disable, enable)
 *   open  open the VFIO device, start, close
 *   bind  bind the VF to DRIVER, open, start, close, unbind
 *   fork  the same in a child process, as a kselftest test case does
 *   par   one process per VF at once, each opening, starting and closing
 *         its VF in a loop: one VF's reset and BAR remapping while
 *         another's driver starts
 * Each start also creates an I/O queue pair and reads a block.  A failed
 * start prints what the controller, the function and the PF say.
 * Default: -n 200 -d vfio-pci -m fork -v 0:1 -v 0:2 -v 1:1 -v 1:2.
 * Without arguments, the arguments are taken from $START_STRESS (so the
 * rig can run it: make check ONLY=vfio-nvme-start-stress
 * RIG_APPEND=START_STRESS=-n,500,-m,bind/-m,init; commas separate
 * arguments, slashes runs).
 * Exits 1 if a start failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vfio_nvme.h"
#include "nvme_drv.h"

#define NSID		2
#define MAXVF		8

struct vf {
	int pf, vfn;
	struct nvme_pf p;
	char bdf[BDF_LEN];
	struct vfio_dev dev;
	bool open;
};

static const char *driver = "vfio-pci";

static uint32_t cfg32(const char *bdf, int off)
{
	char path[128];
	uint32_t v = ~0u;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		if (pread(fd, &v, 4, off) != 4)
			v = ~0u;
		close(fd);
	}
	return v;
}

/* what everything says about a VF whose controller did not start */
static void diagnose(struct vf *vf, struct nvme_drv *drv)
{
	uint32_t regs[4] = {};
	char buf[64];
	struct nvme_secondary_ctrl sc;
	int pm = 0, ret;

	printf("#   step: %s\n", drv->failed ? drv->failed : "after the controller was ready");
	if (drv->bar)
		printf("#   BAR0 mmap: CAP %#llx VS %#x CC %#x CSTS %#x\n",
		       (unsigned long long)*(volatile uint64_t *)drv->bar,
		       *(volatile uint32_t *)(drv->bar + 8), *(volatile uint32_t *)(drv->bar + 0x14),
		       *(volatile uint32_t *)(drv->bar + 0x1c));
	if (!vfio_region_read(&vf->dev, VFIO_PCI_BAR0_REGION_INDEX, 0, regs, 8) &&
	    !vfio_region_read(&vf->dev, VFIO_PCI_BAR0_REGION_INDEX, 0x14, &regs[2], 4) &&
	    !vfio_region_read(&vf->dev, VFIO_PCI_BAR0_REGION_INDEX, 0x1c, &regs[3], 4))
		printf("#   BAR0 read(): CAP %#x%08x CC %#x CSTS %#x\n", regs[1], regs[0], regs[2],
		       regs[3]);
	/* the function's config space itself (sysfs reads the device) */
	for (int pos = cfg32(vf->bdf, PCI_CAPABILITY_LIST) & 0xfc, n = 0; pos && n < 48; n++) {
		uint32_t h = cfg32(vf->bdf, pos);

		if ((h & 0xff) == PCI_CAP_ID_PM)
			pm = pos;
		pos = (h >> 8) & 0xfc;
	}
	printf("#   config: COMMAND %#06x STATUS %#06x PMCSR %#06x\n",
	       cfg32(vf->bdf, PCI_COMMAND) & 0xffff, cfg32(vf->bdf, PCI_COMMAND) >> 16,
	       pm ? cfg32(vf->bdf, pm + PCI_PM_CTRL) & 0xffff : 0xffff);
	if (!sysfs_read_dev(vf->bdf, "power/runtime_status", buf, sizeof(buf)))
		printf("#   runtime PM: %s\n", buf);
	if (!sysfs_read_dev(vf->bdf, "power_state", buf, sizeof(buf)))
		printf("#   power state: %s\n", buf);
	ret = nvme_pf_sec_ctrl(&vf->p, vf->vfn, &sc);
	if (!ret)
		printf("#   secondary controller %u: %s, nvq %u nvi %u\n", le16toh(sc.scid),
		       sc.scs & 1 ? "online" : "offline", le16toh(sc.nvq), le16toh(sc.nvi));
	else
		printf("#   secondary controller list: %d\n", ret);
}

/* one start: the controller gets ready, an I/O queue pair, a read */
static int start(struct vf *vf, int i)
{
	struct nvme_drv drv;
	struct vfio_dma b = {};
	int ret;

	ret = nvme_drv_init(&drv, &vf->dev, NSID);
	if (!ret)
		ret = nvme_drv_create_ioq(&drv, 1, 16);
	if (!ret)
		ret = vfio_dma_alloc(vf->dev.ctr, 4096, &b);
	if (!ret)
		ret = nvme_drv_io_sync(&drv, nvme_cmd_read, i % 64, b.iova);
	if (ret) {
		printf("# start %d on %s failed: %s\n", i, vf->bdf, strerror(-ret));
		diagnose(vf, &drv);
		/* does it start now? */
		nvme_drv_fini(&drv);
		ret = nvme_drv_init(&drv, &vf->dev, NSID);
		printf("#   started again: %s%s%s\n", ret ? strerror(-ret) : "ok",
		       ret ? ", " : "", ret ? drv.failed : "");
		ret = -EIO;
	}
	vfio_dma_free(vf->dev.ctr, &b);
	nvme_drv_fini(&drv);
	return ret;
}

static int bind_open(struct vf *vf)
{
	int ret = pci_bind(vf->bdf, driver);

	if (!ret)
		ret = vfio_dev_open(vf->bdf, &vf->dev);
	if (ret)
		printf("# %s: bind to %s and open: %s\n", vf->bdf, driver, strerror(-ret));
	return ret;
}

static void close_unbind(struct vf *vf)
{
	vfio_dev_close(&vf->dev);
	pci_unbind(vf->bdf);
}

int main(int argc, char **argv)
{
	const char *mode = "fork";
	struct vf vfs[MAXVF];
	int n = 200, nvf = 0, failed = 0, opt;
	char *env = getenv("START_STRESS"), *args[32];

	if (argc == 1 && env) {
		/* runs separated by '/', each one's arguments by ',' */
		char *save = NULL, *run;
		int rc = 0;

		for (run = strtok_r(strdup(env), "/", &save); run; run = strtok_r(NULL, "/", &save)) {
			pid_t child;
			int status;

			argc = 0;
			args[argc++] = argv[0];
			for (char *a = strtok(run, ","); a && argc < 31; a = strtok(NULL, ","))
				args[argc++] = a;
			args[argc] = NULL;
			fflush(stdout);
			child = fork();
			if (!child) {
				execv("/proc/self/exe", args);
				_exit(127);
			}
			if (child < 0 || waitpid(child, &status, 0) != child ||
			    !WIFEXITED(status) || WEXITSTATUS(status))
				rc = 1;
		}
		return rc;
	}
	while ((opt = getopt(argc, argv, "n:d:m:v:")) != -1) {
		switch (opt) {
		case 'n':
			n = atoi(optarg);
			break;
		case 'd':
			driver = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'v':
			if (nvf < MAXVF && sscanf(optarg, "%d:%d", &vfs[nvf].pf, &vfs[nvf].vfn) == 2)
				nvf++;
			break;
		default:
			fprintf(stderr, "usage: %s [-n COUNT] [-d DRIVER] [-m init|open|bind|fork|par] [-v PF:VFN]...\n",
				argv[0]);
			return 2;
		}
	}
	if (!nvf) {
		static const int def[][2] = { { 0, 1 }, { 0, 2 }, { 1, 1 }, { 1, 2 } };

		for (nvf = 0; nvf < 4; nvf++) {
			vfs[nvf].pf = def[nvf][0];
			vfs[nvf].vfn = def[nvf][1];
		}
	}
	for (int v = 0; v < nvf; v++) {
		struct vf *vf = &vfs[v];

		vf->dev.fd = -1;
		if (nvme_pf_open(vf->pf, &vf->p) || nvme_pf_vf_bdf(&vf->p, vf->vfn, vf->bdf)) {
			printf("# no VF %d of PF %d\n", vf->vfn, vf->pf);
			return 4;
		}
	}
	printf("# %d starts, mode %s, driver %s, %d VFs\n", n, mode, driver, nvf);
	if (!strcmp(mode, "par")) {
		/* each child opens its VF n / nvf times; the parent sums up */
		for (int v = 0; v < nvf; v++) {
			fflush(stdout);
			if (!fork()) {
				struct vf *vf = &vfs[v];
				int bad = 0;

				if (pci_bind(vf->bdf, driver))
					_exit(255);
				for (int i = v; i < n; i += nvf) {
					int ret = vfio_dev_open(vf->bdf, &vf->dev);

					if (!ret)
						ret = start(vf, i);
					vfio_dev_close(&vf->dev);
					bad += !!ret;
				}
				pci_unbind(vf->bdf);
				fflush(stdout);
				_exit(bad > 254 ? 254 : bad);
			}
		}
		for (int v = 0; v < nvf; v++) {
			int status;

			if (wait(&status) < 0 || !WIFEXITED(status))
				failed += n / nvf;
			else
				failed += WEXITSTATUS(status);
		}
		n = n / nvf * nvf;
	}
	if (!strcmp(mode, "init") || !strcmp(mode, "open"))
		for (int v = 0; v < nvf; v++)
			if (pci_bind(vfs[v].bdf, driver) ||
			    (!strcmp(mode, "init") && vfio_dev_open(vfs[v].bdf, &vfs[v].dev)))
				return 1;
	for (int i = 0; i < n && strcmp(mode, "par"); i++) {
		struct vf *vf = &vfs[i % nvf];
		int ret = 0;

		if (!strcmp(mode, "init")) {
			ret = start(vf, i);
		} else if (!strcmp(mode, "open")) {
			ret = vfio_dev_open(vf->bdf, &vf->dev);
			if (!ret)
				ret = start(vf, i);
			vfio_dev_close(&vf->dev);
		} else if (!strcmp(mode, "bind")) {
			ret = bind_open(vf);
			if (!ret)
				ret = start(vf, i);
			close_unbind(vf);
		} else {
			pid_t child;
			int status;

			fflush(stdout);
			child = fork();

			if (!child) {
				ret = bind_open(vf);
				if (!ret)
					ret = start(vf, i);
				close_unbind(vf);
				fflush(stdout);
				_exit(ret ? 1 : 0);
			}
			if (child < 0 || waitpid(child, &status, 0) != child ||
			    !WIFEXITED(status) || WEXITSTATUS(status))
				ret = -EIO;
		}
		if (ret)
			failed++;
		if ((i + 1) % 100 == 0)
			printf("# %d starts, %d failed\n", i + 1, failed);
	}
	for (int v = 0; v < nvf; v++) {
		if (!strcmp(mode, "init"))
			vfio_dev_close(&vfs[v].dev);
		if (!strcmp(mode, "init") || !strcmp(mode, "open"))
			pci_unbind(vfs[v].bdf);
		nvme_pf_close(&vfs[v].p);
	}
	printf("# %d starts, %d failed (mode %s, driver %s)\n", n, failed, mode, driver);
	return failed ? 1 : 0;
}
