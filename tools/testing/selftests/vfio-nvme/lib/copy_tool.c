// SPDX-License-Identifier: GPL-2.0
/* nvme-vfio-copy run beside a test's VMM (copy_tool.h) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "copy_tool.h"
#include "vfio_nvme.h"

int copy_tool_start(struct copy_tool *t, char *const argv[])
{
	int p[2];

	memset(t, 0, sizeof(*t));
	t->out = -1;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	t->pid = fork();
	if (t->pid < 0)
		return -errno;
	if (!t->pid) {
		/* dies with the test */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	t->out = p[0];
	return fcntl(t->out, F_SETFL, O_NONBLOCK) ? -errno : 0;
}

static void copy_tool_drain(struct copy_tool *t)
{
	char b[4096];
	ssize_t n;

	while (t->out >= 0 && (n = read(t->out, b, sizeof(b))) > 0) {
		char *nt = realloc(t->text, t->len + n + 1);

		if (!nt)
			return;
		t->text = nt;
		memcpy(t->text + t->len, b, n);
		t->len += n;
		t->text[t->len] = '\0';
	}
}

const char *copy_tool_said(struct copy_tool *t, const char *what)
{
	copy_tool_drain(t);
	return t->text ? strstr(t->text, what) : NULL;
}

int copy_tool_wait(struct copy_tool *t, int ms)
{
	double end = now_ms() + ms;

	for (;;) {
		int st;
		pid_t r = waitpid(t->pid, &st, WNOHANG);

		copy_tool_drain(t);
		if (r == t->pid) {
			t->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		if (r < 0)
			return -errno;
		if (now_ms() >= end)
			return -ETIMEDOUT;
		usleep(10000);
	}
}

void copy_tool_end(struct copy_tool *t)
{
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
	}
	if (t->out >= 0)
		close(t->out);
	free(t->text);
	memset(t, 0, sizeof(*t));
	t->out = -1;
}

long long copy_tool_overflows(struct copy_tool *t)
{
	const char *line = copy_tool_said(t, "handed over:"), *q;

	if (!line || !(q = strstr(line, " overflows")))
		return -1;
	while (q > line && q[-1] >= '0' && q[-1] <= '9')
		q--;
	return strtoll(q, NULL, 10);
}

char *copy_tool_take(struct copy_tool *t)
{
	char *text;

	copy_tool_drain(t);
	text = t->text;
	t->text = NULL;
	t->len = 0;
	return text;
}
