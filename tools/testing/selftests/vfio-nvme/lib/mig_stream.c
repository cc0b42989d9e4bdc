// SPDX-License-Identifier: GPL-2.0
/* The migration data stream: records and their CRC-32 (zlib's crc32()) */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "mig_stream.h"

int mig_stream_records(const uint8_t *s, size_t len, size_t *off, int max)
{
	size_t pos = 0;
	int n = 0;

	while (pos < len) {
		struct mig_rec r;

		if (len - pos < sizeof(r) || n == max)
			return -EINVAL;
		memcpy(&r, s + pos, sizeof(r));
		if (le64toh(r.len) > len - pos - sizeof(r))
			return -EINVAL;
		off[n++] = pos;
		pos += sizeof(r) + le64toh(r.len);
	}
	return n;
}

void mig_stream_seal(uint8_t *s, size_t len, size_t off)
{
	size_t avail = len - off - sizeof(struct mig_rec);
	struct mig_rec r;
	uLong crc;

	memcpy(&r, s + off, sizeof(r));
	r.crc = 0;
	crc = crc32(0, (const Bytef *)&r, sizeof(r));
	crc = crc32(crc, s + off + sizeof(r),
		    le64toh(r.len) < avail ? le64toh(r.len) : avail);
	r.crc = htole32(crc);
	memcpy(s + off, &r, sizeof(r));
}
