/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nvme-vfio-copy (tools/nvme-vfio), the operator's copy tool, run by a test
 * beside its VMM as an operator runs it beside QEMU: started with its
 * output in a pipe, what it said, its exit status.
 */
#ifndef VFIO_NVME_COPY_TOOL_H
#define VFIO_NVME_COPY_TOOL_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct copy_tool {
	pid_t pid;
	int out;		/* its standard error and output */
	char *text;		/* what it printed, since copy_tool_take() */
	size_t len;
};

/* fork and exec argv (killed with the test): 0 or -errno */
int copy_tool_start(struct copy_tool *t, char *const argv[]);
/* where what appears in what the tool printed, or NULL */
const char *copy_tool_said(struct copy_tool *t, const char *what);
/* wait up to ms for the tool to exit: its exit status (128 + signal), -ETIMEDOUT, -errno */
int copy_tool_wait(struct copy_tool *t, int ms);
/* kill it if it still runs; free what it printed */
void copy_tool_end(struct copy_tool *t);
/* the number before " overflows" in its "handed over" line, or -1 */
long long copy_tool_overflows(struct copy_tool *t);
/* what it printed so far (the caller frees it), which the tool forgets; NULL if nothing */
char *copy_tool_take(struct copy_tool *t);

/* what it printed so far, a TH_LOG line each (in a test, where _metadata is) */
#define copy_tool_log(t) do {							\
	char *_txt = copy_tool_take(t), *_save = NULL;				\
										\
	for (char *_l = _txt ? strtok_r(_txt, "\n", &_save) : NULL; _l;	\
	     _l = strtok_r(NULL, "\n", &_save))					\
		TH_LOG("%s", _l);						\
	free(_txt);								\
} while (0)

#endif
