/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-bus.h>

/* Certificates as DER, in the order a file gives them. */
typedef struct DerList {
    uint8_t **items;
    size_t *lens;
    size_t n;
} DerList;

void der_list_done(DerList *l);

/* Reads every certificate in a file (or standard input for "-"): PEM with any number of
 * certificates, or one DER certificate, which tokend judges. */
int read_certificates(const char *path, DerList *out);

/* The "chain" option of ImportCertificate (aay) in an open a{sv}: every certificate of first
 * but its first (the holder's), then every one of more (NULL: none). Nothing when there are
 * none. */
int options_add_chain(sd_bus_message *m, const DerList *first, const DerList *more);

/* Puts the certificate at index i first, the others keeping their order. */
void der_list_move_first(DerList *l, size_t i);
