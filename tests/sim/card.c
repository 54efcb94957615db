/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "card.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

/* T=1, historical bytes "MyEID": what OpenSC's myeid driver matches on. */
const uint8_t sim_card_atr[] = {0x3B, 0xF5, 0x18, 0x00, 0x00, 0x81, 0x31, 0xFE,
                                0x45, 0x4D, 0x79, 0x45, 0x49, 0x44, 0x9A};
const size_t sim_card_atr_len = sizeof(sim_card_atr);

static const uint8_t myeid_aid[] = {0xA0, 0x00, 0x00, 0x00, 0x63, 0x50,
                                    0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35};

/* Applet 4.5.5: new enough for command chaining and for the capability query. */
#define APPLET_MAJOR 4
#define APPLET_MINOR 5
#define APPLET_BUILD 5

enum {
    SW_OK = 0x9000,
    SW_WRONG_LENGTH = 0x6700,
    SW_SECURITY = 0x6982,
    SW_BLOCKED = 0x6983,
    SW_CONDITIONS = 0x6985,
    SW_NO_CURRENT_EF = 0x6986,
    SW_WRONG_DATA = 0x6A80,
    SW_FUNC_NOT_SUPPORTED = 0x6A81,
    SW_FILE_NOT_FOUND = 0x6A82,
    SW_NO_SPACE = 0x6A84,
    SW_WRONG_P1P2 = 0x6A86,
    SW_REF_NOT_FOUND = 0x6A88,
    SW_FILE_EXISTS = 0x6A89,
    SW_WRONG_OFFSET = 0x6B00,
    SW_INS_NOT_SUPPORTED = 0x6D00,
    SW_CLA_NOT_SUPPORTED = 0x6E00,
    SW_UNKNOWN = 0x6F00,
};

typedef struct Apdu {
    uint8_t cla, ins, p1, p2;
    const uint8_t *data;
    size_t lc;
    size_t le; /* 0 when absent, 256 for a zero Le byte */
} Apdu;

typedef struct Resp {
    uint8_t *buf;
    size_t size;
    size_t len;
} Resp;

static bool parse_apdu(const uint8_t *a, size_t n, Apdu *out)
{
    if (n < 4)
        return false;
    *out = (Apdu){.cla = a[0], .ins = a[1], .p1 = a[2], .p2 = a[3]};
    if (n == 4)
        return true;
    if (n == 5) {
        out->le = a[4] ? a[4] : 256;
        return true;
    }
    size_t lc = a[4];
    if (lc == 0 || n < 5 + lc || n > 6 + lc)
        return false;
    out->data = a + 5;
    out->lc = lc;
    if (n == 6 + lc)
        out->le = a[5 + lc] ? a[5 + lc] : 256;
    return true;
}

static uint16_t put(Resp *r, const uint8_t *p, size_t n)
{
    if (r->len + n > r->size)
        return SW_UNKNOWN;
    memcpy(r->buf + r->len, p, n);
    r->len += n;
    return SW_OK;
}

static SimFile *current_df(const SimCard *c)
{
    return c->current->kind == SIM_FILE_DF ? c->current : c->current->parent;
}

static bool ac_ok(const SimCard *c, uint8_t ac)
{
    /* Until the applet is activated the card is being personalised and enforces nothing. */
    if (!c->activated || ac == SIM_AC_ALWAYS)
        return true;
    if (ac == SIM_AC_NEVER || ac > SIM_MAX_PINS)
        return false;
    return c->verified[ac];
}

static void pad_pin(uint8_t out[SIM_PIN_LEN], const uint8_t *p, size_t n)
{
    memset(out, 0xFF, SIM_PIN_LEN);
    memcpy(out, p, n);
}

static bool pin_equal(const uint8_t stored[SIM_PIN_LEN], const uint8_t *given, size_t n)
{
    uint8_t padded[SIM_PIN_LEN];
    pad_pin(padded, given, n);
    bool eq = CRYPTO_memcmp(stored, padded, SIM_PIN_LEN) == 0;
    OPENSSL_cleanse(padded, sizeof(padded));
    return eq;
}

static uint16_t tries_left_sw(uint8_t tries)
{
    return (uint16_t)(0x63C0 | (tries & 0x0F));
}

/* What INITIALISE APPLET leaves, and what a card leaves the factory with: the MF and the
 * PKCS#15 application DF 5015 (named by its AID), each with the access conditions given. */
static SimFile *new_file_system(const uint8_t mf_acl[3], const uint8_t app_acl[3])
{
    SimFile *mf = sim_file_new(SIM_FILE_DF, 0x3F00);
    SimFile *app = sim_file_new(SIM_FILE_DF, 0x5015);
    if (!mf || !app) {
        sim_file_free(mf);
        sim_file_free(app);
        return NULL;
    }
    memcpy(mf->acl, mf_acl, 3);
    memcpy(app->acl, app_acl, 3);
    memcpy(app->name, myeid_aid, sizeof(myeid_aid));
    app->name_len = sizeof(myeid_aid);
    sim_file_add_child(mf, app);
    return mf;
}

int sim_card_init_blank(SimCard *c, const uint8_t serial[10])
{
    /* Open but for the MF's delete, which is INITIALISE APPLET's access condition: once the
     * card is activated, erasing it takes the SO PIN (reference 3), also when it was personalised
     * without an erase first. */
    static const uint8_t mf_acl[3] = {0x00, 0x3F, 0xFF};
    static const uint8_t app_acl[3] = {0x00, 0x0F, 0xFF};
    memset(c, 0, sizeof(*c));
    memcpy(c->serial, serial, 10);
    c->mf = new_file_system(mf_acl, app_acl);
    if (!c->mf)
        return -ENOMEM;
    c->current = c->mf;
    return 0;
}

void sim_card_done(SimCard *c)
{
    sim_card_reset(c);
    sim_file_free(c->mf);
    OPENSSL_cleanse(c, sizeof(*c));
}

static void chain_drop(SimCard *c)
{
    if (c->chain)
        OPENSSL_clear_free(c->chain, c->chain_len);
    c->chain = NULL;
    c->chain_len = 0;
}

void sim_card_reset(SimCard *c)
{
    memset(c->verified, 0, sizeof(c->verified));
    c->current = c->mf;
    c->se_operation = 0;
    chain_drop(c);
    sim_key_load_clear(&c->load);
}

static uint16_t select_answer(SimCard *c, const Apdu *a, SimFile *f, Resp *r)
{
    if (!f)
        return SW_FILE_NOT_FOUND;
    c->current = f;
    if ((a->p2 & 0x0C) == 0x0C)
        return SW_OK;
    uint8_t fcp[64];
    size_t n = sim_file_fcp(f, c->activated, fcp, sizeof(fcp));
    return put(r, fcp, n);
}

static uint16_t cmd_select(SimCard *c, const Apdu *a, Resp *r)
{
    SimFile *df = current_df(c);

    switch (a->p1) {
    case 0x00:
    case 0x01:
    case 0x02: {
        if (a->lc == 0)
            return select_answer(c, a, c->mf, r);
        if (a->lc != 2)
            return SW_WRONG_LENGTH;
        uint16_t fid = (uint16_t)(a->data[0] << 8 | a->data[1]);
        SimFile *f = NULL;
        if (fid == 0x3F00)
            f = c->mf;
        else if (fid == df->fid)
            f = df;
        else if (!(f = sim_file_child(df, fid)) && df->parent) {
            f = df->parent->fid == fid ? df->parent : sim_file_child(df->parent, fid);
        }
        return select_answer(c, a, f, r);
    }
    case 0x03:
        return select_answer(c, a, df->parent ? df->parent : df, r);
    case 0x04: {
        if (a->lc == 0)
            return SW_WRONG_LENGTH;
        SimFile *f = sim_file_by_name(c->mf, a->data, a->lc);
        if (f)
            return select_answer(c, a, f, r);
        /* Selecting the applet itself: the card's file system starts at the MF. */
        if (a->lc == sizeof(myeid_aid) && memcmp(a->data, myeid_aid, a->lc) == 0) {
            c->current = c->mf;
            return SW_OK;
        }
        return SW_FILE_NOT_FOUND;
    }
    case 0x08:
        return select_answer(c, a, sim_file_walk(c->mf, a->data, a->lc), r);
    case 0x09:
        return select_answer(c, a, sim_file_walk(df, a->data, a->lc), r);
    default:
        return SW_WRONG_P1P2;
    }
}

/* What READ and UPDATE BINARY share: the current EF, its access condition for op, the offset. */
static uint16_t binary_target(SimCard *c, const Apdu *a, SimOp op, size_t *ret_offset)
{
    if (a->p1 & 0x80)
        return SW_FUNC_NOT_SUPPORTED;
    if (c->current->kind != SIM_FILE_EF)
        return SW_NO_CURRENT_EF;
    if (!ac_ok(c, sim_file_ac(c->current, op)))
        return SW_SECURITY;
    *ret_offset = (size_t)a->p1 << 8 | a->p2;
    return SW_OK;
}

static uint16_t cmd_read_binary(SimCard *c, const Apdu *a, Resp *r)
{
    SimFile *f = c->current;
    size_t off;
    uint16_t sw = binary_target(c, a, SIM_OP_READ, &off);
    if (sw != SW_OK)
        return sw;
    if (off >= f->size)
        return SW_WRONG_OFFSET;
    size_t n = f->size - off;
    size_t want = a->le ? a->le : 256;
    return put(r, f->data + off, n < want ? n : want);
}

static uint16_t cmd_update_binary(SimCard *c, const Apdu *a, Resp *r)
{
    SimFile *f = c->current;
    size_t off;
    uint16_t sw = binary_target(c, a, SIM_OP_UPDATE, &off);
    if (sw != SW_OK)
        return sw;
    if (a->lc == 0)
        return SW_WRONG_LENGTH;
    if (off + a->lc > f->size)
        return SW_NO_SPACE;
    memcpy(f->data + off, a->data, a->lc);
    c->dirty = true;
    return SW_OK;
}

static uint16_t cmd_create(SimCard *c, const Apdu *a, Resp *r)
{
    SimFile *df = current_df(c);
    if (!ac_ok(c, sim_file_ac(df, SIM_OP_CREATE)))
        return SW_SECURITY;
    SimFile *f = sim_file_from_fcp(a->data, a->lc);
    if (!f)
        return SW_WRONG_DATA;
    if (sim_file_child(df, f->fid) || f->fid == df->fid) {
        sim_file_free(f);
        return SW_FILE_EXISTS;
    }
    sim_file_add_child(df, f);
    c->current = f;
    c->dirty = true;
    return SW_OK;
}

static uint16_t cmd_delete(SimCard *c, const Apdu *a, Resp *r)
{
    SimFile *f = c->current;
    if (a->lc == 2) {
        f = sim_file_child(current_df(c), (uint16_t)(a->data[0] << 8 | a->data[1]));
        if (!f)
            return SW_FILE_NOT_FOUND;
    }
    if (f == c->mf)
        return SW_CONDITIONS;
    if (!ac_ok(c, sim_file_ac(f, SIM_OP_DELETE)))
        return SW_SECURITY;
    SimFile *parent = f->parent;
    for (SimFile *cur = c->current; cur; cur = cur->parent)
        if (cur == f) {
            c->current = parent;
            break;
        }
    sim_file_unlink(f);
    sim_file_free(f);
    c->dirty = true;
    return SW_OK;
}

static uint16_t get_applet_info(const SimCard *c, Resp *r)
{
    uint8_t info[20] = {0};
    info[5] = APPLET_MAJOR;
    info[6] = APPLET_MINOR;
    info[7] = APPLET_BUILD;
    memcpy(info + 8, c->serial, 10);
    info[18] = (uint8_t)(c->change_counter >> 8);
    info[19] = (uint8_t)c->change_counter;
    return put(r, info, sizeof(info));
}

static uint16_t get_capabilities(Resp *r)
{
    /* Version 1; RSA and EC; RSA up to 2048 bits, no DES or AES, EC up to 384 bits. */
    static const uint8_t caps[11] = {0x01, 0x00, 0x09, 0x08, 0x00, 0x00,
                                     0x00, 0x00, 0x00, 0x01, 0x80};
    return put(r, caps, sizeof(caps));
}

static uint16_t cmd_get_data(SimCard *c, const Apdu *a, Resp *r)
{
    if (a->p1 != 0x01)
        return SW_REF_NOT_FOUND;
    switch (a->p2) {
    case 0xA0:
        return get_applet_info(c, r);
    case 0xAA:
        return get_capabilities(r);
    case 0xA1: {
        uint16_t sw = SW_OK;
        for (SimFile *f = current_df(c)->children; f && sw == SW_OK; f = f->next) {
            const uint8_t fid[2] = {(uint8_t)(f->fid >> 8), (uint8_t)f->fid};
            sw = put(r, fid, 2);
        }
        return sw;
    }
    case 0x01:
    case 0x80:
    case 0x81:
    case 0x86: {
        if (c->current->kind != SIM_FILE_KEY)
            return SW_NO_CURRENT_EF;
        uint8_t buf[300];
        int n = sim_key_public(c->current, a->p2, buf, sizeof(buf));
        if (n < 0)
            return n == -ENOENT ? SW_REF_NOT_FOUND : SW_WRONG_P1P2;
        return put(r, buf, (size_t)n);
    }
    default:
        return SW_REF_NOT_FOUND;
    }
}

static uint16_t put_pin_record(SimCard *c, uint8_t ref, const Apdu *a)
{
    if (ref == 0 || ref > SIM_MAX_PINS)
        return SW_WRONG_P1P2;
    if (a->lc < 18)
        return SW_WRONG_LENGTH;
    if (!ac_ok(c, sim_file_ac(c->mf, SIM_OP_CREATE)))
        return SW_SECURITY;
    SimPin *p = &c->pins[ref];
    memcpy(p->pin, a->data, SIM_PIN_LEN);
    memcpy(p->puk, a->data + SIM_PIN_LEN, SIM_PIN_LEN);
    p->max_tries = p->tries = a->data[16] ? a->data[16] & 0x0F : 3;
    p->puk_max_tries = p->puk_tries = a->data[17] ? a->data[17] & 0x0F : 3;
    p->present = true;
    c->verified[ref] = false;
    c->dirty = true;
    return SW_OK;
}

static uint16_t initialise_applet(SimCard *c, const Apdu *a)
{
    if (a->lc != 8)
        return SW_WRONG_LENGTH;
    if (!ac_ok(c, sim_file_ac(c->mf, SIM_OP_DELETE)))
        return SW_SECURITY;
    const uint8_t mf_acl[3] = {a->data[2], a->data[3], a->data[4]};
    const uint8_t app_acl[3] = {a->data[5], a->data[6], a->data[7]};
    SimFile *mf = new_file_system(mf_acl, app_acl);
    if (!mf)
        return SW_UNKNOWN;
    sim_card_reset(c);
    sim_file_free(c->mf);
    c->mf = mf;
    c->current = mf;
    memset(c->pins, 0, sizeof(c->pins));
    c->activated = false;
    c->change_counter++;
    c->dirty = true;
    return SW_OK;
}

static uint16_t load_key_component(SimCard *c, const Apdu *a)
{
    SimFile *f = c->current;
    if (f->kind != SIM_FILE_KEY)
        return SW_NO_CURRENT_EF;
    if (!ac_ok(c, sim_file_ac(f, SIM_OP_UPDATE)))
        return SW_SECURITY;
    if (a->lc == 0)
        return SW_WRONG_LENGTH;
    int k = sim_key_load(&c->load, f, a->p2, a->data, a->lc);
    if (k < 0)
        return SW_WRONG_DATA;
    c->dirty = true;
    return SW_OK;
}

static uint16_t cmd_put_data(SimCard *c, const Apdu *a, Resp *r)
{
    if (a->p1 != 0x01)
        return SW_WRONG_P1P2;
    if (a->p2 == 0xE0)
        return initialise_applet(c, a);
    if (a->p2 >= 1 && a->p2 <= SIM_MAX_PINS)
        return put_pin_record(c, a->p2, a);
    if (a->p2 >= 0x80 && a->p2 <= 0x87)
        return load_key_component(c, a);
    return SW_WRONG_P1P2;
}

/* The PIN record P2 names, and its reference; NULL when there is none. */
static SimPin *pin_ref(SimCard *c, uint8_t p2, uint8_t *ret_ref)
{
    uint8_t ref = p2 & 0x1F;
    if (ref == 0 || ref > SIM_MAX_PINS || !c->pins[ref].present)
        return NULL;
    *ret_ref = ref;
    return &c->pins[ref];
}

/* Presents a PIN as VERIFY and CHANGE REFERENCE DATA do: a wrong one spends a try, the right
 * one restores the tries and verifies the PIN; a blocked PIN takes neither. */
static uint16_t present_pin(SimCard *c, uint8_t ref, const uint8_t *given, size_t len)
{
    SimPin *p = &c->pins[ref];
    if (p->tries == 0)
        return SW_BLOCKED;
    if (!pin_equal(p->pin, given, len)) {
        p->tries--;
        c->verified[ref] = false;
        c->dirty = true;
        return tries_left_sw(p->tries);
    }
    if (p->tries != p->max_tries) {
        p->tries = p->max_tries;
        c->dirty = true;
    }
    c->verified[ref] = true;
    return SW_OK;
}

static uint16_t cmd_verify(SimCard *c, const Apdu *a, Resp *r)
{
    uint8_t ref = 0;
    SimPin *p = pin_ref(c, a->p2, &ref);
    if (a->p1 != 0x00)
        return SW_WRONG_P1P2;
    if (!p)
        return SW_REF_NOT_FOUND;
    if (a->lc == 0) {
        /* A status query: spends no try. */
        if (p->tries == 0)
            return SW_BLOCKED;
        return c->verified[ref] ? SW_OK : tries_left_sw(p->tries);
    }
    if (a->lc > SIM_PIN_LEN)
        return SW_WRONG_LENGTH;
    return present_pin(c, ref, a->data, a->lc);
}

static uint16_t cmd_change(SimCard *c, const Apdu *a, Resp *r)
{
    uint8_t ref = 0;
    SimPin *p = pin_ref(c, a->p2, &ref);
    if (a->p1 != 0x00)
        return SW_WRONG_P1P2;
    if (!p)
        return SW_REF_NOT_FOUND;
    if (a->lc != 2 * SIM_PIN_LEN)
        return SW_WRONG_LENGTH;
    /* A blocked PIN cannot be changed, whatever old PIN comes with the command. */
    uint16_t sw = present_pin(c, ref, a->data, SIM_PIN_LEN);
    if (sw != SW_OK)
        return sw;
    memcpy(p->pin, a->data + SIM_PIN_LEN, SIM_PIN_LEN);
    c->dirty = true;
    return SW_OK;
}

static uint16_t cmd_reset_retry(SimCard *c, const Apdu *a, Resp *r)
{
    uint8_t ref = 0;
    SimPin *p = pin_ref(c, a->p2, &ref);
    if (a->p1 != 0x00 && a->p1 != 0x01)
        return SW_WRONG_P1P2;
    if (!p)
        return SW_REF_NOT_FOUND;
    if (a->lc != (a->p1 == 0x00 ? 2 : 1) * SIM_PIN_LEN)
        return SW_WRONG_LENGTH;
    if (p->puk_tries == 0)
        return SW_BLOCKED;
    c->dirty = true;
    if (!pin_equal(p->puk, a->data, SIM_PIN_LEN)) {
        p->puk_tries--;
        return tries_left_sw(p->puk_tries);
    }
    p->puk_tries = p->puk_max_tries;
    p->tries = p->max_tries;
    if (a->p1 == 0x00)
        memcpy(p->pin, a->data + SIM_PIN_LEN, SIM_PIN_LEN);
    c->verified[ref] = false;
    return SW_OK;
}

static uint16_t cmd_logout(SimCard *c, const Apdu *a, Resp *r)
{
    if (a->p2 == 0)
        memset(c->verified, 0, sizeof(c->verified));
    else if (a->p2 <= SIM_MAX_PINS)
        c->verified[a->p2] = false;
    else
        return SW_WRONG_P1P2;
    return SW_OK;
}

static uint16_t cmd_mse(SimCard *c, const Apdu *a, Resp *r)
{
    if (a->p1 != 0x41 && a->p1 != 0x81)
        return SW_WRONG_P1P2;
    if (a->p2 != 0xB6 && a->p2 != 0xB8)
        return SW_FUNC_NOT_SUPPORTED;
    uint8_t alg = 0;
    int key = -1;
    for (size_t i = 0; i + 2 <= a->lc;) {
        uint8_t tag = a->data[i], l = a->data[i + 1];
        const uint8_t *v = a->data + i + 2;
        if (i + 2 + l > a->lc)
            return SW_WRONG_DATA;
        if (tag == 0x80 && l == 1)
            alg = v[0];
        else if (tag == 0x81 && l == 2)
            key = v[0] << 8 | v[1];
        i += 2 + (size_t)l;
    }
    if (key < 0)
        return SW_WRONG_DATA;
    c->se_operation = a->p2;
    c->se_algorithm = alg;
    c->se_key = (uint16_t)key;
    return SW_OK;
}

static SimFile *se_key_file(SimCard *c)
{
    for (SimFile *df = current_df(c); df; df = df->parent) {
        SimFile *f = sim_file_child(df, c->se_key);
        if (f && f->kind == SIM_FILE_KEY)
            return f;
    }
    return NULL;
}

static uint16_t cmd_pso(SimCard *c, const Apdu *a, Resp *r)
{
    bool sign = a->p1 == 0x9E && a->p2 == 0x9A;
    bool decipher = a->p1 == 0x80 && (a->p2 == 0x86 || a->p2 == 0x84);
    if (!sign && !decipher)
        return SW_FUNC_NOT_SUPPORTED;
    if (c->se_operation != (sign ? 0xB6 : 0xB8))
        return SW_CONDITIONS;
    SimFile *f = se_key_file(c);
    if (!f || !f->key)
        return SW_REF_NOT_FOUND;
    if (!ac_ok(c, sim_file_ac(f, SIM_OP_READ)))
        return SW_SECURITY;
    if (a->lc == 0)
        return SW_WRONG_LENGTH;

    uint8_t out[512];
    int n;
    if (sign) {
        n = sim_key_sign(f, c->se_algorithm, a->data, a->lc, out, sizeof(out));
    } else {
        const uint8_t *in = a->data;
        size_t len = a->lc;
        if (a->p2 == 0x86) {
            /* Padding indicator 00: the whole cryptogram follows. */
            if (in[0] != 0x00)
                return SW_WRONG_DATA;
            in++;
            len--;
        }
        n = sim_key_decipher(f, c->se_algorithm, in, len, out, sizeof(out));
    }
    if (n < 0)
        return SW_WRONG_DATA;
    uint16_t sw = put(r, out, (size_t)n);
    OPENSSL_cleanse(out, sizeof(out));
    return sw;
}

static uint16_t cmd_generate(SimCard *c, const Apdu *a, Resp *r)
{
    SimFile *f = c->current;
    if (f->kind != SIM_FILE_KEY)
        return SW_NO_CURRENT_EF;
    if (!ac_ok(c, sim_file_ac(f, SIM_OP_GENERATE)))
        return SW_SECURITY;
    const uint8_t *e = NULL;
    size_t e_len = 0;
    /* RSA: 30 len 81 len exponent. */
    if (a->lc >= 4 && a->data[0] == 0x30 && a->data[2] == 0x81 && (size_t)a->data[3] + 4 <= a->lc) {
        e = a->data + 4;
        e_len = a->data[3];
    }
    if (sim_key_generate(f, e, e_len) < 0)
        return SW_WRONG_DATA;
    c->dirty = true;
    return SW_OK;
}

static uint16_t cmd_activate(SimCard *c, const Apdu *a, Resp *r)
{
    if (a->lc != sizeof(myeid_aid) || memcmp(a->data, myeid_aid, a->lc) != 0)
        return SW_WRONG_DATA;
    c->activated = true;
    c->dirty = true;
    return SW_OK;
}

static uint16_t cmd_get_challenge(SimCard *c, const Apdu *a, Resp *r)
{
    uint8_t buf[256];
    size_t n = a->le ? a->le : 8;
    if (RAND_bytes(buf, (int)n) != 1)
        return SW_UNKNOWN;
    return put(r, buf, n);
}

typedef uint16_t (*Command)(SimCard *c, const Apdu *a, Resp *r);

static const struct {
    uint8_t ins;
    Command run;
} commands[] = {
    {0xA4, cmd_select},        {0xB0, cmd_read_binary}, {0xD6, cmd_update_binary},
    {0xE0, cmd_create},        {0xE4, cmd_delete},      {0xCA, cmd_get_data},
    {0xDA, cmd_put_data},      {0x20, cmd_verify},      {0x24, cmd_change},
    {0x2C, cmd_reset_retry},   {0x2E, cmd_logout},      {0x22, cmd_mse},
    {0x2A, cmd_pso},           {0x46, cmd_generate},    {0x44, cmd_activate},
    {0x84, cmd_get_challenge},
};

static uint16_t dispatch(SimCard *c, const Apdu *a, Resp *r)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (commands[i].ins == a->ins)
            return commands[i].run(c, a, r);
    return SW_INS_NOT_SUPPORTED;
}

/* Command chaining (CLA bit 0x10): the parts are collected and run as one command. */
static uint16_t chain_or_run(SimCard *c, const uint8_t *raw, size_t len, Resp *r)
{
    Apdu a;
    if (!parse_apdu(raw, len, &a))
        return SW_WRONG_LENGTH;
    if ((a.cla & ~0x10) != 0x00 && (a.cla & ~0x10) != 0xA0)
        return SW_CLA_NOT_SUPPORTED;
    if (c->chain && c->chain_ins != a.ins)
        chain_drop(c);
    if (a.cla & 0x10) {
        uint8_t *grown = realloc(c->chain, c->chain_len + a.lc + 1);
        if (!grown)
            return SW_UNKNOWN;
        c->chain = grown;
        /* A part without data (a case 1 or 2 command) has none to copy. */
        if (a.lc > 0)
            memcpy(c->chain + c->chain_len, a.data, a.lc);
        c->chain_len += a.lc;
        c->chain_ins = a.ins;
        return SW_OK;
    }
    if (!c->chain)
        return dispatch(c, &a, r);

    uint8_t *all = malloc(c->chain_len + a.lc + 1);
    if (!all)
        return SW_UNKNOWN;
    memcpy(all, c->chain, c->chain_len);
    if (a.lc > 0)
        memcpy(all + c->chain_len, a.data, a.lc);
    a.lc += c->chain_len;
    a.data = all;
    uint16_t sw = dispatch(c, &a, r);
    OPENSSL_clear_free(all, a.lc);
    chain_drop(c);
    return sw;
}

size_t sim_card_apdu(SimCard *c, const uint8_t *apdu, size_t len, uint8_t *out, size_t size)
{
    Resp r = {.buf = out, .size = size - 2};
    uint16_t sw = chain_or_run(c, apdu, len, &r);
    if (sw != SW_OK)
        r.len = 0;
    out[r.len] = (uint8_t)(sw >> 8);
    out[r.len + 1] = (uint8_t)sw;
    return r.len + 2;
}
