// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-nvme-setup: prepare NVMe SR-IOV functions for the vfio-nvme tests.
 *
 *   vfio-nvme-setup sriov PF NUMVFS NONLINE [NVQ NVI]
 *	give the primary controller's flexible resources back to the pool,
 *	enable NUMVFS VFs and bring the secondary controllers of VFs
 *	1..NONLINE online with NVQ queue and NVI interrupt resources
 *	(default 2 and 1); the other VFs stay offline with no resources
 *   vfio-nvme-setup bind BDF DRIVER
 *   vfio-nvme-setup list PF
 *
 * PF is the index of the NVMe function with SR-IOV, in BDF order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfio_nvme.h"

static int fail(const char *what, int ret)
{
	if (ret < 0)
		fprintf(stderr, "vfio-nvme-setup: %s: %s\n", what, strerror(-ret));
	else
		fprintf(stderr, "vfio-nvme-setup: %s: NVMe status 0x%x\n", what, ret);
	return 1;
}

static int list(struct nvme_pf *pf)
{
	struct nvme_secondary_ctrl_list sl;
	int ret;

	ret = nvme_pf_sec_list(pf, &sl);
	if (ret)
		return fail("secondary controller list", ret);
	printf("PF %s %s cntlid=%u numvfs=%d secondary controllers=%u\n",
	       pf->bdf, pf->ctrl, pf->cntlid, nvme_pf_num_vfs(pf), sl.num);
	for (int i = 0; i < sl.num && i < 127; i++) {
		struct nvme_secondary_ctrl *e = &sl.sc_entry[i];
		int vfn = le16toh(e->vfn);
		char bdf[BDF_LEN] = "-", drv[64] = "";

		if (!nvme_pf_vf_bdf(pf, vfn, bdf))
			pci_driver_of(bdf, drv, sizeof(drv));
		printf("  VF %d %s scid=%u %s nvq=%u nvi=%u driver=%s\n", vfn, bdf,
		       le16toh(e->scid), e->scs & 1 ? "online" : "offline",
		       le16toh(e->nvq), le16toh(e->nvi), drv[0] ? drv : "-");
	}
	return 0;
}

static int sriov(struct nvme_pf *pf, int numvfs, int nonline, int nvq, int nvi)
{
	char what[64];
	int ret;

	if (nvme_pf_num_vfs(pf) != numvfs) {
		ret = nvme_pf_set_num_vfs(pf, 0);
		if (ret)
			return fail("disable VFs", ret);
		ret = nvme_pf_release_flexible(pf);
		if (ret)
			return fail("release primary flexible resources", ret);
		ret = nvme_pf_set_num_vfs(pf, numvfs);
		if (ret)
			return fail("enable VFs", ret);
	}
	for (int vfn = 1; vfn <= numvfs; vfn++) {
		snprintf(what, sizeof(what), "VF %d online", vfn);
		ret = vfn <= nonline ? nvme_pf_vf_online(pf, vfn, nvq, nvi) :
				       nvme_pf_vf_offline(pf, vfn);
		if (ret)
			return fail(what, ret);
	}
	return list(pf);
}

int main(int argc, char **argv)
{
	struct nvme_pf pf;
	int ret;

	if (argc == 4 && !strcmp(argv[1], "bind")) {
		ret = pci_bind(argv[2], argv[3]);
		if (ret)
			return fail("bind", ret);
		return 0;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: see the top of vfio-nvme-setup.c\n");
		return 2;
	}
	ret = nvme_pf_open(atoi(argv[2]), &pf);
	if (ret)
		return fail("open PF", ret);
	if (!strcmp(argv[1], "list"))
		ret = list(&pf);
	else if (!strcmp(argv[1], "sriov") && (argc == 5 || argc == 7))
		ret = sriov(&pf, atoi(argv[3]), atoi(argv[4]),
			    argc == 7 ? atoi(argv[5]) : 2, argc == 7 ? atoi(argv[6]) : 1);
	else
		ret = 2;
	nvme_pf_close(&pf);
	return ret;
}
