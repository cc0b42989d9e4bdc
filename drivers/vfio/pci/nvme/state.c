// SPDX-License-Identifier: GPL-2.0-only
/*
 * nvme-vfio-pci: the VF's controller state on the PF.  Its size from the
 * state header, saving and loading it in pieces with Get and Set
 * Controller State, and the state formats (Identify CNS 20h) the stream
 * header names.  Every function runs under the device's state_mutex, except
 * nvmevf_query_compat() at probe, before the device is registered.
 */
#include <linux/lockdep.h>
#include <linux/slab.h>
#include <linux/unaligned.h>

#include "nvmevf.h"

/* largest piece of controller state moved by one command */
#define NVMEVF_STATE_CHUNK	(64 * 1024)

/* ... and what the PF's admin queue can carry (MDTS) */
static size_t nvmevf_state_chunk(struct nvmevf_pci_core_device *nvmevf_dev)
{
	return min_t(size_t, NVMEVF_STATE_CHUNK, nvme_lm_max_transfer(nvmevf_dev->lm));
}

/**
 * nvmevf_state_bytes() - the length of a controller state from its header
 * @hdr: the state header, as the PF or the migration stream gave it
 * @len: the header and the dwords it announces, in bytes
 *
 * Return: false if the sizes do not fit in a migration stream.
 */
bool nvmevf_state_bytes(const struct nvme_lm_ctrl_state_hdr *hdr, size_t *len)
{
	u64 css = le64_to_cpu(hdr->nvmecss[0]), vss = le64_to_cpu(hdr->vss[0]);
	u64 dwords;

	if (hdr->nvmecss[1] || hdr->vss[1] || check_add_overflow(css, vss, &dwords) ||
	    dwords > (NVMEVF_MIG_MAX_LEN - sizeof(*hdr)) / 4)
		return false;
	*len = sizeof(*hdr) + 4 * dwords;
	return true;
}

/* nvmevf_state_bytes() of a header the PF gave, which says so if it is too large */
static int nvmevf_state_len(struct nvmevf_pci_core_device *nvmevf_dev,
			    const struct nvme_lm_ctrl_state_hdr *hdr, size_t *len)
{
	if (nvmevf_state_bytes(hdr, len))
		return 0;
	dev_err_ratelimited(nvmevf_dev_of(nvmevf_dev),
			    "controller state of %llu + %llu dwords is too large\n",
			    le64_to_cpu(hdr->nvmecss[0]), le64_to_cpu(hdr->vss[0]));
	return -EOVERFLOW;
}

/* the size of the suspended controller's state, from its header */
int nvmevf_state_size(struct nvmevf_pci_core_device *nvmevf_dev, size_t *len)
{
	struct nvme_lm_ctrl_state_hdr hdr;
	int ret;

	ret = nvmevf_lm(nvmevf_dev, "get state header", 0, sizeof(hdr),
			nvme_lm_get_state(nvmevf_dev->lm, nvmevf_dev->csvi,
					  nvmevf_dev->csuuidi, 0, &hdr, sizeof(hdr),
					  NULL));
	return ret ?: nvmevf_state_len(nvmevf_dev, &hdr, len);
}

/**
 * nvmevf_state_save() - read the suspended controller's state
 * @nvmevf_dev: the VF
 * @len: set to the state's length, its header included
 *
 * The first Get Controller State asks for as much as one command carries,
 * and the controller returns min(state size - offset, NUMD * 4) bytes
 * (QEMU's TP4159 model and ours; A.4 of the TP4159 reference): a state that
 * fits, as a few queues' state does, costs one command in the downtime
 * instead of a header read and then the state (the two-pass read of one
 * other implementation).  The header says how much more to read.  A
 * controller that refused the longer read would fail STOP_COPY cleanly.
 *
 * Return: the state in a kvmalloc()ed buffer, or an ERR_PTR().
 */
u8 *nvmevf_state_save(struct nvmevf_pci_core_device *nvmevf_dev, size_t *len)
{
	size_t chunk = nvmevf_state_chunk(nvmevf_dev), off, n;
	const struct nvme_lm_ctrl_state_hdr *hdr;
	bool csup = false, suspended = false;
	u8 *buf, *all;
	int ret;

	lockdep_assert_held(&nvmevf_dev->state_mutex);
	buf = kvzalloc(chunk, GFP_KERNEL_ACCOUNT);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	ret = nvmevf_lm(nvmevf_dev, "get state", 0, chunk,
			nvme_lm_get_state(nvmevf_dev->lm, nvmevf_dev->csvi,
					  nvmevf_dev->csuuidi, 0, buf, chunk, &suspended));
	if (ret)
		goto err;
	csup = suspended;
	ret = nvmevf_state_len(nvmevf_dev, (void *)buf, len);
	if (ret)
		goto err;
	if (*len > chunk) {
		all = kvrealloc(buf, *len, GFP_KERNEL_ACCOUNT);
		if (!all) {
			ret = -ENOMEM;
			goto err;
		}
		buf = all;
	}
	for (off = chunk; off < *len; off += n) {
		n = min_t(size_t, *len - off, chunk);
		ret = nvmevf_lm(nvmevf_dev, "get state", off, n,
				nvme_lm_get_state(nvmevf_dev->lm, nvmevf_dev->csvi,
						  nvmevf_dev->csuuidi, off, buf + off,
						  n, &suspended));
		if (ret)
			goto err;
		csup |= suspended;
	}
	/*
	 * A state is only valid from a suspended controller.  Sources
	 * disagree on where the controller says so: Linux's TP4159 proposal
	 * reads completion dword 0 (CSUP), another implementation sets only
	 * the state header's CSATTR bit.  Either is taken.
	 */
	hdr = (void *)buf;
	if (!csup && !(hdr->csattr & NVME_LM_CSATTR_SUSPENDED)) {
		dev_err_ratelimited(nvmevf_dev_of(nvmevf_dev),
				    "controller state read from a controller not suspended\n");
		ret = -EIO;
		goto err;
	}
	return buf;
err:
	kvfree(buf);
	return ERR_PTR(ret);
}

/**
 * nvmevf_fmt_index() - where a state format is in a Supported Controller State Formats list
 * @f: the list (Identify CNS 20h)
 * @ver: an NVMe-defined version ID, looked for if @uuid is NULL
 * @uuid: a vendor specific format's UUID
 *
 * Return: the 1-based index (CSVI or CSUUIDI), 0 if @f does not list it.
 */
u8 nvmevf_fmt_index(const struct nvme_lm_ctrl_state_fmts *f, u16 ver,
		    const u8 *uuid)
{
	const u8 *p = f->data;
	int i;

	if (!uuid) {
		for (i = 0; i < f->nv; i++, p += 2)
			if (get_unaligned_le16(p) == ver)
				return i + 1;
		return 0;
	}
	p += 2 * f->nv;
	for (i = 0; i < f->nuuid && p + NVME_LM_UUID_LEN <= f->data + sizeof(f->data);
	     i++, p += NVME_LM_UUID_LEN)
		if (!memcmp(p, uuid, NVME_LM_UUID_LEN))
			return i + 1;
	return 0;
}

/*
 * Apply @len bytes of state saved by a source described by @src: find the
 * same formats in @fmts, this PF's list as read when the data file was
 * opened (and checked against @src then: no Identify in the downtime; a PF
 * whose list changed since refuses the index, a clean failure), then Set
 * Controller State in pieces.  *@partial is set if a piece failed after the
 * PF took earlier ones.
 */
int nvmevf_state_load(struct nvmevf_pci_core_device *nvmevf_dev,
		      const struct nvme_lm_ctrl_state_fmts *fmts,
		      const struct nvmevf_mig_hdr *src, const u8 *buf,
		      size_t len, bool *partial)
{
	size_t chunk = nvmevf_state_chunk(nvmevf_dev);
	u8 csvi, csuuidi = 0, seqind;
	size_t off, n;
	int ret = 0;

	lockdep_assert_held(&nvmevf_dev->state_mutex);
	csvi = nvmevf_fmt_index(fmts, le16_to_cpu(src->state_ver), NULL);
	if (le16_to_cpu(src->flags) & NVMEVF_HDR_VS)
		csuuidi = nvmevf_fmt_index(fmts, 0, src->vs_uuid);
	if (!csvi || (!csuuidi && (le16_to_cpu(src->flags) & NVMEVF_HDR_VS))) {
		dev_err_ratelimited(nvmevf_dev_of(nvmevf_dev),
				    "controller state format %#x%s is not supported here\n",
				    le16_to_cpu(src->state_ver),
				    csvi ? " (vendor format)" : "");
		return -EINVAL;
	}
	for (off = 0; off < len; off += n) {
		n = min_t(size_t, len - off, chunk);
		if (n == len)
			seqind = NVME_LM_SEQIND_ENTIRE;
		else if (!off)
			seqind = NVME_LM_SEQIND_FIRST;
		else if (off + n == len)
			seqind = NVME_LM_SEQIND_LAST;
		else
			seqind = NVME_LM_SEQIND_MIDDLE;
		ret = nvmevf_lm(nvmevf_dev, "set state", off, n,
				nvme_lm_set_state(nvmevf_dev->lm, seqind, csvi,
						  csuuidi, off, buf + off, n));
		if (ret) {
			*partial = off != 0;
			break;
		}
	}
	return ret;
}

/* describe this VF for the stream header, and pick the formats to save with */
int nvmevf_query_compat(struct nvmevf_pci_core_device *nvmevf_dev,
			struct nvmevf_mig_hdr *hdr, struct nvme_lm_ctrl_state_fmts *fmts)
{
	struct pci_dev *pf = pci_physfn(nvmevf_dev->core_device.pdev);
	u16 nvq, nvi;
	int ret;

	ret = nvme_lm_state_formats(nvmevf_dev->lm, fmts);
	if (!ret)
		ret = nvme_lm_vf_resources(nvmevf_dev->lm, &nvq, &nvi);
	if (ret)
		return ret;
	if (!fmts->nv)
		return -EOPNOTSUPP;
	memset(hdr, 0, sizeof(*hdr));
	hdr->magic = cpu_to_le32(NVMEVF_MIG_MAGIC);
	hdr->version = cpu_to_le16(NVMEVF_MIG_VERSION);
	hdr->pf_vendor = cpu_to_le16(pf->vendor);
	hdr->pf_device = cpu_to_le16(pf->device);
	/*
	 * Save with the first NVMe-defined version and the first vendor
	 * format, if any: the PF lists what it prefers first.  A destination
	 * takes any format its PF lists (nvmevf_fmt_index()).
	 */
	hdr->state_ver = cpu_to_le16(get_unaligned_le16(fmts->data));
	hdr->nvq = cpu_to_le16(nvq);
	hdr->nvi = cpu_to_le16(nvi);
	nvmevf_dev->csvi = 1;
	nvmevf_dev->csuuidi = 0;
	if (fmts->nuuid) {
		hdr->flags = cpu_to_le16(NVMEVF_HDR_VS);
		memcpy(hdr->vs_uuid, fmts->data + 2 * fmts->nv, NVME_LM_UUID_LEN);
		nvmevf_dev->csuuidi = 1;
	}
	return 0;
}
