// SPDX-License-Identifier: GPL-2.0
/*
 * nvme-vfio-copy: copy the namespace of an NVMe VF on local storage to the
 * destination drive while the VM that owns the VF runs, and hold the VF's
 * live migration until every change the VF made is on the destination.
 *
 *   nvme-vfio-copy [--entries N] [--ack-timeout MS] [--no-gate] [--once]
 *                  [--quiet] PF VF NSID DEST
 *
 * It opens the VF's LBA change log on the PF (linux/nvme_lm_log.h) with the
 * migration gate, copies what the namespace has allocated (TP4165 Get LBA
 * Status) or all of it, then the blocks the log reports, pass after pass,
 * until the VF is suspended for the migration (the SUSPENDED record); then
 * what is left, flushes the destination, acknowledges the SUSPENDED record,
 * which releases the end of the VF's migration stream, and exits 0 once the
 * log says the state was handed over.  nvme-vfio-copy(8) says more.
 *
 * Exit status: 0 handed over, 1 failed or interrupted (the migration fails,
 * the VM keeps running on the source), 2 usage.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/nvme_lm_log.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libnvme.h>

#define PROG		"nvme-vfio-copy"
#define COPY_CHUNK	(1 << 20)	/* bytes per read and write */
#define DEF_ENTRIES	4096
#define NREC		256		/* records per read() */

/* NVM Identify Controller AOCS bit 0: reports allocated LBAs (libnvme 1.3 predates it) */
#define NVM_ID_AOCS_OFFSET		18
#define NVM_ID_AOCS_RALBAS		0x1
#define LBA_STATUS_ATYPE_ALLOCATED	2
#define LBA_STATUS_BYTES		(64 * 1024)
#define LBA_STATUS_CMPC_COMPLETE	2

enum phase {
	LIVE,		/* copying while the VF runs */
	FINAL,		/* the VF is suspended: copy what is left, then acknowledge */
	ACKED,		/* acknowledged: waiting for HANDED_OVER (or FIRST: it failed) */
	DONE,
};

static const char *const phase_name[] = { "live", "final", "acked", "done" };

struct copy {
	/* what */
	char ctrl[NAME_MAX + 1];	/* nvmeN of the PF */
	char src_path[PATH_MAX], dst_path[PATH_MAX];
	uint32_t vf, nsid;
	int ctrl_fd, log, src, dst;
	uint32_t lba_size;
	uint64_t nlb;			/* namespace size in logical blocks */
	uint64_t *dirty;		/* a bit per logical block to copy (again) */
	void *buf;
	uint64_t npending;		/* blocks marked */
	uint64_t pos;			/* where the pass goes on */
	uint64_t pass_bytes;		/* copied in this pass */
	/* how it goes */
	enum phase phase;
	bool gate, once, quiet;
	bool overflowed;		/* an OVERFLOW not yet followed by FIRST */
	bool bulk_done;
	uint64_t last_seq, suspended_seq;
	uint64_t bytes, zeroed, records, overflows, passes, final_blocks;
	double t_start, t_suspended, t_final;
};

static volatile sig_atomic_t stop_signal;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void say(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: " PROG " [--entries N] [--ack-timeout MS] [--no-gate] [--once] [--quiet]\n"
		"                      PF VF NSID DEST\n"
		"  PF    the PF's controller (nvme0, /dev/nvme0) or PCI address (0000:01:00.0)\n"
		"  VF    the VF's number (0 for the PF's virtfn0) or PCI address\n"
		"  NSID  the namespace of the VF to copy, as the PF's controller numbers it\n"
		"  DEST  the destination drive's block device for that namespace\n"
		"Exit status: 0 handed over, 1 failed (the migration fails), 2 usage.\n"
		"See nvme-vfio-copy(8).\n");
	exit(status);
}

static int read_attr(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* a PCI address with its domain: 01:00.0 -> 0000:01:00.0 */
static void pci_addr(const char *in, char *out, size_t len)
{
	unsigned int a, b, c, d;

	if (sscanf(in, "%x:%x:%x.%x", &a, &b, &c, &d) == 4)
		snprintf(out, len, "%04x:%02x:%02x.%x", a, b, c, d);
	else if (sscanf(in, "%x:%x.%x", &b, &c, &d) == 3)
		snprintf(out, len, "0000:%02x:%02x.%x", b, c, d);
	else
		snprintf(out, len, "%s", in);
}

/* PF as nvmeN, /dev/nvmeN or a PCI address: its controller's name */
static int find_ctrl(const char *pf, char *ctrl, size_t len)
{
	char path[PATH_MAX], addr[64];
	struct dirent *d;
	int ret = -ENOENT;
	DIR *dp;

	if (!strncmp(pf, "/dev/", 5))
		pf += 5;
	if (!strncmp(pf, "nvme", 4) && pf[4] && strspn(pf + 4, "0123456789") == strlen(pf + 4)) {
		snprintf(ctrl, len, "%s", pf);
		snprintf(path, sizeof(path), "/sys/class/nvme/%s", ctrl);
		return access(path, F_OK) ? -errno : 0;
	}
	pci_addr(pf, addr, sizeof(addr));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/nvme", addr);
	dp = opendir(path);
	if (!dp)
		return -errno;
	while ((d = readdir(dp))) {
		if (!strncmp(d->d_name, "nvme", 4)) {
			snprintf(ctrl, len, "%s", d->d_name);
			ret = 0;
			break;
		}
	}
	closedir(dp);
	return ret;
}

/* VF as a number or as a PCI address: its number, the PF's virtfn<vf> */
static int find_vf(const char *ctrl, const char *vf, uint32_t *out)
{
	char path[PATH_MAX], link[PATH_MAX], addr[64];
	struct dirent *d;
	int ret = -ENODEV;
	char *end;
	DIR *dp;

	errno = 0;
	*out = strtoul(vf, &end, 10);
	if (!errno && *vf && !*end)
		return 0;
	pci_addr(vf, addr, sizeof(addr));
	snprintf(path, sizeof(path), "/sys/class/nvme/%s/device", ctrl);
	dp = opendir(path);
	if (!dp)
		return -errno;
	while ((d = readdir(dp))) {
		char lp[PATH_MAX + 300];
		ssize_t n;

		if (strncmp(d->d_name, "virtfn", 6))
			continue;
		snprintf(lp, sizeof(lp), "%s/%s", path, d->d_name);
		n = readlink(lp, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (!strcmp(basename(link), addr)) {
			*out = strtoul(d->d_name + 6, NULL, 10);
			ret = 0;
			break;
		}
	}
	closedir(dp);
	return ret;
}

/*
 * The block device of namespace nsid of controller ctrl: nvmeXnY in the
 * controller's sysfs directory, or for a multipath path nvmeXcZnY its
 * head nvmeXnY
 */
static int find_ns_bdev(const char *ctrl, uint32_t nsid, char *bdev, size_t len)
{
	char dir[PATH_MAX], attr[PATH_MAX + 300], val[32];
	unsigned int s, c, h;
	struct dirent *d;
	int ret = -ENOENT;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/sys/class/nvme/%s", ctrl);
	dp = opendir(dir);
	if (!dp)
		return -errno;
	while ((d = readdir(dp))) {
		if (strncmp(d->d_name, "nvme", 4))
			continue;
		snprintf(attr, sizeof(attr), "%s/%s/nsid", dir, d->d_name);
		if (read_attr(attr, val, sizeof(val)) || strtoul(val, NULL, 0) != nsid)
			continue;
		if (sscanf(d->d_name, "nvme%uc%un%u", &s, &c, &h) == 3)
			snprintf(bdev, len, "/dev/nvme%un%u", s, h);
		else
			snprintf(bdev, len, "/dev/%s", d->d_name);
		ret = 0;
		break;
	}
	closedir(dp);
	return ret;
}

static void mark(struct copy *c, uint64_t slba, uint64_t nlb)
{
	uint64_t end = slba + nlb < slba || slba + nlb > c->nlb ? c->nlb : slba + nlb;

	for (uint64_t b = slba; b < end;) {
		uint64_t *w = &c->dirty[b / 64];

		if (!(b % 64) && end - b >= 64) {
			c->npending += 64 - __builtin_popcountll(*w);
			*w = ~0ULL;
			b += 64;
		} else {
			if (!(*w & (1ULL << (b % 64))))
				c->npending++;
			*w |= 1ULL << (b % 64);
			b++;
		}
	}
}

static void mark_all(struct copy *c)
{
	mark(c, 0, c->nlb);
}

static bool marked(struct copy *c, uint64_t b)
{
	return c->dirty[b / 64] & (1ULL << (b % 64));
}

static uint64_t pending(struct copy *c)
{
	return c->npending;
}

static int zero_dst(struct copy *c, uint64_t from, uint64_t to)
{
	uint64_t range[2] = { from * c->lba_size, (to - from) * c->lba_size };

	if (from >= to)
		return 0;
	if (ioctl(c->dst, BLKZEROOUT, range))
		return -errno;
	c->zeroed += range[1];
	return 0;
}

/*
 * Mark only what the source namespace has allocated (Get LBA Status, TP4165,
 * through the PF's controller) and zero the rest of the destination.  1 when
 * done, 0 when the controller does not report allocated LBAs, -errno.
 */
static int mark_allocated(struct copy *c)
{
	struct nvme_id_ctrl_nvm id;
	struct nvme_lba_status *st;
	uint64_t slba = 0, done = 0;
	int ret;

	if (nvme_nvm_identify_ctrl(c->ctrl_fd, &id) ||
	    !(((uint8_t *)&id)[NVM_ID_AOCS_OFFSET] & NVM_ID_AOCS_RALBAS))
		return 0;
	if (posix_memalign((void **)&st, 4096, LBA_STATUS_BYTES))
		return -ENOMEM;
	for (;;) {
		uint32_t n;

		/*
		 * Not nvme_get_lba_status(): libnvme 1.3's sends no data length,
		 * so the controller has nowhere to put the descriptors.
		 */
		ret = nvme_admin_passthru(c->ctrl_fd, nvme_admin_get_lba_status, 0, 0, c->nsid,
					  0, 0, (uint32_t)slba, slba >> 32,
					  LBA_STATUS_BYTES / 4 - 1,
					  LBA_STATUS_ATYPE_ALLOCATED << 24, /* RL 0: to the end */
					  0, 0, LBA_STATUS_BYTES, st, 0, NULL, 0, NULL);
		if (ret) {
			ret = ret < 0 ? -errno : -EIO;
			break;
		}
		n = le32toh(st->nlsd);
		for (uint32_t i = 0; i < n && !ret; i++) {
			uint64_t d = le64toh(st->descs[i].dslba);
			uint64_t nlb = le32toh(st->descs[i].nlb);

			if (d < done || d > c->nlb) {
				ret = -EPROTO;
				break;
			}
			ret = zero_dst(c, done, d);
			mark(c, d, nlb);
			done = d + nlb;
		}
		if (ret)
			break;
		if (st->cmpc == LBA_STATUS_CMPC_COMPLETE || done >= c->nlb) {
			ret = zero_dst(c, done, c->nlb) ?: 1;
			break;
		}
		if (!n || done <= slba) {
			ret = -EPROTO;	/* no progress */
			break;
		}
		slba = done;
	}
	free(st);
	return ret;
}

/*
 * Copy up to one chunk of marked blocks from c->pos on, clearing their
 * marks first: a write that lands after the read is in the log, and taking
 * the log marks the block again.  A pass ends at the namespace's end.
 * Returns bytes copied or -errno.
 */
static long long copy_step(struct copy *c)
{
	uint64_t max = COPY_CHUNK / c->lba_size, b, n = 0;
	size_t bytes;

	for (b = c->pos; b < c->nlb && !marked(c, b);) {
		if (!(b % 64) && !c->dirty[b / 64])
			b += 64;
		else
			b++;
	}
	if (b >= c->nlb) {
		/* a pass is over */
		if (c->pass_bytes)
			c->passes++;
		c->pass_bytes = 0;
		c->pos = 0;
		return 0;
	}
	while (b + n < c->nlb && n < max && marked(c, b + n))
		n++;
	for (uint64_t i = b; i < b + n; i++)
		c->dirty[i / 64] &= ~(1ULL << (i % 64));
	c->npending -= n;
	bytes = n * c->lba_size;
	errno = 0;
	if (pread(c->src, c->buf, bytes, b * c->lba_size) != (ssize_t)bytes)
		return errno ? -errno : -EIO;
	if (pwrite(c->dst, c->buf, bytes, b * c->lba_size) != (ssize_t)bytes)
		return errno ? -errno : -ENOSPC;
	c->bytes += bytes;
	c->pass_bytes += bytes;
	c->pos = b + n;
	return bytes;
}

static int open_namespaces(struct copy *c)
{
	uint64_t ssize, dsize;
	int lbs;

	c->src = open(c->src_path, O_RDONLY | O_DIRECT);
	if (c->src < 0) {
		say("%s: %s", c->src_path, strerror(errno));
		return -errno;
	}
	c->dst = open(c->dst_path, O_RDWR | O_DIRECT | O_EXCL);
	if (c->dst < 0) {
		say("%s: %s", c->dst_path, strerror(errno));
		return -errno;
	}
	if (ioctl(c->src, BLKGETSIZE64, &ssize) || ioctl(c->dst, BLKGETSIZE64, &dsize) ||
	    ioctl(c->src, BLKSSZGET, &lbs)) {
		say("%s or %s is not a block device: %s", c->src_path, c->dst_path,
		    strerror(errno));
		return -errno;
	}
	if (dsize < ssize || lbs <= 0) {
		say("%s (%llu bytes) is smaller than %s (%llu bytes)", c->dst_path,
		    (unsigned long long)dsize, c->src_path, (unsigned long long)ssize);
		return -EINVAL;
	}
	c->lba_size = lbs;
	c->nlb = ssize / lbs;
	c->dirty = calloc((c->nlb + 63) / 64, sizeof(uint64_t));
	if (!c->dirty || posix_memalign(&c->buf, 4096, COPY_CHUNK))
		return -ENOMEM;
	return 0;
}

static void progress(struct copy *c, uint64_t *last_bytes, double *last_t)
{
	double t = now_ms();
	double rate = t > *last_t ? (c->bytes - *last_bytes) / ((t - *last_t) / 1e3) : 0;

	if (!c->quiet)
		say("[%s] pass %llu, %llu MiB copied, %.1f MiB/s, %llu KiB to go, %llu records, "
		    "%llu overflows", phase_name[c->phase], (unsigned long long)c->passes + 1,
		    (unsigned long long)(c->bytes >> 20), rate / (1 << 20),
		    (unsigned long long)(pending(c) * c->lba_size >> 10),
		    (unsigned long long)c->records, (unsigned long long)c->overflows);
	*last_bytes = c->bytes;
	*last_t = t;
}

/* 0, or 1: the migration failed and --once says to give up */
static int take_record(struct copy *c, const struct nvme_lm_log_rec *r)
{
	uint32_t f = r->flags;

	c->records++;
	if (c->last_seq && r->seq != c->last_seq + 1) {
		/* the uAPI promises no gaps: take one as a change anywhere */
		say("record %llu follows %llu: copying everything again",
		    (unsigned long long)r->seq, (unsigned long long)c->last_seq);
		mark_all(c);
	}
	c->last_seq = r->seq;

	if (f & NVME_LM_LOG_OVERFLOW) {
		c->overflows++;
		c->overflowed = true;
		/* the progress lines count the next ones */
		if (c->overflows == 1)
			say("the log overflowed (record %llu): everything is copied again "
			    "once logging restarts; a larger --entries avoids that",
			    (unsigned long long)r->seq);
	}
	if (f & NVME_LM_LOG_ALL) {
		if (!r->nsid || r->nsid == c->nsid)
			mark_all(c);
	} else if (!(f & (NVME_LM_LOG_FIRST | NVME_LM_LOG_SUSPENDED |
			  NVME_LM_LOG_HANDED_OVER | NVME_LM_LOG_OVERFLOW))) {
		if (r->nsid == c->nsid)
			mark(c, r->slba, r->nlb);
	}
	if (f & NVME_LM_LOG_FIRST) {
		if (c->overflowed) {
			/*
			 * every change from here on is logged: copy everything
			 * once more.  The pass goes on where it is (the blocks
			 * behind it are the next pass's): starting it over at
			 * every overflow would never end one while the queue
			 * keeps overflowing.
			 */
			c->overflowed = false;
			mark_all(c);
		}
		if (c->phase == FINAL || c->phase == ACKED) {
			say("the VF resumed on the source (record %llu): the migration failed%s",
			    (unsigned long long)r->seq,
			    c->once ? "" : "; copying on for the next one");
			if (c->once)
				return 1;
			c->phase = LIVE;
		}
	}
	if (f & NVME_LM_LOG_SUSPENDED) {
		c->phase = FINAL;
		c->suspended_seq = r->seq;
		c->t_suspended = now_ms();
		/*
		 * Nothing changes any more: after an overflow that logging has
		 * not yet restarted from, copy everything now.
		 */
		if (c->overflowed)
			mark_all(c);
		c->final_blocks = pending(c);
		say("the VF is suspended (record %llu): copying the last %llu KiB",
		    (unsigned long long)r->seq,
		    (unsigned long long)(c->final_blocks * c->lba_size >> 10));
	}
	if ((f & NVME_LM_LOG_HANDED_OVER) && c->phase == ACKED)
		c->phase = DONE;
	return 0;
}

/* take what the log has: 0, 1 (give up, see take_record) or -errno */
static int take_log(struct copy *c)
{
	struct nvme_lm_log_rec rec[NREC];

	for (;;) {
		ssize_t n = read(c->log, rec, sizeof(rec));

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (!n)
			return -EPIPE;	/* not in the uAPI: take it as the log's end */
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(rec[0]); i++) {
			int ret = take_record(c, &rec[i]);

			if (ret)
				return ret;
		}
		if (n < (ssize_t)sizeof(rec))
			return 0;
	}
}

static int fail(struct copy *c, const char *what, int err)
{
	say("%s: %s", what, strerror(-err));
	if (c->gate && c->log >= 0) {
		struct nvme_lm_log_ack nack = { .seq = c->last_seq, .flags = NVME_LM_LOG_NACK };

		/* closing the log fails the migration too; NACK says so first */
		if (ioctl(c->log, NVME_LM_LOG_ACK, &nack) && errno != EPIPE)
			say("NVME_LM_LOG_NACK: %s", strerror(errno));
		say("refused the migration: the VM keeps running on the source; "
		    "a new run copies everything again");
	}
	return 1;
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int run(struct copy *c)
{
	struct nvme_lm_log_ack ack = { 0 };
	uint64_t last_bytes = 0;
	double last_t = now_ms();
	int ret;

	c->t_start = last_t;
	for (;;) {
		struct pollfd p = { .fd = c->log, .events = POLLIN };
		long long n;

		if (stop_signal)
			return fail(c, "interrupted", -EINTR);
		ret = take_log(c);
		if (ret > 0)
			return 1;
		if (ret == -ESTALE)
			return fail(c, "the log broke (a controller reset of the PF): "
				    "changes may be missing", ret);
		if (ret < 0)
			return fail(c, "reading the log", ret);
		if (c->phase == DONE) {
			say("handed over: %llu MiB copied in %llu passes (%llu MiB zeroed), "
			    "%llu records, %llu overflows, final copy %llu KiB in %.1f ms, "
			    "%.1f s in all",
			    (unsigned long long)(c->bytes >> 20),
			    (unsigned long long)(c->passes + !!c->pass_bytes),
			    (unsigned long long)(c->zeroed >> 20), (unsigned long long)c->records,
			    (unsigned long long)c->overflows,
			    (unsigned long long)(c->final_blocks * c->lba_size >> 10), c->t_final,
			    (now_ms() - c->t_start) / 1e3);
			return 0;
		}
		if (now_ms() - last_t >= 1000)
			progress(c, &last_bytes, &last_t);

		n = c->phase == ACKED ? 0 : copy_step(c);
		if (n < 0)
			return fail(c, "copying", n);
		if (n)
			continue;
		/* a pass is over */
		if (!c->bulk_done) {
			c->bulk_done = true;
			say("bulk copy done: %llu MiB copied, %llu MiB zeroed, %.1f s; "
			    "copying changes", (unsigned long long)(c->bytes >> 20),
			    (unsigned long long)(c->zeroed >> 20), (now_ms() - c->t_start) / 1e3);
		}
		if (pending(c) && c->phase != ACKED)
			continue;
		if (c->phase == FINAL) {
			if (fdatasync(c->dst))
				return fail(c, "flushing the destination", -errno);
			/* the last look: a FIRST here means the VF resumed, no ACK */
			ret = take_log(c);
			if (ret > 0)
				return 1;
			if (ret < 0)
				return fail(c, "reading the log", ret);
			if (c->phase != FINAL || pending(c))
				continue;
			c->t_final = now_ms() - c->t_suspended;
			if (!c->gate) {
				say("copied every change up to the suspend in %.1f ms "
				    "(no gate: nothing waited for it)", c->t_final);
				return 0;
			}
			ack.seq = c->suspended_seq;
			if (ioctl(c->log, NVME_LM_LOG_ACK, &ack))
				return fail(c, "NVME_LM_LOG_ACK", -errno);
			c->phase = ACKED;
			say("acknowledged record %llu: the destination has every change "
			    "(final copy %.1f ms)", (unsigned long long)c->suspended_seq,
			    c->t_final);
			continue;
		}
		/* LIVE or ACKED: wait for records, a second at most */
		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			return fail(c, "poll", -errno);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "entries", required_argument, NULL, 'e' },
		{ "ack-timeout", required_argument, NULL, 't' },
		{ "no-gate", no_argument, NULL, 'n' },
		{ "once", no_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct copy c = { .ctrl_fd = -1, .log = -1, .src = -1, .dst = -1, .gate = true };
	uint32_t entries = DEF_ENTRIES, ack_ms = 0;
	struct nvme_lm_log_open lo = { .argsz = sizeof(lo) };
	struct sigaction sa = { .sa_handler = on_signal };
	char path[PATH_MAX + 8], *end;
	int o, ret;

	while ((o = getopt_long(argc, argv, "e:t:noqh", opts, NULL)) != -1) {
		switch (o) {
		case 'e':
			entries = strtoul(optarg, &end, 0);
			if (*end || entries < NVME_LM_LOG_MIN_ENTRIES ||
			    entries > NVME_LM_LOG_MAX_ENTRIES)
				usage(2);
			break;
		case 't':
			ack_ms = strtoul(optarg, &end, 0);
			if (*end || !ack_ms || ack_ms > NVME_LM_LOG_MAX_ACK_MS)
				usage(2);
			break;
		case 'n':
			c.gate = false;
			break;
		case 'o':
			c.once = true;
			break;
		case 'q':
			c.quiet = true;
			break;
		case 'h':
			usage(0);
			break;
		default:
			usage(2);
		}
	}
	if (argc - optind != 4)
		usage(2);
	c.nsid = strtoul(argv[optind + 2], &end, 0);
	if (*end || !c.nsid || c.nsid == 0xffffffff)
		usage(2);
	snprintf(c.dst_path, sizeof(c.dst_path), "%s", argv[optind + 3]);

	ret = find_ctrl(argv[optind], c.ctrl, sizeof(c.ctrl));
	if (ret) {
		say("%s: no NVMe controller: %s", argv[optind], strerror(-ret));
		return 1;
	}
	ret = find_vf(c.ctrl, argv[optind + 1], &c.vf);
	if (ret) {
		say("%s: not a VF of %s: %s", argv[optind + 1], c.ctrl, strerror(-ret));
		return 1;
	}
	ret = find_ns_bdev(c.ctrl, c.nsid, c.src_path, sizeof(c.src_path));
	if (ret) {
		say("%s has no block device for namespace %u: %s", c.ctrl, c.nsid, strerror(-ret));
		return 1;
	}
	snprintf(path, sizeof(path), "/dev/%s", c.ctrl);
	c.ctrl_fd = open(path, O_RDWR);
	if (c.ctrl_fd < 0) {
		say("%s: %s", path, strerror(errno));
		return 1;
	}
	if (open_namespaces(&c))
		return 1;

	/* SIGINT and SIGTERM refuse the migration (fail() NACKs): poll() returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	lo.flags = c.gate ? NVME_LM_LOG_GATE : 0;
	lo.vf = c.vf;
	lo.entries = entries;
	lo.ack_timeout_ms = c.gate ? ack_ms : 0;
	lo.fd = -1;
	if (ioctl(c.ctrl_fd, NVME_IOCTL_LM_LOG_OPEN, &lo)) {
		ret = errno;
		say("opening the LBA change log of VF %u on %s: %s%s", c.vf, c.ctrl, strerror(ret),
		    ret == EBUSY ? " (the VF has a log already, or is suspended)" :
		    ret == ENOTTY ? " (the nvme driver has no LBA change log)" : "");
		return 1;
	}
	c.log = lo.fd;
	if (fcntl(c.log, F_SETFL, fcntl(c.log, F_GETFL) | O_NONBLOCK))
		return fail(&c, "O_NONBLOCK on the log", -errno);
	say("VF %u of %s, namespace %u: %s -> %s, %llu MiB, %s", c.vf, c.ctrl, c.nsid,
	    c.src_path, c.dst_path, (unsigned long long)(c.nlb * c.lba_size >> 20),
	    c.gate ? "the migration waits for this copy" :
	    "no gate: the migration does not wait for this copy");

	ret = mark_allocated(&c);
	if (ret < 0)
		return fail(&c, "Get LBA Status", ret);
	if (!ret)
		mark_all(&c);
	say("first pass: %s, %llu MiB to copy, %llu MiB zeroed on the destination",
	    ret ? "the allocated ranges (Get LBA Status)" : "everything (no allocation report)",
	    (unsigned long long)(pending(&c) * c.lba_size >> 20),
	    (unsigned long long)(c.zeroed >> 20));
	return run(&c);
}
