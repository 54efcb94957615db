/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certs.h"
#include "macro.h"

void der_list_done(DerList *l)
{
    for (size_t i = 0; i < l->n; i++)
        OPENSSL_free(l->items[i]);
    free(l->items);
    free(l->lens);
    *l = (DerList){};
}

static int der_list_add(DerList *l, uint8_t *der, size_t len)
{
    uint8_t **items = realloc(l->items, (l->n + 1) * sizeof(*items));
    if (!items)
        return -ENOMEM;
    l->items = items;
    size_t *lens = realloc(l->lens, (l->n + 1) * sizeof(*lens));
    if (!lens)
        return -ENOMEM;
    l->lens = lens;
    l->items[l->n] = der;
    l->lens[l->n] = len;
    l->n++;
    return 0;
}

int read_certificates(const char *path, DerList *out)
{
    BIO *bio = streq(path, "-") ? BIO_new_fp(stdin, BIO_NOCLOSE) : BIO_new_file(path, "rb");
    BIO *mem = NULL;
    int r = 0;

    if (!bio)
        return -errno ?: -ENOENT;
    /* Slurp first so PEM and DER can both be tried on the same bytes. */
    mem = BIO_new(BIO_s_mem());
    char buf[4096];
    int n;
    while ((n = BIO_read(bio, buf, sizeof(buf))) > 0)
        BIO_write(mem, buf, n);
    BIO_free(bio);

    for (;;) {
        X509 *x = PEM_read_bio_X509(mem, NULL, NULL, NULL);
        if (!x)
            break;
        uint8_t *der = NULL;
        int len = i2d_X509(x, &der);
        X509_free(x);
        if (len <= 0) {
            r = -EBADMSG;
            break;
        }
        r = der_list_add(out, der, (size_t)len);
        if (r < 0) {
            OPENSSL_free(der);
            break;
        }
    }
    ERR_clear_error();
    if (r >= 0 && out->n == 0) {
        /* Not PEM: take the bytes as one DER certificate and let the daemon judge it. */
        (void)BIO_reset(mem);
        const char *p;
        long len = BIO_get_mem_data(mem, &p);
        if (len <= 0)
            r = -ENODATA;
        else {
            uint8_t *copy = OPENSSL_memdup(p, (size_t)len);
            r = copy ? der_list_add(out, copy, (size_t)len) : -ENOMEM;
        }
    }
    BIO_free(mem);
    return r;
}

int options_add_chain(sd_bus_message *m, const DerList *first, const DerList *more)
{
    size_t n_more = more ? more->n : 0;
    if (first->n + n_more <= 1)
        return 0;
    int r = sd_bus_message_open_container(m, 'e', "sv");
    if (r >= 0)
        r = sd_bus_message_append_basic(m, 's', "chain");
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'v', "aay");
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "ay");
    for (size_t i = 1; r >= 0 && i < first->n; i++)
        r = sd_bus_message_append_array(m, 'y', first->items[i], first->lens[i]);
    for (size_t i = 0; r >= 0 && i < n_more; i++)
        r = sd_bus_message_append_array(m, 'y', more->items[i], more->lens[i]);
    for (int k = 0; r >= 0 && k < 3; k++)
        r = sd_bus_message_close_container(m);
    return r;
}

void der_list_move_first(DerList *l, size_t i)
{
    uint8_t *item = l->items[i];
    size_t len = l->lens[i];
    memmove(l->items + 1, l->items, i * sizeof(*l->items));
    memmove(l->lens + 1, l->lens, i * sizeof(*l->lens));
    l->items[0] = item;
    l->lens[0] = len;
}
