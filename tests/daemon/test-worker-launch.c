/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The launch frame of a socket-activated worker, over a real socketpair: what tokend writes
 * the worker reads back whole, and a frame that is too long, cut short or not the expected
 * JSON is refused before anything is used. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "macro.h"
#include "tk-test.h"
#include "worker-launch.h"

static void pair(int fds[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
}

/* Sends a length and then body (which may be shorter than the length says), and closes. */
static int read_raw(uint32_t length, const char *body)
{
    int fds[2];
    pair(fds);
    uint32_t be = htonl(length);
    ck_assert_int_eq(write(fds[0], &be, sizeof(be)), (ssize_t)sizeof(be));
    if (body)
        ck_assert_int_eq(write(fds[0], body, strlen(body)), (ssize_t)strlen(body));
    close(fds[0]);
    char **argv = NULL, *conf = NULL;
    int r = worker_launch_read(fds[1], &argv, &conf);
    close(fds[1]);
    if (r >= 0) {
        strv_free(argv);
        free(conf);
    }
    return r;
}

START_TEST(a_frame_arrives_whole)
{
    int fds[2];
    pair(fds);
    char *args[] = {"--module", "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
                    "--serial", "a b\"c\\d",
                    "",         NULL};
    const char *conf = "app default {\n    ignored_readers = \"Reader \\\"1\\\"\";\n}\n";
    ck_assert_int_eq(worker_launch_write(fds[0], args, conf), 0);
    char **argv = NULL, *got = NULL;
    ck_assert_int_eq(worker_launch_read(fds[1], &argv, &got), 0);
    ck_assert_uint_eq(strv_length(argv), 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(argv[i], args[i]);
    ck_assert_str_eq(got, conf);
    strv_free(argv);
    free(got);

    /* No configuration: none comes back. */
    char *scan[] = {"--scan", NULL};
    ck_assert_int_eq(worker_launch_write(fds[0], scan, NULL), 0);
    ck_assert_int_eq(worker_launch_read(fds[1], &argv, &got), 0);
    ck_assert_str_eq(argv[0], "--scan");
    ck_assert_ptr_null(argv[1]);
    ck_assert_ptr_null(got);
    strv_free(argv);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

START_TEST(bad_frames_are_refused)
{
    /* Longer than the bound: refused on the length alone, before any allocation. */
    ck_assert_int_eq(read_raw(WORKER_LAUNCH_FRAME_MAX + 1, NULL), -EBADMSG);
    ck_assert_int_eq(read_raw(0, NULL), -EBADMSG);
    /* Cut short: the connection closed before the body was complete. */
    ck_assert_int_eq(read_raw(100, "{\"argv\": []}"), -EBADMSG);
    /* Not the expected JSON. */
    static const char *const not_a_launch[] = {
        "hello",
        "[]",
        "{\"argv\": 1}",
        "{\"argv\": [1]}",
        "{\"argv\": [], \"opensc-conf\": 7}",
        "{\"args\": []}",
    };
    for (size_t i = 0; i < ELEMENTSOF(not_a_launch); i++)
        ck_assert_int_eq(read_raw(strlen(not_a_launch[i]), not_a_launch[i]), -EBADMSG);
    /* The same length and framing with the expected JSON is taken. */
    ck_assert_int_eq(read_raw(strlen("{\"argv\": []}"), "{\"argv\": []}"), 0);
    /* A NUL inside the body. */
    int fds[2];
    pair(fds);
    uint32_t be = htonl(14);
    ck_assert_int_eq(write(fds[0], &be, sizeof(be)), (ssize_t)sizeof(be));
    ck_assert_int_eq(write(fds[0], "{\"argv\":[]}\0  ", 14), 14);
    char **argv = NULL, *conf = NULL;
    ck_assert_int_eq(worker_launch_read(fds[1], &argv, &conf), -EBADMSG);
    close(fds[0]);
    close(fds[1]);
    /* Nothing at all. */
    pair(fds);
    close(fds[0]);
    ck_assert_int_eq(worker_launch_read(fds[1], &argv, &conf), -EBADMSG);
    close(fds[1]);
}
END_TEST

START_TEST(a_frame_over_the_bound_is_not_sent)
{
    int fds[2];
    pair(fds);
    char *big = malloc(WORKER_LAUNCH_FRAME_MAX + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', WORKER_LAUNCH_FRAME_MAX);
    big[WORKER_LAUNCH_FRAME_MAX] = 0;
    char *args[] = {NULL};
    ck_assert_int_eq(worker_launch_write(fds[0], args, big), -E2BIG);
    free(big);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

static Suite *worker_launch_suite(void)
{
    Suite *s = suite_create("worker-launch");
    TCase *tc = tcase_create("frame");
    tcase_add_test(tc, a_frame_arrives_whole);
    tcase_add_test(tc, bad_frames_are_refused);
    tcase_add_test(tc, a_frame_over_the_bound_is_not_sent);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(worker_launch_suite())
