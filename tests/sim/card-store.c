/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "card-store.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int add_hex(json_object *o, const char *key, const uint8_t *p, size_t n)
{
    char *s = calloc(1, 2 * n + 1);
    size_t len = 0;
    if (!s)
        return -ENOMEM;
    if (n > 0 && !OPENSSL_buf2hexstr_ex(s, 2 * n + 1, &len, p, n, '\0')) {
        free(s);
        return -EIO;
    }
    json_object_object_add(o, key, json_object_new_string(s));
    OPENSSL_clear_free(s, 2 * n + 1);
    return 0;
}

/* Decodes a hex member into exactly n bytes, or into a new buffer when n is 0. */
static int get_hex(json_object *o, const char *key, uint8_t *out, size_t n, uint8_t **ret,
                   size_t *ret_len)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        return -ENOENT;
    const char *s = json_object_get_string(v);
    size_t len = 0, cap = strlen(s) / 2;
    if (cap == 0) {
        if (ret) {
            *ret = NULL;
            *ret_len = 0;
        }
        return n == 0 ? 0 : -EINVAL;
    }
    uint8_t *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    if (!OPENSSL_hexstr2buf_ex(buf, cap, &len, s, '\0') || (n && len != n)) {
        free(buf);
        return -EINVAL;
    }
    if (ret) {
        *ret = buf;
        *ret_len = len;
        return 0;
    }
    memcpy(out, buf, len);
    OPENSSL_clear_free(buf, cap);
    return 0;
}

static int get_int(json_object *o, const char *key, int *out)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return -EINVAL;
    *out = json_object_get_int(v);
    return 0;
}

static const char *kind_name(SimFileKind k)
{
    return k == SIM_FILE_DF ? "df" : k == SIM_FILE_EF ? "ef" : "key";
}

static json_object *file_to_json(const SimFile *f)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "fid", json_object_new_int(f->fid));
    json_object_object_add(o, "kind", json_object_new_string(kind_name(f->kind)));
    json_object_object_add(o, "descriptor", json_object_new_int(f->descriptor));
    json_object_object_add(o, "size", json_object_new_int(f->size));
    add_hex(o, "acl", f->acl, 3);
    add_hex(o, "prop", f->prop, 2);
    add_hex(o, "name", f->name, f->name_len);
    if (f->kind == SIM_FILE_EF)
        add_hex(o, "data", f->data, f->size);
    if (f->key) {
        unsigned char *der = NULL;
        int n = i2d_PrivateKey(f->key, &der);
        if (n > 0)
            add_hex(o, "key", der, (size_t)n);
        OPENSSL_clear_free(der, n > 0 ? (size_t)n : 0);
    }
    json_object *children = json_object_new_array();
    for (const SimFile *c = f->children; c; c = c->next)
        json_object_array_add(children, file_to_json(c));
    json_object_object_add(o, "children", children);
    return o;
}

static SimFile *file_from_json(json_object *o)
{
    json_object *v;
    int fid, desc, size;
    if (get_int(o, "fid", &fid) < 0 || get_int(o, "descriptor", &desc) < 0 ||
        get_int(o, "size", &size) < 0 || !json_object_object_get_ex(o, "kind", &v))
        return NULL;
    const char *kind = json_object_get_string(v);
    SimFileKind k = strcmp(kind, "df") == 0   ? SIM_FILE_DF
                    : strcmp(kind, "ef") == 0 ? SIM_FILE_EF
                                              : SIM_FILE_KEY;
    SimFile *f = sim_file_new(k, (uint16_t)fid);
    if (!f)
        return NULL;
    f->descriptor = (uint8_t)desc;
    f->size = (uint16_t)size;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (get_hex(o, "acl", f->acl, 3, NULL, NULL) < 0 ||
        get_hex(o, "prop", f->prop, 2, NULL, NULL) < 0 ||
        get_hex(o, "name", NULL, 0, &buf, &len) < 0 || len > sizeof(f->name))
        goto fail;
    /* A file without a name has no buffer for it. */
    if (len > 0)
        memcpy(f->name, buf, len);
    f->name_len = len;
    free(buf);
    buf = NULL;
    if (k == SIM_FILE_EF) {
        if (get_hex(o, "data", NULL, 0, &buf, &len) < 0 || len != f->size)
            goto fail;
        f->data = buf ? buf : calloc(1, 1);
        buf = NULL;
    }
    if (get_hex(o, "key", NULL, 0, &buf, &len) == 0 && buf) {
        const unsigned char *p = buf;
        f->key = d2i_AutoPrivateKey(NULL, &p, (long)len);
        OPENSSL_clear_free(buf, len);
        buf = NULL;
        if (!f->key)
            goto fail;
    }
    if (json_object_object_get_ex(o, "children", &v)) {
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            SimFile *c = file_from_json(json_object_array_get_idx(v, i));
            if (!c)
                goto fail;
            sim_file_add_child(f, c);
        }
    }
    return f;
fail:
    free(buf);
    sim_file_free(f);
    return NULL;
}

int sim_card_save(const SimCard *c, const char *path)
{
    json_object *o = json_object_new_object();
    add_hex(o, "serial", c->serial, sizeof(c->serial));
    json_object_object_add(o, "activated", json_object_new_boolean(c->activated));
    json_object_object_add(o, "change_counter", json_object_new_int(c->change_counter));
    json_object *pins = json_object_new_array();
    for (int ref = 1; ref <= SIM_MAX_PINS; ref++) {
        const SimPin *p = &c->pins[ref];
        if (!p->present)
            continue;
        json_object *po = json_object_new_object();
        json_object_object_add(po, "reference", json_object_new_int(ref));
        add_hex(po, "pin", p->pin, SIM_PIN_LEN);
        add_hex(po, "puk", p->puk, SIM_PIN_LEN);
        json_object_object_add(po, "max_tries", json_object_new_int(p->max_tries));
        json_object_object_add(po, "tries", json_object_new_int(p->tries));
        json_object_object_add(po, "puk_max_tries", json_object_new_int(p->puk_max_tries));
        json_object_object_add(po, "puk_tries", json_object_new_int(p->puk_tries));
        json_object_array_add(pins, po);
    }
    json_object_object_add(o, "pins", pins);
    json_object_object_add(o, "mf", file_to_json(c->mf));

    char tmp[4096];
    int r = 0;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        json_object_put(o);
        return -ENAMETOOLONG;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        json_object_put(o);
        return -errno;
    }
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
    size_t len = strlen(s);
    if (write(fd, s, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) < 0)
        r = -EIO;
    close(fd);
    json_object_put(o);
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    return r;
}

int sim_card_load(SimCard *c, const char *path)
{
    json_object *o = json_object_from_file(path);
    json_object *v;
    int r = -EINVAL, n;

    if (!o)
        return access(path, F_OK) < 0 ? -ENOENT : -EINVAL;
    memset(c, 0, sizeof(*c));
    if (get_hex(o, "serial", c->serial, sizeof(c->serial), NULL, NULL) < 0)
        goto out;
    if (json_object_object_get_ex(o, "activated", &v))
        c->activated = json_object_get_boolean(v);
    if (get_int(o, "change_counter", &n) == 0)
        c->change_counter = (uint16_t)n;
    if (json_object_object_get_ex(o, "pins", &v)) {
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            json_object *po = json_object_array_get_idx(v, i);
            int ref, max, tries, puk_max, puk_tries;
            if (get_int(po, "reference", &ref) < 0 || ref < 1 || ref > SIM_MAX_PINS ||
                get_int(po, "max_tries", &max) < 0 || get_int(po, "tries", &tries) < 0 ||
                get_int(po, "puk_max_tries", &puk_max) < 0 ||
                get_int(po, "puk_tries", &puk_tries) < 0)
                goto out;
            SimPin *p = &c->pins[ref];
            if (get_hex(po, "pin", p->pin, SIM_PIN_LEN, NULL, NULL) < 0 ||
                get_hex(po, "puk", p->puk, SIM_PIN_LEN, NULL, NULL) < 0)
                goto out;
            p->max_tries = (uint8_t)max;
            p->tries = (uint8_t)tries;
            p->puk_max_tries = (uint8_t)puk_max;
            p->puk_tries = (uint8_t)puk_tries;
            p->present = true;
        }
    }
    if (!json_object_object_get_ex(o, "mf", &v) || !(c->mf = file_from_json(v)))
        goto out;
    c->current = c->mf;
    r = 0;
out:
    json_object_put(o);
    if (r < 0) {
        sim_file_free(c->mf);
        OPENSSL_cleanse(c, sizeof(*c));
    }
    return r;
}
