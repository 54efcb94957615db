/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What tk_card_initialize() decides before it touches the card: without a new user PIN it
 * refuses, and the module, token and serial the caller holds stay as they were. */
#include <errno.h>

#include "card-init.h"
#include "tk-test.h"

START_TEST(card_initialize_refuses_without_a_new_pin_and_keeps_the_token)
{
    /* Stand-ins that must not be freed or replaced: freeing them would crash the test. */
    static char module_mark, token_mark;
    TkModule *module = (TkModule *)&module_mark;
    TkToken *token = (TkToken *)&token_mark;
    char serial_text[] = "0123456789";
    char *serial = serial_text;
    _cleanup_secret_ TkSecret *so_pin = NULL;
    ck_assert_int_eq(tk_secret_new_string("12345678", &so_pin), 0);

    TkError e = {};
    int r = tk_card_initialize("/nonexistent/module.so", &module, &token, &serial, so_pin, "label",
                               NULL, &e);
    ck_assert_int_eq(r, -EINVAL);
    ck_assert_str_eq(e.name, TK_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(e.message,
                     "A smart card gets its user PIN, and the PUK that unblocks it, "
                     "when it is initialised: give the new user PIN (option \"new-pin\").");
    ck_assert_ptr_eq(module, (TkModule *)&module_mark);
    ck_assert_ptr_eq(token, (TkToken *)&token_mark);
    ck_assert_ptr_eq(serial, serial_text);
    ck_assert_str_eq(serial, "0123456789");
}
END_TEST

static Suite *card_init_suite(void)
{
    Suite *s = suite_create("card-init");
    TCase *tc = tcase_create("arguments");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, card_initialize_refuses_without_a_new_pin_and_keeps_the_token);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(card_init_suite())
