/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pkcs15-personalise.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
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

/* Runs pkcs15-init with args; its standard error ends up in out (truncated), stdin is
 * /dev/null so a prompt fails at once instead of hanging. Returns its exit status or -errno. */
static int run_pkcs15_init(char *const *argv, char **env, char *out, size_t size)
{
    posix_spawn_file_actions_t fa;
    int pipefd[2];
    pid_t pid;
    int r;

    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -errno;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
    r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (r != 0) {
        close(pipefd[0]);
        return -r;
    }
    size_t got = 0;
    for (;;) {
        char buf[512];
        ssize_t k = read(pipefd[0], buf, sizeof(buf));
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
    close(pipefd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
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

int tk_pkcs15_personalise(const char *reader, const char *label, const TkSecret *so_pin,
                          const TkSecret *user_pin, TkError *error)
{
    if (isempty(reader) || isempty(label) || strlen(label) > 32 || !so_pin || !user_pin)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "Initialising a card takes its reader, a label of 1 to 32 "
                            "characters, the SO PIN and the new user PIN.");
    char *rd = (char *)reader, *lb = (char *)label;
    /* "PIN" as the PIN's label makes OpenSC show the token label alone. */
    char *const steps[][16] = {
        {"pkcs15-init", "--reader", rd, "--erase-card", "--so-pin", "env:" SO_VAR, NULL},
        {"pkcs15-init", "--reader", rd, "--create-pkcs15", "--so-pin", "env:" SO_VAR, "--so-puk",
         "env:" SO_VAR, "--label", lb, NULL},
        {"pkcs15-init", "--reader", rd, "--store-pin", "--auth-id", "01", "--pin", "env:" PIN_VAR,
         "--puk", "env:" SO_VAR, "--so-pin", "env:" SO_VAR, "--label", "PIN", NULL},
        {"pkcs15-init", "--reader", rd, "--finalize", NULL},
    };
    static const char *const what[] = {"erase the card", "create the PKCS#15 structure",
                                       "store the user PIN", "finalise the card"};
    char **env = make_env(so_pin, user_pin);
    if (!env)
        return tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory.");

    int r = 0;
    for (size_t i = 0; i < ELEMENTSOF(steps) && r == 0; i++) {
        char out[2048];
        int status = run_pkcs15_init(steps[i], env, out, sizeof(out));
        if (status < 0)
            r = tk_error_set(error, status, TK_ERROR_FAILED,
                             "Could not run OpenSC's pkcs15-init to %s: %s. Install the opensc "
                             "package.",
                             what[i], strerror(-status));
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
