// SPDX-License-Identifier: GPL-2.0-only
/*
 * nvme-vfio-pci: /sys/kernel/debug/nvme-vfio-pci/<VF>/ with the migration
 * state, the last failed step's errno and the secondary controller ID.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "nvmevf.h"

static struct dentry *nvmevf_debugfs_root;

static int nvmevf_debugfs_show(struct seq_file *s, void *unused)
{
	struct nvmevf_pci_core_device *nvmevf_dev = s->private;

	mutex_lock(&nvmevf_dev->state_mutex);
	seq_printf(s, "cntlid: %u\nstate: %u\nlast_errno: %d\n",
		   nvme_lm_vf_cntlid(nvmevf_dev->lm), nvmevf_dev->mig_state,
		   nvmevf_dev->last_errno);
	nvmevf_state_mutex_unlock(nvmevf_dev);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(nvmevf_debugfs);

/* the driver's directory lives as long as the module: created before any probe */
void nvmevf_debugfs_module_init(void)
{
	nvmevf_debugfs_root = debugfs_create_dir("nvme-vfio-pci", NULL);
}

void nvmevf_debugfs_module_exit(void)
{
	debugfs_remove_recursive(nvmevf_debugfs_root);
	nvmevf_debugfs_root = NULL;
}

void nvmevf_debugfs_init(struct nvmevf_pci_core_device *nvmevf_dev)
{
	nvmevf_dev->debugfs = debugfs_create_dir(pci_name(nvmevf_dev->core_device.pdev),
						 nvmevf_debugfs_root);
	debugfs_create_file("migration", 0400, nvmevf_dev->debugfs, nvmevf_dev,
			    &nvmevf_debugfs_fops);
}

void nvmevf_debugfs_exit(struct nvmevf_pci_core_device *nvmevf_dev)
{
	debugfs_remove_recursive(nvmevf_dev->debugfs);
	nvmevf_dev->debugfs = NULL;
}
