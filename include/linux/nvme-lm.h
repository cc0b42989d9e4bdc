/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NVMe live migration (TP4159) of SR-IOV virtual functions: the typed helpers
 * nvme-pci exports to a VF's variant driver.  Every command goes to the PF's
 * primary controller and names the VF's own secondary controller; there is
 * no way to address another controller or to send another command.
 */
#ifndef _LINUX_NVME_LM_H
#define _LINUX_NVME_LM_H

#include <linux/nvme-tp4159.h>
#include <linux/types.h>

struct pci_dev;
struct nvme_lm_vf;

struct nvme_lm_vf *nvme_lm_vf_get(struct pci_dev *vf);
void nvme_lm_vf_put(struct nvme_lm_vf *lm);
u16 nvme_lm_vf_cntlid(struct nvme_lm_vf *lm);
int nvme_lm_vf_resources(struct nvme_lm_vf *lm, u16 *nvq, u16 *nvi);
size_t nvme_lm_max_transfer(struct nvme_lm_vf *lm);
int nvme_lm_state_formats(struct nvme_lm_vf *lm, struct nvme_lm_ctrl_state_fmts *fmts);
int nvme_lm_suspend(struct nvme_lm_vf *lm);
int nvme_lm_resume(struct nvme_lm_vf *lm);
int nvme_lm_get_state(struct nvme_lm_vf *lm, u8 csvi, u8 csuuidi, u64 offset,
		      void *buf, size_t len, bool *suspended);
int nvme_lm_set_state(struct nvme_lm_vf *lm, u8 seqind, u8 csvi, u8 csuuidi,
		      u64 offset, const void *buf, size_t len);

/**
 * struct nvme_lm_mem_track_caps - host memory change tracking of the PF
 * @min_gran_bits: smallest granularity, log2 of bytes
 * @max_gran_bits: largest granularity, log2 of bytes
 * @max_ranges: most ranges one Track Memory Changes command takes
 */
struct nvme_lm_mem_track_caps {
	u8 min_gran_bits;
	u8 max_gran_bits;
	u16 max_ranges;
};

int nvme_lm_mem_track_caps(struct nvme_lm_vf *lm, struct nvme_lm_mem_track_caps *caps);
int nvme_lm_track_memory(struct nvme_lm_vf *lm, bool start, u8 gran_bits,
			 const struct nvme_lm_mem_range *ranges, u16 nr);
int nvme_lm_track_recv(struct nvme_lm_vf *lm, u64 start, bool clear,
		       void *bitmap, size_t len, u32 *count);

struct nvme_lm_log;
struct wait_queue_entry;

struct nvme_lm_log *nvme_lm_gate_get(struct nvme_lm_vf *lm);
void nvme_lm_gate_forget(struct nvme_lm_vf *lm);
int nvme_lm_gate_wait(struct nvme_lm_log *gate, bool nonblock);
bool nvme_lm_gate_ready(struct nvme_lm_log *gate);
void nvme_lm_gate_watch(struct nvme_lm_log *gate, struct wait_queue_entry *wait);
void nvme_lm_gate_unwatch(struct nvme_lm_log *gate, struct wait_queue_entry *wait);
void nvme_lm_gate_put(struct nvme_lm_log *gate);

#endif /* _LINUX_NVME_LM_H */
