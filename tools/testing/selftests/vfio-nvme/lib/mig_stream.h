/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The nvme-vfio-pci migration data stream as the tests see it, written
 * from its description in Documentation/driver-api/vfio-nvme.rst (the
 * driver's stream.h is kernel-internal): the tests' own view of the
 * format, to corrupt streams on purpose and to tell what they hit.
 */
#ifndef VFIO_NVME_MIG_STREAM_H
#define VFIO_NVME_MIG_STREAM_H

#include <stddef.h>
#include <stdint.h>

struct mig_rec {
	uint16_t tag;
	uint16_t flags;
	uint32_t crc;
	uint64_t len;
};

enum {
	MIG_TAG_HEADER	= 1,
	MIG_TAG_STATE	= 2,
	MIG_TAG_END	= 3,
};

#define MIG_REC_OPTIONAL	0x1
#define MIG_HDR_LEN		40	/* the HEADER record's payload */

/* offsets of a stream's records (at most max): how many, or -EINVAL */
int mig_stream_records(const uint8_t *s, size_t len, size_t *off, int max);
/*
 * Store the CRC of the record at off of the len-byte stream s, after its
 * header or payload changed; a length past the stream's end covers what
 * is there.
 */
void mig_stream_seal(uint8_t *s, size_t len, size_t off);

#endif
