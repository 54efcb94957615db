/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "dn.h"
#include "text-escape.h"

/* OpenSSL's short names are case-sensitive and differ from RFC 4514's for a few types, so the
 * common ones are looked up here first; anything else goes to OBJ_txt2obj(). */
static const struct {
    const char *name;
    int nid;
} dn_types[] = {
    {"CN", NID_commonName},
    {"L", NID_localityName},
    {"ST", NID_stateOrProvinceName},
    {"O", NID_organizationName},
    {"OU", NID_organizationalUnitName},
    {"C", NID_countryName},
    {"STREET", NID_streetAddress},
    {"DC", NID_domainComponent},
    {"UID", NID_userId},
    {"SERIALNUMBER", NID_serialNumber},
    {"EMAILADDRESS", NID_pkcs9_emailAddress},
    {"E", NID_pkcs9_emailAddress},
    {"SN", NID_surname},
    {"GN", NID_givenName},
    {"GIVENNAME", NID_givenName},
    {"TITLE", NID_title},
    {"INITIALS", NID_initials},
    {"PSEUDONYM", NID_pseudonym},
    {"ORGANIZATIONIDENTIFIER", NID_organizationIdentifier},
};

typedef struct DnAva {
    ASN1_OBJECT *obj;
    char *value;
    size_t len;
    bool joined_next; /* followed by '+': same RDN as the next one */
} DnAva;

static void ava_done(DnAva *a)
{
    ASN1_OBJECT_free(a->obj);
    free(a->value);
}

static void name_freep(X509_NAME **n)
{
    X509_NAME_free(*n);
}

static void bio_freep(BIO **b)
{
    BIO_free(*b);
}

static ASN1_OBJECT *type_lookup(const char *type)
{
    for (size_t i = 0; i < ELEMENTSOF(dn_types); i++)
        if (strcasecmp(dn_types[i].name, type) == 0)
            return OBJ_nid2obj(dn_types[i].nid);
    return OBJ_txt2obj(type, 0);
}

/* Parses one "type=value" starting at *p; leaves *p at the separator or the end. */
static int parse_ava(const char **p, DnAva *ret, TkError *error)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    const char *eq = strchr(s, '=');
    const char *stop = strpbrk(s, ",+");
    if (!eq || (stop && stop < eq))
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "Missing '=' in distinguished name part '%.*s'.",
                            (int)(stop ? (size_t)(stop - s) : strlen(s)), s);
    size_t tlen = (size_t)(eq - s);
    while (tlen > 0 && s[tlen - 1] == ' ')
        tlen--;
    if (tlen == 0)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "Missing attribute type before '=' in distinguished name.");
    _cleanup_free_ char *type = strndup(s, tlen);
    if (!type)
        return -ENOMEM;
    ASN1_OBJECT *obj = type_lookup(type);
    if (!obj) {
        ERR_clear_error();
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "Unknown attribute type '%s' in distinguished name; use a name "
                            "such as CN, O, OU, C or a dotted OID.",
                            type);
    }

    s = eq + 1;
    while (*s == ' ')
        s++;
    if (*s == '#') {
        ASN1_OBJECT_free(obj);
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "The value of '%s' is in the hex-encoded '#' form, which is not "
                            "supported; write it as text.",
                            type);
    }

    _cleanup_free_ char *value = malloc(strlen(s) + 1);
    if (!value) {
        ASN1_OBJECT_free(obj);
        return -ENOMEM;
    }
    size_t n = 0, keep = 0; /* keep: length without unescaped trailing spaces */
    int r = 0;
    for (; *s && *s != ',' && *s != '+'; s++) {
        if (*s == '\\') {
            int hi = OPENSSL_hexchar2int((unsigned char)s[1]),
                lo = hi >= 0 ? OPENSSL_hexchar2int((unsigned char)s[2]) : -1;
            if (hi >= 0 && lo >= 0) {
                value[n++] = (char)(hi << 4 | lo);
                s += 2;
            } else if (s[1] && strchr(",+\"\\<>;= #", s[1])) {
                value[n++] = *++s;
            } else {
                r = tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                                 "Bad escape sequence in the value of '%s'; use \\ before one "
                                 "of , + \" \\ < > ; = # or space, or \\XX for a hex byte.",
                                 type);
                break;
            }
            keep = n;
        } else if (strchr("\"<>;", *s)) {
            r = tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                             "The value of '%s' contains '%c', which must be escaped as '\\%c'.",
                             type, *s, *s);
            break;
        } else {
            value[n++] = *s;
            if (*s != ' ')
                keep = n;
        }
    }
    if (r == 0 && keep == 0)
        r = tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                         "Empty value for '%s' in distinguished name.", type);
    if (r == 0 && memchr(value, 0, keep))
        r = tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                         "The value of '%s' contains a NUL byte.", type);
    /* Raw or as a hex pair, a control character would be signed into the request and shown
     * by whatever prints the certificate later. */
    if (r == 0 && tk_utf8_check_no_controls(value, keep) == -EINVAL)
        r = tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                         "The value of '%s' contains a control character (such as a newline, "
                         "an escape or \\07); a name may hold none.",
                         type);
    if (r == 0 && OBJ_obj2nid(obj) == NID_countryName &&
        !(keep == 2 && strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", value[0]) &&
          strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", value[1])))
        r = tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                         "The country (%s) must be a two-letter ISO 3166 code such as DE or US.",
                         type);
    if (r < 0) {
        ASN1_OBJECT_free(obj);
        return r;
    }
    value[keep] = 0;
    ret->obj = obj;
    ret->value = TAKE_PTR(value);
    ret->len = keep;
    ret->joined_next = *s == '+';
    *p = s;
    return 0;
}

int tk_dn_parse(const char *rfc4514, X509_NAME **ret, TkError *error)
{
    if (!rfc4514 || !ret)
        return -EINVAL;
    if (strspn(rfc4514, " ") == strlen(rfc4514))
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "The distinguished name is empty.");

    DnAva *avas = NULL;
    size_t n = 0;
    int r = 0;
    const char *p = rfc4514;
    for (;;) {
        DnAva *a = realloc(avas, (n + 1) * sizeof(*avas));
        if (!a) {
            r = -ENOMEM;
            break;
        }
        avas = a;
        r = parse_ava(&p, &avas[n], error);
        if (r < 0)
            break;
        n++;
        if (!*p)
            break;
        p++;
        if (strspn(p, " ") == strlen(p)) {
            r = tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                             "The distinguished name ends with a separator.");
            break;
        }
    }

    _cleanup_(name_freep) X509_NAME *name = r < 0 ? NULL : X509_NAME_new();
    if (r == 0 && !name)
        r = -ENOMEM;
    /* X509_NAME holds RDNs in the reverse of the string's order; going backwards, an AVA
     * followed by '+' in the string joins the RDN that was added just before it (set = -1). */
    for (size_t i = n; r == 0 && i > 0; i--) {
        DnAva *a = &avas[i - 1];
        if (!X509_NAME_add_entry_by_OBJ(name, a->obj, MBSTRING_UTF8, (unsigned char *)a->value,
                                        (int)a->len, -1, a->joined_next ? -1 : 0)) {
            unsigned long e = ERR_get_error();
            char obj_name[80];
            OBJ_obj2txt(obj_name, sizeof(obj_name), a->obj, 0);
            ERR_clear_error();
            r = tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                             "The value of '%s' is not acceptable (%s).", obj_name,
                             e ? ERR_reason_error_string(e) : "rejected by OpenSSL");
        }
    }
    for (size_t i = 0; i < n; i++)
        ava_done(&avas[i]);
    free(avas);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(name);
    return 0;
}

/* The name as X509_NAME_print_ex() writes it with these flags; NULL when it cannot. */
static char *print_name(const X509_NAME *n, unsigned long flags)
{
    _cleanup_(bio_freep) BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || X509_NAME_print_ex(bio, n, 0, flags) < 0)
        return NULL;
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    if (len < 0)
        return NULL;
    return strndup(data ? data : "", (size_t)len);
}

/* OpenSSL copies a UTF8String's bytes as they are, UTF-8 or not (a Latin-1 name from a card).
 * A byte outside any UTF-8 character becomes an RFC 4514 hex pair, as OpenSSL writes control
 * characters: the string stays a DN that names the same bytes, and valid UTF-8. */
static char *escape_stray_bytes(const char *s)
{
    size_t len = strlen(s);
    char *out = malloc(len * 3 + 1), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len;) {
        size_t n = tk_utf8_char_length(s + i, len - i);
        if (n > 0) {
            memcpy(p, s + i, n);
            p += n;
            i += n;
        } else
            p += sprintf(p, "\\%02X", (unsigned char)s[i++]);
    }
    *p = 0;
    return out;
}

char *tk_dn_format(const X509_NAME *n)
{
    if (!n)
        return NULL;
    /* UTF-8 left readable rather than every byte above 0x7f as \XX; controls are escaped. */
    _cleanup_free_ char *s = print_name(n, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    if (s)
        return escape_stray_bytes(s);
    /* A BMPString or UniversalString holding no character (a lone surrogate, a code point
     * beyond U+10FFFF) has no UTF-8 form: then every value as RFC 4514's #hex of its BER. */
    return print_name(n, XN_FLAG_RFC2253 | ASN1_STRFLGS_DUMP_ALL);
}
