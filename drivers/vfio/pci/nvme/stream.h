/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nvme-vfio-pci migration data stream, version 1.
 *
 * The stream is a sequence of records, each a 16-byte record header followed
 * by its payload (no padding):
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
#define NVMEVF_MIG_VERSION	1

/* upper bound of a stream the destination accepts */
#define NVMEVF_MIG_MAX_LEN	(4 * 1024 * 1024)

enum nvmevf_mig_tag {
	NVMEVF_TAG_HEADER	= 1,
	NVMEVF_TAG_STATE	= 2,
	NVMEVF_TAG_END		= 3,
};

#define NVMEVF_REC_OPTIONAL	BIT(0)

/**
 * struct nvmevf_mig_rec - record header
 * @tag: enum nvmevf_mig_tag
 * @flags: NVMEVF_REC_OPTIONAL
 * @len: payload bytes that follow
 */
struct nvmevf_mig_rec {
	__le32	tag;
	__le32	flags;
	__le64	len;
};

/**
 * struct nvmevf_mig_hdr - HEADER record payload
 * @magic: NVMEVF_MIG_MAGIC
 * @version: NVMEVF_MIG_VERSION
 * @flags: NVMEVF_HDR_VS: the state has a vendor specific part
 * @pf_vendor: PCI vendor ID of the source PF
 * @pf_device: PCI device ID of the source PF
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

static_assert(sizeof(struct nvmevf_mig_rec) == 16);
static_assert(sizeof(struct nvmevf_mig_hdr) == 40);

#endif /* NVMEVF_STREAM_H */
