/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel reports during a test: the kernel log records written between
 * kmsg_open() and kmsg_reports() that are a BUG, WARNING, Oops, KASAN,
 * UBSAN, lockdep or hung task report, and new taint flags.  The rig also
 * fails a whole run on those; this names the test that caused them.
 */
#ifndef VFIO_NVME_KMSG_H
#define VFIO_NVME_KMSG_H

struct kmsg {
	int fd;			/* /dev/kmsg, positioned after the last record at open */
	unsigned long taint;	/* /proc/sys/kernel/tainted at open */
};

/* 0 or -errno */
int kmsg_open(struct kmsg *k);
/*
 * The reports logged since kmsg_open() (or the last call), each printed
 * with the lines that follow it as "# kmsg: ..."; a change of the taint
 * flags counts as one.  Returns their number, or -errno.
 */
int kmsg_reports(struct kmsg *k);
void kmsg_close(struct kmsg *k);

#endif
