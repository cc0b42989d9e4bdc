// SPDX-License-Identifier: GPL-2.0
/* Kernel reports (BUG, WARNING, KASAN, lockdep, ...) logged during a test */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmsg.h"

/* what the rig's init greps for at the end of a run, and a few more */
static const char *const report[] = {
	"BUG:", "WARNING:", "Oops", "KASAN", "UBSAN", "kernel BUG",
	"general protection fault", "circular locking", "recursive locking",
	"inconsistent lock state", "possible deadlock", "blocked for more than",
	"list_add corruption", "list_del corruption", "suspicious RCU usage",
	"refcount_t:", "kmemleak:",
};

/* taint flags a report sets: machine check, bad page (KASAN), die, warn, soft lockup */
#define REPORT_TAINT	((1UL << 4) | (1UL << 5) | (1UL << 7) | (1UL << 9) | (1UL << 14))
/* records printed after the one that matched (the report's body) */
#define CONTEXT		40

static unsigned long taint_now(void)
{
	char buf[32] = "";
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return strtoul(buf, NULL, 10);
}

int kmsg_open(struct kmsg *k)
{
	k->taint = taint_now();
	k->fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (k->fd < 0)
		return -errno;
	if (lseek(k->fd, 0, SEEK_END) < 0) {
		int ret = -errno;

		close(k->fd);
		k->fd = -1;
		return ret;
	}
	return 0;
}

int kmsg_reports(struct kmsg *k)
{
	char rec[8192];
	int found = 0, context = 0;
	unsigned long taint;

	if (k->fd < 0)
		return -EBADF;
	for (;;) {
		ssize_t n = read(k->fd, rec, sizeof(rec) - 1);
		char *msg, *nl;

		if (n < 0 && errno == EPIPE)
			continue;	/* records overwritten before we read them */
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		rec[n] = '\0';
		/* "prio,seq,usec,flags;text\n" then " KEY=value" lines */
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = '\0';
		for (size_t i = 0; i < sizeof(report) / sizeof(report[0]); i++) {
			if (strstr(msg, report[i])) {
				found++;
				context = CONTEXT;
				break;
			}
		}
		if (context) {
			printf("# kmsg: %s\n", msg);
			context--;
		}
	}
	taint = taint_now();
	if ((taint & ~k->taint) & REPORT_TAINT) {
		printf("# kmsg: the kernel's taint went from %lu to %lu\n", k->taint, taint);
		found++;
	}
	k->taint = taint;
	return found;
}

void kmsg_close(struct kmsg *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}
