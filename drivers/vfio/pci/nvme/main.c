// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO PCI variant driver for NVMe SR-IOV virtual functions.
 *
 * The driver binds the virtual functions of NVMe devices (each one a
 * secondary controller of the physical function's primary controller).
 * Everything a guest sees is handled by vfio-pci-core.
 */

#include <linux/module.h>
#include <linux/pci.h>
#include <linux/vfio_pci_core.h>

struct nvmevf_pci_core_device {
	struct vfio_pci_core_device core_device;
};

static int nvmevf_pci_open_device(struct vfio_device *core_vdev)
{
	struct vfio_pci_core_device *vdev =
		container_of(core_vdev, struct vfio_pci_core_device, vdev);
	int ret;

	ret = vfio_pci_core_enable(vdev);
	if (ret)
		return ret;

	vfio_pci_core_finish_enable(vdev);
	return 0;
}

static const struct vfio_device_ops nvmevf_pci_ops = {
	.name = "nvme-vfio-pci",
	.init = vfio_pci_core_init_dev,
	.release = vfio_pci_core_release_dev,
	.open_device = nvmevf_pci_open_device,
	.close_device = vfio_pci_core_close_device,
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

static int nvmevf_pci_probe(struct pci_dev *pdev,
			    const struct pci_device_id *id)
{
	struct nvmevf_pci_core_device *nvmevf_dev;
	int ret;

	/*
	 * driver_override lets userspace bind any device; only NVMe virtual
	 * functions are secondary controllers this driver knows how to handle.
	 */
	if (!pci_match_id(nvmevf_pci_table, pdev)) {
		pci_info(pdev, "not an NVMe device, use vfio-pci\n");
		return -ENODEV;
	}
	if (!pdev->is_virtfn) {
		pci_info(pdev, "not an SR-IOV virtual function, use vfio-pci\n");
		return -ENODEV;
	}

	nvmevf_dev = vfio_alloc_device(nvmevf_pci_core_device,
				       core_device.vdev, &pdev->dev,
				       &nvmevf_pci_ops);
	if (IS_ERR(nvmevf_dev))
		return PTR_ERR(nvmevf_dev);

	dev_set_drvdata(&pdev->dev, &nvmevf_dev->core_device);
	ret = vfio_pci_core_register_device(&nvmevf_dev->core_device);
	if (ret)
		vfio_put_device(&nvmevf_dev->core_device.vdev);
	return ret;
}

static void nvmevf_pci_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *core_device = dev_get_drvdata(&pdev->dev);

	vfio_pci_core_unregister_device(core_device);
	vfio_put_device(&core_device->vdev);
}

/*
 * TP4159 is a standard NVMe interface, so the driver matches on the NVMe
 * class code rather than on vendor IDs and probes each PF for live migration
 * support.  override_only keeps it from binding unless userspace (libvirt,
 * driverctl) selects it through driver_override.
 */
static const struct pci_device_id nvmevf_pci_table[] = {
	{
		PCI_DEVICE_CLASS(PCI_CLASS_STORAGE_EXPRESS, 0xffffff),
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
	.err_handler = &vfio_pci_core_err_handlers,
	.driver_managed_dma = true,
};
module_pci_driver(nvmevf_pci_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("VFIO PCI variant driver for NVMe SR-IOV virtual functions");
