/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NVMe live migration of SR-IOV VFs, PF side: what pci-lm.c (the commands
 * for one VF) and pci-lm-log.c (the host administrator's LBA change log and
 * the migration gate) share inside nvme-pci.
 */
#ifndef _NVME_PCI_LM_H
#define _NVME_PCI_LM_H

#include <linux/nvme-lm.h>

struct nvme_ctrl;
struct nvme_lm_udmq;

/* a User Data Migration Queue holds at most entries - 1 unread entries */
#define NVME_LM_UDMQ_MIN_ENTRIES	2
#define NVME_LM_UDMQ_MAX_ENTRIES	65536

struct nvme_lm_udmq *nvme_lm_udmq_create(struct nvme_lm_vf *lm, u32 nr_entries);
int nvme_lm_udmq_delete(struct nvme_lm_udmq *q);
int nvme_lm_udmq_log(struct nvme_lm_udmq *q, bool start);
int nvme_lm_udmq_read(struct nvme_lm_udmq *q, struct nvme_lm_udmq_entry *entries,
		      unsigned int max, unsigned int *nread);
int nvme_lm_udmq_arm(struct nvme_lm_udmq *q);
bool nvme_lm_udmq_posted(struct nvme_lm_udmq *q);
unsigned int nvme_lm_udmq_pending(struct nvme_lm_udmq *q);
bool nvme_lm_udmq_gone(struct nvme_lm_udmq *q);
u16 nvme_lm_udmq_id(struct nvme_lm_udmq *q);

struct nvme_ctrl *nvme_lm_vf_ctrl(struct nvme_lm_vf *lm);

/* pci-lm-log.c, for pci-lm.c */
void nvme_lm_log_suspended(struct nvme_lm_vf *lm);
void nvme_lm_log_resumed(struct nvme_lm_vf *lm);

#endif /* _NVME_PCI_LM_H */
