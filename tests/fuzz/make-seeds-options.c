/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes the seeds of fuzz-options into a directory, at build time: for every row of the
 * operation table a call with its required options and one with all of its options, each with
 * a valid value, and a few that the readers must refuse. It walks operations[] itself, so that
 * the seeds follow the table. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz-options.h"
#include "macro.h"
#include "operations.h"

typedef struct Program {
    uint8_t data[4096];
    size_t len;
} Program;

static void put_u8(Program *p, uint8_t b)
{
    if (p->len < sizeof(p->data))
        p->data[p->len++] = b;
}

static void put_piece(Program *p, const void *data, size_t n)
{
    put_u8(p, (uint8_t)(n >> 8));
    put_u8(p, (uint8_t)n);
    for (size_t i = 0; i < n; i++)
        put_u8(p, ((const uint8_t *)data)[i]);
}

static void put_string(Program *p, const char *s)
{
    put_piece(p, s, strlen(s));
}

static const uint8_t key_id[20] = {0x3a, 0x41, 0x5c, 0x02, 0x9e, 0x11, 0x7f, 0x80, 0x00, 0x42,
                                   0xc3, 0x19, 0x5d, 0x27, 0x64, 0x0b, 0xee, 0x31, 0x90, 0x08};

/* The leading arguments of a row, valid ones. */
static void put_arguments(Program *p, const Operation *op)
{
    static const uint8_t certificate[] = {0x30, 0x82, 0x01, 0x0a, 0x30, 0x81, 0xb0, 0xa0, 0x03};
    if (streq(op->member, "GenerateKeyPair"))
        put_string(p, "ec-p256");
    else if (streq(op->member, "CreateRequest")) {
        put_piece(p, key_id, sizeof(key_id));
        put_string(p, "CN=Jane Doe,OU=Registration Office,O=Example Agency,C=DE");
    } else if (streq(op->member, "ImportCertificate"))
        put_piece(p, certificate, sizeof(certificate));
    else if (streq(op->member, "ChangePin"))
        put_string(p, op->variant);
    else if (streq(op->member, "Initialize"))
        put_string(p, "Token 1");
    else if (streq(op->member, "DeleteObject")) {
        put_string(p, "key");
        put_piece(p, key_id, sizeof(key_id));
    }
}

/* One option with a valid value. */
static void put_option(Program *p, OptionId id)
{
    put_u8(p, (uint8_t)id);
    switch (id) {
    case OPTION_PIN:
        put_u8(p, VALUE_BYTES);
        put_string(p, "271828");
        break;
    case OPTION_NEW_PIN:
        put_u8(p, VALUE_BYTES);
        put_string(p, "845613");
        break;
    case OPTION_SO_PIN:
        put_u8(p, VALUE_BYTES);
        put_string(p, "87654321");
        break;
    case OPTION_LABEL:
        put_u8(p, VALUE_STRING);
        put_string(p, "Signing key");
        break;
    case OPTION_ID:
        put_u8(p, VALUE_BYTES);
        put_piece(p, key_id, sizeof(key_id));
        break;
    case OPTION_EMAIL:
        put_u8(p, VALUE_STRINGS);
        put_u8(p, 1);
        put_string(p, "jane.doe@example.org");
        break;
    case OPTION_DNS:
        put_u8(p, VALUE_STRINGS);
        put_u8(p, 2);
        put_string(p, "host.example.org");
        put_string(p, "www.example.org");
        break;
    case OPTION_REQUEST:
        put_u8(p, VALUE_STRING);
        put_string(p, "UA-2026-000123");
        break;
    case OPTION_FORCE:
        put_u8(p, VALUE_BOOLEAN);
        put_u8(p, 1);
        break;
    case OPTION_CHAIN:
        put_u8(p, VALUE_BLOBS);
        put_u8(p, 2);
        put_string(p, "intermediate CA certificate");
        put_string(p, "root CA certificate");
        break;
    default:
        break;
    }
}

static Program start(size_t row)
{
    Program p = {};
    put_u8(&p, (uint8_t)row);
    put_u8(&p, 4);  /* the token's minimum PIN length */
    put_u8(&p, 16); /* and its maximum */
    put_arguments(&p, &operations[row]);
    return p;
}

static int write_seed(const char *dir, const char *name, size_t row, const Program *p)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%02zu-%s-%s%s%s", dir, row, operations[row].name, name,
             operations[row].variant ? "-" : "", strempty(operations[row].variant));
    FILE *f = fopen(path, "we");
    if (!f || fwrite(p->data, 1, p->len, f) != p->len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s: %m\n", path);
        return -EIO;
    }
    return 0;
}

static int write_row(const char *dir, size_t row)
{
    const Operation *op = &operations[row];
    Program required = start(row), all = start(row), unknown = start(row), nested = start(row);
    for (int id = 0; id < _OPTION_MAX; id++) {
        if (op->required & OPT(id))
            put_option(&required, (OptionId)id);
        if (op->options & OPT(id))
            put_option(&all, (OptionId)id);
    }

    /* Refused: an option no method has, and one whose value is a variant in the variant. */
    put_u8(&unknown, 0x80);
    put_string(&unknown, "colour");
    put_u8(&unknown, VALUE_STRING);
    put_string(&unknown, "blue");
    put_u8(&nested, OPTION_FORCE);
    put_u8(&nested, VALUE_VARIANT);
    put_u8(&nested, VALUE_DICT);
    put_u8(&nested, 1);
    put_option(&nested, OPTION_LABEL);

    int r = write_seed(dir, "required", row, &required);
    if (r >= 0)
        r = write_seed(dir, "all", row, &all);
    if (r >= 0)
        r = write_seed(dir, "unknown", row, &unknown);
    if (r >= 0)
        r = write_seed(dir, "nested", row, &nested);
    return r;
}

/* The directory, empty: seeds of an older table must not stay behind. */
static int make_dir(const char *dir)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    for (struct dirent *de; (de = readdir(d));)
        if (de->d_type == DT_REG)
            (void)unlinkat(dirfd(d), de->d_name, 0);
    closedir(d);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "Usage: %s DIR\n", argv[0]);
        return 2;
    }
    int r = make_dir(argv[1]);
    if (r < 0) {
        fprintf(stderr, "cannot make %s: %s\n", argv[1], strerror(-r));
        return 1;
    }
    for (size_t row = 0; row < n_operations && r >= 0; row++)
        r = write_row(argv[1], row);
    return r < 0 ? 1 : 0;
}
