/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tokend's error map as sd-bus uses it: each name gives its errno through sd-bus itself, and
 * error replies carry the name and message unchanged, over a real socketpair connection. */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bus-error.h"
#include "tk-test.h"

#define ENTRY(name, err) {name, err},
static const struct {
    const char *name;
    int err;
} entries[] = {TK_ERROR_FOREACH(ENTRY)};
#undef ENTRY

START_TEST(registered_names_give_their_errno_through_sd_bus)
{
    ck_assert_int_ge(tk_bus_error_register(), 0);
    for (size_t i = 0; i < ELEMENTSOF(entries); i++) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        ck_assert_int_eq(sd_bus_error_set(&e, entries[i].name, "x"), -entries[i].err);
        ck_assert_int_eq(sd_bus_error_get_errno(&e), entries[i].err);
    }
}
END_TEST

START_TEST(tk_error_becomes_the_bus_error)
{
    ck_assert_int_ge(tk_bus_error_register(), 0);
    _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
    TkError te = {};
    tk_error_set(&te, -ENOLCK, TK_ERROR_PIN_INCORRECT, "The PIN is incorrect: 2 tries left.");
    ck_assert_int_eq(tk_bus_error_set(&e, &te, -EIO), -ENOLCK);
    ck_assert_str_eq(e.name, TK_ERROR_PIN_INCORRECT);
    ck_assert_str_eq(e.message, "The PIN is incorrect: 2 tries left.");

    /* No name: the errno picks one. */
    _cleanup_(sd_bus_error_free) sd_bus_error f = SD_BUS_ERROR_NULL;
    ck_assert_int_eq(tk_bus_error_set(&f, &(TkError){}, -ENODEV), -ENODEV);
    ck_assert_str_eq(f.name, TK_ERROR_TOKEN_REMOVED);
    ck_assert_str_eq(f.message, "The operation failed.");
}
END_TEST

static int on_call(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    TkError e = {};
    tk_error_set(&e, -EDEADLK, TK_ERROR_SO_PIN_FINAL_TRY, "final try");
    return tk_bus_reply_tk_error(m, &e, -EIO);
}

static const sd_bus_vtable vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Try", "", "", on_call, 0),
    SD_BUS_VTABLE_END,
};

/* A server on one end of a socketpair, a client on the other, both in this process. */
static void connect_pair(sd_bus **server, sd_bus **client)
{
    int fds[2];
    sd_id128_t id;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    ck_assert_int_ge(sd_id128_randomize(&id), 0);
    ck_assert_int_ge(sd_bus_new(server), 0);
    ck_assert_int_ge(sd_bus_set_fd(*server, fds[0], fds[0]), 0);
    ck_assert_int_ge(sd_bus_set_server(*server, 1, id), 0);
    ck_assert_int_ge(sd_bus_new(client), 0);
    ck_assert_int_ge(sd_bus_set_fd(*client, fds[1], fds[1]), 0);
    ck_assert_int_ge(sd_bus_start(*server), 0);
    ck_assert_int_ge(sd_bus_start(*client), 0);
}

START_TEST(an_error_reply_arrives_typed)
{
    ck_assert_int_ge(tk_bus_error_register(), 0);
    _cleanup_(sd_bus_flush_close_unrefp) sd_bus *server = NULL, *client = NULL;
    connect_pair(&server, &client);
    ck_assert_int_ge(sd_bus_add_object_vtable(server, NULL, "/t", "org.example.T", vtable, NULL),
                     0);
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
    uint64_t cookie;
    ck_assert_int_ge(
        sd_bus_message_new_method_call(client, &call, NULL, "/t", "org.example.T", "Try"), 0);
    ck_assert_int_ge(sd_bus_send(client, call, &cookie), 0);
    /* Let the server answer, then read the reply on the client. */
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    for (int i = 0; i < 1000 && !reply; i++) {
        while (sd_bus_process(server, NULL) > 0)
            ;
        sd_bus_message *m = NULL;
        if (sd_bus_process(client, &m) > 0 && m) {
            uint64_t c;
            if (sd_bus_message_get_reply_cookie(m, &c) >= 0 && c == cookie)
                reply = m;
            else
                sd_bus_message_unref(m);
        }
        if (!reply)
            (void)sd_bus_wait(client, 10000);
    }
    ck_assert_ptr_nonnull(reply);
    ck_assert(sd_bus_message_is_method_error(reply, TK_ERROR_SO_PIN_FINAL_TRY));
    const sd_bus_error *e = sd_bus_message_get_error(reply);
    ck_assert_str_eq(e->message, "final try");
    ck_assert_int_eq(sd_bus_error_get_errno(e), EDEADLK);
}
END_TEST

static Suite *bus_error_suite(void)
{
    Suite *s = suite_create("bus-error");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, registered_names_give_their_errno_through_sd_bus);
    tcase_add_test(tc, tk_error_becomes_the_bus_error);
    tcase_add_test(tc, an_error_reply_arrives_typed);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(bus_error_suite())
