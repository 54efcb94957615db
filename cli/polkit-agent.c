/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "polkit-agent.h"

#define PKTTYAGENT "/usr/bin/pkttyagent"

int polkit_agent_start(pid_t *ret_pid)
{
    _cleanup_close_ int rfd = -1;
    int p[2];
    pid_t pid;

    *ret_pid = 0;
    if (access(PKTTYAGENT, X_OK) < 0)
        return 0;
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;

    pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -errno;
    }
    if (pid == 0) {
        char fdstr[16];
        /* The write end must survive exec; everything else stays close-on-exec. */
        int fd = fcntl(p[1], F_DUPFD, 3);
        if (fd < 0)
            _exit(127);
        snprintf(fdstr, sizeof(fdstr), "%d", fd);
        execl(PKTTYAGENT, PKTTYAGENT, "--notify-fd", fdstr, "--fallback", (char *)NULL);
        _exit(127);
    }

    close(p[1]);
    rfd = p[0];

    /* The agent closes the notify descriptor once registered; an agent that dies closes it
     * too. A bounded wait keeps a wedged agent from hanging us. */
    for (;;) {
        struct pollfd pfd = {.fd = rfd, .events = POLLIN};
        int k = poll(&pfd, 1, 10 * 1000);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        char c;
        ssize_t n = read(rfd, &c, 1);
        if (n <= 0)
            break;
    }
    *ret_pid = pid;
    return 0;
}

void polkit_agent_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    (void)kill(pid, SIGTERM);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}
