// SPDX-License-Identifier: GPL-2.0
/* nvme-vfio-pci's LBA change log and the namespace copier it drives */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lba_log.h"

#define COPY_CHUNK	(1 << 20)

struct lba_log_feature {
	struct vfio_device_feature hdr;
	struct vfio_nvme_lba_log log;
};

static int lba_log_set(struct vfio_dev *dev, uint32_t flags, uint32_t entries,
		       int *fd)
{
	struct lba_log_feature f = {
		.hdr.argsz = sizeof(f),
		.hdr.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_NVME_LBA_LOG,
		.log.flags = flags,
		.log.entries = entries,
		.log.log_fd = -1,
	};

	if (ioctl(dev->fd, VFIO_DEVICE_FEATURE, &f))
		return -errno;
	if (fd)
		*fd = f.log.log_fd;
	return 0;
}

int vfio_lba_log_start(struct vfio_dev *dev, uint32_t entries)
{
	int fd = -1, ret = lba_log_set(dev, VFIO_NVME_LBA_LOG_START, entries, &fd);

	return ret ? ret : fd;
}

int vfio_lba_log_stop(struct vfio_dev *dev)
{
	return lba_log_set(dev, VFIO_NVME_LBA_LOG_STOP, 0, NULL);
}

int vfio_lba_log_read(int log_fd, struct vfio_nvme_lba_change *rec, int max)
{
	ssize_t n = read(log_fd, rec, max * sizeof(*rec));

	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (!n)
		return -ENODATA;
	if (n % sizeof(*rec))
		return -EPROTO;
	return n / sizeof(*rec);
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

int ns_copy_open(struct ns_copy *c, const char *src, const char *dst, uint32_t nsid)
{
	uint64_t ssize, dsize;
	int lbs;

	memset(c, 0, sizeof(*c));
	c->nsid = nsid;
	c->src = open(src, O_RDONLY | O_DIRECT);
	c->dst = open(dst, O_RDWR | O_DIRECT);
	if (c->src < 0 || c->dst < 0)
		goto err;
	if (ioctl(c->src, BLKGETSIZE64, &ssize) || ioctl(c->dst, BLKGETSIZE64, &dsize) ||
	    ioctl(c->src, BLKSSZGET, &lbs))
		goto err;
	if (ssize != dsize || lbs <= 0) {
		errno = EINVAL;		/* the destination must match the source */
		goto err;
	}
	c->lba_size = lbs;
	c->nlb = ssize / lbs;
	c->dirty = calloc((c->nlb + 63) / 64, sizeof(uint64_t));
	if (!c->dirty || posix_memalign(&c->buf, 4096, COPY_CHUNK))
		goto err;
	return 0;
err:
	ns_copy_close(c);
	return errno ? -errno : -EIO;
}

void ns_copy_close(struct ns_copy *c)
{
	if (c->src > 0)
		close(c->src);
	if (c->dst > 0)
		close(c->dst);
	free(c->dirty);
	free(c->buf);
	c->src = c->dst = -1;
	c->dirty = NULL;
	c->buf = NULL;
}

static void mark(struct ns_copy *c, uint64_t slba, uint64_t nlb)
{
	for (uint64_t b = slba; b < slba + nlb && b < c->nlb; b++)
		c->dirty[b / 64] |= 1ULL << (b % 64);
}

static bool marked(struct ns_copy *c, uint64_t b)
{
	return c->dirty[b / 64] & (1ULL << (b % 64));
}

void ns_copy_mark_all(struct ns_copy *c)
{
	mark(c, 0, c->nlb);
}

/* NVM Identify Controller AOCS bit 0: reports allocated LBAs (libnvme 1.3 predates it) */
#define NVM_ID_AOCS_OFFSET	18
#define NVM_ID_AOCS_RALBAS	0x1
#define LBA_STATUS_ATYPE_ALLOCATED	2
#define LBA_STATUS_BYTES	(64 * 1024)
#define LBA_STATUS_CMPC_COMPLETE	2

static int zero_dst(struct ns_copy *c, uint64_t from, uint64_t to)
{
	uint64_t range[2] = { from * c->lba_size, (to - from) * c->lba_size };

	if (from >= to)
		return 0;
	if (ioctl(c->dst, BLKZEROOUT, range))
		return -errno;
	c->zeroed += range[1];
	return 0;
}

int ns_copy_mark_allocated(struct ns_copy *c, int ctrl_fd)
{
	struct nvme_id_ctrl_nvm id;
	struct nvme_lba_status *st;
	uint64_t slba = 0, done = 0;
	int ret;

	if (nvme_nvm_identify_ctrl(ctrl_fd, &id) ||
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
		ret = nvme_admin_passthru(ctrl_fd, nvme_admin_get_lba_status, 0, 0, c->nsid,
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

uint64_t ns_copy_pending(struct ns_copy *c)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < (c->nlb + 63) / 64; i++)
		n += __builtin_popcountll(c->dirty[i]);
	return n;
}

long long ns_copy_step(struct ns_copy *c, uint64_t *pos, uint64_t max_bytes)
{
	uint64_t max = COPY_CHUNK / c->lba_size, done = 0;

	if (max_bytes / c->lba_size < max)
		max = max_bytes / c->lba_size ? max_bytes / c->lba_size : 1;
	while (*pos < c->nlb && done < max) {
		uint64_t b = *pos, n = 0;
		size_t bytes;

		if (!marked(c, b)) {
			(*pos)++;
			continue;
		}
		while (b + n < c->nlb && n < max - done && marked(c, b + n))
			n++;
		/*
		 * Clear first: a write that lands after the read below is in the
		 * log, and taking the log marks the block again.
		 */
		for (uint64_t i = b; i < b + n; i++)
			c->dirty[i / 64] &= ~(1ULL << (i % 64));
		bytes = n * c->lba_size;
		if (pread(c->src, c->buf, bytes, b * c->lba_size) != (ssize_t)bytes ||
		    pwrite(c->dst, c->buf, bytes, b * c->lba_size) != (ssize_t)bytes)
			return errno ? -errno : -EIO;
		c->bytes += bytes;
		done += n;
		*pos = b + n;
	}
	return done * c->lba_size;
}

int ns_copy_take_log(struct ns_copy *c, int log_fd)
{
	struct vfio_nvme_lba_change rec[64];
	int n, total = 0;

	while ((n = vfio_lba_log_read(log_fd, rec, 64)) > 0) {
		for (int i = 0; i < n; i++) {
			const struct vfio_nvme_lba_change *r = &rec[i];

			if (r->flags & VFIO_NVME_LBA_SUSPENDED)
				c->suspended = true;
			if (r->flags & VFIO_NVME_LBA_OVERFLOW)
				c->overflows++;
			if (r->flags & VFIO_NVME_LBA_ALL) {
				if (!r->nsid || r->nsid == c->nsid)
					ns_copy_mark_all(c);
			} else if (r->nsid == c->nsid && r->nlb) {
				mark(c, r->slba, r->nlb);
			}
		}
		c->records += n;
		total += n;
	}
	return n < 0 ? n : total;
}

int ns_copy_compare(struct ns_copy *c, uint64_t *first_diff)
{
	uint8_t *other;
	int same = 1;

	if (posix_memalign((void **)&other, 4096, COPY_CHUNK))
		return -ENOMEM;
	for (uint64_t off = 0; off < c->nlb * c->lba_size && same; off += COPY_CHUNK) {
		size_t len = COPY_CHUNK;

		if (off + len > c->nlb * c->lba_size)
			len = c->nlb * c->lba_size - off;
		if (pread(c->src, c->buf, len, off) != (ssize_t)len ||
		    pread(c->dst, other, len, off) != (ssize_t)len) {
			same = errno ? -errno : -EIO;
			break;
		}
		for (size_t i = 0; i < len; i++) {
			if (((uint8_t *)c->buf)[i] != other[i]) {
				if (first_diff)
					*first_diff = off + i;
				same = 0;
				break;
			}
		}
	}
	free(other);
	return same;
}
