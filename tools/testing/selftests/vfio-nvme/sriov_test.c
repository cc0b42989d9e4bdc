// SPDX-License-Identifier: GPL-2.0
/*
 * The PF's Secondary Controller List against the VFs that are enabled, and
 * what happens to a VF whose secondary controller has no resources.
 *
 * Expects the PF prepared by "vfio-nvme-setup sriov PF N M" with N > M >= 1:
 * VFs 1..M online, the others offline with no resources.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfio_nvme.h"
#include "../kselftest_harness.h"

FIXTURE(pf) {
	struct nvme_pf pf;
	struct nvme_secondary_ctrl_list list;
	int numvfs;
};

FIXTURE_SETUP(pf)
{
	const char *idx = getenv("VFIO_NVME_PF");
	int ret;

	ret = nvme_pf_open(idx ? atoi(idx) : 0, &self->pf);
	if (ret == -ENODEV)
		SKIP(return, "no NVMe function with SR-IOV");
	ASSERT_EQ(0, ret);
	self->numvfs = nvme_pf_num_vfs(&self->pf);
	if (self->numvfs < 2)
		SKIP(return, "PF %s has %d VFs, run vfio-nvme-setup", self->pf.bdf, self->numvfs);
	ASSERT_EQ(0, nvme_pf_sec_list(&self->pf, &self->list));
}

FIXTURE_TEARDOWN(pf)
{
	nvme_pf_close(&self->pf);
}

static struct nvme_secondary_ctrl *by_vfn(struct nvme_secondary_ctrl_list *l, int vfn)
{
	for (int i = 0; i < l->num && i < 127; i++)
		if (le16toh(l->sc_entry[i].vfn) == vfn)
			return &l->sc_entry[i];
	return NULL;
}

/* one entry per possible VF, each naming this PF's controller, no duplicates */
TEST_F(pf, list_covers_every_vf)
{
	long total = sysfs_read_dev_long(self->pf.bdf, "sriov_totalvfs");

	ASSERT_EQ(total, self->list.num);
	for (int i = 0; i < self->list.num; i++) {
		struct nvme_secondary_ctrl *e = &self->list.sc_entry[i];

		EXPECT_EQ(self->pf.cntlid, le16toh(e->pcid));
		EXPECT_NE(self->pf.cntlid, le16toh(e->scid));
		EXPECT_GE(le16toh(e->vfn), 1);
		EXPECT_LE(le16toh(e->vfn), total);
		for (int j = 0; j < i; j++) {
			EXPECT_NE(le16toh(e->scid), le16toh(self->list.sc_entry[j].scid));
			EXPECT_NE(le16toh(e->vfn), le16toh(self->list.sc_entry[j].vfn));
		}
	}
}

/*
 * Every enabled VF has a virtfn link, and an online VF driven by the nvme
 * driver reports the CNTLID the list gives for its VFN.
 */
TEST_F(pf, online_vf_cntlid_matches_list)
{
	char bdf[BDF_LEN], path[PATH_MAX], buf[32];
	struct nvme_secondary_ctrl *e;
	int checked = 0;

	for (int vfn = 1; vfn <= self->numvfs; vfn++) {
		ASSERT_EQ(0, nvme_pf_vf_bdf(&self->pf, vfn, bdf));
		e = by_vfn(&self->list, vfn);
		ASSERT_NE(NULL, e);
		if (!(e->scs & 1))
			continue;
		EXPECT_GE(le16toh(e->nvq), 2);
		EXPECT_GE(le16toh(e->nvi), 1);

		ASSERT_EQ(0, pci_bind(bdf, "nvme"));
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/nvme", bdf);
		ASSERT_TRUE(wait_for_path(path, 5000));
		/* the controller directory name is not known in advance */
		snprintf(path, sizeof(path),
			 "sh -c 'cat /sys/bus/pci/devices/%s/nvme/nvme*/cntlid'", bdf);
		FILE *p = popen(path, "r");

		ASSERT_NE(NULL, p);
		ASSERT_NE(NULL, fgets(buf, sizeof(buf), p));
		pclose(p);
		EXPECT_EQ(le16toh(e->scid), atoi(buf));
		EXPECT_EQ(0, pci_unbind(bdf));
		checked++;
	}
	EXPECT_GE(checked, 1);
}

/* the last VF is left offline with no resources by the setup */
static struct nvme_secondary_ctrl *offline_vf(struct __test_metadata *_metadata,
					      FIXTURE_DATA(pf) *self, char *bdf)
{
	struct nvme_secondary_ctrl *e = by_vfn(&self->list, self->numvfs);

	if (!e || (e->scs & 1) || e->nvq || e->nvi)
		return NULL;
	if (nvme_pf_vf_bdf(&self->pf, self->numvfs, bdf))
		return NULL;
	return e;
}

TEST_F(pf, online_without_resources_fails)
{
	struct nvme_secondary_ctrl *e, after;
	char bdf[BDF_LEN];
	int status;

	e = offline_vf(_metadata, self, bdf);
	if (!e)
		SKIP(return, "no offline VF without resources");
	status = nvme_pf_virt_mgmt(&self->pf, NVME_VIRT_MGMT_ACT_ONLINE_SEC_CTRL,
				   NVME_VIRT_MGMT_RT_VQ_RESOURCE, le16toh(e->scid), 0);
	ASSERT_GT(status, 0);
	EXPECT_EQ(NVME_SCT_CMD_SPECIFIC, nvme_status_code_type(status));
	EXPECT_EQ(NVME_SC_INVALID_SEC_CTRL_STATE, nvme_status_code(status));
	ASSERT_EQ(0, nvme_pf_sec_ctrl(&self->pf, self->numvfs, &after));
	EXPECT_EQ(0, after.scs & 1);
}

/* the nvme driver gives up on a VF with no resources without hanging or crashing */
TEST_F(pf, bind_offline_vf_fails_cleanly)
{
	char bdf[BDF_LEN], path[PATH_MAX], drv[64];
	struct nvme_secondary_ctrl *e;
	int ret;

	e = offline_vf(_metadata, self, bdf);
	if (!e)
		SKIP(return, "no offline VF without resources");
	ret = pci_bind(bdf, "nvme");
	/* probe fails (not bound), or the controller never becomes usable */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/nvme", bdf);
	if (ret == 0) {
		EXPECT_FALSE(wait_for_path(path, 2000));
	} else {
		EXPECT_EQ(-ENODEV, ret);
	}
	EXPECT_EQ(0, pci_unbind(bdf));
	EXPECT_EQ(0, pci_driver_of(bdf, drv, sizeof(drv)));
	EXPECT_STREQ("", drv);
	/* the PF keeps working */
	EXPECT_EQ(0, nvme_pf_sec_list(&self->pf, &self->list));
}

#define KUNIT_RESULTS	"/sys/kernel/debug/kunit/nvme-lm/results"

/*
 * A VF past the first 127 secondary controllers is on a later page of the
 * list, which no rig drive has (QEMU allows 127 VFs): pci-lm.c's paging
 * is checked by its KUnit suite, where the kernel has KUnit.
 */
TEST(list_paging_kunit)
{
	char line[256];
	int ok = 0, failed = 0;
	FILE *f;

	if (access("/sys/kernel/debug/kunit", F_OK))
		SKIP(return, "the kernel has no KUnit");
	ASSERT_EQ(0, system("modprobe pci-lm-test"));
	f = fopen(KUNIT_RESULTS, "r");
	ASSERT_NE(NULL, f) TH_LOG("%s: %s", KUNIT_RESULTS, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		const char *t = line + strspn(line, " \t");

		if (!strncmp(t, "not ok ", 7))
			failed++;
		else if (!strncmp(t, "ok ", 3))
			ok++;
		printf("# %s", line);
	}
	fclose(f);
	EXPECT_EQ(0, failed);
	EXPECT_LE(5, ok);	/* 4 cases and the suite */
	EXPECT_EQ(0, system("rmmod pci-lm-test"));
}

TEST_HARNESS_MAIN
