/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pkcs15-init child of tk_pkcs15_personalise(), with a stand-in program (pkcs15-init-stub,
 * its path in PKCS15_INIT_STUB): it gets standard input, output and error and nothing else of
 * its parent's descriptors, the secrets only through its environment, and it dies with its
 * parent. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pkcs15-personalise.h"
#include "secret.h"
#include "tk-test.h"

static const char *stub(void)
{
    return getenv("PKCS15_INIT_STUB");
}

static void sleep_ms(long ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

static int personalise(TkError *e)
{
    _cleanup_secret_ TkSecret *so = NULL, *pin = NULL;
    ck_assert_int_eq(tk_secret_new_string("so-secret-8812", &so), 0);
    ck_assert_int_eq(tk_secret_new_string("pin-secret-4471", &pin), 0);
    return tk_pkcs15_personalise_with(stub(), "Virtual Reader 0", "stub", so, pin, e);
}

START_TEST(child_gets_no_other_descriptor)
{
    /* What a worker holds: its bus to tokend, inheritable, at the lowest free descriptors (3
     * in a worker), and others higher up. */
    int sp[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    int high = fcntl(sp[0], F_DUPFD, 100);
    ck_assert_int_ge(high, 100);

    TkError e = {};
    ck_assert_int_eq(personalise(&e), -EIO);
    ck_assert_msg(strstr(e.message, "stub: fds=0,1,2; secrets=env"), "%s", e.message);
    close(high);
    close(sp[0]);
    close(sp[1]);
}
END_TEST

START_TEST(missing_program_is_reported_as_not_run)
{
    _cleanup_secret_ TkSecret *so = NULL, *pin = NULL;
    ck_assert_int_eq(tk_secret_new_string("so-secret-8812", &so), 0);
    ck_assert_int_eq(tk_secret_new_string("pin-secret-4471", &pin), 0);
    TkError e = {};
    ck_assert_int_eq(tk_pkcs15_personalise_with("/nonexistent/pkcs15-init", "Virtual Reader 0",
                                                "stub", so, pin, &e),
                     -ENOENT);
    ck_assert_msg(strstr(e.message, "Could not run OpenSC's pkcs15-init"), "%s", e.message);
}
END_TEST

START_TEST(child_dies_with_its_parent)
{
    /* The stand-in comes to this process once its parent is gone, so that it can be waited
     * for here, and killed and reaped here should it live on. */
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    char pidfile[] = "/tmp/test-pkcs15-spawn.XXXXXX";
    int fd = mkstemp(pidfile);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(setenv("PKCS15_STUB_PIDFILE", pidfile, 1), 0);

    /* The worker's part: it runs pkcs15-init and waits for it. */
    pid_t worker = fork();
    ck_assert_int_ge(worker, 0);
    if (worker == 0) {
        TkError e = {};
        personalise(&e);
        _exit(0);
    }
    unsetenv("PKCS15_STUB_PIDFILE");

    pid_t child = 0;
    for (int i = 0; i < 500 && child <= 0; i++) {
        FILE *f = fopen(pidfile, "re");
        if (f) {
            if (fscanf(f, "%d", &child) != 1)
                child = 0;
            fclose(f);
        }
        if (child <= 0)
            sleep_ms(10);
    }
    unlink(pidfile);
    kill(worker, SIGKILL);
    ck_assert_int_eq(waitpid(worker, NULL, 0), worker);
    ck_assert_int_gt(child, 0);

    int status = 0;
    pid_t got = 0;
    for (int i = 0; i < 500 && got == 0; i++) {
        got = waitpid(child, &status, WNOHANG);
        if (got == 0)
            sleep_ms(10);
    }
    if (got == 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    ck_assert_msg(got == child, "pkcs15-init's stand-in outlived its parent by 5 s");
    ck_assert(WIFSIGNALED(status));
    ck_assert_int_eq(WTERMSIG(status), SIGKILL);
}
END_TEST

static const char *unavailable(void)
{
    if (!stub() || access(stub(), X_OK) < 0)
        return "PKCS15_INIT_STUB does not name the stand-in for pkcs15-init";
    return NULL;
}

static Suite *spawn_suite(void)
{
    Suite *s = suite_create("pkcs15-spawn");
    TCase *tc = tcase_create("child");
    /* Check's 4 s would end child_dies_with_its_parent before it gives up and cleans up. */
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, child_gets_no_other_descriptor);
    tcase_add_test(tc, missing_program_is_reported_as_not_run);
    tcase_add_test(tc, child_dies_with_its_parent);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN_UNLESS(unavailable, spawn_suite())
