/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "text-escape.h"
#include "token-error.h"

/* One errno per bus error name, so that code which only has an errno (a failed syscall, a
 * worker that died) still maps to a name, and a name maps back to an errno for exit codes. */
#define ENTRY(name, err) {name, err},
static const struct {
    const char *name;
    int err;
} error_table[] = {TK_ERROR_FOREACH(ENTRY)};
#undef ENTRY

int tk_error_setv(TkError *error, int err, const char *name, const char *fmt, va_list ap)
{
    if (!error)
        return err;
    snprintf(error->name, sizeof(error->name), "%s", name ? name : tk_error_errno_to_name(err));
    int n = vsnprintf(error->message, sizeof(error->message), fmt, ap);
    /* Cut short, the message may end inside a UTF-8 character (a long label in it), and then
     * no bus message takes it. */
    if (n >= (int)sizeof(error->message))
        error->message[tk_utf8_whole_prefix(error->message, strlen(error->message))] = 0;
    return err;
}

int tk_error_set(TkError *error, int err, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tk_error_setv(error, err, name, fmt, ap);
    va_end(ap);
    return err;
}

int tk_error_is_set(const TkError *error)
{
    return error && error->name[0] != 0;
}

int tk_error_name_to_errno(const char *name)
{
    if (!name)
        return -EIO;
    for (size_t i = 0; i < ELEMENTSOF(error_table); i++)
        if (strcmp(error_table[i].name, name) == 0)
            return -error_table[i].err;
    return -EIO;
}

bool tk_error_name_is_known(const char *name)
{
    for (size_t i = 0; name && i < ELEMENTSOF(error_table); i++)
        if (strcmp(error_table[i].name, name) == 0)
            return true;
    return false;
}

const char *tk_error_short_name(const char *name)
{
    const char *dot = name ? strrchr(name, '.') : NULL;
    return dot ? dot + 1 : name;
}

const char *tk_error_errno_to_name(int err)
{
    if (err < 0)
        err = -err;
    for (size_t i = 0; i < ELEMENTSOF(error_table); i++)
        if (error_table[i].err == err)
            return error_table[i].name;
    if (err == ENOENT)
        return TK_ERROR_INVALID_ARGUMENT;
    return TK_ERROR_FAILED;
}
