// SPDX-License-Identifier: GPL-2.0
/* The console of the nested guest l2-nvme-io.elf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfio_nvme.h"
#include "l2_console.h"

void l2_console_scan(const char *path, struct l2_console *con)
{
	char line[256];
	FILE *f;

	memset(con, 0, sizeof(*con));
	con->io = -1;
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* QEMU may be writing the last line still: count whole ones only */
		if (strncmp(line, "l2: io ", 7) == 0 && strchr(line, '\n'))
			con->io = strtoll(line + 7, NULL, 10);
		if (strncmp(line, "l2: ready", 9) == 0)
			con->ready = true;
		if (strstr(line, "FAIL"))
			snprintf(con->fail, sizeof(con->fail), "%s", line);
	}
	fclose(f);
}

long long l2_console_wait_past(const char *path, long long io, double ms,
			       struct l2_console *con)
{
	double end = now_ms() + ms;

	while (now_ms() < end) {
		l2_console_scan(path, con);
		if (con->fail[0])
			return -1;
		if (con->io > io)
			return con->io;
		usleep(200000);
	}
	return -1;
}
