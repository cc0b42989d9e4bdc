// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-nvme-migrate: live-migrate an NVMe VF the way a VMM does, with I/O
 * running, and say what happened.
 *
 *   vfio-nvme-migrate [--local] [ROUNDS]
 *
 * The "guest" is a userspace NVMe driver on VF 1 of PF 0 (queues and data
 * in VFIO-mapped memory, namespace 2, which both drives share), writing and
 * verifying 4 KiB blocks.  With --local the guest uses namespace 1, the
 * source drive's own disk, whose contents the operator's nvme-vfio-copy,
 * started beside this VMM (demo.sh does), copies to the destination drive:
 * the source VF's STOP_COPY stream then ends only once the tool has copied
 * the last changes and acknowledged them; the two namespaces must then be
 * byte-identical.  It is migrated to VF 1 of PF 1 through
 * nvme-vfio-pci's VFIO migration uAPI: PRE_COPY, PRE_COPY_P2P, STOP_COPY on
 * the source; RESUMING then RUNNING on the destination, fed through the
 * data files; then the same queues carry on on the destination.  Exits 0
 * when every command completed exactly once and every block reads back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vfio_nvme.h"
#include "vfio_mig.h"
#include "nvme_drv.h"
#include "lba_log.h"

#define SHARED_NSID	2
#define LOCAL_NSID	1
#define LOG_ENTRIES	4096
#define QSIZE		32
#define NBLK		64	/* blocks the guest rewrites every round */
#define DRIVER		"nvme_vfio_pci"

struct guest {
	struct nvme_drv drv;
	struct vfio_dma buf[NBLK];
	uint32_t gen[NBLK];	/* generation last written to each block */
	uint32_t pending[NBLK];	/* generation in flight, 0 if none */
	unsigned long submitted, completed, dup;
	uint64_t next;		/* next write, as round * NBLK + block */
};


static int nsid = SHARED_NSID;

static int die(const char *what, int ret)
{
	fprintf(stderr, "vfio-nvme-migrate: %s: %s\n", what,
		ret < 0 ? strerror(-ret) : "NVMe error");
	exit(1);
}

/* queue writes until the SQ is full (ring: let the device see them) */
static void guest_submit(struct guest *g, bool ring)
{
	uint16_t nlb = 4096 / g->drv.lba_size;

	for (;;) {
		uint64_t blk = g->next % NBLK;
		uint32_t gen = g->next / NBLK + 1;
		struct nvme_sqe cmd;

		if (g->pending[blk])
			return;		/* the previous write of this block is in flight */
		nvme_drv_pattern(g->buf[blk].va, blk, gen);
		nvme_drv_rw_cmd(&g->drv, &cmd, nvme_cmd_write, blk * nlb, nlb, g->buf[blk].iova);
		cmd.cid = blk;
		if (nvme_drv_submit(&g->drv, 1, &cmd, ring))
			return;		/* SQ full */
		g->pending[blk] = gen;
		g->submitted++;
		g->next++;
	}
}

/* reap what completed within ms */
static void guest_reap(struct guest *g, int ms)
{
	struct nvme_cqe cqe;

	while (!nvme_drv_reap(&g->drv, 1, &cqe, ms)) {
		if (cqe.cid >= NBLK || !g->pending[cqe.cid]) {
			g->dup++;
			continue;
		}
		if (cqe.status >> 1)
			die("write failed", cqe.status >> 1);
		g->gen[cqe.cid] = g->pending[cqe.cid];
		g->pending[cqe.cid] = 0;
		g->completed++;
		ms = 0;
	}
}

static void guest_run(struct guest *g, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		guest_submit(g, true);
		guest_reap(g, 50);
	}
}

static int guest_verify(struct guest *g, struct vfio_dma *b)
{
	int bad = 0;

	for (int blk = 0; blk < NBLK; blk++) {
		int ret = nvme_drv_check_block(&g->drv, blk, g->gen[blk], 0x1000 + blk, b);

		if (ret < 0)
			die("read back", ret);
		bad += ret;
	}
	return bad;
}

int main(int argc, char **argv)
{
	bool local = argc > 1 && !strcmp(argv[1], "--local");
	int rounds = argc > 1 + local ? atoi(argv[1 + local]) : 20;
	char src_ns[64], dst_ns[64];
	double t_cmp = 0;
	int same = 1;
	struct nvme_pf pf[2];
	char bdf[2][BDF_LEN];
	struct vfio_ctr ctr;
	struct vfio_dev dev[2];
	struct guest g = {};
	struct vfio_dma check;
	uint8_t *stream = NULL;
	size_t len = 0, early;
	uint64_t initial, dirty, estimate;
	double t0, t_pre, t_stop, t_copy, t_load, t_run;
	unsigned long before;
	int sfd, dfd, ret, bad;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (local)
		nsid = LOCAL_NSID;
	for (int i = 0; i < 2; i++) {
		ret = nvme_pf_open(i, &pf[i]);
		if (ret)
			die("open PF", ret);
		ret = nvme_pf_vf_bdf(&pf[i], 1, bdf[i]);
		if (!ret)
			ret = pci_bind(bdf[i], DRIVER);
		if (ret)
			die("bind VF to " DRIVER, ret);
	}
	printf("source VF %s (PF %s), destination VF %s (PF %s), both bound to %s\n",
	       bdf[0], pf[0].bdf, bdf[1], pf[1].bdf, DRIVER);

	ret = vfio_ctr_open(&ctr);
	for (int i = 0; !ret && i < 2; i++)
		ret = vfio_dev_open_in(&ctr, bdf[i], &dev[i]);
	if (ret)
		die("open VFIO devices", ret);
	if (vfio_mig_flags(&dev[0]) <= 0)
		die("no VFIO migration on the source", -EOPNOTSUPP);
	ret = nvme_drv_init(&g.drv, &dev[0], nsid);
	if (!ret)
		ret = nvme_drv_create_ioq(&g.drv, 1, QSIZE);
	for (int i = 0; !ret && i < NBLK; i++)
		ret = vfio_dma_alloc(&ctr, 4096, &g.buf[i]);
	if (!ret)
		ret = vfio_dma_alloc(&ctr, 4096, &check);
	if (ret)
		die("start the guest driver", ret);

	guest_run(&g, rounds);
	printf("guest: %lu writes done on the source (cntlid %u, namespace %d, %s)\n",
	       g.completed, g.drv.cntlid, nsid, local ? "local to the source drive" :
	       "shared by both drives");
	if (local) {
		ret = nvme_ns_bdev(pf[0].ctrl, LOCAL_NSID, src_ns, sizeof(src_ns));
		if (!ret)
			ret = nvme_ns_bdev(pf[1].ctrl, LOCAL_NSID, dst_ns, sizeof(dst_ns));
		if (ret)
			die("the namespaces through the PFs", ret);
		printf("namespace %u: %s -> %s by nvme-vfio-copy beside this VMM; the end of the "
		       "state waits for its acknowledgement\n", LOCAL_NSID, src_ns, dst_ns);
	}

	/* PRE_COPY: the device runs, the header travels ahead */
	t0 = now_ms();
	ret = vfio_mig_data_size(&dev[0], &estimate);
	if (!ret)
		ret = vfio_mig_set(&dev[0], VFIO_DEVICE_STATE_PRE_COPY, &sfd);
	if (!ret)
		ret = vfio_mig_precopy_info(sfd, &initial, &dirty);
	if (ret || vfio_mig_read_all(sfd, &stream, &len) <= 0)
		die("PRE_COPY", ret ? ret : -EIO);
	early = len;
	ret = vfio_mig_set(&dev[1], VFIO_DEVICE_STATE_RESUMING, &dfd);
	if (!ret)
		ret = vfio_mig_write_all(dfd, stream, early, early);
	if (ret)
		die("destination accepting the header", ret);
	before = g.completed;
	guest_run(&g, rounds);
	t_pre = now_ms();
	printf("PRE_COPY: %zu bytes (initial_bytes %llu) sent and accepted by the destination, "
	       "guest kept writing (%lu more), %.1f ms\n", early,
	       (unsigned long long)initial, g.completed - before, t_pre - t0);

	/* stop and copy: the downtime starts */
	guest_submit(&g, true);		/* writes in flight at the switch */
	ret = vfio_mig_set(&dev[0], VFIO_DEVICE_STATE_PRE_COPY_P2P, NULL);
	if (ret)
		die("PRE_COPY_P2P", ret);
	t_stop = now_ms();
	guest_reap(&g, 0);
	guest_submit(&g, true);		/* queued on the stopped source */
	ret = vfio_mig_set(&dev[0], VFIO_DEVICE_STATE_STOP_COPY, NULL);
	if (ret || vfio_mig_read_all(sfd, &stream, &len) <= 0)
		die("STOP_COPY", ret ? ret : -EIO);
	close(sfd);
	if (local) {
		/* not part of the migration: timed apart from the downtime */
		t_cmp = now_ms();
		same = bdev_compare(src_ns, dst_ns, NULL);
		t_cmp = now_ms() - t_cmp;
	}
	t_copy = now_ms() - t_cmp;
	ret = vfio_mig_write_all(dfd, stream + early, len - early, 65536);
	close(dfd);
	if (ret)
		die("sending the state", ret);
	/* config space (bus master) is what QEMU restores besides the device state */
	ret = vfio_pci_enable_dma(&dev[1]);
	if (!ret)
		ret = vfio_mig_set(&dev[1], VFIO_DEVICE_STATE_RUNNING, NULL);
	if (ret)
		die("destination RESUMING -> RUNNING", ret);
	t_load = now_ms() - t_cmp;
	ret = vfio_mig_set(&dev[0], VFIO_DEVICE_STATE_STOP, NULL);
	if (!ret)
		ret = nvme_drv_switch(&g.drv, &dev[1]);
	if (ret)
		die("switching to the destination", ret);
	t_run = now_ms() - t_cmp;
	printf("stop-and-copy: source suspended with %lu writes outstanding, state %zu bytes "
	       "(stream %zu, estimate %llu)\n", g.submitted - g.completed, len - early - 16 * 2,
	       len, (unsigned long long)estimate);
	printf("  suspend %.1f ms, read state%s %.1f ms, load and resume on destination %.1f ms, "
	       "downtime %.1f ms\n", t_stop - t_pre,
	       local ? " (waiting for the copy of the last changes)" : "",
	       t_copy - t_stop, t_load - t_copy,
	       t_run - t_pre);

	/* the same queues carry on */
	before = g.completed;
	guest_run(&g, rounds);
	guest_reap(&g, 1000);
	printf("destination: the guest's queues carried on, %lu more writes\n",
	       g.completed - before);
	bad = guest_verify(&g, &check);
	printf("commands: %lu submitted, %lu completed, %lu duplicate completions, %lu lost\n",
	       g.submitted, g.completed, g.dup, g.submitted - g.completed);
	printf("data check: %s (%d blocks of %d differ)\n", bad ? "FAILED" : "OK", bad, NBLK);
	if (local)
		printf("namespace check: source and destination namespace %d %s\n", LOCAL_NSID,
		       same == 1 ? "byte-identical at the switch" : "DIFFER");
	return bad || g.dup || g.submitted != g.completed || same != 1;
}
