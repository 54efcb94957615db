/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Asking a person before an act that destroys what is on a token, or taking --yes for it. */
#include <stdio.h>
#include <string.h>

#include "confirm.h"
#include "format.h"
#include "pin-input.h"

int confirm_destroy(Context *ctx, const char *question, const char *expected)
{
    char answer[128];

    if (ctx->yes)
        return 0;
    if (!ctx->ask_password || !pin_tty_available())
        return fail(ctx, CLI_ERROR_USAGE,
                    "This destroys what is on the token and there is no terminal to confirm it "
                    "on: pass --yes to go ahead.");
    int r = tty_read_answer(question, answer, sizeof(answer));
    if (r < 0)
        return fail_errno(ctx, r, "Cannot read the answer from the terminal");
    bool yes = expected ? streq(answer, expected)
                        : (streq(answer, "y") || streq(answer, "Y") || streq(answer, "yes"));
    if (!yes)
        return fail(ctx, CLI_ERROR_NOT_CONFIRMED, "Not confirmed; nothing was changed.");
    return 0;
}
