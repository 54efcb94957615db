/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The card's file system, as MyEID keeps it: DFs, transparent EFs and key files ("internal
 * EFs") whose private part never leaves the card. */

typedef enum SimFileKind {
    SIM_FILE_DF,
    SIM_FILE_EF,
    SIM_FILE_KEY,
} SimFileKind;

/* FCP descriptor bytes (tag 82) the MyEID driver writes and reads back. */
#define SIM_DESC_EF      0x01
#define SIM_DESC_DF      0x38
#define SIM_DESC_KEY_RSA 0x11
#define SIM_DESC_KEY_EC  0x22

/* Access condition nibbles: 0 always, 1..14 a PIN reference, 15 never. */
#define SIM_AC_ALWAYS 0x0
#define SIM_AC_NEVER  0xF

typedef struct SimFile SimFile;
struct SimFile {
    uint16_t fid;
    SimFileKind kind;
    uint8_t descriptor;
    uint16_t size; /* bytes of an EF; bits of a key */
    uint8_t acl[3];
    uint8_t prop[2];
    uint8_t name[16];
    size_t name_len;
    uint8_t *data; /* an EF's content, size bytes */
    EVP_PKEY *key; /* a key file's key pair, NULL until generated or loaded */
    SimFile *parent;
    SimFile *children;
    SimFile *next;
};

SimFile *sim_file_new(SimFileKind kind, uint16_t fid);
/* Frees f and everything under it; keys are freed with it. */
void sim_file_free(SimFile *f);
void sim_file_add_child(SimFile *df, SimFile *child);
/* Unlinks f from its parent (does not free it). */
void sim_file_unlink(SimFile *f);
SimFile *sim_file_child(const SimFile *df, uint16_t fid);
SimFile *sim_file_by_name(SimFile *root, const uint8_t *name, size_t len);
/* Resolves a path of file ids below start (each step a child); NULL if a step is missing. */
SimFile *sim_file_walk(SimFile *start, const uint8_t *path, size_t len);

/* Encodes the FCP template (tag 62) the card answers SELECT with. Returns its length. */
size_t sim_file_fcp(const SimFile *f, bool activated, uint8_t *out, size_t size);
/* Parses a CREATE FILE FCP into a new, unlinked file; NULL when malformed. */
SimFile *sim_file_from_fcp(const uint8_t *fcp, size_t len);

/* The access condition nibble of an operation on f. */
typedef enum SimOp {
    SIM_OP_READ,     /* EF read, key use */
    SIM_OP_UPDATE,   /* EF update, key load */
    SIM_OP_DELETE,   /* delete the file itself */
    SIM_OP_CREATE,   /* create in a DF */
    SIM_OP_GENERATE, /* key generation */
} SimOp;
uint8_t sim_file_ac(const SimFile *f, SimOp op);
