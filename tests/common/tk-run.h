/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* Runs argv (argv[0] looked up in PATH) with stdin from /dev/null, or from the given bytes,
 * and returns its exit status (or -1); standard output and error go to *ret_output (malloc'd,
 * NUL-terminated) when ret_output is non-NULL. */
int tk_run(char *const argv[], const char *input, char **ret_output);

/* mkdtemp() under $TMPDIR or /tmp with the given prefix; rm -rf of such a directory. */
char *tk_make_temp_dir(const char *prefix);
void tk_remove_tree(const char *path);

/* Writes a file, returning 0 or -errno. */
int tk_write_file(const char *path, const void *data, size_t len);
/* Reads a whole file; NULL when it cannot be read. */
char *tk_read_file(const char *path, size_t *ret_len);
