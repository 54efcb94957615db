/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dn.h"
#include "p11-error.h"
#include "p11-internal.h"
#include "p11-objects.h"
#include "text-escape.h"

static void object_done(TkObject *o)
{
    free(o->id);
    free(o->label);
    free(o->curve);
    free(o->subject);
    free(o->issuer);
    free(o->serial);
    OPENSSL_free(o->public_key);
}

void tk_object_array_free(TkObject *objects, size_t n)
{
    for (size_t i = 0; objects && i < n; i++)
        object_done(&objects[i]);
    free(objects);
}

int tk_describe_public_key(EVP_PKEY *pkey, TkKeyType *ret_type, unsigned *ret_bits,
                           char **ret_curve)
{
    char group[64];
    char *curve = NULL;

    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
        *ret_type = TK_KEY_TYPE_RSA;
        break;
    case EVP_PKEY_EC:
        *ret_type = TK_KEY_TYPE_EC;
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                           NULL) == 1) {
            const char *nist = EC_curve_nid2nist(OBJ_sn2nid(group));
            curve = strdup(nist ? nist : group);
            if (!curve)
                return -ENOMEM;
        }
        break;
    default:
        *ret_type = TK_KEY_TYPE_NONE;
        break;
    }
    *ret_bits = EVP_PKEY_get_bits(pkey) > 0 ? (unsigned)EVP_PKEY_get_bits(pkey) : 0;
    *ret_curve = curve;
    return 0;
}

static int copy_id_label(TkObject *o, const unsigned char *id, size_t id_len, const char *label)
{
    /* CKA_LABEL is not a padded field: trailing blanks are the label's own. */
    label = strempty(label);
    o->id = malloc(id_len ? id_len : 1);
    if (!o->id || tk_utf8_escape(label, strlen(label), &o->label) < 0)
        return -ENOMEM;
    if (id_len)
        memcpy(o->id, id, id_len);
    o->id_len = id_len;
    return 0;
}

static int describe_key(TkToken *t, PKCS11_KEY *key, TkObject *o)
{
    int r = copy_id_label(o, key->id, key->id_len, key->label);
    if (r < 0)
        return r;
    o->object_class = key->isPrivate ? TK_OBJECT_PRIVATE_KEY : TK_OBJECT_PUBLIC_KEY;
    o->key_type = PKCS11_get_key_type(key) == EVP_PKEY_EC ? TK_KEY_TYPE_EC : TK_KEY_TYPE_RSA;

    /* A private key's size and curve come from its public half; without one they are not
     * given. */
    EVP_PKEY *pub = tk_token_public_key(t, key);
    if (pub) {
        r = tk_describe_public_key(pub, &o->key_type, &o->bits, &o->curve);
        /* The key as a certificate names it, so that a client can match certificates to
         * tokens. */
        unsigned char *der = NULL;
        int len = r >= 0 ? i2d_PUBKEY(pub, &der) : 0;
        if (len > 0) {
            o->public_key = der;
            o->public_key_len = (size_t)len;
        }
        EVP_PKEY_free(pub);
    }
    (void)tk_p11_last_ckr();
    return r;
}

/* Seconds since the epoch, as the bus carries them (unsigned): a time before the epoch is 0,
 * which compares with any time now as the real one does, and so is one that does not parse. A
 * certificate may well say 1950 (a UTCTime year from 50 up is 19xx). */
static uint64_t asn1_time_to_epoch(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    time_t s = timegm(&tm);
    return s > 0 ? (uint64_t)s : 0;
}

int tk_describe_certificate(X509 *x509, TkObject *o)
{
    o->object_class = TK_OBJECT_CERTIFICATE;
    o->subject = tk_dn_format(X509_get_subject_name(x509));
    o->issuer = tk_dn_format(X509_get_issuer_name(x509));
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509), NULL);
    if (bn) {
        char *hex = BN_bn2hex(bn);
        o->serial = hex ? strdup(hex) : NULL;
        OPENSSL_free(hex);
        BN_free(bn);
    }
    if (!o->subject || !o->issuer || !o->serial)
        return -ENOMEM;
    o->not_before = asn1_time_to_epoch(X509_get0_notBefore(x509));
    o->not_after = asn1_time_to_epoch(X509_get0_notAfter(x509));
    o->ca = X509_check_ca(x509) > 0;

    EVP_PKEY *pub = X509_get0_pubkey(x509);
    if (pub)
        return tk_describe_public_key(pub, &o->key_type, &o->bits, &o->curve);
    return 0;
}

typedef struct ObjectList {
    TkObject *items;
    size_t n;
    size_t allocated;
} ObjectList;

static TkObject *list_add(ObjectList *l)
{
    if (l->n == l->allocated) {
        size_t a = l->allocated ? l->allocated * 2 : 8;
        TkObject *items = realloc(l->items, a * sizeof(TkObject));
        if (!items)
            return NULL;
        l->items = items;
        l->allocated = a;
    }
    TkObject *o = &l->items[l->n++];
    memset(o, 0, sizeof(*o));
    return o;
}

static int add_keys(TkToken *t, ObjectList *l, PKCS11_KEY *keys, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        TkObject *o = list_add(l);
        if (!o)
            return -ENOMEM;
        int r = describe_key(t, &keys[i], o);
        if (r < 0)
            return r;
    }
    return 0;
}

int tk_token_list_objects(TkToken *t, const TkSecret *pin, TkObject **ret, size_t *ret_n,
                          TkError *error)
{
    PKCS11_SLOT *slot;
    PKCS11_KEY *keys;
    PKCS11_CERT *certs;
    unsigned n;
    ObjectList l = {};
    int r;

    if (pin)
        r = tk_token_login(t, TK_USER, pin, error);
    else
        r = tk_token_slot(t, &slot, error);
    if (r < 0)
        return r;
    PKCS11_TOKEN *tok = t->slot->token;

    if (pin) {
        if (PKCS11_enumerate_keys(tok, &keys, &n) < 0) {
            r = tk_token_error_from_libp11(t, error, "list the private keys");
            goto out;
        }
        r = add_keys(t, &l, keys, n);
        if (r < 0)
            goto out;
    }
    if (PKCS11_enumerate_public_keys(tok, &keys, &n) < 0) {
        r = tk_token_error_from_libp11(t, error, "list the public keys");
        goto out;
    }
    r = add_keys(t, &l, keys, n);
    if (r < 0)
        goto out;
    if (PKCS11_enumerate_certs(tok, &certs, &n) < 0) {
        r = tk_token_error_from_libp11(t, error, "list the certificates");
        goto out;
    }
    for (unsigned i = 0; i < n; i++) {
        TkObject *o = list_add(&l);
        if (!o) {
            r = -ENOMEM;
            goto out;
        }
        r = copy_id_label(o, certs[i].id, certs[i].id_len, certs[i].label);
        if (r >= 0 && certs[i].x509)
            r = tk_describe_certificate(certs[i].x509, o);
        if (r < 0)
            goto out;
    }

    *ret = TAKE_PTR(l.items);
    *ret_n = l.n;
    r = 0;
out:
    if (pin)
        tk_token_logout(t);
    tk_object_array_free(l.items, l.n);
    return r;
}

int tk_token_find_key(TkToken *t, bool private_key, const uint8_t *id, size_t id_len,
                      PKCS11_KEY **ret, TkError *error)
{
    PKCS11_KEY *keys;
    unsigned n;
    PKCS11_TOKEN *tok = t->slot->token;
    int r = private_key ? PKCS11_enumerate_keys(tok, &keys, &n)
                        : PKCS11_enumerate_public_keys(tok, &keys, &n);
    if (r < 0)
        return tk_token_error_from_libp11(t, error, "list the keys");
    for (unsigned i = 0; i < n; i++)
        if (tk_id_equal(keys[i].id, keys[i].id_len, id, id_len)) {
            *ret = &keys[i];
            return 0;
        }
    return -ENOENT;
}
