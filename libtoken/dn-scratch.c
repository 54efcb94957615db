#include <string.h>
#include <openssl/x509.h>
#include "dn.h"
int tk_dn_parse(const char *s, X509_NAME **ret, TkError *error)
{
    X509_NAME *n = X509_NAME_new();
    char *copy = strdup(s), *save = NULL;
    for (char *rdn = strtok_r(copy, ",", &save); rdn; rdn = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(rdn, '=');
        if (!eq) {
            free(copy);
            X509_NAME_free(n);
            return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT, "bad '%s'", rdn);
        }
        *eq = 0;
        if (X509_NAME_add_entry_by_txt(n, rdn, MBSTRING_UTF8, (unsigned char *)eq + 1, -1, 0, 0) !=
            1) {
            X509_NAME_free(n);
            int r = tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                                 "unknown attribute type '%s'", rdn);
            free(copy);
            return r;
        }
    }
    free(copy);
    *ret = n;
    return 0;
}
char *tk_dn_format(const X509_NAME *n)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *d;
    X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    long l = BIO_get_mem_data(b, &d);
    char *r = strndup(d, l);
    BIO_free(b);
    return r;
}
