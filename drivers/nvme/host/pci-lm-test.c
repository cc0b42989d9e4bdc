// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the NVMe live migration PF helpers (pci-lm.c) that need
 * no device: paging through the Secondary Controller List, which on a PF
 * with more than 127 secondary controllers spans several Identify pages.
 */
#include <kunit/test.h>
#include <linux/module.h>
#include <linux/nvme-lm.h>
#include <linux/slab.h>

#include "nvme.h"

/* a page of the list for CNTID @from of a PF whose VF n has SCID @first + n - 1 */
static struct nvme_sec_ctrl_list *sec_list_page(struct kunit *test, u32 first,
						u32 nr_vfs, u32 from)
{
	struct nvme_sec_ctrl_list *list;
	u32 vfn;

	list = kunit_kzalloc(test, sizeof(*list), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, list);
	for (vfn = 1; vfn <= nr_vfs && list->num < ARRAY_SIZE(list->sc); vfn++) {
		struct nvme_sec_ctrl *sc = &list->sc[list->num];

		if (first + vfn - 1 < from)
			continue;
		sc->scid = cpu_to_le16(first + vfn - 1);
		sc->vfn = cpu_to_le16(vfn);
		list->num++;
	}
	return list;
}

/* walk the list as nvme_lm_sec_ctrl() does; the number of pages read, or an errno */
static int sec_list_walk(struct kunit *test, u32 first, u32 nr_vfs, u16 vfn,
			 struct nvme_sec_ctrl *sc)
{
	u32 from = 0;
	int pages = 0, ret;

	do {
		pages++;
		ret = nvme_lm_sec_ctrl_page(sec_list_page(test, first, nr_vfs, from),
					    vfn, &from, sc);
	} while (ret == 1 && pages < 1000);
	return ret ? ret : pages;
}

static void sec_list_first_page(struct kunit *test)
{
	struct nvme_sec_ctrl sc = {};

	KUNIT_EXPECT_EQ(test, 1, sec_list_walk(test, 2, 4, 3, &sc));
	KUNIT_EXPECT_EQ(test, 4, le16_to_cpu(sc.scid));
}

/* VF 128 of a PF with 200 VFs is on the second page, VF 255 of 255 on the third */
static void sec_list_later_pages(struct kunit *test)
{
	struct nvme_sec_ctrl sc = {};

	KUNIT_EXPECT_EQ(test, 2, sec_list_walk(test, 1, 200, 128, &sc));
	KUNIT_EXPECT_EQ(test, 128, le16_to_cpu(sc.scid));
	KUNIT_EXPECT_EQ(test, 128, le16_to_cpu(sc.vfn));
	KUNIT_EXPECT_EQ(test, 3, sec_list_walk(test, 1, 255, 255, &sc));
	KUNIT_EXPECT_EQ(test, 255, le16_to_cpu(sc.scid));
}

static void sec_list_not_found(struct kunit *test)
{
	struct nvme_sec_ctrl sc = {};

	KUNIT_EXPECT_EQ(test, -ENODEV, sec_list_walk(test, 1, 4, 5, &sc));
	/* exactly one full page, then an empty one */
	KUNIT_EXPECT_EQ(test, -ENODEV, sec_list_walk(test, 1, 127, 128, &sc));
}

/* a device whose full page does not move forward must not loop */
static void sec_list_stuck_device(struct kunit *test)
{
	struct nvme_sec_ctrl_list *list = sec_list_page(test, 1, 127, 0);
	struct nvme_sec_ctrl sc = {};
	u32 from = 200;

	KUNIT_EXPECT_EQ(test, -ENODEV, nvme_lm_sec_ctrl_page(list, 300, &from, &sc));
	list->sc[126].scid = cpu_to_le16(U16_MAX);
	from = 0;
	KUNIT_EXPECT_EQ(test, -ENODEV, nvme_lm_sec_ctrl_page(list, 300, &from, &sc));
}

static struct kunit_case nvme_lm_test_cases[] = {
	KUNIT_CASE(sec_list_first_page),
	KUNIT_CASE(sec_list_later_pages),
	KUNIT_CASE(sec_list_not_found),
	KUNIT_CASE(sec_list_stuck_device),
	{}
};

static struct kunit_suite nvme_lm_test_suite = {
	.name = "nvme-lm",
	.test_cases = nvme_lm_test_cases,
};

kunit_test_suite(nvme_lm_test_suite);

MODULE_DESCRIPTION("KUnit tests of the NVMe live migration PF helpers");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
