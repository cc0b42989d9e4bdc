// SPDX-License-Identifier: GPL-2.0
/*
 * An online VF bound to a VFIO driver is usable through the VFIO uAPI:
 * config space and the NVMe controller registers in BAR0 can be read.
 * Runs once with plain vfio-pci and once with nvme-vfio-pci.  And libvirt,
 * reading the installed modules.alias, picks nvme-vfio-pci for every NVMe
 * function and vfio-pci for anything else.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
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
	int ret;

	self->dev.fd = -1;
	ret = nvme_pf_online_vf(variant->pf, 1, &self->pf, self->bdf);
	if (ret == -ENODEV)
		SKIP(return, "no NVMe function with SR-IOV");
	if (ret == -ENOLINK)
		SKIP(return, "VF 1 of %s is not online, run vfio-nvme-setup", self->pf.bdf);
	ASSERT_EQ(0, ret);
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

/*
 * The fields of a PCI modalias ("pci:v...d...sv...sd...bc..sc..i..") or of
 * a "vfio_pci:" alias, split at their lowercase keys: IDs are uppercase hex
 * or "*", so a key cannot occur inside a value.
 */
#define NFIELDS 7
static const char *const mod_keys[NFIELDS] = { "v", "d", "sv", "sd", "bc", "sc", "i" };

static int modalias_split(const char *s, char f[NFIELDS][16])
{
	for (int k = 0; k < NFIELDS; k++) {
		size_t klen = strlen(mod_keys[k]), len;
		const char *next;

		if (strncmp(s, mod_keys[k], klen))
			return -EINVAL;
		s += klen;
		next = k + 1 < NFIELDS ? strstr(s, mod_keys[k + 1]) : s + strlen(s);
		if (!next)
			return -EINVAL;
		len = next - s;
		if (len >= sizeof(f[k]))
			return -EINVAL;
		memcpy(f[k], s, len);
		f[k][len] = 0;
		s = next;
	}
	return 0;
}

/*
 * The VFIO variant driver libvirt (10.0 and later) binds for a managed
 * <hostdev> without <driver model>: virPCIDeviceFindBestVFIOVariant() reads
 * the "alias vfio_pci:..." lines of modules.alias, takes those whose every
 * field is "*" or equals the device's field as a whole string, and prefers
 * the one with the fewest "*" fields.  Returns the module, "" for none.
 */
static int libvirt_vfio_variant(const char *modalias, char *module, size_t len)
{
	char dev[NFIELDS][16], al[NFIELDS][16], path[128], line[512], mod[64];
	int best = NFIELDS + 1;
	struct utsname u;
	FILE *f;

	if (strncmp(modalias, "pci:", 4) || modalias_split(modalias + 4, dev))
		return -EINVAL;
	uname(&u);
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.alias", u.release);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	*module = 0;
	while (fgets(line, sizeof(line), f)) {
		char alias[256];
		int wild = 0, k;

		if (sscanf(line, "alias vfio_pci:%255s %63s", alias, mod) != 2 ||
		    modalias_split(alias, al))
			continue;
		for (k = 0; k < NFIELDS; k++) {
			if (!strcmp(al[k], "*"))
				wild++;
			else if (strcmp(al[k], dev[k]))
				break;
		}
		if (k == NFIELDS && wild < best) {
			best = wild;
			snprintf(module, len, "%s", mod);
		}
	}
	fclose(f);
	return 0;
}

/* every NVMe function (PFs with and without TP4159, VFs) gets this driver */
TEST(libvirt_picks_nvme_vfio_pci_for_nvme_functions)
{
	char modalias[128], class[16], module[64];
	int nvme = 0, other = 0;
	struct dirent *de;
	DIR *d;

	d = opendir("/sys/bus/pci/devices");
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    sysfs_read_dev(de->d_name, "class", class, sizeof(class)) ||
		    sysfs_read_dev(de->d_name, "modalias", modalias, sizeof(modalias)))
			continue;
		ASSERT_EQ(0, libvirt_vfio_variant(modalias, module, sizeof(module)));
		TH_LOG("%s %s: %s", de->d_name, modalias, module);
		if (!strncmp(class, "0x010802", 8)) {
			EXPECT_STREQ("nvme_vfio_pci", module);
			nvme++;
		} else {
			EXPECT_STREQ("vfio_pci", module);
			other++;
		}
	}
	closedir(d);
	/* the rig: three PFs, one of them without TP4159, and other devices */
	EXPECT_LE(3, nvme);
	EXPECT_LE(1, other);
}

TEST_HARNESS_MAIN
