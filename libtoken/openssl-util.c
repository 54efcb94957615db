/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "openssl-util.h"

int tk_bio_to_string(BIO *bio, char **ret)
{
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    if (len < 0)
        return -EIO;
    char *s = strndup(data, (size_t)len);
    if (!s)
        return -ENOMEM;
    *ret = s;
    return 0;
}
