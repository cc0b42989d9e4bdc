/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nvme-vfio-pci migration data stream, version 2.
 *
 * The stream is a sequence of records, each a 16-byte record header followed
 * by its payload (no padding).  Each record carries a CRC of itself, which
 * the destination checks before it looks at the payload; a record with a
 * flag, a header flag or a reserved byte the destination does not know is
 * rejected.  Nothing is applied before the whole stream has been checked.
 *
 *   HEADER  mandatory, first: struct nvmevf_mig_hdr, what the source VF is.
 *           The destination checks it as soon as it arrives and rejects an
 *           incompatible source before any state is applied.  In PRE_COPY it
 *           is all the stream carries until the device stops.
 *   STATE   mandatory: the TP4159 Controller State of the suspended source
 *           controller (header, NVMe controller state, vendor specific
 *           state), as Migration Receive returned it.  Opaque to the driver
 *           beyond its header's sizes, which must match the record length.
 *   END     mandatory, last, empty.
 *
 * A record with NVMEVF_REC_OPTIONAL set and an unknown tag is skipped; any
 * other unknown tag fails the load.  All fields are little endian.
 */
#ifndef NVMEVF_STREAM_H
#define NVMEVF_STREAM_H

#include <linux/bits.h>
#include <linux/nvme-tp4159.h>
#include <linux/types.h>

#define NVMEVF_MIG_MAGIC	0x464d564e	/* "NVMF" */
/* 2: record CRCs; version 1 (no CRCs) is not accepted */
#define NVMEVF_MIG_VERSION	2

/* upper bound of a stream the destination accepts */
#define NVMEVF_MIG_MAX_LEN	(4 * 1024 * 1024)

enum nvmevf_mig_tag {
	NVMEVF_TAG_HEADER	= 1,
	NVMEVF_TAG_STATE	= 2,
	NVMEVF_TAG_END		= 3,
};

#define NVMEVF_REC_OPTIONAL	BIT(0)
#define NVMEVF_REC_FLAGS	NVMEVF_REC_OPTIONAL

/**
 * struct nvmevf_mig_rec - record header
 * @tag: enum nvmevf_mig_tag
 * @flags: NVMEVF_REC_FLAGS
 * @crc: CRC-32 of this record header with @crc zero, then of its payload
 * @len: payload bytes that follow
 *
 * The CRC is IEEE 802.3's, as zlib's crc32() computes it, rather than
 * CRC32C: the kernel's crc32_le() is always built in (Debian builds
 * libcrc32c as a module), and userspace can check a stream with zlib.
 * It detects every error of one or two bits and every burst of up to 32
 * bits in a record of any size a stream allows, and every error of up to
 * three bits in a record of up to 11 KiB (CRC32C would keep that up to
 * 256 MiB): a transport check, not an integrity guarantee against an
 * adversary, which the destination's validation of every field is.
 */
struct nvmevf_mig_rec {
	__le16	tag;
	__le16	flags;
	__le32	crc;
	__le64	len;
};

/**
 * struct nvmevf_mig_hdr - HEADER record payload
 * @magic: NVMEVF_MIG_MAGIC
 * @version: NVMEVF_MIG_VERSION
 * @flags: NVMEVF_HDR_VS: the state has a vendor specific part
 * @pf_vendor: PCI vendor ID of the source PF, for diagnostics only
 * @pf_device: PCI device ID of the source PF, for diagnostics only
 * @state_ver: NVMe controller state version ID (from Identify CNS 20h)
 * @nvq: VQ resources of the source secondary controller
 * @nvi: VI resources of the source secondary controller
 * @rsvd: reserved, zero
 * @vs_uuid: the vendor specific state format (from Identify CNS 20h)
 */
struct nvmevf_mig_hdr {
	__le32	magic;
	__le16	version;
	__le16	flags;
	__le16	pf_vendor;
	__le16	pf_device;
	__le16	state_ver;
	__le16	nvq;
	__le16	nvi;
	__u8	rsvd[6];
	__u8	vs_uuid[NVME_LM_UUID_LEN];
};

#define NVMEVF_HDR_VS		BIT(0)
#define NVMEVF_HDR_FLAGS	NVMEVF_HDR_VS

static_assert(sizeof(struct nvmevf_mig_rec) == 16);
static_assert(sizeof(struct nvmevf_mig_hdr) == 40);

#endif /* NVMEVF_STREAM_H */
