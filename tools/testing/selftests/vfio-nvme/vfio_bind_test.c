// SPDX-License-Identifier: GPL-2.0
/*
 * An online VF bound to a VFIO driver is usable through the VFIO uAPI:
 * config space and the NVMe controller registers in BAR0 can be read.
 * Runs once with plain vfio-pci and once with nvme-vfio-pci.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vfio_nvme.h"
#include "vfio_mig.h"
#include "../kselftest_harness.h"

#define NVME_REG_CAP	0x00
#define NVME_REG_VS	0x08

FIXTURE(vf) {
	struct nvme_pf pf;
	struct vfio_dev dev;
	char bdf[BDF_LEN];
};

FIXTURE_VARIANT(vf) {
	const char *driver;
	int pf;
	bool migration;
};

FIXTURE_VARIANT_ADD(vf, vfio_pci) {
	.driver = "vfio-pci",
};

/* the rig's PFs 0 and 1 support host managed live migration */
FIXTURE_VARIANT_ADD(vf, nvme_vfio_pci) {
	.driver = "nvme_vfio_pci",
	.migration = true,
};

/* PF 2 does not: the VF is passed through with no migration */
FIXTURE_VARIANT_ADD(vf, nvme_vfio_pci_no_lm) {
	.driver = "nvme_vfio_pci",
	.pf = 2,
};

FIXTURE_SETUP(vf)
{
	struct nvme_secondary_ctrl sc;
	int ret;

	self->dev.fd = -1;
	ret = nvme_pf_open(variant->pf, &self->pf);
	if (ret == -ENODEV)
		SKIP(return, "no NVMe function with SR-IOV");
	ASSERT_EQ(0, ret);
	if (nvme_pf_sec_ctrl(&self->pf, 1, &sc) || !(sc.scs & 1))
		SKIP(return, "VF 1 of %s is not online, run vfio-nvme-setup", self->pf.bdf);
	ASSERT_EQ(0, nvme_pf_vf_bdf(&self->pf, 1, self->bdf));
	ASSERT_EQ(0, pci_bind(self->bdf, variant->driver));
	ASSERT_EQ(0, vfio_dev_open(self->bdf, &self->dev));
}

FIXTURE_TEARDOWN(vf)
{
	vfio_dev_close(&self->dev);
	pci_unbind(self->bdf);
	nvme_pf_close(&self->pf);
}

TEST_F(vf, config_space_is_the_vf)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	uint16_t vendor, device;
	uint8_t class[3];

	ASSERT_EQ(0, ioctl(self->dev.fd, VFIO_DEVICE_GET_INFO, &info));
	EXPECT_TRUE(info.flags & VFIO_DEVICE_FLAGS_PCI);
	EXPECT_TRUE(info.flags & VFIO_DEVICE_FLAGS_RESET);
	EXPECT_GT(info.num_regions, VFIO_PCI_BAR0_REGION_INDEX);

	/* VFs read 0xffff in the vendor/device fields; vfio-pci virtualizes them */
	ASSERT_EQ(0, vfio_region_read(&self->dev, VFIO_PCI_CONFIG_REGION_INDEX,
				      PCI_VENDOR_ID, &vendor, 2));
	ASSERT_EQ(0, vfio_region_read(&self->dev, VFIO_PCI_CONFIG_REGION_INDEX,
				      PCI_DEVICE_ID, &device, 2));
	ASSERT_EQ(0, vfio_region_read(&self->dev, VFIO_PCI_CONFIG_REGION_INDEX,
				      PCI_CLASS_PROG, class, 3));
	EXPECT_EQ(sysfs_read_dev_long(self->bdf, "vendor"), vendor);
	EXPECT_EQ(sysfs_read_dev_long(self->bdf, "device"), device);
	EXPECT_EQ(0x010802, class[2] << 16 | class[1] << 8 | class[0]);
}

TEST_F(vf, bar0_cap_and_vs)
{
	uint16_t cmd;
	uint64_t cap;
	uint32_t vs;

	ASSERT_EQ(0, vfio_region_read(&self->dev, VFIO_PCI_CONFIG_REGION_INDEX,
				      PCI_COMMAND, &cmd, 2));
	cmd |= PCI_COMMAND_MEMORY;
	ASSERT_EQ(0, vfio_region_write(&self->dev, VFIO_PCI_CONFIG_REGION_INDEX,
				       PCI_COMMAND, &cmd, 2));
	ASSERT_EQ(0, vfio_region_read(&self->dev, VFIO_PCI_BAR0_REGION_INDEX,
				      NVME_REG_CAP, &cap, 8));
	ASSERT_EQ(0, vfio_region_read(&self->dev, VFIO_PCI_BAR0_REGION_INDEX,
				      NVME_REG_VS, &vs, 4));
	TH_LOG("%s: CAP=0x%016llx VS=0x%08x", self->bdf, (unsigned long long)cap, vs);
	EXPECT_GE(vs >> 16, 1);			/* NVMe 1.x or later */
	EXPECT_GT(cap & 0xffff, 0);		/* MQES: more than one entry */
	EXPECT_TRUE(cap & (1ULL << 37));	/* CSS: NVM command set */
	EXPECT_NE(~0ULL, cap);
}

/* nvme-vfio-pci offers migration with STOP_COPY, P2P and PRE_COPY; vfio-pci none */
TEST_F(vf, migration_feature)
{
	long long flags = vfio_mig_flags(&self->dev);

	if (!variant->migration) {
		EXPECT_EQ(-ENOTTY, flags);
		return;
	}
	EXPECT_EQ(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY,
		  flags);
}

TEST_HARNESS_MAIN
