/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one mapping from PKCS#11 return values to errno, bus error names and messages. */
#include <check.h>
#include <errno.h>
#include <p11-kit/pkcs11.h>
#include <string.h>

#include "p11-error.h"
#include "tk-test.h"

static const struct {
    unsigned long rv;
    int err;
    const char *name;
} expected[] = {
    {CKR_PIN_INCORRECT, -ENOLCK, TK_ERROR_PIN_INCORRECT},
    {CKR_PIN_LOCKED, -EPERM, TK_ERROR_PIN_LOCKED},
    {CKR_PIN_LEN_RANGE, -EKEYREJECTED, TK_ERROR_PIN_POLICY},
    {CKR_PIN_INVALID, -EKEYREJECTED, TK_ERROR_PIN_POLICY},
    {CKR_TOKEN_NOT_PRESENT, -ENODEV, TK_ERROR_TOKEN_REMOVED},
    {CKR_DEVICE_REMOVED, -ENODEV, TK_ERROR_TOKEN_REMOVED},
    {CKR_MECHANISM_INVALID, -EOPNOTSUPP, TK_ERROR_UNSUPPORTED},
    {CKR_FUNCTION_NOT_SUPPORTED, -EOPNOTSUPP, TK_ERROR_UNSUPPORTED},
    {CKR_GENERAL_ERROR, -EIO, TK_ERROR_FAILED},
};

START_TEST(ckr_codes_map_to_errno_and_bus_names)
{
    for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
        TkError error = {};
        int r = tk_error_from_ckr(&error, expected[i].rv, "test the mapping");
        ck_assert_int_eq(r, expected[i].err);
        ck_assert_str_eq(error.name, expected[i].name);
        /* The message says what was being done and which code the module gave. */
        ck_assert_ptr_nonnull(strstr(error.message, "Could not test the mapping"));
        ck_assert_ptr_nonnull(strstr(error.message, tk_ckr_to_string(expected[i].rv)));
        /* The errno leads back to the same name, for code that only has the errno. */
        ck_assert_str_eq(tk_error_errno_to_name(r), expected[i].name);
    }
}
END_TEST

START_TEST(unknown_ckr_code_is_failed_with_the_code)
{
    TkError error = {};
    ck_assert_int_eq(tk_error_from_ckr(&error, 0x80001234UL, "sign"), -EIO);
    ck_assert_str_eq(error.name, TK_ERROR_FAILED);
    ck_assert_ptr_nonnull(strstr(error.message, "0x80001234"));
}
END_TEST

START_TEST(mapping_works_without_an_error_struct)
{
    ck_assert_int_eq(tk_error_from_ckr(NULL, CKR_PIN_LOCKED, "log in"), -EPERM);
}
END_TEST

static Suite *p11_error_suite(void)
{
    Suite *s = suite_create("p11-error");
    TCase *tc = tcase_create("mapping");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, ckr_codes_map_to_errno_and_bus_names);
    tcase_add_test(tc, unknown_ckr_code_is_failed_with_the_code);
    tcase_add_test(tc, mapping_works_without_an_error_struct);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(p11_error_suite())
