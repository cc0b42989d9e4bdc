// SPDX-License-Identifier: GPL-2.0
/* sysfs access and PCI driver binding */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vfio_nvme.h"

int sysfs_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

int sysfs_write(const char *path, const char *val)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	return 0;
}

static void dev_path(char *path, const char *bdf, const char *attr)
{
	snprintf(path, PATH_MAX, "/sys/bus/pci/devices/%s/%s", bdf, attr);
}

int sysfs_read_dev(const char *bdf, const char *attr, char *buf, size_t len)
{
	char path[PATH_MAX];

	dev_path(path, bdf, attr);
	return sysfs_read(path, buf, len);
}

int sysfs_write_dev(const char *bdf, const char *attr, const char *val)
{
	char path[PATH_MAX];

	dev_path(path, bdf, attr);
	return sysfs_write(path, val);
}

long sysfs_read_dev_long(const char *bdf, const char *attr)
{
	char buf[64];
	int ret;

	ret = sysfs_read_dev(bdf, attr, buf, sizeof(buf));
	if (ret)
		return ret;
	return strtol(buf, NULL, 0);
}

int pci_driver_of(const char *bdf, char *drv, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	dev_path(path, bdf, "driver");
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		drv[0] = '\0';
		return errno == ENOENT ? 0 : -errno;
	}
	link[n] = '\0';
	snprintf(drv, len, "%s", basename(link));
	return 0;
}

int pci_unbind(const char *bdf)
{
	char drv[64];
	int ret;

	ret = pci_driver_of(bdf, drv, sizeof(drv));
	if (ret || !drv[0])
		return ret;
	return sysfs_write_dev(bdf, "driver/unbind", bdf);
}

int pci_bind(const char *bdf, const char *drv)
{
	char cur[64];
	int ret;

	ret = pci_unbind(bdf);
	if (ret)
		return ret;
	ret = sysfs_write_dev(bdf, "driver_override", drv);
	if (ret)
		return ret;
	/* drivers_probe succeeds even when no driver takes the device */
	ret = sysfs_write("/sys/bus/pci/drivers_probe", bdf);
	if (ret)
		return ret;
	ret = pci_driver_of(bdf, cur, sizeof(cur));
	if (ret)
		return ret;
	return strcmp(cur, drv) ? -ENODEV : 0;
}

double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

bool wait_for_path(const char *path, int ms)
{
	struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };

	for (int i = 0; i <= ms / 10; i++) {
		if (access(path, F_OK) == 0)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}
