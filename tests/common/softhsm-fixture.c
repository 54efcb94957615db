/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "softhsm-fixture.h"
#include "tk-run.h"

static int fail(SofthsmFixture *f, const char *what, const TkError *error)
{
    fprintf(stderr, "softhsm fixture: %s: %s\n", what, error ? error->message : strerror(errno));
    softhsm_fixture_teardown(f);
    return -1;
}

static int write_config(SofthsmFixture *f)
{
    _cleanup_free_ char *tokens = NULL, *conf = NULL, *text = NULL;

    if (asprintf(&tokens, "%s/tokens", f->dir) < 0 || mkdir(tokens, 0700) < 0 ||
        asprintf(&conf, "%s/softhsm2.conf", f->dir) < 0 ||
        asprintf(&text,
                 "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n"
                 "slots.removable = false\n",
                 tokens) < 0 ||
        tk_write_file(conf, text, strlen(text)) < 0)
        return -1;
    return setenv("SOFTHSM2_CONF", conf, 1);
}

int softhsm_fixture_setup(SofthsmFixture *f, const char *label, const char *so_pin,
                          const char *user_pin)
{
    TkError error = {};
    TkTokenInfo *infos;
    size_t n;

    memset(f, 0, sizeof(*f));
    if (access(SOFTHSM_MODULE, R_OK) < 0)
        return -ENOPKG;
    f->dir = tk_make_temp_dir("tokend-softhsm");
    if (!f->dir || write_config(f) < 0)
        return fail(f, "token store", NULL);

    if (tk_module_load(SOFTHSM_MODULE, &f->module, &error) < 0 ||
        tk_module_list_tokens(f->module, &infos, &n, &error) < 0)
        return fail(f, "loading SoftHSM2", &error);
    /* A new store has exactly one slot: SoftHSM2's free one. */
    unsigned long slot_id = n > 0 ? infos[0].slot_id : 0;
    bool free_slot = n == 1 && !infos[0].initialized;
    tk_token_info_array_free(infos, n);
    if (!free_slot)
        return fail(f, "expected one free slot", NULL);

    _cleanup_secret_ TkSecret *so = NULL, *user = NULL;
    if (tk_secret_new_string(so_pin, &so) < 0 || tk_secret_new_string(user_pin, &user) < 0)
        return fail(f, "PINs", NULL);
    if (tk_token_open_slot(f->module, slot_id, &f->token, &error) < 0 ||
        tk_token_initialize(f->token, so, label, user, &error) < 0)
        return fail(f, "initialising the token", &error);

    TkTokenInfo info = {};
    if (tk_token_get_info(f->token, &info, &error) < 0)
        return fail(f, "reading the token", &error);
    f->serial = TAKE_PTR(info.serial);
    tk_token_info_done(&info);
    if (isempty(f->serial))
        return fail(f, "the initialised token has no serial", NULL);
    return 0;
}

void softhsm_fixture_teardown(SofthsmFixture *f)
{
    tk_token_free(f->token);
    tk_module_free(f->module);
    tk_remove_tree(f->dir);
    free(f->dir);
    free(f->serial);
    memset(f, 0, sizeof(*f));
}

int softhsm_pkcs11_tool(SofthsmFixture *f, char **ret, ...)
{
    char *argv[32] = {"pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label"};
    TkTokenInfo info = {};
    size_t n = 4;
    va_list ap;

    if (tk_token_get_info(f->token, &info, NULL) < 0)
        return -1;
    argv[n++] = info.label;
    va_start(ap, ret);
    for (char *a; (a = va_arg(ap, char *)) && n < ELEMENTSOF(argv) - 1;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    int r = tk_run(argv, NULL, ret);
    tk_token_info_done(&info);
    return r;
}

const char *softhsm_fixture_unavailable(void)
{
    return access(SOFTHSM_MODULE, R_OK) < 0 ? "SoftHSM2 is not installed (" SOFTHSM_MODULE ")"
                                            : NULL;
}
