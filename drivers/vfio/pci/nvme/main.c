// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO PCI variant driver for NVMe SR-IOV virtual functions.
 *
 * The driver binds the virtual functions of NVMe devices (each one a
 * secondary controller of the physical function's primary controller).
 * Everything a guest sees is handled by vfio-pci-core.  When the PF's
 * controller supports host managed live migration (NVMe TP4159), the VF
 * can be migrated through the VFIO migration uAPI (lm.c); the commands go
 * to the PF through the typed helpers nvme-pci exports (pci-lm.c), the
 * controller state in pieces (state.c).
 */

#include <linux/module.h>
#include <linux/pci.h>
#include <linux/vfio_pci_core.h>

#include "nvmevf.h"

static int nvmevf_pci_open_device(struct vfio_device *core_vdev)
{
	struct nvmevf_pci_core_device *nvmevf_dev = nvmevf_from_vdev(core_vdev);
	struct vfio_pci_core_device *vdev = &nvmevf_dev->core_device;
	int ret;

	ret = vfio_pci_core_enable(vdev);
	if (ret)
		return ret;

	if (nvmevf_dev->lm) {
		mutex_lock(&nvmevf_dev->state_mutex);
		/* a close that could not resume the controller left ERROR */
		ret = nvmevf_mig_resume_locked(nvmevf_dev);
		if (!ret)
			nvmevf_dev->last_errno = 0;
		nvmevf_state_mutex_unlock(nvmevf_dev);
		if (ret) {
			vfio_pci_core_disable(vdev);
			return ret;
		}
	}
	vfio_pci_core_finish_enable(vdev);
	return 0;
}

static void nvmevf_pci_close_device(struct vfio_device *core_vdev)
{
	struct nvmevf_pci_core_device *nvmevf_dev = nvmevf_from_vdev(core_vdev);

	if (nvmevf_dev->lm) {
		mutex_lock(&nvmevf_dev->state_mutex);
		nvmevf_disable_fds(nvmevf_dev);
		nvmevf_dirty_stop_locked(nvmevf_dev);
		nvmevf_state_mutex_unlock(nvmevf_dev);
		/* the next VM on this VF has not asked for a local storage copy */
		nvme_lm_gate_forget(nvmevf_dev->lm);
	}
	vfio_pci_core_close_device(core_vdev);
	/*
	 * The core's function reset may not have happened; bus mastering is
	 * off now, so a controller resumed here cannot reach memory.  The VF
	 * is handed back running whatever the reset path did.
	 */
	if (nvmevf_dev->lm) {
		mutex_lock(&nvmevf_dev->state_mutex);
		nvmevf_mig_resume_locked(nvmevf_dev);
		nvmevf_state_mutex_unlock(nvmevf_dev);
	}
}

static const struct vfio_device_ops nvmevf_pci_ops = {
	.name = "nvme-vfio-pci",
	.init = vfio_pci_core_init_dev,
	.release = vfio_pci_core_release_dev,
	.open_device = nvmevf_pci_open_device,
	.close_device = nvmevf_pci_close_device,
	.ioctl = vfio_pci_core_ioctl,
	.device_feature = vfio_pci_core_ioctl_feature,
	.read = vfio_pci_core_read,
	.write = vfio_pci_core_write,
	.mmap = vfio_pci_core_mmap,
	.request = vfio_pci_core_request,
	.match = vfio_pci_core_match,
	.bind_iommufd = vfio_iommufd_physical_bind,
	.unbind_iommufd = vfio_iommufd_physical_unbind,
	.attach_ioas = vfio_iommufd_physical_attach_ioas,
	.detach_ioas = vfio_iommufd_physical_detach_ioas,
};

static const struct pci_device_id nvmevf_pci_table[];

/*
 * Attach the PF's live migration helpers, or pass the function through
 * without migration: a PF, an SSD without SR-IOV, a VF of a PF without
 * TP4159, or a VF the PF cannot tell about right now.  Only a failure to
 * allocate fails the probe.
 */
static int nvmevf_pci_init_migration(struct nvmevf_pci_core_device *nvmevf_dev)
{
	struct pci_dev *pdev = nvmevf_dev->core_device.pdev;
	struct nvme_lm_vf *lm;
	int ret;

	if (!pdev->is_virtfn) {
		pci_info(pdev, "not an SR-IOV virtual function: passthrough without migration\n");
		return 0;
	}
	lm = nvme_lm_vf_get(pdev);
	if (IS_ERR(lm)) {
		ret = PTR_ERR(lm);
		if (ret == -ENOMEM)
			return ret;
		if (ret == -EOPNOTSUPP || ret == -EINVAL)
			pci_info(pdev, "PF %s without host managed live migration: no migration\n",
				 pci_name(pci_physfn(pdev)));
		else
			pci_warn(pdev, "PF %s cannot migrate this VF (%d): no migration\n",
				 pci_name(pci_physfn(pdev)), ret);
		return 0;
	}
	nvmevf_dev->lm = lm;
	ret = nvmevf_mig_init(nvmevf_dev);
	if (ret) {
		pci_warn(pdev, "cannot set up live migration (%d): no migration\n", ret);
		nvme_lm_vf_put(lm);
		nvmevf_dev->lm = NULL;
		return ret == -ENOMEM ? ret : 0;
	}
	pci_info(pdev, "live migration through PF %s, secondary controller %u\n",
		 pci_name(pci_physfn(pdev)), nvme_lm_vf_cntlid(lm));
	nvmevf_dirty_init(nvmevf_dev);
	nvmevf_debugfs_init(nvmevf_dev);
	return 0;
}

static void nvmevf_pci_exit_migration(struct nvmevf_pci_core_device *nvmevf_dev)
{
	if (!nvmevf_dev->lm)
		return;
	nvmevf_debugfs_exit(nvmevf_dev);
	mutex_destroy(&nvmevf_dev->state_mutex);
	nvme_lm_vf_put(nvmevf_dev->lm);
	nvmevf_dev->lm = NULL;
}

static int nvmevf_pci_probe(struct pci_dev *pdev,
			    const struct pci_device_id *id)
{
	struct nvmevf_pci_core_device *nvmevf_dev;
	int ret;

	/*
	 * driver_override lets userspace bind any device; this driver takes
	 * NVMe functions, and migrates those that are VFs of a TP4159 PF.
	 */
	if (!pci_match_id(nvmevf_pci_table, pdev)) {
		pci_info(pdev, "not an NVMe device, use vfio-pci\n");
		return -ENODEV;
	}

	nvmevf_dev = vfio_alloc_device(nvmevf_pci_core_device,
				       core_device.vdev, &pdev->dev,
				       &nvmevf_pci_ops);
	if (IS_ERR(nvmevf_dev))
		return PTR_ERR(nvmevf_dev);

	dev_set_drvdata(&pdev->dev, &nvmevf_dev->core_device);
	ret = nvmevf_pci_init_migration(nvmevf_dev);
	if (ret)
		goto out_put;
	ret = vfio_pci_core_register_device(&nvmevf_dev->core_device);
	if (ret)
		goto out_exit;
	return 0;

out_exit:
	nvmevf_pci_exit_migration(nvmevf_dev);
out_put:
	vfio_put_device(&nvmevf_dev->core_device.vdev);
	return ret;
}

static void nvmevf_pci_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *core_device = dev_get_drvdata(&pdev->dev);
	struct nvmevf_pci_core_device *nvmevf_dev =
		nvmevf_from_vdev(&core_device->vdev);

	vfio_pci_core_unregister_device(core_device);
	nvmevf_pci_exit_migration(nvmevf_dev);
	vfio_put_device(&core_device->vdev);
}

static void nvmevf_pci_aer_reset_done(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *core_device = dev_get_drvdata(&pdev->dev);
	struct nvmevf_pci_core_device *nvmevf_dev =
		nvmevf_from_vdev(&core_device->vdev);

	if (nvmevf_dev->lm)
		nvmevf_mig_reset(nvmevf_dev);
}

static const struct pci_error_handlers nvmevf_err_handlers = {
	.reset_done = nvmevf_pci_aer_reset_done,
	.error_detected = vfio_pci_core_aer_err_detected,
};

/*
 * TP4159 is a standard NVMe interface, so the driver matches on the NVMe
 * class code rather than on vendor IDs and probes each PF for live migration
 * support.  override_only keeps it from binding unless userspace (libvirt,
 * driverctl) selects it through driver_override.
 *
 * The programming interface is masked out so that the alias reads
 * "vfio_pci:v*d*sv*sd*bc01sc08i*": libvirt (virPCIDeviceFindBestVFIOVariant)
 * compares each field of the alias as a whole string and counts only a
 * field that is exactly "*" as a wildcard, so the "i02*" of an exact class
 * match never matches and libvirt would bind plain vfio-pci.  With the mask
 * this alias has five wildcards and wins over vfio-pci's seven for every
 * NVMe function; probe passes through what it cannot migrate.
 */
static const struct pci_device_id nvmevf_pci_table[] = {
	{
		PCI_DEVICE_CLASS(PCI_CLASS_STORAGE_EXPRESS, 0xffff00),
		.override_only = PCI_ID_F_VFIO_DRIVER_OVERRIDE,
	},
	{}
};
MODULE_DEVICE_TABLE(pci, nvmevf_pci_table);

static struct pci_driver nvmevf_pci_driver = {
	.name = KBUILD_MODNAME,
	.id_table = nvmevf_pci_table,
	.probe = nvmevf_pci_probe,
	.remove = nvmevf_pci_remove,
	.err_handler = &nvmevf_err_handlers,
	.driver_managed_dma = true,
};

static int __init nvmevf_pci_init(void)
{
	int ret;

	nvmevf_debugfs_module_init();
	ret = pci_register_driver(&nvmevf_pci_driver);
	if (ret)
		nvmevf_debugfs_module_exit();
	return ret;
}
module_init(nvmevf_pci_init);

static void __exit nvmevf_pci_exit(void)
{
	pci_unregister_driver(&nvmevf_pci_driver);
	nvmevf_debugfs_module_exit();
}
module_exit(nvmevf_pci_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("VFIO PCI variant driver for NVMe SR-IOV virtual functions");
MODULE_IMPORT_NS(IOMMUFD);
