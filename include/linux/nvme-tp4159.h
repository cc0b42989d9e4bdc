/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NVMe TP4159 "PCIe Infrastructure for Live Migration" definitions.
 *
 * Encodings follow libnvme's TP4159 support and nvme-cli's "lm" plugin where
 * the public sources agree.  Where they disagree:
 *  - Migration Send NUMD is a dword count, not 0's based (libnvme, nvme-cli
 *    and the QEMU emulation agree; only the 2025 RFC driver differs), while
 *    Migration Receive NUMD is 0's based (all sources agree).
 *  - Resume is SEL 1 and Set Controller State SEL 2 (libnvme, QEMU, libvfn;
 *    the RFC driver's 2/3 contradicts all three).
 *  - The controller state header is 48 bytes with 128-bit NVMECSS and VSS
 *    fields (libnvme, QEMU, libvfn; not the RFC driver's 20-byte header).
 *  - Live migration status codes are command specific (SCT 1), as in libnvme.
 */
#ifndef _LINUX_NVME_TP4159_H
#define _LINUX_NVME_TP4159_H

#include <linux/bits.h>
#include <linux/types.h>
#include <linux/uuid.h>

enum nvme_lm_admin_opcode {
	nvme_admin_track_send		= 0x3d,
	nvme_admin_track_recv		= 0x3e,
	nvme_admin_migration_send	= 0x41,
	nvme_admin_migration_recv	= 0x42,
	nvme_admin_cdq			= 0x45,
};

/* CDW10: SEL in bits 7:0, management operation specific (MOS) in 31:16 */
#define NVME_LM_CDW10(sel, mos)		((u32)(sel) | (u32)(mos) << 16)

/* Migration Send selects */
enum {
	NVME_LM_SEND_SUSPEND		= 0,
	NVME_LM_SEND_RESUME		= 1,
	NVME_LM_SEND_SET_STATE		= 2,
};

/* Suspend: CDW11 = CNTLID | STYPE << 16 | DUDMQ << 31 */
enum {
	NVME_LM_STYPE_NOTIFY		= 0,
	NVME_LM_STYPE_SUSPEND		= 1,
};

#define NVME_LM_SUSPEND_DUDMQ		BIT(31)

/* Set Controller State: MOS[1:0] sequence indicator */
enum {
	NVME_LM_SEQIND_MIDDLE		= 0,
	NVME_LM_SEQIND_FIRST		= 1,
	NVME_LM_SEQIND_LAST		= 2,
	NVME_LM_SEQIND_ENTIRE		= 3,
};

/* Migration Receive select, completion dword 0 */
#define NVME_LM_RECV_GET_STATE		0
#define NVME_LM_RECV_CSUP		BIT(0)

/* Track Send selects; LACT in MOS[3:0] */
enum {
	NVME_LM_TRACK_USER_DATA		= 0,
	NVME_LM_TRACK_MEMORY		= 1,
};

enum {
	NVME_LM_LACT_STOP		= 0,
	NVME_LM_LACT_START		= 1,
};

/* Controller Data Queue selects; queue type in MOS[7:0], CNTLID in CDW11[31:16] */
enum {
	NVME_LM_CDQ_CREATE		= 0,
	NVME_LM_CDQ_DELETE		= 1,
};

#define NVME_LM_CDQ_QT_UDMQ		0
#define NVME_LM_CDQ_PC			BIT(0)
#define NVME_FEAT_CDQ			0x21
/* Set Features, Controller Data Queue: CDW11 bit 31 enables the tail pointer trigger */
#define NVME_LM_CDQ_ETPT		BIT(31)

/*
 * Asynchronous event of a Controller Data Queue: event type one-shot, with
 * the queue's ID in completion dword 1 (reference A.10; the spec text that
 * names these values was not available, the values follow the QEMU and
 * libvfn CDQ implementations).
 */
#define NVME_AER_ONESHOT		4
enum {
	NVME_AER_ONESHOT_CDQ_TPT	= 0,	/* tail pointer trigger */
	NVME_AER_ONESHOT_CDQ_FULL	= 1,
};

#define NVME_ID_CNS_CTRL_STATE_FMTS	0x20

/*
 * Track Memory Changes (Track Send SEL 1) and Track Receive (SEL 0).  No
 * public source defines their fields; this is the encoding of this
 * project's test device (Documentation/driver-api/vfio-nvme-qemu.rst):
 * Track Send: CDW11[15:0] CNTLID, MOS[3:0] LACT, CDW12[7:0] granularity
 * (log2 bytes), CDW13[15:0] number of struct nvme_lm_mem_range in the data.
 * Track Receive: CDW11[15:0] CNTLID, CDW12/13 start address, CDW14 bit 0
 * clear what is reported, CDW15 NUMD (0's based); data: a bitmap with one
 * bit per granule from the start address; dword 0: bits set.
 */
#define NVME_LM_TRACK_RECV_CLEAR	BIT(0)

/*
 * The vendor specific controller state format of this project's test
 * device (tools/testing/vfio-nvme-qemu, nvme_lm_vs_uuid in lm-state.c),
 * "nvme-lm-qemu-vs\x01".  A PF that lists it in Identify CNS 20h is that
 * device, and takes the Track Memory Changes and Track Receive encoding
 * above; nvme-vfio-pci offers DMA logging only then, or when told to with
 * its dma_logging_any_pf parameter.
 */
#define NVME_LM_TEST_DEV_VS_UUID					\
	UUID_INIT(0x6e766d65, 0x2d6c, 0x6d2d, 0x71, 0x65, 0x6d, 0x75,	\
		  0x2d, 0x76, 0x73, 0x01)

/**
 * struct nvme_lm_mem_range - a host memory range to track
 * @addr: start address, granularity aligned
 * @len: length in bytes, granularity aligned
 */
struct nvme_lm_mem_range {
	__le64	addr;
	__le64	len;
};

/* Identify Controller */
#define NVME_CTRL_OACS_HMLMS		BIT(11)
#define NVME_ID_CTRL_CMMRTD_OFFSET	570
#define NVME_ID_CTRL_MINMRTG_OFFSET	574
#define NVME_ID_CTRL_MAXMRTG_OFFSET	575
#define NVME_ID_CTRL_TRATTR_OFFSET	576
#define NVME_TRATTR_THMCS		BIT(0)
#define NVME_TRATTR_TUDCS		BIT(1)

/* command specific status codes */
enum {
	NVME_SC_LM_INVALID_CDQ		= 0x137,
	NVME_SC_LM_NOT_ENOUGH_RES	= 0x138,
	NVME_SC_LM_CTRL_SUSPENDED	= 0x139,
	NVME_SC_LM_CTRL_NOT_SUSPENDED	= 0x13a,
	NVME_SC_LM_CDQ_FULL		= 0x13b,
};

/**
 * struct nvme_lm_ctrl_state_hdr - Controller State data structure header
 * @ver: version of this structure
 * @csattr: controller state attributes, bit 0: the controller is suspended
 * @rsvd3: reserved
 * @nvmecss: size of the NVMe controller state that follows, in dwords
 * @vss: size of the vendor specific state after it, in dwords
 */
struct nvme_lm_ctrl_state_hdr {
	__le16	ver;
	__u8	csattr;
	__u8	rsvd3[13];
	__le64	nvmecss[2];
	__le64	vss[2];
};

#define NVME_LM_CSATTR_SUSPENDED	BIT(0)

/**
 * struct nvme_lm_ctrl_state_fmts - Supported Controller State Formats (CNS 20h)
 * @nv: number of NVMe-defined versions
 * @nuuid: number of vendor specific formats (UUIDs)
 * @data: @nv 2-byte version IDs, then @nuuid 16-byte UUIDs
 */
struct nvme_lm_ctrl_state_fmts {
	__u8	nv;
	__u8	nuuid;
	__u8	data[4094];
};

#define NVME_LM_UUID_LEN		16

/**
 * struct nvme_lm_udmq_entry - User Data Migration Queue entry
 * @nsid: namespace the change is in
 * @nlb: number of logical blocks changed, 0's based
 * @slba: first logical block changed
 * @rsvd16: reserved
 * @attr: phase tag (bit 0), entry specific attributes (ESA, bits 3:1) and
 *	  LBA change indicator (LBACI, bits 7:6)
 *
 * The LBA Migration Queue entry format 0.  Sources disagree on NLB for
 * deallocations (see the reference notes); it is 0's based here as for
 * every write, which is what the project's test device posts.
 */
struct nvme_lm_udmq_entry {
	__le32	nsid;
	__le32	nlb;
	__le64	slba;
	__u8	rsvd16[15];
	__u8	attr;
};

#define NVME_LM_UDMQ_PHASE		BIT(0)
#define NVME_LM_UDMQ_ESA(attr)		(((attr) >> 1) & 0x7)
#define NVME_LM_UDMQ_LBACI(attr)	(((attr) >> 6) & 0x3)

/* UDMQ entry specific attributes */
enum {
	NVME_LM_ESA_NORMAL		= 0,
	NVME_LM_ESA_FIRST		= 1,
	NVME_LM_ESA_STOPPED		= 2,
	NVME_LM_ESA_SUSPENDED		= 3,
	NVME_LM_ESA_FULL		= 7,
};

/* UDMQ LBA change indicator */
enum {
	NVME_LM_LBACI_RANGE		= 0,
	NVME_LM_LBACI_ALL		= 1,
	NVME_LM_LBACI_NONE		= 2,
};

/**
 * struct nvme_sec_ctrl - Secondary Controller List entry (Identify CNS 15h)
 * @scid: secondary controller ID, the CNTLID live migration commands name
 * @pcid: primary controller ID
 * @scs: secondary controller state, bit 0: online
 * @rsvd5: reserved
 * @vfn: virtual function number, 1-based (pci_iov_vf_id() + 1)
 * @nvq: VQ resources assigned
 * @nvi: VI resources assigned
 * @rsvd14: reserved
 */
struct nvme_sec_ctrl {
	__le16	scid;
	__le16	pcid;
	__u8	scs;
	__u8	rsvd5[3];
	__le16	vfn;
	__le16	nvq;
	__le16	nvi;
	__u8	rsvd14[18];
};

/**
 * struct nvme_sec_ctrl_list - Secondary Controller List
 * @num: number of entries
 * @rsvd1: reserved
 * @sc: the entries
 */
struct nvme_sec_ctrl_list {
	__u8			num;
	__u8			rsvd1[31];
	struct nvme_sec_ctrl	sc[127];
};

static_assert(sizeof(struct nvme_lm_ctrl_state_hdr) == 48);
static_assert(sizeof(struct nvme_lm_ctrl_state_fmts) == 4096);
static_assert(sizeof(struct nvme_sec_ctrl) == 32);
static_assert(sizeof(struct nvme_lm_mem_range) == 16);
static_assert(sizeof(struct nvme_sec_ctrl_list) == 4096);
static_assert(sizeof(struct nvme_lm_udmq_entry) == 32);

#endif /* _LINUX_NVME_TP4159_H */
