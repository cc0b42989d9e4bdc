// SPDX-License-Identifier: GPL-2.0
/* The LBA change log on the PF (linux/nvme_lm_log.h), as the tests use it */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vfio_nvme.h"
#include "lba_log.h"

#define CMP_CHUNK	(1 << 20)

int lm_log_open_raw(int ctrl_fd, struct nvme_lm_log_open *arg)
{
	if (ioctl(ctrl_fd, NVME_IOCTL_LM_LOG_OPEN, arg))
		return -errno;
	return arg->fd;
}

int lm_log_open(int ctrl_fd, uint32_t vf, uint32_t flags, uint32_t entries,
		uint32_t ack_timeout_ms)
{
	struct nvme_lm_log_open arg = {
		.argsz = sizeof(arg),
		.flags = flags,
		.vf = vf,
		.entries = entries,
		.ack_timeout_ms = ack_timeout_ms,
		.fd = -1,
	};

	return lm_log_open_raw(ctrl_fd, &arg);
}

int lm_log_read(int log_fd, struct nvme_lm_log_rec *rec, int max)
{
	ssize_t n = read(log_fd, rec, max * sizeof(*rec));

	if (n < 0)
		return -errno;
	if (n % sizeof(*rec))
		return -EPROTO;
	return n / sizeof(*rec);
}

int lm_log_read_wait(int log_fd, struct nvme_lm_log_rec *rec, int max, int ms)
{
	struct pollfd p = { .fd = log_fd, .events = POLLIN };
	int ret = poll(&p, 1, ms);

	if (ret < 0)
		return -errno;
	if (!ret)
		return 0;
	/* POLLERR too: read() says why */
	ret = lm_log_read(log_fd, rec, max);
	return ret == -EAGAIN ? 0 : ret;
}

int lm_log_nonblock(int log_fd, bool on)
{
	int fl = fcntl(log_fd, F_GETFL);

	if (fl < 0 || fcntl(log_fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK))
		return -errno;
	return 0;
}

static int lm_log_ack_flags(int log_fd, uint64_t seq, uint32_t flags)
{
	struct nvme_lm_log_ack ack = { .seq = seq, .flags = flags };

	return ioctl(log_fd, NVME_LM_LOG_ACK, &ack) ? -errno : 0;
}

int lm_log_ack(int log_fd, uint64_t seq)
{
	return lm_log_ack_flags(log_fd, seq, 0);
}

int lm_log_nack(int log_fd, uint64_t seq)
{
	return lm_log_ack_flags(log_fd, seq, NVME_LM_LOG_NACK);
}

const char *lm_log_flags_str(uint32_t flags, char *buf, size_t len)
{
	static const struct { uint32_t f; const char *name; } names[] = {
		{ NVME_LM_LOG_ALL, "ALL" }, { NVME_LM_LOG_FIRST, "FIRST" },
		{ NVME_LM_LOG_SUSPENDED, "SUSPENDED" }, { NVME_LM_LOG_OVERFLOW, "OVERFLOW" },
		{ NVME_LM_LOG_HANDED_OVER, "HANDED_OVER" },
	};
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(flags & names[i].f))
			continue;
		off += snprintf(buf + off, off < len ? len - off : 0, "%s%s",
				off ? "|" : "", names[i].name);
		flags &= ~names[i].f;
	}
	if (flags)
		off += snprintf(buf + off, off < len ? len - off : 0, "%s%#x", off ? "|" : "",
				flags);
	if (!off)
		snprintf(buf, len, "write");
	return buf;
}

int nvme_ns_bdev(const char *ctrl, uint32_t nsid, char *path, size_t len)
{
	const char *name = strrchr(ctrl, '/') ? strrchr(ctrl, '/') + 1 : ctrl;
	char dir[128], attr[512], val[32];
	struct dirent *d;
	int ret = -ENOENT;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/sys/class/nvme/%s", name);
	dp = opendir(dir);
	if (!dp)
		return -errno;
	while ((d = readdir(dp))) {
		if (strncmp(d->d_name, name, strlen(name)) || d->d_name[strlen(name)] != 'n')
			continue;
		snprintf(attr, sizeof(attr), "%s/%s/nsid", dir, d->d_name);
		if (sysfs_read(attr, val, sizeof(val)) || strtoul(val, NULL, 0) != nsid)
			continue;
		snprintf(path, len, "/dev/%s", d->d_name);
		ret = 0;
		break;
	}
	closedir(dp);
	return ret;
}

int bdev_compare(const char *a, const char *b, uint64_t *first_diff)
{
	uint8_t *ba = NULL, *bb = NULL;
	uint64_t asize, bsize;
	int fa, fb, same = 1;

	fa = open(a, O_RDONLY | O_DIRECT);
	fb = open(b, O_RDONLY | O_DIRECT);
	if (fa < 0 || fb < 0 || ioctl(fa, BLKGETSIZE64, &asize) ||
	    ioctl(fb, BLKGETSIZE64, &bsize)) {
		same = -errno;
		goto out;
	}
	if (bsize < asize) {
		same = -EINVAL;
		goto out;
	}
	if (posix_memalign((void **)&ba, 4096, CMP_CHUNK) ||
	    posix_memalign((void **)&bb, 4096, CMP_CHUNK)) {
		same = -ENOMEM;
		goto out;
	}
	for (uint64_t off = 0; off < asize && same == 1; off += CMP_CHUNK) {
		size_t len = asize - off < CMP_CHUNK ? asize - off : CMP_CHUNK;

		if (pread(fa, ba, len, off) != (ssize_t)len ||
		    pread(fb, bb, len, off) != (ssize_t)len) {
			same = errno ? -errno : -EIO;
			break;
		}
		if (!memcmp(ba, bb, len))
			continue;
		for (size_t i = 0; i < len; i++) {
			if (ba[i] != bb[i]) {
				if (first_diff)
					*first_diff = off + i;
				break;
			}
		}
		same = 0;
	}
out:
	free(ba);
	free(bb);
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	return same;
}
