// SPDX-License-Identifier: GPL-2.0
/*
 * The destination's checks of the migration data stream, through the VFIO
 * uAPI: every record's CRC, unknown flags and reserved bytes, and a bounded
 * fuzz of a real stream (fixed seed, fixed count).  Every broken stream
 * must fail with EINVAL or EBADMSG, before anything is applied; the rig
 * fails the run on any kernel report; the destination works afterwards.
 *
 * A rejected stream leaves the destination in RESUMING, and only a reset
 * leaves that (an FLR: 100 ms each), which bounds the count.
 *
 * Expects both PFs prepared by "vfio-nvme-setup sriov PF 3 2".
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vfio_nvme.h"
#include "vfio_mig.h"
#include "nvme_drv.h"
#include "vf_pair.h"
#include "mig_stream.h"
#include "../kselftest_harness.h"

#define SHARED_NSID	2
#define QSIZE		16
#define DRIVER		"nvme_vfio_pci"
#define MAXREC		8
#define FUZZ_SEED	0x5eedf00dU
#define FUZZ_COUNT	400

FIXTURE(st) {
	struct vf_pair p;
	uint8_t *stream;
	size_t len;
	size_t off[MAXREC];
	int nrec;
};

FIXTURE_SETUP(st)
{
	int ret = vf_pair_open(&self->p, DRIVER, SHARED_NSID, QSIZE);

	if (ret == -ENODEV)
		SKIP(return, "needs two NVMe PFs with SR-IOV, VF 1 online");
	ASSERT_EQ(0, ret);
	if (vfio_mig_flags(&self->p.dev[0]) <= 0)
		SKIP(return, "the PF does not migrate VFs");
	nvme_drv_pattern(self->p.buf[0].va, 5, 9);
	ASSERT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_write, 5, self->p.buf[0].iova));
	ASSERT_EQ(0, vfio_mig_save(&self->p.dev[0], &self->stream, &self->len));
	ASSERT_EQ(0, vfio_mig_set(&self->p.dev[0], VFIO_DEVICE_STATE_RUNNING, NULL));
	self->nrec = mig_stream_records(self->stream, self->len, self->off, MAXREC);
	ASSERT_EQ(3, self->nrec);
}

FIXTURE_TEARDOWN(st)
{
	free(self->stream);
	vf_pair_close(&self->p, true);
}

/*
 * Load s into the destination: 0 if it applied, else the first error, of
 * write() or of RESUMING -> STOP.  The destination is reset afterwards
 * and must be RUNNING again.
 */
static int try_load(struct vfio_dev *dst, const uint8_t *s, size_t len, size_t chunk)
{
	int fd, ret, st;

	ret = vfio_mig_set(dst, VFIO_DEVICE_STATE_RESUMING, &fd);
	if (ret)
		return ret == -EINVAL ? -EPERM : ret;	/* not the stream's fault */
	ret = len ? vfio_mig_write_all(fd, s, len, chunk) : 0;
	close(fd);
	if (!ret)
		ret = vfio_mig_set(dst, VFIO_DEVICE_STATE_STOP, NULL);
	if (ioctl(dst->fd, VFIO_DEVICE_RESET))
		return -ENOTRECOVERABLE;
	st = vfio_mig_get(dst);
	return st == VFIO_DEVICE_STATE_RUNNING ? ret : -ENOTRECOVERABLE;
}

static uint8_t *dup_stream(FIXTURE_DATA(st) *self)
{
	uint8_t *b = malloc(self->len + 4096);

	if (b)
		memcpy(b, self->stream, self->len);
	return b;
}

static uint64_t rec_len(const uint8_t *s, size_t off)
{
	struct mig_rec r;

	memcpy(&r, s + off, sizeof(r));
	return le64toh(r.len);
}

/* the real stream loads, in any segmentation */
TEST_F(st, real_stream_loads)
{
	static const size_t chunks[] = { 1, 3, 7, 16, 17, 4096 };

	for (unsigned int i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		EXPECT_EQ(0, try_load(&self->p.dev[1], self->stream, self->len, chunks[i]))
			TH_LOG("in pieces of %zu bytes", chunks[i]);
	}
}

/* a changed bit anywhere in a record fails that record's CRC */
TEST_F(st, every_record_has_a_crc)
{
	uint8_t *b = dup_stream(self);

	ASSERT_NE(NULL, b);
	for (int r = 0; r < self->nrec; r++) {
		size_t o = self->off[r];
		uint64_t plen = rec_len(self->stream, o);
		/* the tag, the CRC itself, the first and the last payload byte */
		size_t where[] = { o, o + 4, o + 16, o + 16 + plen - 1 };

		for (unsigned int w = 0; w < (plen ? 4 : 2); w++) {
			memcpy(b, self->stream, self->len);
			b[where[w]] ^= 0x01;
			EXPECT_EQ(-EBADMSG, try_load(&self->p.dev[1], b, self->len, 64))
				TH_LOG("record %d, byte %zu", r, where[w]);
		}
	}
	free(b);
}

/*
 * Flags and reserved bytes this destination does not know fail the load,
 * even with a correct CRC: their meaning cannot be ignored.  An unknown
 * optional record is skipped; an unknown mandatory one fails.
 */
TEST_F(st, unknown_bits_are_rejected)
{
	size_t h = self->off[0] + sizeof(struct mig_rec);
	uint8_t *b = dup_stream(self);
	struct mig_rec extra = { .tag = htole16(0x7ff0) };

	ASSERT_NE(NULL, b);
	for (int r = 0; r < self->nrec; r++) {
		for (int bit = 1; bit < 16; bit += 7) {
			struct mig_rec rec;

			memcpy(b, self->stream, self->len);
			memcpy(&rec, b + self->off[r], sizeof(rec));
			rec.flags = htole16(le16toh(rec.flags) | 1u << bit);
			memcpy(b + self->off[r], &rec, sizeof(rec));
			mig_stream_seal(b, self->len, self->off[r]);
			EXPECT_EQ(-EINVAL, try_load(&self->p.dev[1], b, self->len, 64))
				TH_LOG("record %d, flag bit %d", r, bit);
		}
	}
	/* header flags (le16 at 6), reserved bytes 18..23 */
	for (int i = 0; i < 8; i++) {
		memcpy(b, self->stream, self->len);
		if (i < 2)
			b[h + 6 + i] |= i ? 0x80 : 0x02;
		else
			b[h + 16 + i] = 0x5a;
		mig_stream_seal(b, self->len, self->off[0]);
		EXPECT_EQ(-EINVAL, try_load(&self->p.dev[1], b, self->len, 64))
			TH_LOG("header byte %d", i < 2 ? 6 + i : 16 + i);
	}
	/* an unknown record before END: skipped if optional, else refused */
	for (int optional = 0; optional < 2; optional++) {
		size_t end = self->off[2];

		extra.flags = htole16(optional ? MIG_REC_OPTIONAL : 0);
		memcpy(b, self->stream, end);
		memcpy(b + end, &extra, sizeof(extra));
		mig_stream_seal(b, end + sizeof(extra), end);
		memcpy(b + end + sizeof(extra), self->stream + end, self->len - end);
		EXPECT_EQ(optional ? 0 : -EINVAL,
			  try_load(&self->p.dev[1], b, self->len + sizeof(extra), 64))
			TH_LOG("%s unknown record", optional ? "optional" : "mandatory");
	}
	free(b);
}

static uint32_t rnd_state = FUZZ_SEED;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

enum fuzz_kind {
	F_BITS, F_BITS_SEALED, F_LEN, F_TRUNC, F_EXTEND, F_ORDER, F_ODD_WRITES, F_KINDS
};

static const char *const fuzz_name[F_KINDS] = {
	"bit flips", "bit flips, CRC resealed", "length fields", "truncation",
	"extension", "records reordered or duplicated", "odd write sizes",
};

/*
 * One mutation of kind k of the stream into b: its length, and whether
 * the result must still load (only a segmentation change must).
 */
static size_t mutate(FIXTURE_DATA(st) *self, enum fuzz_kind k, uint8_t *b, bool *good)
{
	size_t len = self->len, o;
	int r = rnd() % self->nrec;
	struct mig_rec rec;

	memcpy(b, self->stream, len);
	*good = false;
	switch (k) {
	case F_BITS:
		for (int n = 1 + rnd() % 3; n; n--)
			b[rnd() % len] ^= 1u << (rnd() % 8);
		break;
	case F_BITS_SEALED:
		/* reaches the field checks: any byte of the header or state header */
		o = self->off[r] + sizeof(rec);
		if (!rec_len(b, self->off[r]))
			r = 0, o = self->off[0] + sizeof(rec);
		o += rnd() % (r == 1 ? 48 : rec_len(b, self->off[r]));
		b[o] ^= 1u << (rnd() % 8);
		mig_stream_seal(b, len, self->off[r]);
		break;
	case F_LEN: {
		static const uint64_t odd[] = {
			0, 1, 15, 16, 47, 48, 4u << 20, (4u << 20) + 1, 1ULL << 32,
			1ULL << 63, ~0ULL,
		};
		uint64_t v;

		memcpy(&rec, b + self->off[r], sizeof(rec));
		v = rnd() % 2 ? odd[rnd() % (sizeof(odd) / sizeof(odd[0]))] :
				le64toh(rec.len) + (rnd() % 2 ? 1 : -1);
		rec.len = htole64(v);
		memcpy(b + self->off[r], &rec, sizeof(rec));
		if (rnd() % 2)
			mig_stream_seal(b, len, self->off[r]);
		break;
	}
	case F_TRUNC:
		len = rnd() % len;
		break;
	case F_EXTEND:
		for (int n = 1 + rnd() % 64; n; n--)
			b[len++] = rnd();
		break;
	case F_ORDER: {
		/* any sequence of up to 4 of the 3 records, but not the real one */
		int seq[4], n;

		do {
			n = 1 + rnd() % 4;
			for (int i = 0; i < n; i++)
				seq[i] = rnd() % self->nrec;
		} while (n == 3 && seq[0] == 0 && seq[1] == 1 && seq[2] == 2);
		len = 0;
		for (int i = 0; i < n; i++) {
			size_t from = self->off[seq[i]];
			size_t l = sizeof(rec) + rec_len(self->stream, from);

			memcpy(b + len, self->stream + from, l);
			len += l;
		}
		break;
	}
	case F_ODD_WRITES:
		*good = true;
		break;
	default:
		break;
	}
	return len;
}

/*
 * The fuzz: FUZZ_COUNT mutations of the real stream, of every kind in
 * turn.  A mutation that leaves the stream as it was (a resealed flip of a
 * byte the destination does not judge, such as the source PF's IDs, or of
 * a state field the device accepts) may load; anything else must fail
 * with EINVAL or EBADMSG.  The destination is reset after each and must be
 * RUNNING again; at the end the real stream loads and the queues work.
 */
TEST_F_TIMEOUT(st, fuzz, 280)
{
	int count[F_KINDS] = {}, loaded[F_KINDS] = {}, bad = 0;
	uint8_t *b = malloc(self->len * 4 + 4096);
	double t0 = now_ms();

	ASSERT_NE(NULL, b);
	for (int i = 0; i < FUZZ_COUNT; i++) {
		enum fuzz_kind k = i % F_KINDS;
		size_t chunk = k == F_ODD_WRITES ? 1 + rnd() % 97 : 1 + rnd() % 4096;
		bool good;
		size_t len = mutate(self, k, b, &good);
		int ret = try_load(&self->p.dev[1], b, len, chunk);

		count[k]++;
		if (!ret)
			loaded[k]++;
		if (ret == -ENOTRECOVERABLE || ret == -EPERM) {
			bad++;
			TH_LOG("mutation %d (%s): the destination did not come back (%d)",
			       i, fuzz_name[k], ret);
			break;
		}
		if (good ? ret != 0 :
		    ret && ret != -EINVAL && ret != -EBADMSG) {
			bad++;
			TH_LOG("mutation %d (%s, %zu bytes): %d", i, fuzz_name[k], len, ret);
		}
		/* a change the CRC cannot hide, and a length the parser must refuse */
		if (!ret && (k == F_BITS || k == F_LEN || k == F_TRUNC || k == F_EXTEND ||
			     k == F_ORDER) && (len != self->len || memcmp(b, self->stream, len))) {
			bad++;
			TH_LOG("mutation %d (%s) was applied", i, fuzz_name[k]);
		}
	}
	for (int k = 0; k < F_KINDS; k++)
		printf("# %-34s %3d tried, %3d loaded\n", fuzz_name[k], count[k], loaded[k]);
	printf("# %d mutations (seed %#x) in %.1f s\n", FUZZ_COUNT, FUZZ_SEED,
	       (now_ms() - t0) / 1000);
	EXPECT_EQ(0, bad);
	free(b);

	/* the destination still takes the real stream; the source runs on */
	EXPECT_EQ(0, try_load(&self->p.dev[1], self->stream, self->len, 4096));
	EXPECT_EQ(0, nvme_drv_io_sync(&self->p.drv, nvme_cmd_read, 5, self->p.buf[1].iova));
}

TEST_HARNESS_MAIN
