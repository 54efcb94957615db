/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dn.h"
#include "openssl-util.h"
#include "p11-error.h"
#include "p11-internal.h"
#include "p11-objects.h"

static int add_alt_names(GENERAL_NAMES *names, int type, char *const *values, TkError *error)
{
    STRV_FOREACH (v, values) {
        if (isempty(*v) || strlen(*v) > 255)
            return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                                "A subjectAltName %s must have 1 to 255 characters.",
                                type == GEN_EMAIL ? "e-mail address" : "DNS name");
        if (type == GEN_EMAIL && !strchr(*v, '@'))
            return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                                "'%s' is not an e-mail address.", *v);
        GENERAL_NAME *gen = GENERAL_NAME_new();
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        if (!gen || !s || ASN1_STRING_set(s, *v, (int)strlen(*v)) != 1) {
            GENERAL_NAME_free(gen);
            ASN1_IA5STRING_free(s);
            return -ENOMEM;
        }
        GENERAL_NAME_set0_value(gen, type, s);
        if (sk_GENERAL_NAME_push(names, gen) <= 0) {
            GENERAL_NAME_free(gen);
            return -ENOMEM;
        }
    }
    return 0;
}

static int add_extensions(X509_REQ *req, char *const *emails, char *const *dns, TkError *error)
{
    if (strv_length(emails) + strv_length(dns) == 0)
        return 0;

    GENERAL_NAMES *names = GENERAL_NAMES_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    int r = names && exts ? 0 : -ENOMEM;
    if (r >= 0)
        r = add_alt_names(names, GEN_EMAIL, emails, error);
    if (r >= 0)
        r = add_alt_names(names, GEN_DNS, dns, error);
    if (r >= 0) {
        X509_EXTENSION *ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, names);
        if (!ext || sk_X509_EXTENSION_push(exts, ext) <= 0) {
            X509_EXTENSION_free(ext);
            r = -ENOMEM;
        } else if (X509_REQ_add_extensions(req, exts) != 1)
            r = -ENOMEM;
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(names);
    return r;
}

static int req_to_pem(X509_REQ *req, char **ret)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int r = bio && PEM_write_bio_X509_REQ(bio, req) == 1 ? tk_bio_to_string(bio, ret) : -ENOMEM;
    BIO_free(bio);
    return r;
}

int tk_token_create_request(TkToken *t, const TkSecret *pin, const uint8_t *id, size_t id_len,
                            const char *subject, char *const *emails, char *const *dns,
                            char **ret_pem, TkError *error)
{
    X509_NAME *name = NULL;
    X509_REQ *req = NULL;
    EVP_PKEY *priv = NULL, *pub = NULL;
    PKCS11_KEY *key;
    int r;

    if (!id || id_len == 0)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "No key id given: name the key the request is for.");
    r = tk_dn_parse(subject, &name, error);
    if (r < 0)
        return r;
    req = X509_REQ_new();
    if (!req || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
        X509_REQ_set_subject_name(req, name) != 1) {
        r = -ENOMEM;
        goto out;
    }
    r = add_extensions(req, emails, dns, error);
    if (r < 0)
        goto out;

    r = tk_token_login(t, TK_USER, pin, error);
    if (r < 0)
        goto out;
    r = tk_token_find_key(t, true, id, id_len, &key, error);
    if (r == -ENOENT)
        r = tk_error_set(error, -ENOKEY, TK_ERROR_NO_MATCHING_KEY,
                         "The token has no private key with this id. List the token's objects "
                         "to find the key's id.");
    if (r < 0)
        goto logout;

    priv = PKCS11_get_private_key(key);
    pub = tk_token_public_key(t, key);
    if (priv && !pub) {
        r = tk_error_set(error, -ENOKEY, TK_ERROR_FAILED,
                         "The token has this private key but not its public key, which the "
                         "request carries. Generate a new key pair.");
        goto logout;
    }
    if (!priv || !pub) {
        r = tk_token_error_from_libp11(t, error, "read the key pair");
        goto logout;
    }
    if (X509_REQ_set_pubkey(req, pub) != 1) {
        r = -ENOMEM;
        goto logout;
    }
    /* The signature is made on the token; the key never leaves it. */
    if (X509_REQ_sign(req, priv, EVP_sha256()) <= 0) {
        r = tk_token_error_from_libp11(t, error, "sign the request with the token's key");
        goto logout;
    }
    if (X509_REQ_verify(req, pub) != 1) {
        r = tk_error_set(error, -EIO, TK_ERROR_FAILED,
                         "The token signed the request, but the signature does not verify with "
                         "the key's public half. The key pair may be damaged: generate a new "
                         "one.");
        goto logout;
    }
    r = req_to_pem(req, ret_pem);

logout:
    tk_token_logout(t);
out:
    (void)tk_p11_last_ckr();
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
    X509_REQ_free(req);
    X509_NAME_free(name);
    return r;
}
