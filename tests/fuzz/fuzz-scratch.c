/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The scratch directory of the targets that hand their parser a file. */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static char scratch[PATH_MAX];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    (void)remove(path);
    return 0;
}

static void remove_scratch(void)
{
    if (scratch[0])
        (void)nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_scratch_dir(void)
{
    if (scratch[0])
        return scratch;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    FUZZ_CHECK(snprintf(scratch, sizeof(scratch), "%s/tokend-fuzz.XXXXXX", tmp) <
               (int)sizeof(scratch));
    FUZZ_CHECK(mkdtemp(scratch));
    atexit(remove_scratch);
    return scratch;
}

const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size)
{
    static char path[PATH_MAX];
    FUZZ_CHECK(snprintf(path, sizeof(path), "%s/%s", fuzz_scratch_dir(), name) < (int)sizeof(path));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    FUZZ_CHECK(fd >= 0);
    while (size > 0) {
        ssize_t k = write(fd, data, size);
        FUZZ_CHECK(k > 0);
        data += k;
        size -= (size_t)k;
    }
    FUZZ_CHECK(close(fd) == 0);
    return path;
}
