// SPDX-License-Identifier: GPL-2.0
/*
 * NVMe live migration (TP4159) of SR-IOV virtual functions, PF side.
 *
 * A VF's variant driver (nvme-vfio-pci) migrates the VF's secondary
 * controller by asking the PF's primary controller to suspend, resume, save
 * and restore it.  These helpers are the only way in: each takes the handle
 * of one VF, addresses that VF's secondary controller ID from the Secondary
 * Controller List, and issues one command of a fixed kind.
 *
 * Lifetime: the handle is valid while the VF driver is bound.  nvme_remove()
 * disables SR-IOV before it tears the PF down, so every VF driver is unbound
 * (and has put its handle) by then, as pci_iov_get_pf_drvdata() requires.  A
 * PF controller reset only makes the commands wait or fail.
 */
#include <kunit/visibility.h>
#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/nvme-lm.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/unaligned.h>

#include "nvme.h"
#include "pci-lm.h"

struct nvme_lm_vf {
	struct pci_dev *vf;
	struct nvme_ctrl *ctrl;		/* the PF's primary controller */
	u16 cntlid;			/* the VF's secondary controller ID */
	struct list_head orphans;	/* queues whose delete failed */
};

static const char *nvme_lm_op_name(u8 opcode, u8 sel)
{
	switch (opcode) {
	case nvme_admin_migration_send:
		return sel == NVME_LM_SEND_SUSPEND ? "suspend" :
		       sel == NVME_LM_SEND_RESUME ? "resume" : "set state";
	case nvme_admin_migration_recv:
		return "get state";
	case nvme_admin_track_send:
		return sel == NVME_LM_TRACK_MEMORY ? "track memory" : "log user data";
	case nvme_admin_track_recv:
		return "memory changes";
	case nvme_admin_identify:
		return "identify";
	case nvme_admin_cdq:
		return sel == NVME_LM_CDQ_CREATE ? "create queue" : "delete queue";
	case nvme_admin_set_features:
		return "queue head";
	case nvme_admin_get_features:
		return "queue check";
	default:
		return "command";
	}
}

static int nvme_lm_errno(int status)
{
	if (status <= 0)
		return status;
	switch (status & NVME_SCT_SC_MASK) {
	case NVME_SC_INVALID_FIELD:
		return -EINVAL;
	case NVME_SC_CMD_SEQ_ERROR:
		return -EPROTO;
	case NVME_SC_CTRL_ID_INVALID:
	case NVME_SC_SEC_CTRL_STATE_INVALID:
		return -ENODEV;
	case NVME_SC_LM_INVALID_CDQ:
		return -ENOENT;
	case NVME_SC_LM_NOT_ENOUGH_RES:
		return -ENOSPC;
	case NVME_SC_LM_CTRL_SUSPENDED:
		return -EBUSY;
	case NVME_SC_ABORT_REQ:
		return -ETIMEDOUT;	/* aborted after lm_timeout */
	case NVME_SC_LM_CTRL_NOT_SUSPENDED:
		/*
		 * The VF driver resumes and restores only controllers it
		 * suspended: someone else (a PF reset) changed its state.
		 */
		return -ESTALE;
	default:
		return -EIO;
	}
}

static unsigned int lm_timeout = 60;
module_param(lm_timeout, uint, 0644);
MODULE_PARM_DESC(lm_timeout,
		 "timeout in seconds for live migration commands, which are aborted, not reset (default 60)");

/**
 * nvme_lm_cmd_abort_first() - whether a timed out admin command is aborted first
 * @req: an admin command that timed out
 *
 * A live migration command acts on one VF's secondary controller: a slow or
 * stuck one is aborted (which fails that VF's migration step) instead of
 * resetting the PF, which would take every other VF of the PF offline.
 * Only if the abort does not complete it does the controller get reset.
 *
 * Return: true for the TP4159 opcodes.
 */
bool nvme_lm_cmd_abort_first(struct request *req)
{
	switch (nvme_req(req)->cmd->common.opcode) {
	case nvme_admin_migration_send:
	case nvme_admin_migration_recv:
	case nvme_admin_track_send:
	case nvme_admin_track_recv:
	case nvme_admin_cdq:
		return true;
	default:
		return false;
	}
}

/* __nvme_submit_sync_cmd() with the live migration timeout */
static int nvme_lm_execute(struct nvme_lm_vf *lm, struct nvme_command *c,
			   void *buf, unsigned int len, u32 *dw0)
{
	struct request_queue *q = lm->ctrl->admin_q;
	struct request *req;
	int status;

	req = blk_mq_alloc_request(q, nvme_req_op(c), 0);
	if (IS_ERR(req))
		return PTR_ERR(req);
	nvme_init_request(req, c);
	/*
	 * As for passthrough commands: failed, not held, while the PF is not
	 * live, so none reaches a controller that is being reset or started.
	 */
	nvme_req(req)->flags |= NVME_REQ_USERCMD;
	req->timeout = max(READ_ONCE(lm_timeout), 1U) * HZ;
	if (buf && len) {
		status = blk_rq_map_kern(q, req, buf, len, GFP_KERNEL);
		if (status)
			goto out;
	}
	status = blk_status_to_errno(blk_execute_rq(req, false));
	if (nvme_req(req)->flags & NVME_REQ_CANCELLED)
		status = -EINTR;
	else if (nvme_req(req)->status)
		status = nvme_req(req)->status;
	if (dw0 && status >= 0)
		*dw0 = le32_to_cpu(nvme_req(req)->result.u32);
out:
	blk_mq_free_request(req);
	return status;
}

static int nvme_lm_submit(struct nvme_lm_vf *lm, struct nvme_command *c,
			  void *buf, unsigned int len, u32 *dw0)
{
	int status;

	if (dw0)
		*dw0 = 0;
	status = nvme_lm_execute(lm, c, buf, len, dw0);
	/*
	 * "Not suspended" is how the PF answers a Resume after a reset that
	 * already resumed the controller; the caller tells what it means.
	 */
	if (status && (status & NVME_SCT_SC_MASK) != NVME_SC_LM_CTRL_NOT_SUSPENDED)
		dev_err_ratelimited(&lm->vf->dev,
				    "live migration %s for cntlid %u failed: %s %#x\n",
				    nvme_lm_op_name(c->common.opcode,
						    le32_to_cpu(c->common.cdw10) & 0xff),
				    lm->cntlid, status < 0 ? "errno" : "NVMe status",
				    status < 0 ? -status : status);
	return nvme_lm_errno(status);
}

/**
 * nvme_lm_sec_ctrl_page() - look for a VF in one page of the Secondary Controller List
 * @list: what Identify CNS 15h returned for CNTID *@from
 * @vfn: the VF number, 1-based
 * @from: the CNTID the page was asked for; set to the one to ask for next
 * @sc: set to the VF's entry when it is found
 *
 * A page holds at most 127 entries, those with a secondary controller ID
 * of at least the CNTID asked for, in increasing order: a full page may be
 * followed by another, from the last ID seen plus one.
 *
 * Return: 0 if found, 1 to read the page at *@from, -ENODEV if the list
 * ended without the VF (or does not move forward).
 */
VISIBLE_IF_KUNIT int nvme_lm_sec_ctrl_page(const struct nvme_sec_ctrl_list *list,
					   u16 vfn, u32 *from, struct nvme_sec_ctrl *sc)
{
	int i, n = min_t(int, list->num, ARRAY_SIZE(list->sc));
	u32 last;

	for (i = 0; i < n; i++) {
		if (le16_to_cpu(list->sc[i].vfn) == vfn) {
			*sc = list->sc[i];
			return 0;
		}
	}
	if (n < ARRAY_SIZE(list->sc))
		return -ENODEV;
	last = le16_to_cpu(list->sc[n - 1].scid);
	if (last < *from || last == U16_MAX)
		return -ENODEV;
	*from = last + 1;
	return 1;
}
EXPORT_SYMBOL_IF_KUNIT(nvme_lm_sec_ctrl_page);

/* the VF's entry in the PF's Secondary Controller List, page by page */
static int nvme_lm_sec_ctrl(struct nvme_lm_vf *lm, struct nvme_sec_ctrl *sc)
{
	u16 vfn = pci_iov_vf_id(lm->vf) + 1;
	struct nvme_sec_ctrl_list *list;
	u32 from = 0;
	int ret;

	list = kzalloc(sizeof(*list), GFP_KERNEL);
	if (!list)
		return -ENOMEM;
	do {
		struct nvme_command c = {};

		c.identify.opcode = nvme_admin_identify;
		c.identify.cns = NVME_ID_CNS_SCNDRY_CTRL_LIST;
		c.identify.ctrlid = cpu_to_le16(from);
		ret = nvme_lm_submit(lm, &c, list, sizeof(*list), NULL);
		if (!ret)
			ret = nvme_lm_sec_ctrl_page(list, vfn, &from, sc);
	} while (ret == 1);
	kfree(list);
	return ret;
}

/**
 * nvme_lm_vf_get() - get the live migration handle of an NVMe VF
 * @vf: the VF, bound to the caller's driver
 *
 * Return: the handle, ERR_PTR(-EINVAL) if @vf is not a VF of a PF driven by
 * nvme-pci, ERR_PTR(-EOPNOTSUPP) if the primary controller does not support
 * host managed live migration, ERR_PTR(-ENODEV) if the Secondary Controller
 * List has no entry for @vf, or another error of the Identify command.
 */
struct nvme_lm_vf *nvme_lm_vf_get(struct pci_dev *vf)
{
	struct nvme_sec_ctrl sc;
	struct nvme_ctrl *ctrl;
	struct nvme_lm_vf *lm;
	int ret;

	ctrl = nvme_pci_pf_ctrl(vf);
	if (IS_ERR(ctrl))
		return ERR_CAST(ctrl);
	if (!(ctrl->oacs & NVME_CTRL_OACS_HMLMS))
		return ERR_PTR(-EOPNOTSUPP);
	lm = kzalloc(sizeof(*lm), GFP_KERNEL);
	if (!lm)
		return ERR_PTR(-ENOMEM);
	lm->vf = vf;
	lm->ctrl = ctrl;
	INIT_LIST_HEAD(&lm->orphans);
	ret = nvme_lm_sec_ctrl(lm, &sc);
	if (ret) {
		kfree(lm);
		return ERR_PTR(ret);
	}
	lm->cntlid = le16_to_cpu(sc.scid);
	if (lm->cntlid == ctrl->cntlid) {
		kfree(lm);
		return ERR_PTR(-ENODEV);
	}
	return lm;
}
EXPORT_SYMBOL_GPL(nvme_lm_vf_get);

static void nvme_lm_udmq_put_orphans(struct nvme_lm_vf *lm);

/**
 * nvme_lm_vf_put() - release a handle from nvme_lm_vf_get()
 * @lm: the handle
 *
 * Queues whose delete failed are deleted again; the memory of one the
 * controller still refuses to delete is leaked rather than reused.
 */
void nvme_lm_vf_put(struct nvme_lm_vf *lm)
{
	nvme_lm_udmq_put_orphans(lm);
	kfree(lm);
}
EXPORT_SYMBOL_GPL(nvme_lm_vf_put);

/**
 * nvme_lm_vf_ctrl() - the PF's primary controller a handle sends to
 * @lm: the handle
 *
 * Return: the controller.
 */
struct nvme_ctrl *nvme_lm_vf_ctrl(struct nvme_lm_vf *lm)
{
	return lm->ctrl;
}

/**
 * nvme_lm_vf_cntlid() - the VF's secondary controller ID
 * @lm: the handle
 *
 * Return: the CNTLID every command of @lm addresses.
 */
u16 nvme_lm_vf_cntlid(struct nvme_lm_vf *lm)
{
	return lm->cntlid;
}
EXPORT_SYMBOL_GPL(nvme_lm_vf_cntlid);

/**
 * nvme_lm_vf_resources() - queue and interrupt resources of the VF's controller
 * @lm: the handle
 * @nvq: number of VQ resources assigned
 * @nvi: number of VI resources assigned
 *
 * Return: 0, or a negative errno.
 */
int nvme_lm_vf_resources(struct nvme_lm_vf *lm, u16 *nvq, u16 *nvi)
{
	struct nvme_sec_ctrl sc;
	int ret;

	ret = nvme_lm_sec_ctrl(lm, &sc);
	if (ret)
		return ret;
	*nvq = le16_to_cpu(sc.nvq);
	*nvi = le16_to_cpu(sc.nvi);
	return 0;
}
EXPORT_SYMBOL_GPL(nvme_lm_vf_resources);

/**
 * nvme_lm_max_transfer() - the most data one live migration command carries
 * @lm: the handle
 *
 * Return: bytes of page-aligned memory one command can map on the PF's
 * admin queue (its MDTS and segment limit), a multiple of PAGE_SIZE.
 */
size_t nvme_lm_max_transfer(struct nvme_lm_vf *lm)
{
	struct request_queue *q = lm->ctrl->admin_q;
	size_t max = (size_t)queue_max_hw_sectors(q) << SECTOR_SHIFT;

	max = min_t(size_t, max, (size_t)queue_max_segments(q) * PAGE_SIZE);
	return max_t(size_t, rounddown(max, PAGE_SIZE), PAGE_SIZE);
}
EXPORT_SYMBOL_GPL(nvme_lm_max_transfer);

/**
 * nvme_lm_state_formats() - Supported Controller State Formats of the PF
 * @lm: the handle
 * @fmts: filled with Identify CNS 20h
 *
 * Return: 0, or a negative errno.
 */
int nvme_lm_state_formats(struct nvme_lm_vf *lm, struct nvme_lm_ctrl_state_fmts *fmts)
{
	struct nvme_command c = {};

	c.identify.opcode = nvme_admin_identify;
	c.identify.cns = NVME_ID_CNS_CTRL_STATE_FMTS;
	return nvme_lm_submit(lm, &c, fmts, sizeof(*fmts), NULL);
}
EXPORT_SYMBOL_GPL(nvme_lm_state_formats);

/**
 * nvme_lm_suspend() - suspend the VF's controller
 * @lm: the handle
 *
 * The controller stops fetching commands, completes those it fetched, and
 * posts no more completions or interrupts until nvme_lm_resume().
 *
 * Return: 0, or a negative errno.
 */
int nvme_lm_suspend(struct nvme_lm_vf *lm)
{
	struct nvme_command c = {};
	int ret;

	c.common.opcode = nvme_admin_migration_send;
	c.common.cdw10 = cpu_to_le32(NVME_LM_CDW10(NVME_LM_SEND_SUSPEND, 0));
	c.common.cdw11 = cpu_to_le32(NVME_LM_STYPE_SUSPEND << 16 | lm->cntlid);
	ret = nvme_lm_submit(lm, &c, NULL, 0, NULL);
	if (!ret)
		nvme_lm_log_suspended(lm);
	return ret;
}
EXPORT_SYMBOL_GPL(nvme_lm_suspend);

/**
 * nvme_lm_resume() - resume the VF's suspended controller
 * @lm: the handle
 *
 * Return: 0, -ESTALE if it was not suspended, or another negative errno.
 */
int nvme_lm_resume(struct nvme_lm_vf *lm)
{
	struct nvme_command c = {};
	int ret;

	c.common.opcode = nvme_admin_migration_send;
	c.common.cdw10 = cpu_to_le32(NVME_LM_CDW10(NVME_LM_SEND_RESUME, 0));
	c.common.cdw11 = cpu_to_le32(lm->cntlid);
	ret = nvme_lm_submit(lm, &c, NULL, 0, NULL);
	if (!ret || ret == -ESTALE)
		nvme_lm_log_resumed(lm);
	return ret;
}
EXPORT_SYMBOL_GPL(nvme_lm_resume);

/**
 * nvme_lm_get_state() - read a piece of the suspended controller's state
 * @lm: the handle
 * @csvi: controller state version index (CNS 20h, 1-based; 0: header only)
 * @csuuidi: vendor specific format index (CNS 20h, 1-based; 0: none)
 * @offset: byte offset into the state, dword aligned
 * @buf: where to put it
 * @len: bytes to read, a non-zero multiple of 4
 * @suspended: set to the controller's suspended flag (CSUP), may be NULL
 *
 * Return: 0, -ESTALE if the controller is not suspended, -EINVAL if an
 * argument is out of range, or another negative errno.
 */
int nvme_lm_get_state(struct nvme_lm_vf *lm, u8 csvi, u8 csuuidi, u64 offset,
		      void *buf, size_t len, bool *suspended)
{
	struct nvme_command c = {};
	u32 dw0;
	int ret;

	if (!len || len % 4 || len > UINT_MAX || offset % 4)
		return -EINVAL;
	c.common.opcode = nvme_admin_migration_recv;
	c.common.cdw10 = cpu_to_le32(NVME_LM_CDW10(NVME_LM_RECV_GET_STATE, csvi));
	c.common.cdw11 = cpu_to_le32((u32)csuuidi << 16 | lm->cntlid);
	c.common.cdw12 = cpu_to_le32(lower_32_bits(offset));
	c.common.cdw13 = cpu_to_le32(upper_32_bits(offset));
	c.common.cdw15 = cpu_to_le32(len / 4 - 1);
	ret = nvme_lm_submit(lm, &c, buf, len, &dw0);
	if (!ret && suspended)
		*suspended = dw0 & NVME_LM_RECV_CSUP;
	return ret;
}
EXPORT_SYMBOL_GPL(nvme_lm_get_state);

/**
 * nvme_lm_set_state() - write a piece of controller state to the suspended controller
 * @lm: the handle
 * @seqind: NVME_LM_SEQIND_FIRST, _MIDDLE, _LAST or _ENTIRE
 * @csvi: controller state version index (CNS 20h, 1-based)
 * @csuuidi: vendor specific format index (CNS 20h, 1-based; 0: none)
 * @offset: byte offset of this piece, dword aligned
 * @buf: the piece
 * @len: its length, a non-zero multiple of 4
 *
 * The controller validates the whole state when the last piece arrives and
 * applies it only if it is valid.
 *
 * Return: 0, -EINVAL if the state is invalid, -ESTALE if the controller is
 * not suspended, -EPROTO for a piece out of sequence, or another negative
 * errno.
 */
int nvme_lm_set_state(struct nvme_lm_vf *lm, u8 seqind, u8 csvi, u8 csuuidi,
		      u64 offset, const void *buf, size_t len)
{
	struct nvme_command c = {};

	if (!len || len % 4 || len > UINT_MAX || offset % 4 || seqind > 3)
		return -EINVAL;
	c.common.opcode = nvme_admin_migration_send;
	c.common.cdw10 = cpu_to_le32(NVME_LM_CDW10(NVME_LM_SEND_SET_STATE, seqind));
	c.common.cdw11 = cpu_to_le32((u32)csuuidi << 24 | (u32)csvi << 16 | lm->cntlid);
	c.common.cdw12 = cpu_to_le32(lower_32_bits(offset));
	c.common.cdw13 = cpu_to_le32(upper_32_bits(offset));
	c.common.cdw15 = cpu_to_le32(len / 4);
	return nvme_lm_submit(lm, &c, (void *)buf, len, NULL);
}
EXPORT_SYMBOL_GPL(nvme_lm_set_state);

/**
 * nvme_lm_mem_track_caps() - what host memory change tracking the PF offers
 * @lm: the handle
 * @caps: filled from Identify Controller
 *
 * Return: 0, -EOPNOTSUPP if the controller does not track host memory
 * changes, or another negative errno.
 */
int nvme_lm_mem_track_caps(struct nvme_lm_vf *lm, struct nvme_lm_mem_track_caps *caps)
{
	struct nvme_command c = {};
	u8 *id;
	int ret;

	id = kzalloc(NVME_IDENTIFY_DATA_SIZE, GFP_KERNEL);
	if (!id)
		return -ENOMEM;
	c.identify.opcode = nvme_admin_identify;
	c.identify.cns = NVME_ID_CNS_CTRL;
	ret = nvme_lm_submit(lm, &c, id, NVME_IDENTIFY_DATA_SIZE, NULL);
	if (!ret && !(id[NVME_ID_CTRL_TRATTR_OFFSET] & NVME_TRATTR_THMCS))
		ret = -EOPNOTSUPP;
	if (!ret) {
		caps->min_gran_bits = id[NVME_ID_CTRL_MINMRTG_OFFSET];
		caps->max_gran_bits = id[NVME_ID_CTRL_MAXMRTG_OFFSET];
		caps->max_ranges = get_unaligned_le16(id + NVME_ID_CTRL_CMMRTD_OFFSET);
		if (caps->min_gran_bits < PAGE_SHIFT || caps->max_gran_bits > 63 ||
		    caps->min_gran_bits > caps->max_gran_bits || !caps->max_ranges)
			ret = -EOPNOTSUPP;
	}
	kfree(id);
	return ret;
}
EXPORT_SYMBOL_GPL(nvme_lm_mem_track_caps);

/**
 * nvme_lm_track_memory() - start or stop tracking host memory the VF writes
 * @lm: the handle
 * @start: start (true) or stop (false)
 * @gran_bits: granularity, log2 of bytes, within nvme_lm_mem_track_caps()
 * @ranges: the ranges to track, granularity aligned; NULL: all memory
 * @nr: number of @ranges, at most nvme_lm_mem_track_caps() max_ranges
 *
 * Return: 0, -EPROTO if tracking was already in the requested state,
 * -EINVAL for bad arguments, or another negative errno.
 */
int nvme_lm_track_memory(struct nvme_lm_vf *lm, bool start, u8 gran_bits,
			 const struct nvme_lm_mem_range *ranges, u16 nr)
{
	u8 lact = start ? NVME_LM_LACT_START : NVME_LM_LACT_STOP;
	struct nvme_command c = {};
	void *buf = NULL;
	int ret;

	if (nr) {
		buf = kmemdup(ranges, nr * sizeof(*ranges), GFP_KERNEL);
		if (!buf)
			return -ENOMEM;
	}
	c.common.opcode = nvme_admin_track_send;
	c.common.cdw10 = cpu_to_le32(NVME_LM_CDW10(NVME_LM_TRACK_MEMORY, lact));
	c.common.cdw11 = cpu_to_le32(lm->cntlid);
	c.common.cdw12 = cpu_to_le32(gran_bits);
	c.common.cdw13 = cpu_to_le32(nr);
	ret = nvme_lm_submit(lm, &c, buf, nr * sizeof(*ranges), NULL);
	kfree(buf);
	return ret;
}
EXPORT_SYMBOL_GPL(nvme_lm_track_memory);

/**
 * nvme_lm_track_recv() - read (and clear) which granules the VF wrote
 * @lm: the handle
 * @start: address of the granule of bit 0, granularity aligned
 * @clear: clear what is reported
 * @bitmap: where the bitmap goes, little endian, bit i of byte i / 8
 * @len: its length in bytes, a non-zero multiple of 4
 * @count: set to the number of bits set, may be NULL
 *
 * Return: 0, -EPROTO if tracking is off, or another negative errno.
 */
int nvme_lm_track_recv(struct nvme_lm_vf *lm, u64 start, bool clear,
		       void *bitmap, size_t len, u32 *count)
{
	struct nvme_command c = {};
	u32 dw0;
	int ret;

	if (!len || len % 4 || len > UINT_MAX)
		return -EINVAL;
	c.common.opcode = nvme_admin_track_recv;
	c.common.cdw10 = cpu_to_le32(NVME_LM_CDW10(0, 0));
	c.common.cdw11 = cpu_to_le32(lm->cntlid);
	c.common.cdw12 = cpu_to_le32(lower_32_bits(start));
	c.common.cdw13 = cpu_to_le32(upper_32_bits(start));
	c.common.cdw14 = cpu_to_le32(clear ? NVME_LM_TRACK_RECV_CLEAR : 0);
	c.common.cdw15 = cpu_to_le32(len / 4 - 1);
	ret = nvme_lm_submit(lm, &c, bitmap, len, &dw0);
	if (!ret && count)
		*count = dw0;
	return ret;
}
EXPORT_SYMBOL_GPL(nvme_lm_track_recv);

/**
 * struct nvme_lm_udmq - a User Data Migration Queue for one VF
 * @lm: the VF
 * @ring: the queue, in memory the PF's controller writes
 * @dma: its bus address for the PF
 * @nr: number of entries
 * @head: next entry to read
 * @phase: phase tag of entries not read yet
 * @cdqid: Controller Data Queue ID
 * @gen: the PF controller's generation (nvme_pci_lm_generation()) it was
 *	created in: a reset deletes every queue, and a later queue may get
 *	the same @cdqid, even for another VF
 * @orphan: on the VF's list of queues whose delete failed, to delete again
 */
struct nvme_lm_udmq {
	struct nvme_lm_vf *lm;
	struct nvme_lm_udmq_entry *ring;
	dma_addr_t dma;
	u32 nr;
	u32 head;
	u8 phase;
	u16 cdqid;
	u32 gen;
	struct list_head orphan;
};

/* the controller was reset since @q was created: @q->cdqid names nothing of ours */
static bool nvme_lm_udmq_stale(struct nvme_lm_udmq *q)
{
	lockdep_assert_held(nvme_pci_lm_cdq_lock(q->lm->ctrl));
	return nvme_pci_lm_generation(q->lm->ctrl) != q->gen;
}

static size_t nvme_lm_udmq_size(struct nvme_lm_udmq *q)
{
	return q->nr * sizeof(*q->ring);
}

/*
 * Send a command that names @q->cdqid.  The ID means @q only in the
 * generation @q was created in, so that is checked under the PF's CDQ lock,
 * which nvme_lm_udmq_create() holds too, until the command has completed:
 * even a command held up across a whole PF reset cannot reach a queue
 * created after the reset, for this VF or another.
 */
static int nvme_lm_udmq_submit(struct nvme_lm_udmq *q, struct nvme_command *c,
			       void *buf, unsigned int len, bool killable)
{
	struct mutex *lock = nvme_pci_lm_cdq_lock(q->lm->ctrl);
	int ret;

	if (!killable)
		mutex_lock(lock);
	else if (mutex_lock_killable(lock))
		return -EINTR;
	if (nvme_lm_udmq_stale(q))
		ret = -ENOENT;
	else
		ret = nvme_lm_submit(q->lm, c, buf, len, NULL);
	mutex_unlock(lock);
	return ret;
}

/* Migration CDQ Delete, then free the memory; the queue stays if it failed */
static int nvme_lm_udmq_destroy(struct nvme_lm_udmq *q)
{
	struct nvme_command c = {};
	int ret;

	/*
	 * No Track Send stop first: deleting the queue ends logging into it,
	 * and a suspended controller refuses Track Send.
	 */
	c.common.opcode = nvme_admin_cdq;
	c.common.cdw10 = cpu_to_le32(NVME_LM_CDW10(NVME_LM_CDQ_DELETE, 0));
	c.common.cdw11 = cpu_to_le32(q->cdqid);
	/*
	 * -ENOENT: a reset deleted it (its ID may be another VF's queue now,
	 * so it is not named), or the controller does not have it.
	 */
	ret = nvme_lm_udmq_submit(q, &c, NULL, 0, false);
	/* the controller may still own the memory: never free or reuse it then */
	if (ret && ret != -ENOENT)
		return ret;
	dma_free_coherent(q->lm->ctrl->dev, nvme_lm_udmq_size(q), q->ring, q->dma);
	kfree(q);
	return 0;
}

/* delete again the queues whose delete failed; caller serializes as for @lm's queues */
static void nvme_lm_udmq_reap(struct nvme_lm_vf *lm)
{
	struct nvme_lm_udmq *q, *tmp;

	list_for_each_entry_safe(q, tmp, &lm->orphans, orphan) {
		list_del(&q->orphan);
		if (nvme_lm_udmq_destroy(q))
			list_add(&q->orphan, &lm->orphans);
	}
}

static void nvme_lm_udmq_put_orphans(struct nvme_lm_vf *lm)
{
	struct nvme_lm_udmq *q, *tmp;

	nvme_lm_udmq_reap(lm);
	list_for_each_entry_safe(q, tmp, &lm->orphans, orphan) {
		dev_warn(&lm->vf->dev, "leaking a migration queue of cntlid %u the controller did not delete\n",
			 lm->cntlid);
		list_del(&q->orphan);
		kfree(q);
	}
}

/*
 * Migration CDQ Create under the PF's CDQ lock; on failure @q is freed, or
 * kept for a later delete if the controller may still write its memory.
 * If the PF was reset while the command was out, it is not known which
 * controller created the queue: the current one may have it, and no other
 * queue can have been created since (the lock), so it is deleted by that
 * ID before the memory may be freed.
 */
static int nvme_lm_udmq_create_locked(struct nvme_lm_udmq *q, struct nvme_command *c)
{
	struct mutex *lock = nvme_pci_lm_cdq_lock(q->lm->ctrl);
	struct nvme_lm_vf *lm = q->lm;
	u32 dw0;
	int ret;

	if (mutex_lock_killable(lock)) {
		ret = -EINTR;
		goto free;
	}
	q->gen = nvme_pci_lm_generation(lm->ctrl);
	ret = nvme_lm_submit(lm, c, NULL, 0, &dw0);
	if (ret)
		goto unlock;
	q->cdqid = dw0 & 0xffff;
	if (!nvme_lm_udmq_stale(q))
		goto unlock;

	q->gen = nvme_pci_lm_generation(lm->ctrl);
	memset(c, 0, sizeof(*c));
	c->common.opcode = nvme_admin_cdq;
	c->common.cdw10 = cpu_to_le32(NVME_LM_CDW10(NVME_LM_CDQ_DELETE, 0));
	c->common.cdw11 = cpu_to_le32(q->cdqid);
	ret = nvme_lm_submit(lm, c, NULL, 0, NULL);
	mutex_unlock(lock);
	if (ret && ret != -ENOENT) {
		list_add(&q->orphan, &lm->orphans);
		return ret;
	}
	ret = -EAGAIN;
	goto free;
unlock:
	mutex_unlock(lock);
	if (!ret)
		return 0;
free:
	dma_free_coherent(lm->ctrl->dev, nvme_lm_udmq_size(q), q->ring, q->dma);
	kfree(q);
	return ret;
}

/**
 * nvme_lm_udmq_create() - create a User Data Migration Queue for the VF
 * @lm: the handle
 * @nr_entries: queue size, NVME_LM_UDMQ_MIN_ENTRIES to NVME_LM_UDMQ_MAX_ENTRIES
 *
 * Allocates the queue in the PF's DMA memory and creates it as a Controller
 * Data Queue of the primary controller for the VF's secondary controller.
 * Logging is off until nvme_lm_udmq_log().  The caller serializes all calls
 * for one queue.
 *
 * Return: the queue, ERR_PTR(-EINVAL) for a bad size, ERR_PTR(-EOPNOTSUPP)
 * if the controller does not log user data changes, ERR_PTR(-ENOSPC) if it
 * has no queue left for the VF, ERR_PTR(-EAGAIN) if the PF was reset while
 * it was created, or another ERR_PTR().
 */
struct nvme_lm_udmq *nvme_lm_udmq_create(struct nvme_lm_vf *lm, u32 nr_entries)
{
	struct nvme_command c = {};
	struct nvme_lm_udmq *q;
	u8 *id;
	int ret;

	if (nr_entries < NVME_LM_UDMQ_MIN_ENTRIES ||
	    nr_entries > NVME_LM_UDMQ_MAX_ENTRIES)
		return ERR_PTR(-EINVAL);
	/* a queue whose delete failed may hold the VF's only slot */
	nvme_lm_udmq_reap(lm);

	id = kzalloc(NVME_IDENTIFY_DATA_SIZE, GFP_KERNEL);
	if (!id)
		return ERR_PTR(-ENOMEM);
	c.identify.opcode = nvme_admin_identify;
	c.identify.cns = NVME_ID_CNS_CTRL;
	ret = nvme_lm_submit(lm, &c, id, NVME_IDENTIFY_DATA_SIZE, NULL);
	if (!ret && !(id[NVME_ID_CTRL_TRATTR_OFFSET] & NVME_TRATTR_TUDCS))
		ret = -EOPNOTSUPP;
	kfree(id);
	if (ret)
		return ERR_PTR(ret);

	q = kzalloc(sizeof(*q), GFP_KERNEL);
	if (!q)
		return ERR_PTR(-ENOMEM);
	q->lm = lm;
	q->nr = nr_entries;
	q->phase = NVME_LM_UDMQ_PHASE;
	/* zeroed: every phase tag starts at 0, the controller's first pass writes 1 */
	q->ring = dma_alloc_coherent(lm->ctrl->dev, nvme_lm_udmq_size(q), &q->dma,
				     GFP_KERNEL);
	if (!q->ring) {
		kfree(q);
		return ERR_PTR(-ENOMEM);
	}

	memset(&c, 0, sizeof(c));
	c.common.opcode = nvme_admin_cdq;
	c.common.cdw10 = cpu_to_le32(NVME_LM_CDW10(NVME_LM_CDQ_CREATE,
						   NVME_LM_CDQ_QT_UDMQ));
	c.common.cdw11 = cpu_to_le32((u32)lm->cntlid << 16 | NVME_LM_CDQ_PC);
	c.common.cdw12 = cpu_to_le32(nvme_lm_udmq_size(q) / 4);
	c.common.dptr.prp1 = cpu_to_le64(q->dma);
	ret = nvme_lm_udmq_create_locked(q, &c);
	return ret ? ERR_PTR(ret) : q;
}

/**
 * nvme_lm_udmq_log() - start or stop logging the VF's user data changes
 * @q: the queue to log into
 * @start: start (true) or stop (false)
 *
 * The controller posts a "first" entry when logging starts and a "logging
 * stopped" entry when it stops.
 *
 * Return: 0, -EBUSY if the VF's controller is suspended, -EPROTO if logging
 * was already in the requested state, or another negative errno.
 */
int nvme_lm_udmq_log(struct nvme_lm_udmq *q, bool start)
{
	u8 lact = start ? NVME_LM_LACT_START : NVME_LM_LACT_STOP;
	struct nvme_command c = {};

	c.common.opcode = nvme_admin_track_send;
	c.common.cdw10 = cpu_to_le32(NVME_LM_CDW10(NVME_LM_TRACK_USER_DATA, lact));
	c.common.cdw11 = cpu_to_le32(q->cdqid);
	return nvme_lm_udmq_submit(q, &c, NULL, 0, true);
}

/*
 * Hand the slots read back to the controller (Set Features, Controller Data
 * Queue: the head pointer) and arm its tail pointer trigger for the next
 * entry: the controller raises a one-shot asynchronous event when it posts
 * into the slot at the head, so a reader waiting for it is woken without
 * polling the controller.
 */
static int nvme_lm_udmq_set_head(struct nvme_lm_udmq *q)
{
	struct nvme_command c = {};

	c.features.opcode = nvme_admin_set_features;
	c.features.fid = cpu_to_le32(NVME_FEAT_CDQ);
	c.features.dword11 = cpu_to_le32(q->cdqid | NVME_LM_CDQ_ETPT);
	c.common.cdw12 = cpu_to_le32(q->head);
	c.common.cdw13 = cpu_to_le32((q->head + 1) % q->nr);
	return nvme_lm_udmq_submit(q, &c, NULL, 0, true);
}

/**
 * nvme_lm_udmq_posted() - whether the controller posted an entry not read yet
 * @q: the queue; the caller serializes this with nvme_lm_udmq_read()
 *
 * Looks at the next slot's phase tag in host memory; sends no command.
 *
 * Return: true if nvme_lm_udmq_read() has an entry to take.
 */
bool nvme_lm_udmq_posted(struct nvme_lm_udmq *q)
{
	return (READ_ONCE(q->ring[q->head].attr) & NVME_LM_UDMQ_PHASE) == q->phase;
}

/**
 * nvme_lm_udmq_pending() - how many entries the controller posted, not read yet
 * @q: the queue; the caller serializes this with nvme_lm_udmq_read()
 *
 * Walks the phase tags in host memory; sends no command.
 *
 * Return: the number of entries nvme_lm_udmq_read() would take now.
 */
unsigned int nvme_lm_udmq_pending(struct nvme_lm_udmq *q)
{
	u32 i = q->head, n = 0;
	u8 phase = q->phase;

	while (n < q->nr - 1 &&
	       (READ_ONCE(q->ring[i].attr) & NVME_LM_UDMQ_PHASE) == phase) {
		n++;
		if (++i == q->nr) {
			i = 0;
			phase ^= NVME_LM_UDMQ_PHASE;
		}
	}
	return n;
}

/**
 * nvme_lm_udmq_gone() - whether a reset of the PF deleted the queue
 * @q: the queue
 *
 * Without the PF's CDQ lock: a hint for a reader, which learns it for sure
 * from the next command that names the queue.
 *
 * Return: true if the PF's controller was reset since @q was created.
 */
bool nvme_lm_udmq_gone(struct nvme_lm_udmq *q)
{
	return nvme_pci_lm_generation(q->lm->ctrl) != q->gen;
}

/**
 * nvme_lm_udmq_id() - the queue's Controller Data Queue ID
 * @q: the queue
 *
 * Return: the CDQID the controller gave it (events name it).
 */
u16 nvme_lm_udmq_id(struct nvme_lm_udmq *q)
{
	return q->cdqid;
}

/**
 * nvme_lm_udmq_read() - take the entries the controller posted
 * @q: the queue
 * @entries: where to copy them
 * @max: room in @entries
 * @nread: set to the number of entries copied, 0 if none was posted
 *
 * Copies up to @max posted entries in order, then hands their slots back to
 * the controller and arms the tail pointer trigger for the next entry
 * (nvme_lm_udmq_set_head()).  The entries copied are consumed even if that
 * fails.  With nothing posted it sends no command: nvme_lm_udmq_gone() says
 * whether a reset deleted the queue.
 *
 * Return: 0, or a negative errno if the head pointer could not be updated
 * (-ENOENT: the queue is gone, e.g. after a controller reset of the PF):
 * the queue is then no longer usable and changes may have been missed.
 */
int nvme_lm_udmq_read(struct nvme_lm_udmq *q, struct nvme_lm_udmq_entry *entries,
		      unsigned int max, unsigned int *nread)
{
	unsigned int n = 0;

	while (n < max && nvme_lm_udmq_posted(q)) {
		/* read the entry only after its phase tag says it is complete */
		dma_rmb();
		entries[n++] = q->ring[q->head];
		if (++q->head == q->nr) {
			q->head = 0;
			q->phase ^= NVME_LM_UDMQ_PHASE;
		}
	}
	*nread = n;
	if (!n)
		return 0;
	return nvme_lm_udmq_set_head(q);
}

/**
 * nvme_lm_udmq_arm() - arm the tail pointer trigger of an empty queue
 * @q: the queue
 *
 * Return: 0, or a negative errno as for nvme_lm_udmq_read().
 */
int nvme_lm_udmq_arm(struct nvme_lm_udmq *q)
{
	return nvme_lm_udmq_set_head(q);
}

/**
 * nvme_lm_udmq_delete() - delete the queue (which stops logging) and free it
 * @q: the queue from nvme_lm_udmq_create(); the caller's handle ends here
 *
 * Entries not read are lost.  The memory is freed only once the controller
 * no longer writes it: the queue is deleted, or the controller says it
 * does not exist (e.g. after a controller reset of the PF).  If the delete
 * fails, the VF's handle keeps the queue and deletes it again before the
 * next nvme_lm_udmq_create() and in nvme_lm_vf_put(), so a transient
 * failure does not keep the VF from logging again.
 *
 * Return: 0, or the negative errno of the failed delete.
 */
int nvme_lm_udmq_delete(struct nvme_lm_udmq *q)
{
	struct nvme_lm_vf *lm = q->lm;
	int ret;

	ret = nvme_lm_udmq_destroy(q);
	if (ret)
		list_add(&q->orphan, &lm->orphans);
	return ret;
}
