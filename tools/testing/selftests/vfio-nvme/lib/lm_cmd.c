// SPDX-License-Identifier: GPL-2.0
/* TP4159 admin commands through the PF's nvme passthrough ioctl */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lm_cmd.h"

#define LM_TIMEOUT_MS	10000
#define STATE_HDR_LEN	48

static int lm_cmd(struct nvme_pf *pf, uint8_t opcode, uint32_t cdw10, uint32_t cdw11,
		  uint32_t cdw12, uint32_t cdw13, uint32_t cdw14, uint32_t cdw15,
		  void *data, uint32_t len, uint32_t *dw0)
{
	uint32_t result = 0;
	int ret;

	ret = nvme_admin_passthru(pf->fd, opcode, 0, 0, 0, 0, 0, cdw10, cdw11, cdw12,
				  cdw13, cdw14, cdw15, len, data, 0, NULL,
				  LM_TIMEOUT_MS, &result);
	if (dw0)
		*dw0 = result;
	return ret < 0 ? -errno : ret;
}

int lm_suspend(struct nvme_pf *pf, uint16_t cntlid, uint8_t stype, bool dudmq)
{
	return lm_cmd(pf, LM_OPC_MIG_SEND, 0,
		      (uint32_t)dudmq << 31 | (uint32_t)stype << 16 | cntlid,
		      0, 0, 0, 0, NULL, 0, NULL);
}

int lm_resume(struct nvme_pf *pf, uint16_t cntlid)
{
	return lm_cmd(pf, LM_OPC_MIG_SEND, 1, cntlid, 0, 0, 0, 0, NULL, 0, NULL);
}

int lm_get_state(struct nvme_pf *pf, uint16_t cntlid, uint8_t csvi, uint8_t csuuidi,
		 uint64_t off, void *buf, uint32_t len, uint32_t *dw0)
{
	return lm_cmd(pf, LM_OPC_MIG_RECV, (uint32_t)csvi << 16,
		      (uint32_t)csuuidi << 16 | cntlid, (uint32_t)off, off >> 32, 0,
		      len / 4 - 1, buf, len, dw0);
}

uint64_t lm_state_nvmecss(const uint8_t *state)
{
	uint64_t v;

	memcpy(&v, state + 16, 8);
	return le64toh(v);
}

uint64_t lm_state_vss(const uint8_t *state)
{
	uint64_t v;

	memcpy(&v, state + 32, 8);
	return le64toh(v);
}

int lm_get_state_all(struct nvme_pf *pf, uint16_t cntlid, uint32_t chunk,
		     uint8_t **buf, uint32_t *len)
{
	uint8_t hdr[STATE_HDR_LEN];
	uint64_t total;
	int ret;

	*buf = NULL;
	ret = lm_get_state(pf, cntlid, 1, 1, 0, hdr, sizeof(hdr), NULL);
	if (ret)
		return ret;
	total = STATE_HDR_LEN + 4 * (lm_state_nvmecss(hdr) + lm_state_vss(hdr));
	if (total > (1 << 20))
		return -EOVERFLOW;
	*buf = calloc(1, total);
	if (!*buf)
		return -ENOMEM;
	for (uint64_t off = 0; off < total; off += chunk) {
		uint32_t n = total - off < chunk ? total - off : chunk;

		ret = lm_get_state(pf, cntlid, 1, 1, off, *buf + off, n, NULL);
		if (ret) {
			free(*buf);
			*buf = NULL;
			return ret;
		}
	}
	*len = total;
	return 0;
}

int lm_set_state(struct nvme_pf *pf, uint16_t cntlid, uint8_t seqind, uint8_t csvi,
		 uint8_t csuuidi, uint64_t off, const void *buf, uint32_t len)
{
	return lm_cmd(pf, LM_OPC_MIG_SEND, (uint32_t)seqind << 16 | 2,
		      (uint32_t)csuuidi << 24 | (uint32_t)csvi << 16 | cntlid,
		      (uint32_t)off, off >> 32, 0, len / 4, (void *)buf, len, NULL);
}

int lm_set_state_all(struct nvme_pf *pf, uint16_t cntlid, uint32_t chunk,
		     const uint8_t *buf, uint32_t len)
{
	uint8_t csuuidi = lm_state_vss(buf) ? 1 : 0;
	int ret = 0;

	if (len <= chunk)
		return lm_set_state(pf, cntlid, 3, 1, csuuidi, 0, buf, len);
	for (uint32_t off = 0; off < len && !ret; off += chunk) {
		uint32_t n = len - off < chunk ? len - off : chunk;
		uint8_t seqind = off == 0 ? 1 : off + n == len ? 2 : 0;

		ret = lm_set_state(pf, cntlid, seqind, 1, csuuidi, off, buf + off, n);
	}
	return ret;
}

int lm_track_memory(struct nvme_pf *pf, uint16_t cntlid, bool start, uint8_t gran_bits)
{
	return lm_cmd(pf, LM_OPC_TRACK_SEND, (uint32_t)start << 16 | 1, cntlid,
		      gran_bits, 0, 0, 0, NULL, 0, NULL);
}

int lm_track_recv(struct nvme_pf *pf, uint16_t cntlid, uint64_t start, bool clear,
		  void *bitmap, uint32_t len, uint32_t *count)
{
	return lm_cmd(pf, LM_OPC_TRACK_RECV, 0, cntlid, (uint32_t)start, start >> 32,
		      clear, len / 4 - 1, bitmap, len, count);
}

int lm_fault(struct nvme_pf *pf, uint8_t opcode, uint8_t sel, uint32_t action,
	     uint32_t arg, uint32_t count)
{
	return lm_fault_after(pf, opcode, sel, action, arg, count, 0);
}

int lm_fault_after(struct nvme_pf *pf, uint8_t opcode, uint8_t sel, uint32_t action,
		   uint32_t arg, uint32_t count, uint32_t skip)
{
	return lm_cmd(pf, LM_OPC_FAULT, (uint32_t)sel << 8 | opcode, action, arg, count,
		      skip, 0, NULL, 0, NULL);
}

int lm_cdq_create(struct nvme_pf *pf, uint8_t qt, bool pc, uint16_t cntlid,
		  uint32_t dwords, uint16_t *cdqid)
{
	uint32_t dw0 = 0;
	int ret = lm_cmd(pf, LM_OPC_CDQ, (uint32_t)qt << 16, (uint32_t)cntlid << 16 | pc,
			 dwords, 0, 0, 0, NULL, 0, &dw0);

	if (!ret && cdqid)
		*cdqid = dw0 & 0xffff;
	return ret;
}

int lm_cdq_delete(struct nvme_pf *pf, uint16_t cdqid)
{
	return lm_cmd(pf, LM_OPC_CDQ, 1, cdqid, 0, 0, 0, 0, NULL, 0, NULL);
}

int lm_track_user_data(struct nvme_pf *pf, uint16_t cdqid, bool start)
{
	return lm_cmd(pf, LM_OPC_TRACK_SEND, (uint32_t)start << 16, cdqid, 0, 0, 0, 0,
		      NULL, 0, NULL);
}

int lm_cdq_get_head(struct nvme_pf *pf, uint16_t cdqid, uint32_t *hp)
{
	uint32_t data[2] = {};
	int ret = lm_cmd(pf, nvme_admin_get_features, LM_FID_CDQ, cdqid, 0, 0, 0, 0,
			 data, sizeof(data), NULL);

	if (!ret)
		*hp = le32toh(data[0]);
	return ret;
}

int lm_cdq_set_head(struct nvme_pf *pf, uint16_t cdqid, uint32_t hp)
{
	return lm_cmd(pf, nvme_admin_set_features, LM_FID_CDQ, cdqid, hp, 0, 0, 0,
		      NULL, 0, NULL);
}
