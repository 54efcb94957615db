/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* Writes all n bytes, going on after short writes and EINTR. Returns 0 or a negative errno
 * (-EIO for a write that took nothing). */
int tk_write_all(int fd, const void *data, size_t n);

/* Reads exactly n bytes, going on after short reads and EINTR. Returns 0, -ENODATA when the
 * other end closed first, or a negative errno. */
int tk_read_all(int fd, void *buf, size_t n);
