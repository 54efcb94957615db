/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

#include "secret.h"

void tk_wipe(void *p, size_t len)
{
    if (p && len > 0)
        explicit_bzero(p, len);
}

int tk_secret_new(const void *data, size_t len, TkSecret **ret)
{
    if (data && len > 0 && memchr(data, 0, len))
        return -EINVAL;
    return tk_secret_new_binary(data, len, ret);
}

int tk_secret_new_binary(const void *data, size_t len, TkSecret **ret)
{
    if (!ret || (!data && len > 0))
        return -EINVAL;

    TkSecret *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->data = malloc(len + 1);
    if (!s->data) {
        free(s);
        return -ENOMEM;
    }
    if (len > 0)
        memcpy(s->data, data, len);
    s->data[len] = 0;
    /* Best effort: an unprivileged process may be over its memlock limit. */
    (void)mlock(s->data, len + 1);
    s->len = len;
    *ret = s;
    return 0;
}

int tk_secret_new_string(const char *s, TkSecret **ret)
{
    if (!s)
        return -EINVAL;
    return tk_secret_new(s, strlen(s), ret);
}

TkSecret *tk_secret_free(TkSecret *s)
{
    if (!s)
        return NULL;
    if (s->data) {
        explicit_bzero(s->data, s->len + 1);
        (void)munlock(s->data, s->len + 1);
        free(s->data);
    }
    explicit_bzero(s, sizeof(*s));
    free(s);
    return NULL;
}

int tk_secret_equal(const TkSecret *a, const TkSecret *b)
{
    if (!a || !b)
        return a == b;
    if (a->len != b->len)
        return 0;
    return CRYPTO_memcmp(a->data, b->data, a->len) == 0;
}
