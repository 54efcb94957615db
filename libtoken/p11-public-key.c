/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A key's public half, read from the token with the module's own functions. libp11 0.4.12's
 * PKCS11_get_public_key() never frees the object it builds the key from, nor, through the slot
 * reference that object holds, the slot's session pool (docs/decisions.md, "LeakSanitizer
 * suppressions: the library's own functions, and a check"). */
#include <errno.h>
#include <stdlib.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "p11-internal.h"

static int get_attribute(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                         CK_ATTRIBUTE_TYPE type, unsigned char **ret, size_t *ret_len)
{
    CK_ATTRIBUTE a = {type, NULL, 0};
    if (fl->C_GetAttributeValue(s, o, &a, 1) != CKR_OK || a.ulValueLen == 0 ||
        a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        return -ENOENT;
    a.pValue = malloc(a.ulValueLen);
    if (!a.pValue)
        return -ENOMEM;
    if (fl->C_GetAttributeValue(s, o, &a, 1) != CKR_OK) {
        free(a.pValue);
        return -EIO;
    }
    *ret = a.pValue;
    *ret_len = a.ulValueLen;
    return 0;
}

/* The public key object with the key's id, as libp11 looks for it: the first match. */
static CK_OBJECT_HANDLE find_public(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s,
                                    const PKCS11_KEY *key)
{
    CK_OBJECT_CLASS class = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE match[] = {
        {CKA_CLASS, &class, sizeof(class)},
        {CKA_ID, key->id, key->id_len},
    };
    CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    if (fl->C_FindObjectsInit(s, match, 2) != CKR_OK)
        return CK_INVALID_HANDLE;
    if (fl->C_FindObjects(s, &o, 1, &n) != CKR_OK || n != 1)
        o = CK_INVALID_HANDLE;
    (void)fl->C_FindObjectsFinal(s);
    return o;
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) > 0)
        (void)EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_public(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
    _cleanup_free_ unsigned char *mod = NULL, *exp = NULL;
    size_t mod_len, exp_len;
    if (get_attribute(fl, s, o, CKA_MODULUS, &mod, &mod_len) < 0 ||
        get_attribute(fl, s, o, CKA_PUBLIC_EXPONENT, &exp, &exp_len) < 0)
        return NULL;

    BIGNUM *n = BN_bin2bn(mod, (int)mod_len, NULL), *e = BN_bin2bn(exp, (int)exp_len, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (n && e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
        pkey = from_params("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

/* CKA_EC_PARAMS holds the curve's OID; CKA_EC_POINT the point, DER-wrapped as an OCTET STRING
 * (PKCS#11 2.40), though some modules give it bare. */
static EVP_PKEY *ec_public(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
    _cleanup_free_ unsigned char *params = NULL, *point = NULL;
    size_t params_len, point_len;
    if (get_attribute(fl, s, o, CKA_EC_PARAMS, &params, &params_len) < 0 ||
        get_attribute(fl, s, o, CKA_EC_POINT, &point, &point_len) < 0)
        return NULL;

    const unsigned char *p = params;
    ASN1_OBJECT *oid = d2i_ASN1_OBJECT(NULL, &p, (long)params_len);
    const char *group = oid ? OBJ_nid2sn(OBJ_obj2nid(oid)) : NULL;
    ASN1_OBJECT_free(oid);
    if (!group)
        return NULL;

    p = point;
    ASN1_OCTET_STRING *wrapped = d2i_ASN1_OCTET_STRING(NULL, &p, (long)point_len);
    bool der = wrapped && p == point + point_len;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                         der ? ASN1_STRING_get0_data(wrapped) : point,
                                         der ? (size_t)ASN1_STRING_length(wrapped) : point_len))
        pkey = from_params("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    ASN1_OCTET_STRING_free(wrapped);
    return pkey;
}

EVP_PKEY *tk_token_public_key(TkToken *t, const PKCS11_KEY *key)
{
    CK_FUNCTION_LIST_PTR fl = t->module->fl;
    CK_SESSION_HANDLE s;
    if (fl->C_OpenSession(t->slot_id, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
        return NULL;

    EVP_PKEY *pkey = NULL;
    CK_OBJECT_HANDLE o = find_public(fl, s, key);
    CK_KEY_TYPE type;
    CK_ATTRIBUTE a = {CKA_KEY_TYPE, &type, sizeof(type)};
    if (o != CK_INVALID_HANDLE && fl->C_GetAttributeValue(s, o, &a, 1) == CKR_OK)
        pkey = type == CKK_RSA ? rsa_public(fl, s, o) : type == CKK_EC ? ec_public(fl, s, o) : NULL;
    (void)fl->C_CloseSession(s);
    return pkey;
}
