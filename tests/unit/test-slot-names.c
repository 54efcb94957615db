/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "tk-test.h"
#include "token.h"

START_TEST(a_slot_names_the_reader_of_its_whole_name)
{
    ck_assert(tk_slot_names_reader("Virtual PCD 00 00", "Virtual PCD 00 00"));
    ck_assert(!tk_slot_names_reader("Virtual PCD 00 00", "Virtual PCD 00 01"));
    ck_assert(!tk_slot_names_reader("Virtual PCD 00 00", "Virtual PCD 00 00 B 00 00"));
    ck_assert(!tk_slot_names_reader("", ""));
    ck_assert(!tk_slot_names_reader(NULL, "Virtual PCD 00 00"));
    ck_assert(!tk_slot_names_reader("Virtual PCD 00 00", NULL));
}
END_TEST

START_TEST(a_long_reader_name_is_known_by_its_first_61_bytes_and_dots)
{
    /* As OpenSC 0.23 cuts it. */
    const char *reader = "SCM Microsystems Inc. SCR 3310 [CCID Interface] (21120706204331) 00 00";
    ck_assert(tk_slot_names_reader(
        "SCM Microsystems Inc. SCR 3310 [CCID Interface] (211207062043...", reader));
    ck_assert(!tk_slot_names_reader(
        "SCM Microsystems Inc. SCR 3310 [CCID Interface] (211207062044...", reader));
    ck_assert(!tk_slot_names_reader("SCM Microsystems Inc. SCR 3310 [CCID Interface]...", reader));
}
END_TEST

START_TEST(a_long_reader_name_is_known_by_its_first_64_bytes)
{
    const char *reader = "SCM Microsystems Inc. SCR 3310 [CCID Interface] (21120706204331) 00 00";
    char slot[TK_SLOT_DESCRIPTION_MAX + 1];
    memcpy(slot, reader, TK_SLOT_DESCRIPTION_MAX);
    slot[TK_SLOT_DESCRIPTION_MAX] = 0;
    ck_assert(tk_slot_names_reader(slot, reader));
    /* Another reader of the same model, whose names differ past the cut, is not told apart. */
    ck_assert(tk_slot_names_reader(slot, "SCM Microsystems Inc. SCR 3310 [CCID Interface] "
                                         "(21120706204331) 01 00"));
    slot[TK_SLOT_DESCRIPTION_MAX - 1] = 0;
    ck_assert(!tk_slot_names_reader(slot, reader));
}
END_TEST

START_TEST(spaces_at_the_cut_are_dropped_as_libp11_drops_them)
{
    /* 62 bytes, two spaces, then the rest: the slot says the 62. */
    char reader[80], slot[64];
    memset(reader, 'r', 62);
    memcpy(reader + 62, "  00 00", 8);
    memset(slot, 'r', 62);
    slot[62] = 0;
    ck_assert(tk_slot_names_reader(slot, reader));
}
END_TEST

static Suite *slot_names_suite(void)
{
    Suite *s = suite_create("slot-names");
    TCase *tc = tcase_create("slot-names");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, a_slot_names_the_reader_of_its_whole_name);
    tcase_add_test(tc, a_long_reader_name_is_known_by_its_first_61_bytes_and_dots);
    tcase_add_test(tc, a_long_reader_name_is_known_by_its_first_64_bytes);
    tcase_add_test(tc, spaces_at_the_cut_are_dropped_as_libp11_drops_them);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(slot_names_suite())
