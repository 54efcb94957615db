/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes N chained audit lines with libtoken's own writer, for the audit verify tests. */
#include <stdio.h>
#include <stdlib.h>

#include "audit-log.h"

int main(int argc, char *argv[])
{
    TkError error = {};
    int n;

    if (argc != 3)
        return 2;
    n = atoi(argv[2]);
    for (int i = 0; i < n; i++) {
        TkAuditRecord rec = {
            .time_usec = 1795608000000000ULL + (uint64_t)i,
            .operation = "unblock-pin",
            .serial = "0011223344",
            .uid = 1000,
            .pid = 42,
            .request = "UNLOCK-2026-0001",
            .result = "ok",
        };
        if (tk_audit_append(argv[1], &rec, NULL, &error) < 0) {
            fprintf(stderr, "%s\n", error.message);
            return 1;
        }
    }
    return 0;
}
