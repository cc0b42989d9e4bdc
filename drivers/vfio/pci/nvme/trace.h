/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nvme-vfio-pci tracepoints: one event per live migration operation sent
 * to the PF for a VF.  The raw NVMe command and status of each are in the
 * PF's nvme:nvme_setup_cmd and nvme:nvme_complete_rq events.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM nvme_vfio_pci

#if !defined(_NVMEVF_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _NVMEVF_TRACE_H

#include <linux/pci.h>
#include <linux/tracepoint.h>

TRACE_EVENT(nvmevf_lm_cmd,
	    TP_PROTO(struct pci_dev *pdev, u16 cntlid, const char *op, u64 offset,
		     u64 bytes, int ret, u64 duration_ns),
	    TP_ARGS(pdev, cntlid, op, offset, bytes, ret, duration_ns),
	    TP_STRUCT__entry(__string(dev, pci_name(pdev))
			     __field(u16, cntlid)
			     __string(op, op)
			     __field(u64, offset)
			     __field(u64, bytes)
			     __field(int, ret)
			     __field(u64, duration_ns)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->cntlid = cntlid;
			   __assign_str(op);
			   __entry->offset = offset;
			   __entry->bytes = bytes;
			   __entry->ret = ret;
			   __entry->duration_ns = duration_ns;),
	    TP_printk("%s cntlid=%u op=%s offset=%llu bytes=%llu ret=%d duration_us=%llu",
		      __get_str(dev), __entry->cntlid, __get_str(op), __entry->offset,
		      __entry->bytes, __entry->ret, __entry->duration_ns / 1000)
);

#endif /* _NVMEVF_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
