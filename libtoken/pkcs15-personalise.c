/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pkcs15-personalise.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "pcsc-readers.h"
#include "text-escape.h"

extern char **environ;

#define SO_VAR  "TOKEND_PKCS15_SO_PIN"
#define PIN_VAR "TOKEND_PKCS15_USER_PIN"

/* Whether an environment entry is one of the secrets' (ours, or the caller's of that name). */
static bool is_secret_entry(const char *entry)
{
    return strncmp(entry, SO_VAR "=", strlen(SO_VAR) + 1) == 0 ||
           strncmp(entry, PIN_VAR "=", strlen(PIN_VAR) + 1) == 0;
}

static void free_env(char **env)
{
    if (!env)
        return;
    for (char **p = env; *p; p++)
        if (is_secret_entry(*p)) {
            explicit_bzero(*p, strlen(*p));
            free(*p);
        }
    free(env);
}

/* The environment of the caller plus the two secrets; NULL when out of memory. The secret
 * strings are wiped by free_env(). */
static char **make_env(const TkSecret *so_pin, const TkSecret *user_pin)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 3, sizeof(char *));
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_secret_entry(environ[i]))
            env[k++] = environ[i];
    const struct {
        const char *name;
        const TkSecret *value;
    } secrets[] = {{SO_VAR, so_pin}, {PIN_VAR, user_pin}};
    for (size_t i = 0; i < ELEMENTSOF(secrets); i++) {
        size_t name_len = strlen(secrets[i].name);
        size_t len = name_len + 1 + secrets[i].value->len + 1;
        char *s = malloc(len);
        if (!s) {
            free_env(env);
            return NULL;
        }
        memcpy(s, secrets[i].name, name_len);
        s[name_len] = '=';
        memcpy(s + name_len + 1, secrets[i].value->data, secrets[i].value->len);
        s[len - 1] = '\0';
        env[k++] = s;
    }
    return env;
}

/* The child's side, between fork and exec: only async-signal-safe calls. It tells its parent
 * why an exec failed over report_fd, which the exec closes otherwise. */
static _Noreturn void exec_child(pid_t parent, int null_fd, int err_fd, int report_fd,
                                 const char *program, char *const *argv, char **env)
{
    int r = 0;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* It must die with its worker: a worker killed for a timeout or stopped with its token must
     * not leave pkcs15-init writing to the card with nobody to tell. The parent could have died
     * before the death signal was set. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(127);
    /* The worker's descriptors 0-2 are open, so these three are at 3 or above. */
    if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(null_fd, STDOUT_FILENO) < 0 ||
        dup2(err_fd, STDERR_FILENO) < 0)
        r = -errno;
    /* Nothing else of the worker's reaches pkcs15-init: not its bus to tokend (fd 3), nor the
     * module's or pcsc-lite's descriptors. Marked rather than closed, so that report_fd stays
     * until the exec. Kernels before 5.11 lack the flag: one descriptor at a time then. */
    if (r == 0 && close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        struct rlimit rl;
        rlim_t max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                         ? rl.rlim_cur
                         : 65536;
        for (rlim_t fd = 3; fd < max; fd++)
            (void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    }
    if (r == 0) {
        execvpe(program, argv, env);
        r = -errno;
    }
    (void)!write(report_fd, &r, sizeof(r));
    _exit(127);
}

/* Runs program with argv; its standard error ends up in out (truncated), stdin is /dev/null
 * so a prompt fails at once instead of hanging. Returns its exit status or -errno.
 *
 * fork and exec rather than posix_spawn: the death signal has to be set in the child. */
static int run_pkcs15_init(const char *program, char *const *argv, char **env, char *out,
                           size_t size)
{
    _cleanup_close_ int null_fd = -1, err_read = -1, err_write = -1, report_read = -1,
                        report_write = -1;
    int fds[2];

    null_fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (null_fd < 0)
        return -errno;
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    err_read = fds[0];
    err_write = fds[1];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    report_read = fds[0];
    report_write = fds[1];

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        exec_child(parent, null_fd, err_write, report_write, program, argv, env);
    close(TAKE_FD(err_write));
    close(TAKE_FD(report_write));

    /* The report pipe closes at the exec, or carries the reason it failed. */
    int exec_error = 0;
    ssize_t k;
    do
        k = read(report_read, &exec_error, sizeof(exec_error));
    while (k < 0 && errno == EINTR);
    if (k != (ssize_t)sizeof(exec_error))
        exec_error = 0;

    size_t got = 0;
    while (exec_error == 0) {
        char buf[512];
        k = read(err_read, buf, sizeof(buf));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        size_t room = size - 1 - got;
        size_t take = (size_t)k < room ? (size_t)k : room;
        memcpy(out + got, buf, take);
        got += take;
    }
    out[got] = '\0';
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (exec_error < 0)
        return exec_error;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* pkcs15-init's last line of complaint, for the error message. */
static const char *last_line(char *out)
{
    size_t n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
    char *nl = strrchr(out, '\n');
    return nl ? nl + 1 : out;
}

/* Whether the reader says its card is present (a reader that cannot be asked, or is not
 * there, is taken as keeping it). */
static bool card_present(const char *reader)
{
    TkReaderInfo *readers = NULL;
    size_t n = 0;
    TkError ignored = {};
    bool present = true;
    if (tk_pcsc_list_readers(&readers, &n, &ignored) < 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (streq_ptr(readers[i].name, reader))
            present = readers[i].card_present;
    tk_reader_info_array_free(readers, n);
    return present;
}

/* Whether a step that failed failed because the card went, whatever pkcs15-init printed. The
 * card's commands fail at once, and the reader may say so a moment later: it is given up to
 * 1.5 s. */
static bool card_gone(const char *reader)
{
    for (int i = 0; i < 15; i++) {
        if (!card_present(reader))
            return true;
        (void)usleep(100 * 1000);
    }
    return false;
}

int tk_pkcs15_personalise(const char *reader, const char *label, const TkSecret *so_pin,
                          const TkSecret *user_pin, TkError *error)
{
    return tk_pkcs15_personalise_with("pkcs15-init", reader, label, so_pin, user_pin, error);
}

int tk_pkcs15_personalise_with(const char *program, const char *reader, const char *label,
                               const TkSecret *so_pin, const TkSecret *user_pin, TkError *error)
{
    if (isempty(reader) || isempty(label) || strlen(label) > 32 || !so_pin || !user_pin)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "Initialising a card takes its reader, a label of 1 to 32 "
                            "characters, the SO PIN and the new user PIN.");
    char *pg = (char *)program, *rd = (char *)reader, *lb = (char *)label;
    /* "PIN" as the PIN's label makes OpenSC show the token label alone. */
    char *const steps[][16] = {
        {pg, "--reader", rd, "--erase-card", "--so-pin", "env:" SO_VAR, NULL},
        {pg, "--reader", rd, "--create-pkcs15", "--so-pin", "env:" SO_VAR, "--so-puk",
         "env:" SO_VAR, "--label", lb, NULL},
        {pg, "--reader", rd, "--store-pin", "--auth-id", "01", "--pin", "env:" PIN_VAR, "--puk",
         "env:" SO_VAR, "--so-pin", "env:" SO_VAR, "--label", "PIN", NULL},
        {pg, "--reader", rd, "--finalize", NULL},
    };
    static const char *const what[] = {"erase the card", "create the PKCS#15 structure",
                                       "store the user PIN", "finalise the card"};
    char **env = make_env(so_pin, user_pin);
    if (!env)
        return tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory.");

    int r = 0;
    for (size_t i = 0; i < ELEMENTSOF(steps) && r == 0; i++) {
        char out[2048];
        int status = run_pkcs15_init(program, steps[i], env, out, sizeof(out));
        if (status < 0)
            r = tk_error_set(error, status, TK_ERROR_FAILED,
                             "Could not run OpenSC's pkcs15-init to %s: %s. Install the opensc "
                             "package.",
                             what[i], strerror(-status));
        else if (status != 0 && card_gone(reader))
            r = tk_error_set(error, -ENODEV, TK_ERROR_TOKEN_REMOVED,
                             "The card was taken out of its reader while OpenSC's pkcs15-init "
                             "was to %s%s. Insert it again and repeat the initialisation.",
                             what[i], i > 0 ? " (it is erased)" : "");
        else if (status != 0) {
            /* OpenSC's complaint may quote the card, so it is escaped like any card string. */
            const char *line = last_line(out);
            char *said = NULL;
            if (tk_utf8_escape(line, strlen(line), &said) < 0)
                r = tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory.");
            else
                r = tk_error_set(error, -EIO, TK_ERROR_FAILED,
                                 "OpenSC's pkcs15-init could not %s%s: %s. Check the card and "
                                 "repeat the initialisation.",
                                 what[i], i > 0 ? " (the card is erased)" : "", said);
            if (said)
                explicit_bzero(said, strlen(said));
            free(said);
        }
        explicit_bzero(out, sizeof(out));
    }
    free_env(env);
    return r;
}
