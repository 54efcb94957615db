/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Verifies an audit file with libtoken, for tests that have no tokenctl. */
#include <stdio.h>

#include "audit-log.h"

int main(int argc, char **argv)
{
    TkAuditVerifyResult result = {};
    TkError error = {};
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    if (tk_audit_verify(argv[1], &result, &error) < 0) {
        printf("line %zu: %s\n", result.bad_line, error.message);
        return 1;
    }
    printf("%zu lines, chain intact%s\n", result.lines,
           result.interrupted ? ", then a partial line" : "");
    return 0;
}
