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
    for (size_t i = 0; i < result.n_interruptions && i < TK_AUDIT_INTERRUPTIONS_LISTED; i++)
        printf("interruption at line %zu offset %llu length %zu%s\n", result.interruptions[i].line,
               (unsigned long long)result.interruptions[i].offset, result.interruptions[i].length,
               result.interruptions[i].sealed ? " sealed" : "");
    return 0;
}
