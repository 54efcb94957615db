/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "card-key.h"

#include <errno.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <string.h>

static const char *curve_for_bits(unsigned bits)
{
    switch (bits) {
    case 192:
        return "prime192v1";
    case 256:
        return "prime256v1";
    case 384:
        return "secp384r1";
    case 521:
        return "secp521r1";
    default:
        return NULL;
    }
}

int sim_key_generate(SimFile *f, const uint8_t *exponent, size_t exponent_len)
{
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;
    BIGNUM *e = NULL;
    int r = -EINVAL;

    if (f->kind != SIM_FILE_KEY)
        return -EINVAL;
    if (f->descriptor == SIM_DESC_KEY_RSA) {
        if (f->size < 512 || f->size > 2048 || f->size % 8 != 0)
            return -EINVAL;
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 ||
            EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, f->size) <= 0)
            goto out;
        if (exponent_len > 0) {
            e = BN_bin2bn(exponent, (int)exponent_len, NULL);
            if (!e || !BN_is_odd(e) || EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) <= 0)
                goto out;
        }
    } else {
        const char *curve = curve_for_bits(f->size);
        if (!curve)
            return -EINVAL;
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_CTX_set_group_name(ctx, curve) <= 0)
            goto out;
    }
    if (EVP_PKEY_generate(ctx, &key) <= 0) {
        r = -EIO;
        goto out;
    }
    EVP_PKEY_free(f->key);
    f->key = key;
    r = 0;
out:
    BN_free(e);
    EVP_PKEY_CTX_free(ctx);
    return r;
}

static int bn_out(const EVP_PKEY *key, const char *name, uint8_t *out, size_t size)
{
    BIGNUM *bn = NULL;
    if (!EVP_PKEY_get_bn_param(key, name, &bn))
        return -EIO;
    int n = BN_num_bytes(bn);
    int r = (size_t)n > size ? -ENOBUFS : BN_bn2bin(bn, out);
    BN_free(bn);
    return r;
}

int sim_key_public(const SimFile *f, uint8_t what, uint8_t *out, size_t size)
{
    if (!f->key)
        return -ENOENT;
    if (f->descriptor == SIM_DESC_KEY_RSA) {
        if (what == 0x01 || what == 0x80)
            return bn_out(f->key, OSSL_PKEY_PARAM_RSA_N, out, size);
        if (what == 0x81)
            return bn_out(f->key, OSSL_PKEY_PARAM_RSA_E, out, size);
        return -EINVAL;
    }
    if (what != 0x86)
        return -EINVAL;
    uint8_t point[160];
    size_t len = 0;
    if (!EVP_PKEY_get_octet_string_param(f->key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
                                         &len) ||
        len > 127)
        return -EIO;
    if (len + 2 > size)
        return -ENOBUFS;
    out[0] = 0x86;
    out[1] = (uint8_t)len;
    memcpy(out + 2, point, len);
    return (int)len + 2;
}

static int pkey_op(const SimFile *f, bool sign, int padding, const uint8_t *in, size_t in_len,
                   uint8_t *out, size_t size)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, f->key, NULL);
    size_t len = size;
    int r = -EIO;

    if (!ctx)
        return -ENOMEM;
    if ((sign ? EVP_PKEY_sign_init(ctx) : EVP_PKEY_decrypt_init(ctx)) <= 0)
        goto out;
    if (padding >= 0 && EVP_PKEY_CTX_set_rsa_padding(ctx, padding) <= 0)
        goto out;
    if ((sign ? EVP_PKEY_sign(ctx, out, &len, in, in_len)
              : EVP_PKEY_decrypt(ctx, out, &len, in, in_len)) <= 0)
        goto out;
    r = (int)len;
out:
    EVP_PKEY_CTX_free(ctx);
    return r;
}

int sim_key_sign(const SimFile *f, uint8_t alg, const uint8_t *in, size_t in_len, uint8_t *out,
                 size_t size)
{
    if (!f->key)
        return -ENOENT;
    if (f->descriptor == SIM_DESC_KEY_EC) {
        if (alg != SIM_ALG_ECDSA)
            return -EINVAL;
        return pkey_op(f, true, -1, in, in_len, out, size);
    }
    if (alg == SIM_ALG_RSA_PKCS1)
        return pkey_op(f, true, RSA_PKCS1_PADDING, in, in_len, out, size);
    if (alg == SIM_ALG_RSA_RAW) {
        /* A raw signature is the private-key operation on a full-length block. */
        if (in_len * 8 != f->size)
            return -EINVAL;
        return pkey_op(f, false, RSA_NO_PADDING, in, in_len, out, size);
    }
    return -EINVAL;
}

int sim_key_decipher(const SimFile *f, uint8_t alg, const uint8_t *in, size_t in_len, uint8_t *out,
                     size_t size)
{
    if (!f->key)
        return -ENOENT;
    if (f->descriptor != SIM_DESC_KEY_RSA || in_len * 8 != f->size)
        return -EINVAL;
    if (alg == SIM_ALG_RSA_PKCS1)
        return pkey_op(f, false, RSA_PKCS1_PADDING, in, in_len, out, size);
    if (alg == SIM_ALG_RSA_RAW)
        return pkey_op(f, false, RSA_NO_PADDING, in, in_len, out, size);
    return -EINVAL;
}

void sim_key_load_clear(SimKeyLoad *l)
{
    for (size_t i = 0; i < 8; i++)
        BN_clear_free(l->rsa[i]);
    BN_clear_free(l->ec_private);
    OPENSSL_cleanse(l, sizeof(*l));
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *key = NULL;
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) > 0)
        (void)EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return key;
}

static EVP_PKEY *build_rsa(SimKeyLoad *l)
{
    BIGNUM *const *c = l->rsa;
    BIGNUM *n = c[0], *e = c[1], *p = c[3], *q = c[4], *dp = c[5], *dq = c[6], *qinv = c[7];
    BN_CTX *bn = BN_CTX_new();
    BIGNUM *p1 = BN_new(), *q1 = BN_new(), *phi = BN_new(), *d = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *key = NULL;

    if (!n || !e || !p || !q || !dp || !dq || !qinv || !bn || !p1 || !q1 || !phi || !bld)
        goto out;
    /* The card gets the CRT form; OpenSSL also wants d = e^-1 mod (p-1)(q-1). */
    if (!BN_sub(p1, p, BN_value_one()) || !BN_sub(q1, q, BN_value_one()) ||
        !BN_mul(phi, p1, q1, bn) || !(d = BN_mod_inverse(NULL, e, phi, bn)))
        goto out;
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv))
        goto out;
    key = from_params("RSA", bld);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    BN_clear_free(phi);
    BN_clear_free(p1);
    BN_clear_free(q1);
    BN_CTX_free(bn);
    return key;
}

static EVP_PKEY *build_ec(SimKeyLoad *l, unsigned bits)
{
    const char *curve = curve_for_bits(bits);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *key = NULL;

    if (curve && bld && l->ec_private &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, l->ec_private) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, l->ec_public,
                                         l->ec_public_len))
        key = from_params("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    return key;
}

int sim_key_load(SimKeyLoad *l, SimFile *f, uint8_t component, const uint8_t *v, size_t len)
{
    EVP_PKEY *key = NULL;

    if (f->kind != SIM_FILE_KEY || len == 0)
        return -EINVAL;
    if (f->descriptor == SIM_DESC_KEY_RSA) {
        if (component < 0x80 || component > 0x87 || component == 0x82)
            return -EINVAL;
        BIGNUM **slot = &l->rsa[component - 0x80];
        BN_clear_free(*slot);
        *slot = BN_bin2bn(v, (int)len, NULL);
        if (!*slot)
            return -ENOMEM;
        if (component != 0x81)
            return 0;
        key = build_rsa(l);
    } else {
        if (component == 0x87) {
            BN_clear_free(l->ec_private);
            l->ec_private = BN_bin2bn(v, (int)len, NULL);
            return l->ec_private ? 0 : -ENOMEM;
        }
        if (component != 0x86 || len > sizeof(l->ec_public))
            return -EINVAL;
        memcpy(l->ec_public, v, len);
        l->ec_public_len = len;
        key = build_ec(l, f->size);
    }
    sim_key_load_clear(l);
    if (!key)
        return -EINVAL;
    EVP_PKEY_free(f->key);
    f->key = key;
    return 0;
}
