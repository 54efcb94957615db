/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "card-fs.h"

#include <stdlib.h>
#include <string.h>

SimFile *sim_file_new(SimFileKind kind, uint16_t fid)
{
    SimFile *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->kind = kind;
    f->fid = fid;
    f->descriptor = kind == SIM_FILE_DF ? SIM_DESC_DF : SIM_DESC_EF;
    memset(f->acl, 0xFF, sizeof(f->acl));
    return f;
}

void sim_file_free(SimFile *f)
{
    while (f) {
        SimFile *next = f->next;
        sim_file_free(f->children);
        if (f->data)
            OPENSSL_clear_free(f->data, f->size);
        EVP_PKEY_free(f->key);
        free(f);
        f = next;
    }
}

void sim_file_add_child(SimFile *df, SimFile *child)
{
    SimFile **p = &df->children;
    while (*p)
        p = &(*p)->next;
    *p = child;
    child->parent = df;
    child->next = NULL;
}

void sim_file_unlink(SimFile *f)
{
    if (!f->parent)
        return;
    for (SimFile **p = &f->parent->children; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            break;
        }
    f->parent = NULL;
    f->next = NULL;
}

SimFile *sim_file_child(const SimFile *df, uint16_t fid)
{
    for (SimFile *c = df->children; c; c = c->next)
        if (c->fid == fid)
            return c;
    return NULL;
}

SimFile *sim_file_by_name(SimFile *root, const uint8_t *name, size_t len)
{
    if (root->kind == SIM_FILE_DF && root->name_len == len && len > 0 &&
        memcmp(root->name, name, len) == 0)
        return root;
    for (SimFile *c = root->children; c; c = c->next) {
        SimFile *hit = sim_file_by_name(c, name, len);
        if (hit)
            return hit;
    }
    return NULL;
}

SimFile *sim_file_walk(SimFile *start, const uint8_t *path, size_t len)
{
    SimFile *f = start;
    if (len % 2 != 0)
        return NULL;
    for (size_t i = 0; f && i < len; i += 2) {
        if (f->kind != SIM_FILE_DF)
            return NULL;
        f = sim_file_child(f, (uint16_t)(path[i] << 8 | path[i + 1]));
    }
    return f;
}

size_t sim_file_fcp(const SimFile *f, bool activated, uint8_t *out, size_t size)
{
    uint8_t b[64];
    size_t n = 2;

    b[n++] = f->kind == SIM_FILE_EF ? 0x80 : 0x81;
    b[n++] = 2;
    b[n++] = (uint8_t)(f->size >> 8);
    b[n++] = (uint8_t)f->size;
    b[n++] = 0x82;
    b[n++] = 1;
    b[n++] = f->descriptor;
    b[n++] = 0x83;
    b[n++] = 2;
    b[n++] = (uint8_t)(f->fid >> 8);
    b[n++] = (uint8_t)f->fid;
    b[n++] = 0x86;
    b[n++] = 3;
    memcpy(b + n, f->acl, 3);
    n += 3;
    b[n++] = 0x85;
    b[n++] = 2;
    memcpy(b + n, f->prop, 2);
    n += 2;
    b[n++] = 0x8A;
    b[n++] = 1;
    b[n++] = activated ? 0x05 : 0x01;
    if (f->kind == SIM_FILE_DF && f->name_len > 0) {
        b[n++] = 0x84;
        b[n++] = (uint8_t)f->name_len;
        memcpy(b + n, f->name, f->name_len);
        n += f->name_len;
    }
    b[0] = 0x62;
    b[1] = (uint8_t)(n - 2);
    if (n > size)
        return 0;
    memcpy(out, b, n);
    return n;
}

SimFile *sim_file_from_fcp(const uint8_t *fcp, size_t len)
{
    if (len < 2 || fcp[0] != 0x62 || (size_t)fcp[1] + 2 > len)
        return NULL;
    const uint8_t *p = fcp + 2, *end = fcp + 2 + fcp[1];
    int fid = -1, desc = -1;
    unsigned size = 0;
    uint8_t acl[3] = {0xFF, 0xFF, 0xFF}, prop[2] = {0, 0}, name[16];
    size_t name_len = 0;

    while (p + 2 <= end) {
        uint8_t tag = p[0], l = p[1];
        const uint8_t *v = p + 2;
        if (v + l > end)
            return NULL;
        switch (tag) {
        case 0x80:
        case 0x81:
            if (l == 0 || l > 2)
                return NULL;
            size = l == 2 ? (unsigned)(v[0] << 8 | v[1]) : v[0];
            break;
        case 0x82:
            if (l < 1)
                return NULL;
            desc = v[0];
            break;
        case 0x83:
            if (l != 2)
                return NULL;
            fid = v[0] << 8 | v[1];
            break;
        case 0x84:
            if (l > sizeof(name))
                return NULL;
            memcpy(name, v, l);
            name_len = l;
            break;
        case 0x85:
            if (l == 2)
                memcpy(prop, v, 2);
            break;
        case 0x86:
            if (l == 3)
                memcpy(acl, v, 3);
            break;
        default:
            break;
        }
        p = v + l;
    }
    if (fid < 0 || desc < 0 || fid == 0x3F00 || fid == 0xFFFF)
        return NULL;

    SimFileKind kind;
    if (desc == SIM_DESC_DF)
        kind = SIM_FILE_DF;
    else if (desc == SIM_DESC_EF)
        kind = SIM_FILE_EF;
    else if (desc == SIM_DESC_KEY_RSA || desc == SIM_DESC_KEY_EC)
        kind = SIM_FILE_KEY;
    else
        return NULL;

    SimFile *f = sim_file_new(kind, (uint16_t)fid);
    if (!f)
        return NULL;
    f->descriptor = (uint8_t)desc;
    f->size = (uint16_t)size;
    memcpy(f->acl, acl, 3);
    memcpy(f->prop, prop, 2);
    memcpy(f->name, name, name_len);
    f->name_len = name_len;
    if (kind == SIM_FILE_EF) {
        f->data = calloc(1, size ? size : 1);
        if (!f->data) {
            free(f);
            return NULL;
        }
    }
    return f;
}

uint8_t sim_file_ac(const SimFile *f, SimOp op)
{
    switch (f->kind) {
    case SIM_FILE_DF:
        if (op == SIM_OP_CREATE)
            return f->acl[0] >> 4;
        if (op == SIM_OP_DELETE)
            return f->acl[1] >> 4;
        return SIM_AC_ALWAYS;
    case SIM_FILE_EF:
    case SIM_FILE_KEY:
        /* For a key, "read" is using it; "update" loads it. */
        if (op == SIM_OP_READ)
            return f->acl[0] >> 4;
        if (op == SIM_OP_UPDATE)
            return f->acl[0] & 0xF;
        if (op == SIM_OP_DELETE)
            return f->acl[1] >> 4;
        if (op == SIM_OP_GENERATE && f->kind == SIM_FILE_KEY)
            return f->acl[1] & 0xF;
        return SIM_AC_NEVER;
    }
    return SIM_AC_NEVER;
}
