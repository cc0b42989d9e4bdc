// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-nvme-bench: the measurements behind "make bench", one kind per run,
 * printed as "BENCH <figure> key=value ..." lines for the host to tabulate
 * (tools/testing/vfio-nvme-rig/bench-report.py).  Not a test: it asserts
 * nothing about time, and exits non-zero only when something failed.
 *
 *   vfio-nvme-bench datapath DRIVER read|write QD MS
 *	VF 1 of PF 0 under DRIVER (nvme_vfio_pci or vfio-pci), the selftests'
 *	userspace driver keeping QD random 4 KiB commands in flight on one
 *	queue pair for MS ms: IOPS and latency percentiles.
 *   vfio-nvme-bench downtime QP OUTSTANDING REPS
 *	VF 1 of PF 0 and VF 1 of PF 1 get QP I/O queue pairs; the guest
 *	migrates between them REPS times, OUTSTANDING writes queued on the
 *	stopped source each time: each migration's downtime and its parts,
 *	the stream's bytes and the PF admin commands of the downtime.
 *   vfio-nvme-bench concurrent N REPS
 *	VFs 1..N (N = 0: all) of PF 0, each with its own guest in its own process,
 *	migrated at once to VFs 1..N of PF 1, REPS times: the time from the
 *	start to the last RUNNING, each VF's downtime, and the failures.  A
 *	guest that could not start is counted apart from failed migrations.
 *   vfio-nvme-bench dirty RANGE_MIB DIRTY_PAGES REPS
 *	DMA logging over RANGE_MIB of IOVA space on VF 1 of PF 0, the device
 *	writing DIRTY_PAGES pages of it before each report: each report's
 *	time and its Track Receive commands.  Needs a kernel with
 *	IOMMUFD_DRIVER (the rig's debug kernel).
 */
#define _GNU_SOURCE
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
#include "vfio_mig.h"
#include "nvme_drv.h"

#define NSID		2	/* the namespace both drives share */
#define DRIVER		"nvme_vfio_pci"
#define QSIZE		128	/* room for 64 outstanding commands and more */
#define MAX_QD		64
#define SETUP_EV	"/sys/kernel/tracing/events/nvme/nvme_setup_cmd/"
#define LM_EV		"/sys/kernel/tracing/events/nvme_vfio_pci/nvmevf_lm_cmd/"

static void die(const char *what, int ret)
{
	fprintf(stderr, "vfio-nvme-bench: %s: %s\n", what,
		ret < 0 ? strerror(-ret) : "NVMe error");
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
	return n ? v[(size_t)(p / 100 * (n - 1) + 0.5)] : 0;
}

/* empty the trace buffer: an open with O_TRUNC does it, as "echo > trace" */
static int trace_clear(void)
{
	int fd = open("/sys/kernel/tracing/trace", O_WRONLY | O_TRUNC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* lines of the trace buffer that contain what */
static int trace_lines(const char *what)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/sys/kernel/tracing/trace", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !!strstr(line, what);
	fclose(f);
	return n;
}

/*
 * The driver's nvmevf_lm_cmd events: each PF command's op, VF and time in
 * the PF (duration_us, from submission to completion, the wait behind
 * other commands included).  Per op: the summed durations of suspend,
 * get state, set state and resume; per PF (bus of the VF's BDF): the time
 * with at least one command outstanding (the union of the commands'
 * intervals), and the commands.
 */
struct lm_ops {
	double suspend, get, set, resume;	/* us */
	double busy_ms[2];
	int cmds[2];
};

struct interval {
	double start, end;
};

static int cmp_interval(const void *a, const void *b)
{
	const struct interval *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

static double union_ms(struct interval *iv, int n)
{
	double total = 0, start = 0, end = -1;

	qsort(iv, n, sizeof(*iv), cmp_interval);
	for (int i = 0; i < n; i++) {
		if (iv[i].start > end) {
			total += end > start ? end - start : 0;
			start = iv[i].start;
			end = iv[i].end;
		} else if (iv[i].end > end) {
			end = iv[i].end;
		}
	}
	total += end > start ? end - start : 0;
	return total * 1000;
}

/* src_bus: the bus of the source PF's VFs, e.g. "01" */
static int lm_trace(const char *src_bus, struct lm_ops *o)
{
	static struct interval iv[2][4096];
	char line[512];
	int n[2] = {};
	FILE *f = fopen("/sys/kernel/tracing/trace", "r");

	memset(o, 0, sizeof(*o));
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *ev = strstr(line, ": nvmevf_lm_cmd: ");
		char *op = ev ? strstr(ev, " op=") : NULL;
		char *d = ev ? strstr(ev, "duration_us=") : NULL;
		char *ts;
		double t, us;
		int pf;

		if (!op || !d)
			continue;
		*ev = '\0';
		ts = strrchr(line, ' ');
		if (!ts || sscanf(ts, "%lf", &t) != 1)
			continue;
		us = atof(d + strlen("duration_us="));
		op += strlen(" op=");
		if (!strncmp(op, "suspend ", 8))
			o->suspend += us;
		else if (!strncmp(op, "get state ", 10))
			o->get += us;
		else if (!strncmp(op, "set state ", 10))
			o->set += us;
		else if (!strncmp(op, "resume ", 7))
			o->resume += us;
		/* "0000:BB:DD.F": the bus */
		pf = strncmp(ev + strlen(": nvmevf_lm_cmd: ") + 5, src_bus, 2) != 0;
		o->cmds[pf]++;
		if (n[pf] < 4096)
			iv[pf][n[pf]++] = (struct interval){ t - us / 1e6, t };
	}
	fclose(f);
	for (int i = 0; i < 2; i++)
		o->busy_ms[i] = union_ms(iv[i], n[i]);
	return 0;
}

static void vf_of(int pfi, int vfn, struct nvme_pf *pf, char *bdf)
{
	int ret = nvme_pf_online_vf(pfi, vfn, pf, bdf);

	if (ret)
		die("finding the VF", ret);
}

/* --- datapath --------------------------------------------------------- */

/*
 * Bytes of BAR0 the driver lets userspace mmap (the sparse areas, or the
 * whole BAR), and its size: where the doorbells can be written without
 * the driver in the path.
 */
static void bar0_mmap(struct vfio_dev *dev, uint64_t *mapped, uint64_t *size)
{
	struct vfio_region_info *ri = calloc(1, 4096);
	struct vfio_info_cap_header *h;

	*mapped = *size = 0;
	if (!ri)
		return;
	ri->argsz = 4096;
	ri->index = VFIO_PCI_BAR0_REGION_INDEX;
	if (ioctl(dev->fd, VFIO_DEVICE_GET_REGION_INFO, ri) || ri->argsz > 4096)
		goto out;
	*size = ri->size;
	if (!(ri->flags & VFIO_REGION_INFO_FLAG_MMAP))
		goto out;
	*mapped = ri->size;
	if (!(ri->flags & VFIO_REGION_INFO_FLAG_CAPS))
		goto out;
	for (uint32_t off = ri->cap_offset; off; off = h->next) {
		h = (struct vfio_info_cap_header *)((char *)ri + off);
		if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
			struct vfio_region_info_cap_sparse_mmap *sp = (void *)h;

			*mapped = 0;
			for (uint32_t i = 0; i < sp->nr_areas; i++)
				*mapped += sp->areas[i].size;
		}
	}
out:
	free(ri);
}

static int datapath(const char *driver, const char *rw, int qd, int ms)
{
	uint8_t opcode = strcmp(rw, "write") ? nvme_cmd_read : nvme_cmd_write;
	struct vfio_dma buf[MAX_QD];
	double start[MAX_QD], *lat, t0, t1;
	bool busy[MAX_QD] = {};
	size_t nlat = 0, maxlat = 1 << 20;
	unsigned long errors = 0;
	struct nvme_drv drv = {};
	struct vfio_dev dev;
	struct nvme_pf pf;
	char bdf[BDF_LEN];
	uint64_t nblk, mapped, barsz;
	uint16_t nlb;
	int ret, inflight = 0;

	if (qd < 1 || qd > MAX_QD)
		die("QD must be 1 to 64", -EINVAL);
	vf_of(0, 1, &pf, bdf);
	ret = pci_bind(bdf, driver);
	if (!ret)
		ret = vfio_dev_open(bdf, &dev);
	if (!ret)
		ret = nvme_drv_init(&drv, &dev, NSID);
	if (!ret)
		ret = nvme_drv_create_ioq(&drv, 1, QSIZE);
	for (int i = 0; !ret && i < qd; i++)
		ret = vfio_dma_alloc(dev.ctr, 4096, &buf[i]);
	lat = malloc(maxlat * sizeof(*lat));
	if (ret || !lat)
		die("starting the userspace driver", ret ? ret : -ENOMEM);
	bar0_mmap(&dev, &mapped, &barsz);
	nlb = 4096 / drv.lba_size;
	nblk = drv.nsze / nlb;
	srandom(qd * 31 + opcode);

	t0 = now_ms();
	for (;;) {
		bool running = now_ms() - t0 < ms;
		struct nvme_cqe cqe;
		struct nvme_sqe cmd;
		bool queued = false;

		/* every free slot gets a command until the time is up, then drain */
		for (int cid = 0; running && cid < qd; cid++) {
			if (busy[cid])
				continue;
			nvme_drv_rw_cmd(&drv, &cmd, opcode, (random() % nblk) * nlb, nlb,
					buf[cid].iova);
			cmd.cid = cid;
			start[cid] = now_ms();
			if (nvme_drv_submit(&drv, 1, &cmd, false))
				die("submitting", -EBUSY);
			busy[cid] = true;
			inflight++;
			queued = true;
		}
		if (!inflight)
			break;
		if (queued)
			nvme_drv_ring(&drv, 1);
		/* busy-poll for one completion, then take what else is there */
		do {
			ret = nvme_drv_reap(&drv, 1, &cqe, 0);
		} while (ret == -ETIMEDOUT && now_ms() - t0 < ms + 5000.0);
		while (!ret) {
			if (cqe.cid >= qd || !busy[cqe.cid])
				die("completion of a command not in flight", -EIO);
			errors += !!(cqe.status >> 1);
			if (nlat < maxlat)
				lat[nlat++] = now_ms() - start[cqe.cid];
			busy[cqe.cid] = false;
			inflight--;
			ret = nvme_drv_reap(&drv, 1, &cqe, 0);
		}
		if (ret != -ETIMEDOUT)
			die("waiting for a completion", ret);
		if (!running && now_ms() - t0 > ms + 5000.0)
			die("commands did not complete", -ETIMEDOUT);
	}
	t1 = now_ms();
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	printf("BENCH datapath driver=%s rw=%s qd=%d ms=%.0f ios=%zu iops=%.0f "
	       "lat_p50_us=%.1f lat_p90_us=%.1f lat_p99_us=%.1f lat_max_us=%.1f errors=%lu "
	       "bar0_bytes=%llu bar0_mmap_bytes=%llu\n",
	       driver, rw, qd, t1 - t0, nlat, nlat / ((t1 - t0) / 1000), pct(lat, nlat, 50) * 1000,
	       pct(lat, nlat, 90) * 1000, pct(lat, nlat, 99) * 1000,
	       nlat ? lat[nlat - 1] * 1000 : 0, errors, (unsigned long long)barsz,
	       (unsigned long long)mapped);
	free(lat);
	nvme_drv_fini(&drv);
	vfio_dev_close(&dev);
	nvme_pf_close(&pf);
	return errors ? 1 : 0;
}

/* --- one migration, as a VMM does it ------------------------------------ */

struct guest {
	struct nvme_drv drv;
	int nq;			/* I/O queue pairs */
	uint64_t base;		/* first block of this guest's own */
	struct vfio_dma buf[MAX_QD];
	uint32_t gen[MAX_QD];	/* generation last written to block base + i */
	unsigned long submitted, completed, bad;
};

struct mig_times {
	double suspend, save, load, downtime, t_running;
	size_t stream, stop_copy;
	int admin_cmds;		/* PF admin commands in the downtime, -1 unknown */
	struct lm_ops ops;	/* the driver's PF commands in the downtime */
};

/* write block base + i (generation gen[i] + 1) on queue q */
static int guest_write(struct guest *g, int i, int q, bool ring)
{
	uint16_t nlb = 4096 / g->drv.lba_size;
	struct nvme_sqe cmd;
	int ret;

	nvme_drv_pattern(g->buf[i].va, g->base + i, g->gen[i] + 1);
	nvme_drv_rw_cmd(&g->drv, &cmd, nvme_cmd_write, (g->base + i) * nlb, nlb,
			g->buf[i].iova);
	cmd.cid = i;
	ret = nvme_drv_submit(&g->drv, q, &cmd, ring);
	if (!ret)
		g->submitted++;
	return ret;
}

/* reap n completions from queue q */
static int guest_reap(struct guest *g, int q, int n)
{
	struct nvme_cqe cqe;

	while (n--) {
		int ret = nvme_drv_reap(&g->drv, q, &cqe, 5000);

		if (ret)
			return ret;
		if (cqe.cid >= MAX_QD || cqe.status >> 1) {
			g->bad++;
			continue;
		}
		g->gen[cqe.cid]++;
		g->completed++;
	}
	return 0;
}

/* a few writes on every queue, so each has a history */
static int guest_run(struct guest *g)
{
	for (int q = 1; q <= g->nq; q++) {
		int ret = guest_write(g, q - 1, q, true);

		if (!ret)
			ret = guest_reap(g, q, 1);
		if (ret)
			return ret;
	}
	return 0;
}

/* read every block back: the number that differ from the last write */
static int guest_verify(struct guest *g, int nblk, struct vfio_dma *b)
{
	int bad = 0;

	for (int i = 0; i < nblk; i++) {
		int ret = g->gen[i] ? nvme_drv_check_block(&g->drv, g->base + i, g->gen[i],
							   0x1000 + i, b) : 0;

		if (ret < 0)
			return ret;
		bad += ret;
	}
	return bad;
}

/*
 * Migrate the guest from src to dst as QEMU does (PRE_COPY with the early
 * data sent ahead, PRE_COPY_P2P, STOP_COPY, RESUMING, RUNNING), with
 * outstanding writes queued on queue 1 of the stopped source; they
 * complete on the destination (reap: wait for them here).  count: count
 * the PFs' admin commands of the downtime (the nvme_setup_cmd event,
 * filtered to qid 0).
 */
static int migrate(struct guest *g, struct vfio_dev *src, struct vfio_dev *dst,
		   int outstanding, bool reap, bool count, struct mig_times *t)
{
	uint8_t *stream = NULL;
	size_t len = 0, early;
	double t0, t1, t2, t3;
	int sfd, dfd, ret;

	memset(t, 0, sizeof(*t));
	t->admin_cmds = -1;
	ret = vfio_mig_set(src, VFIO_DEVICE_STATE_PRE_COPY, &sfd);
	if (ret)
		return ret;
	if (vfio_mig_read_all(sfd, &stream, &len) <= 0)
		return -EIO;
	early = len;
	ret = vfio_mig_set(dst, VFIO_DEVICE_STATE_RESUMING, &dfd);
	if (!ret)
		ret = vfio_mig_write_all(dfd, stream, early, early);
	if (ret)
		return ret;
	if (count)
		count = !trace_clear();

	t0 = now_ms();
	ret = vfio_mig_set(src, VFIO_DEVICE_STATE_PRE_COPY_P2P, NULL);
	if (ret)
		return ret;
	t1 = now_ms();
	for (int i = 0; i < outstanding; i++) {
		ret = guest_write(g, i, 1, i == outstanding - 1);
		if (ret)
			return ret;
	}
	ret = vfio_mig_set(src, VFIO_DEVICE_STATE_STOP_COPY, NULL);
	if (ret)
		return ret;
	if (vfio_mig_read_all(sfd, &stream, &len) <= 0)
		return -EIO;
	close(sfd);
	t2 = now_ms();
	ret = vfio_mig_write_all(dfd, stream + early, len - early, 65536);
	close(dfd);
	if (!ret)
		ret = vfio_pci_enable_dma(dst);
	if (!ret)
		ret = vfio_mig_set(dst, VFIO_DEVICE_STATE_RUNNING, NULL);
	if (ret)
		return ret;
	t3 = now_ms();
	if (count) {
		t->admin_cmds = trace_lines("nvme_setup_cmd");
		lm_trace(src->bdf + 5, &t->ops);
	}
	ret = vfio_mig_set(src, VFIO_DEVICE_STATE_STOP, NULL);
	if (!ret)
		ret = nvme_drv_switch(&g->drv, dst);
	if (!ret && reap)
		ret = guest_reap(g, 1, outstanding);
	free(stream);
	t->suspend = t1 - t0;
	t->save = t2 - t1;
	t->load = t3 - t2;
	t->downtime = t3 - t0;
	t->t_running = t3;
	t->stream = len;
	t->stop_copy = len - early;
	return ret;
}

static int guest_start(struct guest *g, struct vfio_dev *dev, int nq)
{
	int ret = nvme_drv_init(&g->drv, dev, NSID);

	g->nq = nq;
	for (int q = 1; !ret && q <= nq; q++)
		ret = nvme_drv_create_ioq(&g->drv, q, QSIZE);
	for (int i = 0; !ret && i < MAX_QD; i++)
		ret = vfio_dma_alloc(dev->ctr, 4096, &g->buf[i]);
	return ret;
}

/* --- downtime vs queue pairs and outstanding commands -------------------- */

static int downtime(int nq, int outstanding, int reps)
{
	struct nvme_pf pf[2];
	char bdf[2][BDF_LEN];
	struct vfio_ctr ctr;
	struct vfio_dev dev[2];
	struct guest g = {};
	struct vfio_dma check;
	bool count = !sysfs_write(SETUP_EV "filter", "qid == 0") &&
		     !sysfs_write(SETUP_EV "enable", "1") &&
		     !sysfs_write(LM_EV "enable", "1");
	int ret, failed = 0;

	if (nq < 1 || nq > NVME_DRV_MAX_QID || outstanding < 0 || outstanding > MAX_QD)
		die("QP must be 1 to 16 and OUTSTANDING 0 to 64", -EINVAL);
	for (int i = 0; i < 2; i++) {
		vf_of(i, 1, &pf[i], bdf[i]);
		/* the VF's queues come from the PF's flexible resources */
		ret = pci_unbind(bdf[i]);
		if (!ret)
			ret = nvme_pf_vf_online(&pf[i], 1, nq + 1, 1);
		if (!ret)
			ret = pci_bind(bdf[i], DRIVER);
		if (ret)
			die("giving VF 1 its queues", ret);
	}
	ret = vfio_ctr_open(&ctr);
	for (int i = 0; !ret && i < 2; i++)
		ret = vfio_dev_open_in(&ctr, bdf[i], &dev[i]);
	if (!ret)
		ret = guest_start(&g, &dev[0], nq);
	if (!ret)
		ret = vfio_dma_alloc(&ctr, 4096, &check);
	if (ret)
		die(g.drv.failed ? g.drv.failed : "starting the guest", ret);

	for (int rep = 0; rep < reps; rep++) {
		struct vfio_dev *src = &dev[rep % 2], *dst = &dev[!(rep % 2)];
		struct mig_times t;

		ret = guest_run(&g);
		if (!ret)
			ret = migrate(&g, src, dst, outstanding, true, count, &t);
		if (ret) {
			fprintf(stderr, "vfio-nvme-bench: migration %d: %s\n", rep, strerror(-ret));
			failed++;
			break;
		}
		printf("BENCH downtime qp=%d outstanding=%d rep=%d downtime_ms=%.3f "
		       "suspend_ms=%.3f save_ms=%.3f load_ms=%.3f stream_bytes=%zu "
		       "stop_copy_bytes=%zu admin_cmds=%d pf_suspend_us=%.0f pf_get_us=%.0f "
		       "pf_set_us=%.0f pf_resume_us=%.0f\n", nq, outstanding, rep, t.downtime,
		       t.suspend, t.save, t.load, t.stream, t.stop_copy, t.admin_cmds,
		       t.ops.suspend, t.ops.get, t.ops.set, t.ops.resume);
	}
	ret = guest_verify(&g, MAX_QD, &check);
	if (ret || g.bad || g.submitted != g.completed) {
		fprintf(stderr, "vfio-nvme-bench: %d blocks differ, %lu failed, %lu of %lu completed\n",
			ret, g.bad, g.completed, g.submitted);
		failed++;
	}
	sysfs_write(LM_EV "enable", "0");
	sysfs_write(SETUP_EV "enable", "0");
	sysfs_write(SETUP_EV "filter", "0");
	nvme_drv_fini(&g.drv);
	for (int i = 0; i < 2; i++) {
		vfio_dev_close(&dev[i]);
		/* back to the rig's two queues */
		if (!pci_unbind(bdf[i]))
			nvme_pf_vf_online(&pf[i], 1, 2, 1);
		nvme_pf_close(&pf[i]);
	}
	vfio_ctr_close(&ctr);
	return failed ? 1 : 0;
}

/* --- N VFs migrated at once ------------------------------------------------ */

struct vf_result {
	int start_failed;	/* the guest did not start: not a migration failure */
	int failed;
	double downtime, t_running;
};

#define NBLK_VF		8	/* blocks each VF's guest writes */
#define OUTSTANDING_VF	4

/*
 * One VF's guest: start, wait for go, migrate, say so on done, and only
 * when told again (go2: every VF is RUNNING) reap and read back, so the
 * guests' own work does not slow the migrations still under way.
 */
static int concurrent_child(int vfn, int ready, int go, int done, int go2,
			    struct vf_result *r)
{
	struct nvme_pf pf[2];
	char bdf[2][BDF_LEN];
	struct vfio_ctr ctr;
	struct vfio_dev dev[2];
	struct guest g = { .base = 1024 + (uint64_t)vfn * NBLK_VF * 2 };
	struct vfio_dma check;
	struct mig_times t;
	char c;
	int ret;

	/*
	 * Every step reports through ready and done, failed or not: the
	 * parent counts one byte of each per child.
	 */
	r->failed = 1;
	ret = nvme_pf_online_vf(0, vfn, &pf[0], bdf[0]);
	if (!ret)
		ret = nvme_pf_online_vf(1, vfn, &pf[1], bdf[1]);
	if (!ret)
		ret = vfio_ctr_open(&ctr);
	for (int i = 0; !ret && i < 2; i++)
		ret = vfio_dev_open_in(&ctr, bdf[i], &dev[i]);
	if (!ret)
		ret = guest_start(&g, &dev[0], 1);
	if (!ret)
		ret = vfio_dma_alloc(&ctr, 4096, &check);
	for (int i = 0; !ret && i < NBLK_VF; i++) {
		ret = guest_write(&g, i, 1, true);
		if (!ret)
			ret = guest_reap(&g, 1, 1);
	}
	if (ret) {
		fprintf(stderr, "vfio-nvme-bench: VF %d: starting the guest: %s (%s)\n", vfn,
			strerror(-ret), g.drv.failed ? g.drv.failed : "setup");
		r->start_failed = 1;
	}
	/* ready (or not), then wait for everyone */
	if (write(ready, "r", 1) != 1 || read(go, &c, 1) < 0)
		return 1;
	if (!r->start_failed)
		ret = migrate(&g, &dev[0], &dev[1], OUTSTANDING_VF, false, false, &t);
	if (write(done, "d", 1) != 1 || read(go2, &c, 1) < 0 || r->start_failed)
		return 1;
	if (ret) {
		fprintf(stderr, "vfio-nvme-bench: VF %d: migration: %s\n", vfn, strerror(-ret));
		return 1;
	}
	r->downtime = t.downtime;
	r->t_running = t.t_running;
	ret = guest_reap(&g, 1, OUTSTANDING_VF);
	if (!ret)
		ret = guest_verify(&g, NBLK_VF, &check);
	if (ret || g.bad || g.submitted != g.completed) {
		fprintf(stderr, "vfio-nvme-bench: VF %d: %d blocks differ, %lu of %lu completed\n",
			vfn, ret, g.completed, g.submitted);
		return 1;
	}
	r->failed = 0;
	nvme_drv_fini(&g.drv);
	return 0;
}

static int concurrent(int n, int reps)
{
	struct vf_result *r;
	char bdf[BDF_LEN], src_bus[3] = "";
	struct nvme_pf pf;
	int any_failed = 0;

	if (!n) {
		/* every VF both PFs have */
		for (int i = 0; i < 2; i++) {
			int vfs;

			if (nvme_pf_open(i, &pf))
				die("opening the PFs", -ENODEV);
			vfs = nvme_pf_num_vfs(&pf);
			n = i ? (vfs < n ? vfs : n) : vfs;
			nvme_pf_close(&pf);
		}
	}
	if (n < 1)
		die("N", -EINVAL);
	r = mmap(NULL, sizeof(*r) * n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		die("N", -EINVAL);
	for (int i = 0; i < 2; i++) {
		for (int vfn = 1; vfn <= n; vfn++) {
			vf_of(i, vfn, &pf, bdf);
			if (!i)
				memcpy(src_bus, bdf + 5, 2);
			if (pci_bind(bdf, DRIVER))
				die("binding the VFs", -ENXIO);
			nvme_pf_close(&pf);
		}
	}
	sysfs_write(LM_EV "enable", "1");
	for (int rep = 0; rep < reps; rep++) {
		int ready[2], go[2], done[2], go2[2], failed = 0, start_failed = 0, st;
		double t0, last = 0;
		struct lm_ops o = {};
		char c;

		memset(r, 0, sizeof(*r) * n);
		if (pipe(ready) || pipe(go) || pipe(done) || pipe(go2))
			die("pipe", -errno);
		for (int i = 0; i < n; i++) {
			pid_t pid = fork();

			if (pid < 0)
				die("fork", -errno);
			if (!pid) {
				close(ready[0]);
				close(go[1]);
				close(done[0]);
				close(go2[1]);
				_exit(concurrent_child(i + 1, ready[1], go[0], done[1], go2[0],
						       &r[i]));
			}
		}
		close(ready[1]);
		close(go[0]);
		close(done[1]);
		close(go2[0]);
		for (int i = 0; i < n; i++)
			if (read(ready[0], &c, 1) != 1)
				break;
		trace_clear();
		t0 = now_ms();
		close(go[1]);		/* everyone at once */
		for (int i = 0; i < n; i++)
			if (read(done[0], &c, 1) != 1)
				break;
		lm_trace(src_bus, &o);
		close(go2[1]);		/* every VF migrated: check them */
		while (wait(&st) > 0)
			;
		close(ready[0]);
		close(done[0]);
		for (int i = 0; i < n; i++) {
			start_failed += r[i].start_failed;
			failed += r[i].failed && !r[i].start_failed;
			if (!r[i].failed && r[i].t_running > last)
				last = r[i].t_running;
			if (!r[i].failed)
				printf("BENCH concurrent_vf n=%d rep=%d vf=%d downtime_ms=%.3f "
				       "running_after_ms=%.3f\n", n, rep, i + 1, r[i].downtime,
				       r[i].t_running - t0);
		}
		printf("BENCH concurrent n=%d rep=%d last_running_ms=%.3f failures=%d "
		       "start_failures=%d src_pf_busy_ms=%.3f dst_pf_busy_ms=%.3f "
		       "src_pf_cmds=%d dst_pf_cmds=%d\n", n, rep, last ? last - t0 : 0, failed,
		       start_failed, o.busy_ms[0], o.busy_ms[1], o.cmds[0], o.cmds[1]);
		any_failed |= failed;
	}
	sysfs_write(LM_EV "enable", "0");
	munmap(r, sizeof(*r) * n);
	return any_failed ? 1 : 0;
}

/* --- dirty tracking report cost ------------------------------------------- */

static int dirty(uint64_t range_mib, int pages, int reps)
{
	uint64_t range = range_mib << 20, pgsize = 4096;
	size_t bmlen = range / 4096 / 8;
	struct nvme_pf pf;
	char bdf[BDF_LEN];
	struct vfio_dev dev;
	struct guest g = {};
	struct vfio_dma buf = {};
	uint64_t ranges[1][2], *bm;
	int ret;

	vf_of(0, 1, &pf, bdf);
	ret = pci_bind(bdf, DRIVER);
	if (!ret)
		ret = vfio_dev_open(bdf, &dev);
	if (!ret)
		ret = guest_start(&g, &dev, 1);
	if (ret)
		die("starting the guest", ret);
	/* the pages the device writes, one after the other */
	if (pages)
		ret = vfio_dma_alloc(dev.ctr, (size_t)pages * 4096, &buf);
	bm = mmap(NULL, bmlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ret || bm == MAP_FAILED)
		die("buffers", ret ? ret : -ENOMEM);
	ret = vfio_dma_log_probe(&dev);
	if (ret)
		die("DMA logging (a kernel with IOMMUFD_DRIVER)", ret);
	/* the range starts at the guest's first buffer, the dirty pages follow */
	ranges[0][0] = g.buf[0].iova;
	ranges[0][1] = range;
	if (pages && buf.iova + (uint64_t)pages * 4096 > ranges[0][0] + range)
		die("DIRTY_PAGES do not fit in RANGE_MIB", -EINVAL);
	ret = vfio_dma_log_start(&dev, ranges, 1, &pgsize);
	if (ret)
		die("DMA_LOGGING_START", ret);
	if (sysfs_write(LM_EV "enable", "1"))
		die("the nvmevf_lm_cmd trace event", -errno);
	for (int rep = 0; rep < reps; rep++) {
		long long found = 0;
		double t0, t1;
		int cmds;

		/* the device writes the pages: reads from the namespace into them */
		for (int i = 0; i < pages; i++)
			if (nvme_drv_io_sync(&g.drv, nvme_cmd_read, 4096 + i,
					     buf.iova + (uint64_t)i * 4096))
				die("device writes", -EIO);
		trace_clear();
		memset(bm, 0, bmlen);
		t0 = now_ms();
		ret = vfio_dma_log_report(&dev, ranges[0][0], range, 4096, bm);
		t1 = now_ms();
		if (ret)
			die("DMA_LOGGING_REPORT", ret);
		cmds = trace_lines("memory changes");
		for (size_t w = 0; w < bmlen / 8; w++)
			found += __builtin_popcountll(bm[w]);
		printf("BENCH dirty range_mib=%llu dirty_pages=%d rep=%d report_ms=%.3f "
		       "track_receive_cmds=%d reported_pages=%lld\n",
		       (unsigned long long)range_mib, pages, rep, t1 - t0, cmds, found);
		/* every page the device wrote; nothing else moved (the queues are outside) */
		if (found < pages)
			ret = -EIO;
	}
	sysfs_write(LM_EV "enable", "0");
	vfio_dma_log_stop(&dev);
	nvme_drv_fini(&g.drv);
	vfio_dev_close(&dev);
	nvme_pf_close(&pf);
	return ret ? 1 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 6 && !strcmp(argv[1], "datapath"))
		return datapath(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
	if (argc == 5 && !strcmp(argv[1], "downtime"))
		return downtime(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "concurrent"))
		return concurrent(atoi(argv[2]), atoi(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "dirty"))
		return dirty(strtoull(argv[2], NULL, 0), atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: vfio-nvme-bench datapath DRIVER read|write QD MS\n"
		"       vfio-nvme-bench downtime QP OUTSTANDING REPS\n"
		"       vfio-nvme-bench concurrent N REPS\n"
		"       vfio-nvme-bench dirty RANGE_MIB DIRTY_PAGES REPS\n");
	return 2;
}
