/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A leak of our own made through libp11, on purpose: SoftHSM2's slots enumerated and never
 * released, as tokend would leak them if it forgot PKCS11_release_all_slots(). lsan-planted.sh
 * runs it under tests/lsan.supp and expects LeakSanitizer to report it. */
#include <libp11.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "softhsm-fixture.h"

/* Kept, so that the context is not reported too. */
static PKCS11_CTX *ctx;

/* The list is lost when this returns; out of main(), so that no copy of the pointer is left in
 * the frame that calls exit(). */
static __attribute__((noinline)) int enumerate_and_forget(unsigned *ret_n)
{
    PKCS11_SLOT *slots = NULL;
    return PKCS11_enumerate_slots(ctx, &slots, ret_n);
}

int main(void)
{
    char dir[] = "/tmp/tokend-lsan-XXXXXX", conf[64], tokens[64];
    if (!mkdtemp(dir))
        return 2;
    snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
    FILE *f = fopen(conf, "w");
    if (!f || mkdir(tokens, 0700) < 0)
        return 2;
    fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\n", tokens);
    fclose(f);
    setenv("SOFTHSM2_CONF", conf, 1);

    ctx = PKCS11_CTX_new();
    unsigned n = 0;
    int r =
        ctx && PKCS11_CTX_load(ctx, SOFTHSM_MODULE) == 0 && enumerate_and_forget(&n) == 0 && n > 0
            ? 0
            : 2;
    printf("%u slots enumerated and not released\n", n);

    unlink(conf);
    rmdir(tokens);
    rmdir(dir);
    return r;
}
