/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "so-pin.h"
#include "text-escape.h"

static void mac_ctx_freep(EVP_MAC_CTX **p)
{
    EVP_MAC_CTX_free(*p);
}

static void mac_freep(EVP_MAC **p)
{
    EVP_MAC_free(*p);
}

static int hmac_block(EVP_MAC *mac, const TkSecret *key, const char *serial, size_t serial_len,
                      uint32_t counter, unsigned char out[32])
{
    _cleanup_(mac_ctx_freep) EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    if (!ctx)
        return -ENOMEM;

    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_init(ctx, (const unsigned char *)key->data, key->len, params))
        return -EIO;
    if (!EVP_MAC_update(ctx, (const unsigned char *)serial, serial_len))
        return -EIO;
    if (counter > 0) {
        /* The NUL cannot occur in a serial, so block inputs never collide with each other. */
        unsigned char suffix[5] = {0, counter >> 24, counter >> 16, counter >> 8, counter};
        if (!EVP_MAC_update(ctx, suffix, sizeof(suffix)))
            return -EIO;
    }
    size_t outl = 0;
    if (!EVP_MAC_final(ctx, out, &outl, 32) || outl != 32)
        return -EIO;
    return 0;
}

int tk_so_pin_derive(const TkSecret *site_key, const char *serial, size_t digits, TkSecret **ret)
{
    if (!site_key || site_key->len == 0 || isempty(serial) || !ret)
        return -EINVAL;
    if (digits < TK_SO_PIN_DIGITS_MIN || digits > TK_SO_PIN_DIGITS_MAX)
        return -EINVAL;

    /* libtoken reports serials escaped (text-escape.h); the MAC is over the bytes the token
     * holds, so that it does not change with the escaping (a serial with a backslash keeps the
     * SO PIN it was given before) and any other tool gets the same PIN from the raw serial. */
    _cleanup_free_ char *raw = NULL;
    size_t raw_len;
    int r = tk_utf8_unescape(serial, &raw, &raw_len);
    if (r < 0)
        return r;
    if (memchr(raw, 0, raw_len))
        return -EINVAL;

    _cleanup_(mac_freep) EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac)
        return -EOPNOTSUPP;

    char pin[TK_SO_PIN_DIGITS_MAX + 1];
    unsigned char block[32];
    size_t n = 0;
    /* 250 of 256 byte values are kept, so a block almost always gives 24+ digits; the bound
     * only guards against a broken MAC. */
    for (uint32_t counter = 0; n < digits && counter < 64; counter++) {
        r = hmac_block(mac, site_key, raw, raw_len, counter, block);
        if (r < 0)
            break;
        for (size_t i = 0; i < sizeof(block) && n < digits; i++)
            if (block[i] < 250)
                pin[n++] = (char)('0' + block[i] % 10);
    }
    if (r == 0 && n < digits)
        r = -EIO;
    if (r == 0) {
        pin[n] = 0;
        r = tk_secret_new(pin, n, ret);
    }
    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(pin, sizeof(pin));
    return r;
}

int tk_site_key_load(const char *path, TkSecret **ret, TkError *error)
{
    if (isempty(path) || !ret)
        return -EINVAL;

    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return tk_error_set(error, -errno, TK_ERROR_FAILED, "Cannot open site key file %s: %s",
                            path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0)
        return tk_error_set(error, -errno, TK_ERROR_FAILED, "Cannot stat site key file %s: %s",
                            path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return tk_error_set(error, -EBADF, TK_ERROR_FAILED,
                            "Site key file %s is not a regular file.", path);
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return tk_error_set(error, -EPERM, TK_ERROR_FAILED,
                            "Site key file %s has mode %04o; it must not be accessible to group "
                            "or others (chmod 0600 %s).",
                            path, (unsigned)(st.st_mode & 07777), path);

    unsigned char buf[TK_SITE_KEY_MAX + 1];
    size_t n = 0;
    int r = 0;
    while (n < sizeof(buf)) {
        ssize_t k = read(fd, buf + n, sizeof(buf) - n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            r = tk_error_set(error, -errno, TK_ERROR_FAILED, "Cannot read site key file %s: %s",
                             path, strerror(errno));
            break;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    if (r == 0 && n < TK_SITE_KEY_MIN)
        r = tk_error_set(error, -EINVAL, TK_ERROR_FAILED,
                         "Site key file %s holds %zu bytes; a site key needs at least %d.", path, n,
                         TK_SITE_KEY_MIN);
    if (r == 0 && n > TK_SITE_KEY_MAX)
        r = tk_error_set(error, -EINVAL, TK_ERROR_FAILED,
                         "Site key file %s is larger than %d bytes.", path, TK_SITE_KEY_MAX);
    if (r == 0)
        r = tk_secret_new_binary(buf, n, ret);
    OPENSSL_cleanse(buf, sizeof(buf));
    return r;
}
