/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers the fphint selftests share: sysfs reads and writes. */
#ifndef FPHINT_UTIL_H
#define FPHINT_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define FP "/sys/kernel/mm/fphint/"

/* 0 or -errno; the value without its trailing newline. */
static int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

/* 0 or -errno of the write itself. */
static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

#endif /* FPHINT_UTIL_H */
