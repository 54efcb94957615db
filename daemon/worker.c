/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "log.h"
#include "macro.h"
#include "worker-launch.h"
#include "worker-protocol.h"
#include "worker.h"

/* SIGTERM ends a worker at once unless something holds it (a module call stuck in the kernel, a
 * stopped process); SIGKILL follows this long after, which bounds how long it keeps its card. */
#define WORKER_STOP_GRACE_USEC (2 * 1000000ull)

struct Worker {
    pid_t pid;                 /* 0 for a socket worker, and once reaped */
    sd_bus_slot *disconnected; /* a socket worker: its end */
    sd_event_source *defer_exit;
    sd_bus *bus;
    sd_event_source *child;
    worker_exit_cb_t cb;
    void *userdata;
    /* Set by worker_free() on a live process: the child watch and the kill timer then belong
     * to the event loop (floating), and the last of them to be destroyed frees the Worker,
     * whether the child was reaped or the loop was freed first. */
    bool stopping;
    sd_event_source *kill_timer;
    unsigned n_floating;
};

static void stopping_unref(Worker *w)
{
    if (--w->n_floating == 0)
        free(w);
}

static void on_child_destroy(void *userdata)
{
    Worker *w = userdata;
    w->child = NULL;
    stopping_unref(w);
}

static void on_kill_timer_destroy(void *userdata)
{
    Worker *w = userdata;
    w->kill_timer = NULL;
    stopping_unref(w);
}

/* Takes a floating source back from the event loop and drops it; its destroy callback runs
 * (after the dispatch, when it is the source being dispatched). */
static void floating_release(sd_event_source *s)
{
    if (!s)
        return;
    sd_event_source_ref(s);
    (void)sd_event_source_set_floating(s, false);
    sd_event_source_disable_unref(s);
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata)
{
    Worker *w = userdata;
    if (w->stopping) {
        /* Reaped: the stop is over. The child watch goes last, as it frees w. */
        floating_release(w->kill_timer);
        floating_release(w->child);
        return 0;
    }
    w->pid = 0;
    w->child = sd_event_source_unref(w->child);
    char how[64];
    snprintf(how, sizeof(how), "%s %d", si->si_code == CLD_EXITED ? "exit status" : "signal",
             si->si_status);
    if (w->cb)
        w->cb(w, how, w->userdata);
    return 0;
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
    Worker *w = userdata;
    log_warning("Worker %d did not stop within %llu s of SIGTERM; killing it", (int)w->pid,
                WORKER_STOP_GRACE_USEC / 1000000ull);
    (void)sd_event_source_send_child_signal(w->child, SIGKILL, NULL, 0);
    return 0;
}

static void child_exec(pid_t parent, int fd, const char *path, char *const *argv, char *const *env)
{
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    /* A worker must not outlive a daemon that died without stopping it, even one that died
     * before the death signal was set. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
        _exit(127);
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

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

/* The peer-to-peer bus on the worker's connection, which it takes (*fd is then -1). A socket
 * worker's end is its connection's: its Disconnected is watched. */
static int start_bus(Worker *w, sd_event *event, int *fd)
{
    int r = sd_bus_new(&w->bus);
    if (r >= 0)
        r = sd_bus_set_fd(w->bus, *fd, *fd);
    if (r < 0)
        return r;
    *fd = -1;
    if (w->pid == 0)
        r = sd_bus_match_signal(w->bus, &w->disconnected, "org.freedesktop.DBus.Local",
                                "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local",
                                "Disconnected", on_disconnected, w);
    if (r >= 0)
        r = sd_bus_start(w->bus);
    if (r >= 0)
        r = sd_bus_attach_event(w->bus, event, SD_EVENT_PRIORITY_NORMAL);
    return r;
}

int worker_spawn(sd_event *event, const char *path, char *const *argv, char *const *env,
                 worker_exit_cb_t cb, void *userdata, Worker **ret)
{
    int fds[2];
    int r;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
        return -errno;
    _cleanup_close_ int ours = fds[0], theirs = fds[1];

    /* Allocated before the fork, so that no failure after it leaves a child without a watch. */
    Worker *w = calloc(1, sizeof(Worker));
    if (!w)
        return -ENOMEM;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        r = -errno;
        free(w);
        return r;
    }
    if (pid == 0)
        child_exec(parent, theirs, path, argv, env);
    w->pid = pid;
    w->cb = cb;
    w->userdata = userdata;

    r = sd_event_add_child(event, &w->child, pid, WEXITED, on_child, w);
    if (r < 0) {
        /* Without a child watch nothing could reap it later. SIGKILL bounds the wait: the
         * process was forked a moment ago and is at most starting up. */
        kill(pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
        free(w);
        return r;
    }
    r = start_bus(w, event, &ours);
    if (r < 0) {
        worker_free(w);
        return r;
    }
    *ret = w;
    return 0;
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    Worker *w = userdata;
    w->disconnected = sd_bus_slot_unref(w->disconnected);
    if (w->cb)
        w->cb(w, "connection closed", w->userdata);
    return 0;
}

static int on_defer_exit(sd_event_source *s, void *userdata)
{
    Worker *w = userdata;
    w->defer_exit = sd_event_source_disable_unref(w->defer_exit);
    if (w->disconnected)
        on_disconnected(NULL, w, NULL);
    return 0;
}

int worker_connect(sd_event *event, const char *socket_path, char *const *argv,
                   const char *opensc_conf, worker_exit_cb_t cb, void *userdata, Worker **ret)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, socket_path);
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -errno;
    /* A frame is small, the socket's buffer takes it at once; the worker reads it first. */
    int r = worker_launch_write(fd, argv, opensc_conf);
    if (r < 0)
        return r;

    Worker *w = calloc(1, sizeof(Worker));
    if (!w)
        return -ENOMEM;
    w->cb = cb;
    w->userdata = userdata;
    r = start_bus(w, event, &fd);
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
    else if (w && w->disconnected && !w->defer_exit)
        /* The end follows from the event loop, as a child's exit would, and not from inside
         * a callback of the bus being closed: the exit callback frees the Worker, and that
         * closes the connection. */
        (void)sd_event_add_defer(sd_bus_get_event(w->bus), &w->defer_exit, on_defer_exit, w);
}

/* The stop goes on in the event loop: the main process never waits for a worker. */
Worker *worker_free(Worker *w)
{
    if (!w)
        return NULL;
    w->disconnected = sd_bus_slot_unref(w->disconnected);
    w->defer_exit = sd_event_source_disable_unref(w->defer_exit);
    if (w->bus) {
        sd_bus_detach_event(w->bus);
        w->bus = sd_bus_close_unref(w->bus);
    }
    w->cb = NULL;
    if (!w->child) {
        free(w);
        return NULL;
    }

    sd_event_source *child = w->child;
    w->stopping = true;
    /* Should the loop be freed before the child is reaped (tokend exiting), sd-event SIGKILLs
     * and reaps it then: no worker outlives tokend, and none is left a zombie. */
    (void)sd_event_source_set_child_process_own(child, true);
    if (sd_event_source_set_floating(child, true) < 0) {
        /* Not expected; dropping the watch SIGKILLs and reaps the child at once, a short wait. */
        sd_event_source_unref(child);
        free(w);
        return NULL;
    }
    /* From here on the loop's reference keeps each source, and its destroy callback clears our
     * pointer to it. */
    sd_event_source_unref(child);
    (void)sd_event_source_set_destroy_callback(child, on_child_destroy);
    w->n_floating = 1;

    (void)sd_event_source_send_child_signal(child, SIGTERM, NULL, 0);
    sd_event_source *timer = NULL;
    int r = sd_event_add_time_relative(sd_event_source_get_event(child), &timer, CLOCK_MONOTONIC,
                                       WORKER_STOP_GRACE_USEC, 0, on_kill_timer, w);
    if (r >= 0)
        r = sd_event_source_set_floating(timer, true);
    if (r >= 0) {
        (void)sd_event_source_set_destroy_callback(timer, on_kill_timer_destroy);
        w->kill_timer = timer;
        w->n_floating++;
    }
    sd_event_source_unref(timer);
    /* No timer: out of memory, or the loop has finished (tokend exiting) and no grace period
     * could end. The child watch still reaps the child. */
    if (r < 0)
        (void)sd_event_source_send_child_signal(child, SIGKILL, NULL, 0);
    return NULL;
}
