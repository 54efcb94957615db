/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The private OpenSC configuration of a PC/SC-backed worker: every reader but its own is in
 * ignored_readers, so that OpenSC neither connects to nor binds another reader's card, and
 * C_SetPIN in an unlogged session sends RESET RETRY COUNTER. A worker started by tokend reads it
 * from a file in tokend's runtime directory; a socket-activated one gets it in its launch
 * frame. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "io-util.h"

static char *escape_reader(const char *s)
{
    /* OpenSC's configuration syntax: a quoted string, so quotes and backslashes go. */
    char *out = malloc(strlen(s) + 1), *p = out;
    if (!out)
        return NULL;
    for (; *s; s++)
        if (*s != '"' && *s != '\\')
            *p++ = *s;
    *p = 0;
    return out;
}

/* OpenSC ignores a reader when an entry is a substring of its name (strstr): an entry that is
 * part of the worker's own reader's name ("Reader 1" beside "Reader 10") would hide that reader
 * too, so it is left out, and that one other reader stays visible to the worker. */
static void ignore_reader(FILE *f, const char *own, const char *name, bool *first)
{
    if (isempty(name) || streq_ptr(name, own) || tk_slot_names_reader(own, name))
        return;
    _cleanup_free_ char *n = escape_reader(name);
    if (!n || !*n || (own && strstr(own, n)))
        return;
    fprintf(f, "%s\"%s\"", *first ? "    ignored_readers = " : ", ", n);
    *first = false;
}

int opensc_conf_text(Context *c, const char *reader, char **ret)
{
    _cleanup_free_ char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return -ENOMEM;
    fputs("app default {\n", f);
    /* A token knows its reader by its slot description, which may be the name cut short. */
    Reader *self = reader ? reader_find_slot(c, reader) : NULL;
    if (self)
        reader = self->name;
    bool first = true;
    for (Reader *rd = c->readers; rd; rd = rd->next)
        ignore_reader(f, reader, rd->name, &first);
    /* Without PC/SC watched the other tokens' slots are the readers known. */
    for (Token *o = c->tokens; o; o = o->next)
        if (o->module->pcsc_backed && !reader_find_slot(c, o->info.slot_description))
            ignore_reader(f, reader, o->info.slot_description, &first);
    if (!first)
        fputs(";\n", f);
    fputs("    framework pkcs15 {\n    }\n    pkcs11 {\n"
          "        user_pin_unblock_style = set_pin_in_unlogged_session;\n    }\n}\n",
          f);
    if (fclose(f) != 0)
        return -ENOMEM;
    *ret = TAKE_PTR(text);
    return 0;
}

static int opensc_conf_write(Context *c, const char *name, const char *text, char **ret_path)
{
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "%s/%s.conf", c->runtime_dir, name) < 0)
        return -ENOMEM;
    _cleanup_close_ int fd =
        open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    int r = tk_write_all(fd, text, strlen(text));
    if (r < 0)
        return r;
    *ret_path = TAKE_PTR(path);
    return 0;
}

int opensc_worker_start(Context *c, char *const *argv, const char *conf, const char *conf_name,
                        worker_exit_cb_t cb, void *userdata, Worker **ret)
{
    _cleanup_free_ char *path = NULL, *env0 = NULL;
    if (c->worker_socket)
        return worker_connect(c->event, c->worker_socket, argv, conf, cb, userdata, ret);
    if (conf) {
        int r = opensc_conf_write(c, conf_name, conf, &path);
        if (r < 0)
            return r;
        if (asprintf(&env0, "OPENSC_CONF=%s", path) < 0)
            return -ENOMEM;
    }
    char *env[] = {env0, NULL};
    return worker_spawn(c->event, c->worker_path, argv, env, cb, userdata, ret);
}
