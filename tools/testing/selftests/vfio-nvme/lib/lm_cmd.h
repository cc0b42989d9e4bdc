/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TP4159 live migration admin commands, issued to a PF's primary controller
 * through the nvme driver's passthrough ioctl (libnvme).  Bookworm's libnvme
 * (1.3) predates TP4159, so the few encodings the tests need are here; they
 * follow the kernel definitions in include/linux/nvme-tp4159.h.
 */
#ifndef VFIO_NVME_LM_CMD_H
#define VFIO_NVME_LM_CMD_H

#include "vfio_nvme.h"

enum {
	LM_OPC_TRACK_SEND	= 0x3d,
	LM_OPC_TRACK_RECV	= 0x3e,
	LM_OPC_MIG_SEND		= 0x41,
	LM_OPC_MIG_RECV		= 0x42,
	LM_OPC_CDQ		= 0x45,
	LM_OPC_FAULT		= 0xc0,	/* the emulated device's fault injection */
	LM_OPC_IDENTIFY		= 0x06,	/* only to arm LM_FAULT_NO_VS_FMT */
};

/* status codes: NVMe status field without DNR/More (SCT << 8 | SC) */
enum {
	LM_SC_INVALID_FIELD		= 0x002,
	LM_SC_INTERNAL			= 0x006,
	LM_SC_CMD_SEQ_ERROR		= 0x00c,
	LM_SC_INVALID_CTRL_ID		= 0x11f,
	LM_SC_INVALID_SEC_CTRL_STATE	= 0x120,
	LM_SC_INVALID_CDQ		= 0x137,
	LM_SC_NOT_ENOUGH_RES		= 0x138,
	LM_SC_CTRL_SUSPENDED		= 0x139,
	LM_SC_CTRL_NOT_SUSPENDED	= 0x13a,
};

#define LM_OACS_HMLMS		(1 << 11)
#define LM_FID_CDQ		0x21
#define LM_TRATTR_THMCS		0x1
#define LM_TRATTR_TUDCS		0x2

/* NVMe status (SCT and SC only) or -errno */
static inline int lm_sc(int ret)
{
	return ret > 0 ? ret & 0x7ff : ret;
}

int lm_suspend(struct nvme_pf *pf, uint16_t cntlid, uint8_t stype, bool dudmq);
int lm_resume(struct nvme_pf *pf, uint16_t cntlid);
/* Get Controller State piece at off; *csup gets completion dword 0 bit 0 */
int lm_get_state(struct nvme_pf *pf, uint16_t cntlid, uint8_t csvi, uint8_t csuuidi,
		 uint64_t off, void *buf, uint32_t len, uint32_t *dw0);
/* the whole state, read in pieces of chunk bytes; *buf is malloc'ed */
int lm_get_state_all(struct nvme_pf *pf, uint16_t cntlid, uint32_t chunk,
		     uint8_t **buf, uint32_t *len);
int lm_set_state(struct nvme_pf *pf, uint16_t cntlid, uint8_t seqind, uint8_t csvi,
		 uint8_t csuuidi, uint64_t off, const void *buf, uint32_t len);
/* the whole state in pieces of chunk bytes (SEQIND first/middle/last) */
int lm_set_state_all(struct nvme_pf *pf, uint16_t cntlid, uint32_t chunk,
		     const uint8_t *buf, uint32_t len);
int lm_track_memory(struct nvme_pf *pf, uint16_t cntlid, bool start, uint8_t gran_bits);
int lm_track_recv(struct nvme_pf *pf, uint16_t cntlid, uint64_t start, bool clear,
		  void *bitmap, uint32_t len, uint32_t *count);
/*
 * The emulated device's fault injection: the next count commands of opcode
 * (and select sel, 0xff any) get action: LM_FAULT_STATUS completes with
 * status arg, LM_FAULT_DELAY completes arg ms late, LM_FAULT_NO_CSUP
 * completes normally with completion dword 0 clear, LM_FAULT_NO_VS_FMT
 * (opcode LM_OPC_IDENTIFY, sel the CNS, 0x20) makes Identify CNS 20h list
 * no vendor specific state format.  lm_fault_after() lets skip matching
 * commands through first.  Two settings of the PF stay until changed
 * (opcode and sel unused): LM_FAULT_VS_PAD makes every vendor state it
 * saves arg bytes larger, LM_FAULT_FMTS with arg 1 lists a foreign state
 * format before the device's own in Identify CNS 20h.
 */
enum {
	LM_FAULT_CLEAR		= 0,
	LM_FAULT_STATUS		= 1,
	LM_FAULT_DELAY		= 2,
	LM_FAULT_NO_CSUP	= 3,
	LM_FAULT_VS_PAD		= 4,
	LM_FAULT_FMTS		= 5,
	LM_FAULT_NO_VS_FMT	= 6,
};

int lm_fault(struct nvme_pf *pf, uint8_t opcode, uint8_t sel, uint32_t action,
	     uint32_t arg, uint32_t count);
int lm_fault_after(struct nvme_pf *pf, uint8_t opcode, uint8_t sel, uint32_t action,
		   uint32_t arg, uint32_t count, uint32_t skip);
/* Controller Data Queue of type qt for cntlid (no memory: the misuse tests) */
int lm_cdq_create(struct nvme_pf *pf, uint8_t qt, bool pc, uint16_t cntlid,
		  uint32_t dwords, uint16_t *cdqid);
int lm_cdq_delete(struct nvme_pf *pf, uint16_t cdqid);
/* Track Send, Log User Data Changes start or stop */
int lm_track_user_data(struct nvme_pf *pf, uint16_t cdqid, bool start);
/* Get and Set Features, Controller Data Queue: the head pointer */
int lm_cdq_get_head(struct nvme_pf *pf, uint16_t cdqid, uint32_t *hp);
int lm_cdq_set_head(struct nvme_pf *pf, uint16_t cdqid, uint32_t hp);
/* controller state size fields */
uint64_t lm_state_nvmecss(const uint8_t *state);
uint64_t lm_state_vss(const uint8_t *state);

#endif
