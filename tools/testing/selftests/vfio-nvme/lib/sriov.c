// SPDX-License-Identifier: GPL-2.0
/* NVMe SR-IOV physical functions and their secondary controllers, through libnvme */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfio_nvme.h"

#define PCI_CLASS_NVME "0x010802"

static int bdf_cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/* NVMe functions that can enable SR-IOV, in BDF order */
static int nvme_pf_bdf(int index, char *bdf)
{
	struct dirent **ents;
	char cls[32], *pfs[64];
	int n, npf = 0, ret = -ENODEV;

	n = scandir("/sys/bus/pci/devices", &ents, NULL, alphasort);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		const char *d = ents[i]->d_name;

		if (d[0] != '.' && npf < 64 &&
		    !sysfs_read_dev(d, "class", cls, sizeof(cls)) &&
		    !strcmp(cls, PCI_CLASS_NVME) &&
		    sysfs_read_dev_long(d, "sriov_totalvfs") > 0)
			pfs[npf++] = ents[i]->d_name;
	}
	qsort(pfs, npf, sizeof(pfs[0]), bdf_cmp);
	if (index < npf) {
		snprintf(bdf, BDF_LEN, "%s", pfs[index]);
		ret = 0;
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return ret;
}

static int nvme_pf_find_ctrl(struct nvme_pf *pf)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/nvme", pf->bdf);
	d = opendir(path);
	if (!d)
		return -errno;
	pf->ctrl[0] = '\0';
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "nvme", 4))
			snprintf(pf->ctrl, sizeof(pf->ctrl), "/dev/%.16s", e->d_name);
	closedir(d);
	return pf->ctrl[0] ? 0 : -ENODEV;
}

static int nvme_pf_reopen(struct nvme_pf *pf)
{
	struct nvme_id_ctrl id;
	int ret;

	if (pf->fd >= 0)
		close(pf->fd);
	pf->fd = -1;
	ret = nvme_pf_find_ctrl(pf);
	if (ret)
		return ret;
	if (!wait_for_path(pf->ctrl, 5000))
		return -ENOENT;
	pf->fd = open(pf->ctrl, O_RDWR);
	if (pf->fd < 0)
		return -errno;
	ret = nvme_identify_ctrl(pf->fd, &id);
	if (ret)
		return ret < 0 ? -errno : -EIO;
	pf->cntlid = le16toh(id.cntlid);
	return 0;
}

int nvme_pf_open(int index, struct nvme_pf *pf)
{
	int ret;

	memset(pf, 0, sizeof(*pf));
	pf->fd = -1;
	ret = nvme_pf_bdf(index, pf->bdf);
	if (ret)
		return ret;
	return nvme_pf_reopen(pf);
}

void nvme_pf_close(struct nvme_pf *pf)
{
	if (pf->fd >= 0)
		close(pf->fd);
	pf->fd = -1;
}

int nvme_pf_num_vfs(struct nvme_pf *pf)
{
	return sysfs_read_dev_long(pf->bdf, "sriov_numvfs");
}

int nvme_pf_set_num_vfs(struct nvme_pf *pf, int num)
{
	char val[16];
	int ret;

	if (nvme_pf_num_vfs(pf) == num)
		return 0;
	if (num) {
		/* VFs appear unbound; tests and the rig bind them explicitly */
		ret = sysfs_write_dev(pf->bdf, "sriov_drivers_autoprobe", "0");
		if (ret)
			return ret;
		ret = sysfs_write_dev(pf->bdf, "sriov_numvfs", "0");
		if (ret)
			return ret;
	}
	snprintf(val, sizeof(val), "%d", num);
	return sysfs_write_dev(pf->bdf, "sriov_numvfs", val);
}

int nvme_pf_vf_bdf(struct nvme_pf *pf, int vfn, char *bdf)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/virtfn%d", pf->bdf, vfn - 1);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	snprintf(bdf, BDF_LEN, "%s", basename(link));
	return 0;
}

int nvme_pf_sec_list(struct nvme_pf *pf, struct nvme_secondary_ctrl_list *list)
{
	int ret = nvme_identify_secondary_ctrl_list(pf->fd, 0, 0, list);

	return ret < 0 ? -errno : ret;
}

int nvme_pf_sec_ctrl(struct nvme_pf *pf, int vfn, struct nvme_secondary_ctrl *sc)
{
	struct nvme_secondary_ctrl_list list;
	int ret;

	ret = nvme_pf_sec_list(pf, &list);
	if (ret)
		return ret < 0 ? ret : -EIO;
	for (int i = 0; i < list.num && i < 127; i++) {
		if (le16toh(list.sc_entry[i].vfn) == vfn) {
			*sc = list.sc_entry[i];
			return 0;
		}
	}
	return -ENOENT;
}

int nvme_pf_online_vf(int index, int vfn, struct nvme_pf *pf, char *bdf)
{
	struct nvme_secondary_ctrl sc;
	int ret = nvme_pf_open(index, pf);

	if (ret)
		return ret;
	if (nvme_pf_sec_ctrl(pf, vfn, &sc) || !(sc.scs & 1))
		return -ENOLINK;
	return nvme_pf_vf_bdf(pf, vfn, bdf);
}

int nvme_pf_virt_mgmt(struct nvme_pf *pf, enum nvme_virt_mgmt_act act,
		      enum nvme_virt_mgmt_rt rt, uint16_t cntlid, uint16_t nr)
{
	__u32 result;
	struct nvme_virtual_mgmt_args args = {
		.result = &result,
		.args_size = sizeof(args),
		.fd = pf->fd,
		.act = act,
		.rt = rt,
		.cntlid = cntlid,
		.nr = nr,
	};
	int ret = nvme_virtual_mgmt(&args);

	return ret < 0 ? -errno : ret;
}

int nvme_pf_release_flexible(struct nvme_pf *pf)
{
	struct nvme_primary_ctrl_cap caps;
	char state[32];
	int ret;

	if (nvme_pf_num_vfs(pf) > 0)
		return -EBUSY;
	ret = nvme_identify_primary_ctrl(pf->fd, pf->cntlid, &caps);
	if (ret)
		return ret < 0 ? -errno : -EIO;
	if (!le16toh(caps.vqrfap) && !le16toh(caps.virfap))
		return 0;
	ret = nvme_pf_virt_mgmt(pf, NVME_VIRT_MGMT_ACT_PRIM_CTRL_FLEX_ALLOC,
				NVME_VIRT_MGMT_RT_VI_RESOURCE, pf->cntlid, 0);
	if (!ret)
		ret = nvme_pf_virt_mgmt(pf, NVME_VIRT_MGMT_ACT_PRIM_CTRL_FLEX_ALLOC,
					NVME_VIRT_MGMT_RT_VQ_RESOURCE, pf->cntlid, 0);
	if (ret)
		return ret;
	/* the new allocation takes effect at the next controller reset */
	ret = sysfs_write_dev(pf->bdf, "reset", "1");
	if (ret)
		return ret;
	ret = nvme_pf_reopen(pf);
	if (ret)
		return ret;
	for (int i = 0; i < 500; i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "/sys/class/nvme/%s/state", basename(pf->ctrl));
		if (!sysfs_read(path, state, sizeof(state)) && !strcmp(state, "live"))
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

int nvme_pf_vf_online(struct nvme_pf *pf, int vfn, uint16_t nvq, uint16_t nvi)
{
	struct nvme_secondary_ctrl sc;
	uint16_t scid;
	int ret;

	ret = nvme_pf_sec_ctrl(pf, vfn, &sc);
	if (ret)
		return ret;
	scid = le16toh(sc.scid);
	if (sc.scs & 1) {
		if (le16toh(sc.nvq) == nvq && le16toh(sc.nvi) == nvi)
			return 0;
		ret = nvme_pf_virt_mgmt(pf, NVME_VIRT_MGMT_ACT_OFFLINE_SEC_CTRL,
					NVME_VIRT_MGMT_RT_VQ_RESOURCE, scid, 0);
		if (ret)
			return ret;
	}
	ret = nvme_pf_virt_mgmt(pf, NVME_VIRT_MGMT_ACT_ASSIGN_SEC_CTRL,
				NVME_VIRT_MGMT_RT_VI_RESOURCE, scid, nvi);
	if (!ret)
		ret = nvme_pf_virt_mgmt(pf, NVME_VIRT_MGMT_ACT_ASSIGN_SEC_CTRL,
					NVME_VIRT_MGMT_RT_VQ_RESOURCE, scid, nvq);
	if (!ret)
		ret = nvme_pf_virt_mgmt(pf, NVME_VIRT_MGMT_ACT_ONLINE_SEC_CTRL,
					NVME_VIRT_MGMT_RT_VQ_RESOURCE, scid, 0);
	return ret;
}

int nvme_pf_vf_offline(struct nvme_pf *pf, int vfn)
{
	struct nvme_secondary_ctrl sc;
	int ret;

	ret = nvme_pf_sec_ctrl(pf, vfn, &sc);
	if (ret)
		return ret;
	return nvme_pf_virt_mgmt(pf, NVME_VIRT_MGMT_ACT_OFFLINE_SEC_CTRL,
				 NVME_VIRT_MGMT_RT_VQ_RESOURCE, le16toh(sc.scid), 0);
}

int nvme_pf_ns_attach(struct nvme_pf *pf, uint32_t nsid, uint16_t cntlid, bool attach)
{
	struct nvme_ctrl_list list = {
		.num = htole16(1),
		.identifier[0] = htole16(cntlid),
	};
	int ret = attach ? nvme_ns_attach_ctrls(pf->fd, nsid, &list)
			 : nvme_ns_detach_ctrls(pf->fd, nsid, &list);

	return ret < 0 ? -errno : ret;
}

int nvme_pf_ns_ctrls(struct nvme_pf *pf, uint32_t nsid, struct nvme_ctrl_list *list)
{
	int ret = nvme_identify_nsid_ctrl_list(pf->fd, nsid, 0, list);

	return ret < 0 ? -errno : ret;
}
