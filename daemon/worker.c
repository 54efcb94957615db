/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "macro.h"
#include "worker-protocol.h"
#include "worker.h"

struct Worker {
    pid_t pid;
    sd_bus *bus;
    sd_event_source *child;
    worker_exit_cb_t cb;
    void *userdata;
};

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata)
{
    Worker *w = userdata;
    w->pid = 0;
    w->child = sd_event_source_unref(w->child);
    if (w->cb)
        w->cb(w, si, w->userdata);
    return 0;
}

static void child_exec(int fd, const char *path, char *const *argv, char *const *env)
{
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    /* A worker must not outlive a daemon that died without stopping it. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (dup2(fd, WORKER_FD) < 0)
        _exit(127);
    for (char *const *e = env; e && *e; e++)
        putenv(*e);
    size_t n = strv_length(argv);
    char **args = calloc(n + 2, sizeof(char *));
    if (!args)
        _exit(127);
    args[0] = (char *)path;
    memcpy(args + 1, argv, n * sizeof(char *));
    execv(path, args);
    _exit(127);
}

int worker_spawn(sd_event *event, const char *path, char *const *argv, char *const *env,
                 worker_exit_cb_t cb, void *userdata, Worker **ret)
{
    int fds[2];
    int r;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
        return -errno;
    _cleanup_close_ int ours = fds[0], theirs = fds[1];

    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        child_exec(theirs, path, argv, env);

    Worker *w = calloc(1, sizeof(Worker));
    if (!w) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -ENOMEM;
    }
    w->pid = pid;
    w->cb = cb;
    w->userdata = userdata;

    r = sd_event_add_child(event, &w->child, pid, WEXITED, on_child, w);
    if (r >= 0)
        r = sd_bus_new(&w->bus);
    if (r >= 0)
        r = sd_bus_set_fd(w->bus, ours, ours);
    if (r >= 0) {
        ours = -1; /* the bus owns it now */
        r = sd_bus_start(w->bus);
    }
    if (r >= 0)
        r = sd_bus_attach_event(w->bus, event, SD_EVENT_PRIORITY_NORMAL);
    if (r < 0) {
        worker_free(w);
        return r;
    }
    *ret = w;
    return 0;
}

sd_bus *worker_bus(Worker *w)
{
    return w->bus;
}

pid_t worker_pid(Worker *w)
{
    return w->pid;
}

void worker_kill(Worker *w)
{
    if (w && w->pid > 0)
        kill(w->pid, SIGKILL);
}

Worker *worker_free(Worker *w)
{
    if (!w)
        return NULL;
    if (w->bus) {
        sd_bus_detach_event(w->bus);
        sd_bus_close_unref(w->bus);
    }
    if (w->pid > 0) {
        kill(w->pid, SIGTERM);
        /* A worker in the middle of a module call gets a moment, then is killed. */
        for (int i = 0; i < 50; i++) {
            if (waitpid(w->pid, NULL, WNOHANG) == w->pid) {
                w->pid = 0;
                break;
            }
            nanosleep(&(struct timespec){0, 10000000}, NULL);
        }
        if (w->pid > 0) {
            kill(w->pid, SIGKILL);
            waitpid(w->pid, NULL, 0);
        }
    }
    sd_event_source_disable_unref(w->child);
    free(w);
    return NULL;
}
