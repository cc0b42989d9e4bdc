// SPDX-License-Identifier: GPL-2.0-only
/*
 * nvme-vfio-pci tracepoints: one nvmevf_lm_cmd event per live migration
 * operation sent to the PF for a VF (see trace.h and nvmevf_lm() in
 * nvmevf.h).
 */
#include <linux/ktime.h>

#include "nvmevf.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/**
 * nvmevf_trace_lm() - trace one live migration operation on the PF
 * @nvmevf_dev: the VF it was for
 * @op: what it was, for the trace
 * @offset: offset in the transfer, if it moves data
 * @bytes: bytes moved, or the count of what it created
 * @start_ns: ktime_get_ns() when it was sent
 * @ret: its result, 0 or a negative errno
 */
void nvmevf_trace_lm(struct nvmevf_pci_core_device *nvmevf_dev, const char *op,
		     u64 offset, u64 bytes, u64 start_ns, int ret)
{
	trace_nvmevf_lm_cmd(nvmevf_dev->core_device.pdev,
			    nvme_lm_vf_cntlid(nvmevf_dev->lm), op, offset, bytes,
			    ret, ktime_get_ns() - start_ns);
}
