/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configuration file: config_load_file() over the defaults, on the input as the file's
 * bytes. What it accepts must be within what tokend relies on; what it refuses must say where
 * in the file. */
#include <string.h>

#include "fuzz.h"
#include "tokend-config.h"

#define NAME "tokend.conf"

static bool absolute(const char *path)
{
    return path && path[0] == '/';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* fmemopen() takes no empty buffer; an empty file reads like one that is just a newline. */
    static const uint8_t empty[] = "\n";
    FILE *f = fmemopen((void *)(size > 0 ? data : empty), size > 0 ? size : 1, "r");
    FUZZ_CHECK(f);

    _cleanup_(config_done) Config c = {};
    FUZZ_CHECK(config_init(&c) == 0);
    TkError e = {};
    int r = config_load_file(&c, f, NAME, &e);
    fclose(f);
    if (r < 0) {
        FUZZ_CHECK(strncmp(e.message, NAME ":", strlen(NAME ":")) == 0);
        return 0;
    }

    FUZZ_CHECK(c.modules && c.modules[0]);
    STRV_FOREACH (m, c.modules)
        FUZZ_CHECK(absolute(*m));
    FUZZ_CHECK(c.pin_min_length <= 64);
    FUZZ_CHECK(!c.site_key_file || absolute(c.site_key_file));
    FUZZ_CHECK(absolute(c.audit_file));
    return 0;
}
