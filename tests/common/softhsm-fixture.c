/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "softhsm-fixture.h"
#include "tk-run.h"

int softhsm_fixture_setup(SofthsmFixture *f, const char *label, const char *so_pin,
                          const char *user_pin)
{
    char *conf, *tokens, *text;
    TkError error = {};
    TkTokenInfo *infos;
    size_t n;

    memset(f, 0, sizeof(*f));
    if (access(SOFTHSM_MODULE, R_OK) < 0)
        return 77;
    f->dir = tk_make_temp_dir("tokend-softhsm");
    ck_assert_ptr_nonnull(f->dir);
    ck_assert_int_ge(asprintf(&tokens, "%s/tokens", f->dir), 0);
    ck_assert_int_eq(mkdir(tokens, 0700), 0);
    ck_assert_int_ge(asprintf(&conf, "%s/softhsm2.conf", f->dir), 0);
    ck_assert_int_ge(asprintf(&text,
                              "directories.tokendir = %s\nobjectstore.backend = file\n"
                              "log.level = ERROR\nslots.removable = false\n",
                              tokens),
                     0);
    ck_assert_int_eq(tk_write_file(conf, text, strlen(text)), 0);
    setenv("SOFTHSM2_CONF", conf, 1);
    free(text);
    free(conf);
    free(tokens);

    ck_assert_int_eq(tk_module_load(SOFTHSM_MODULE, &f->module, &error), 0);
    ck_assert_int_eq(tk_module_list_tokens(f->module, &infos, &n, &error), 0);
    ck_assert_uint_eq(n, 1); /* SoftHSM2's free slot */
    ck_assert(!infos[0].initialized);
    unsigned long slot_id = infos[0].slot_id;
    tk_token_info_array_free(infos, n);

    _cleanup_secret_ TkSecret *so = NULL, *user = NULL;
    ck_assert_int_eq(tk_secret_new_string(so_pin, &so), 0);
    ck_assert_int_eq(tk_secret_new_string(user_pin, &user), 0);
    ck_assert_int_eq(tk_token_open_slot(f->module, slot_id, &f->token, &error), 0);
    int r = tk_token_initialize(f->token, so, label, user, &error);
    ck_assert_msg(r == 0, "initialize: %s", error.message);

    TkTokenInfo info = {};
    ck_assert_int_eq(tk_token_get_info(f->token, &info, &error), 0);
    f->serial = strdup(info.serial);
    tk_token_info_done(&info);
    ck_assert_str_ne(f->serial, "");
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

    ck_assert_int_eq(tk_token_get_info(f->token, &info, NULL), 0);
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
