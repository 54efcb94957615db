/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io-util.h"
#include "macro.h"
#include "pager.h"

/* In the child, with the pipe on standard input: the pager, or the text as it is when no pager
 * can be run, so that nothing is lost on a system without less and more. */
_noreturn_ static void run_pager(const char *pager)
{
    if (pager) {
        execl("/bin/sh", "sh", "-c", pager, (char *)NULL);
        _exit(127);
    }
    setenv("LESS", "FRXMK", 0);
    execlp("less", "less", (char *)NULL);
    execlp("more", "more", (char *)NULL);
    char buf[4096];
    ssize_t n;
    while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
        if (tk_write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
            _exit(1);
    _exit(n < 0 ? 1 : 0);
}

pid_t pager_start(void)
{
    const char *pager = getenv("TOKENCTL_PAGER");
    int fds[2];

    if (!pager)
        pager = getenv("PAGER");
    if (pager && (isempty(pager) || streq(pager, "cat")))
        return 0;
    /* A terminal that less cannot drive (no TERM, or a dumb one) gets the text as it is. */
    const char *term = getenv("TERM");
    if (!isatty(STDOUT_FILENO) || isempty(term) || streq(term, "dumb"))
        return 0;
    if (fflush(stdout) != 0 || pipe2(fds, O_CLOEXEC) < 0)
        return 0;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    if (pid == 0) {
        if (dup2(fds[0], STDIN_FILENO) < 0)
            _exit(1);
        run_pager(pager);
    }
    close(fds[0]);
    if (dup2(fds[1], STDOUT_FILENO) < 0) {
        close(fds[1]);
        kill(pid, SIGTERM);
        (void)waitpid(pid, NULL, 0);
        return 0;
    }
    close(fds[1]);
    return pid;
}

void pager_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    (void)fflush(stdout);
    (void)close(STDOUT_FILENO);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}
