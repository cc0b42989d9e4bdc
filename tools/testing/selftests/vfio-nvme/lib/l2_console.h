/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The console of the nested guest l2-nvme-io.elf (tools/testing/vfio-nvme-l2)
 * that the QEMU and libvirt tests run: what it printed so far.
 */
#ifndef L2_CONSOLE_H
#define L2_CONSOLE_H

#include <stdbool.h>

struct l2_console {
	long long io;		/* the last "l2: io N" count, -1 if none */
	bool ready;		/* it printed "l2: ready": it set the VF up */
	char fail[256];		/* its FAIL line, "" if none */
};

/* read the console file at path */
void l2_console_scan(const char *path, struct l2_console *con);

/*
 * Wait up to ms until the guest has done more than io commands: its count,
 * or -1 when it failed (con->fail) or did not get there (con->io).
 */
long long l2_console_wait_past(const char *path, long long io, double ms,
			       struct l2_console *con);

#endif
