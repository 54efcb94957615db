/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "secret.h"
#include "tk-test.h"

START_TEST(secret_refuses_embedded_nul)
{
    TkSecret *s = NULL;
    ck_assert_int_eq(tk_secret_new("12\0"
                                   "34",
                                   5, &s),
                     -EINVAL);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(secret_data_is_nul_terminated)
{
    _cleanup_secret_ TkSecret *s = NULL;
    char src[4] = {'1', '2', '3', '4'}; /* deliberately not terminated */
    ck_assert_int_eq(tk_secret_new(src, sizeof(src), &s), 0);
    ck_assert_uint_eq(s->len, 4);
    ck_assert_int_eq(s->data[4], 0);
    ck_assert_str_eq(s->data, "1234");
    ck_assert_ptr_ne(s->data, src);
}
END_TEST

START_TEST(secret_empty_is_allowed)
{
    _cleanup_secret_ TkSecret *s = NULL;
    ck_assert_int_eq(tk_secret_new(NULL, 0, &s), 0);
    ck_assert_uint_eq(s->len, 0);
    ck_assert_str_eq(s->data, "");
}
END_TEST

START_TEST(secret_equality)
{
    _cleanup_secret_ TkSecret *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    ck_assert_int_eq(tk_secret_new_string("123456", &a), 0);
    ck_assert_int_eq(tk_secret_new_string("123456", &b), 0);
    ck_assert_int_eq(tk_secret_new_string("123457", &c), 0);
    ck_assert_int_eq(tk_secret_new_string("12345", &d), 0);
    ck_assert(tk_secret_equal(a, b));
    ck_assert(!tk_secret_equal(a, c));
    ck_assert(!tk_secret_equal(a, d));
    ck_assert(!tk_secret_equal(a, NULL));
    ck_assert(tk_secret_equal(NULL, NULL));
}
END_TEST

START_TEST(wipe_clears_buffer)
{
    char buf[16];
    memset(buf, 'x', sizeof(buf));
    tk_wipe(buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++)
        ck_assert_int_eq(buf[i], 0);
    tk_wipe(NULL, 5); /* NULL-safe */
}
END_TEST

START_TEST(secret_free_returns_null_and_accepts_null)
{
    TkSecret *s = NULL;
    ck_assert_int_eq(tk_secret_new_string("987654", &s), 0);
    ck_assert_ptr_null(tk_secret_free(s));
    ck_assert_ptr_null(tk_secret_free(NULL));
}
END_TEST

static Suite *secret_suite(void)
{
    Suite *s = suite_create("secret");
    TCase *tc = tcase_create("secret");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, secret_refuses_embedded_nul);
    tcase_add_test(tc, secret_data_is_nul_terminated);
    tcase_add_test(tc, secret_empty_is_allowed);
    tcase_add_test(tc, secret_equality);
    tcase_add_test(tc, wipe_clears_buffer);
    tcase_add_test(tc, secret_free_returns_null_and_accepts_null);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(secret_suite())
