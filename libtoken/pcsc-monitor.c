/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "pcsc-error.h"
#include "pcsc-monitor.h"
#include "text-escape.h"

#define PNP_READER           "\\\\?PnP?\\Notification"
#define RECONNECT_INTERVAL_S 1

typedef struct MonitoredReader {
    char *name;
    DWORD current_state;
    bool card_present;
} MonitoredReader;

struct TkPcscMonitor {
    pthread_t thread;
    bool thread_started;
    int efd;

    pthread_mutex_t lock;
    pthread_cond_t wake;
    /* Everything below is guarded by lock. */
    bool stop;
    bool thread_done;
    SCARDCONTEXT ctx; /* 0 while not connected; the thread owns it, stop() cancels it */
    int error;
    TkPcscEvent *queue;
    size_t queue_head, queue_len, queue_alloc;

    /* Only the thread touches these. */
    MonitoredReader *readers;
    size_t n_readers;
};

const char *tk_pcsc_event_type_to_string(TkPcscEventType t)
{
    static const char *const names[] = {
        [TK_PCSC_READER_ADDED] = "reader-added",   [TK_PCSC_READER_REMOVED] = "reader-removed",
        [TK_PCSC_CARD_INSERTED] = "card-inserted", [TK_PCSC_CARD_REMOVED] = "card-removed",
        [TK_PCSC_SERVICE_LOST] = "service-lost",   [TK_PCSC_SERVICE_BACK] = "service-back",
    };
    if ((size_t)t >= ELEMENTSOF(names))
        return NULL;
    return names[t];
}

static int monitor_push(TkPcscMonitor *m, TkPcscEventType type, const char *reader,
                        const uint8_t *atr, size_t atr_len)
{
    TkPcscEvent ev = {.type = type};
    if (reader) {
        /* The thread keeps pcscd's own names, which SCardGetStatusChange() wants. */
        _cleanup_free_ char *escaped = NULL;
        if (tk_utf8_escape(reader, strlen(reader), &escaped) < 0)
            return -ENOMEM;
        size_t n = strlen(escaped);
        /* Longer than pcsc-lite allows: cut, but not inside a UTF-8 character. */
        if (n >= sizeof(ev.reader))
            n = tk_utf8_whole_prefix(escaped, sizeof(ev.reader) - 1);
        memcpy(ev.reader, escaped, n);
        ev.reader[n] = 0;
    }
    if (atr && atr_len > 0) {
        ev.atr_len = atr_len > TK_ATR_MAX ? TK_ATR_MAX : atr_len;
        memcpy(ev.atr, atr, ev.atr_len);
    }

    pthread_mutex_lock(&m->lock);
    if (m->queue_head > 0 && m->queue_head == m->queue_len) {
        m->queue_head = 0;
        m->queue_len = 0;
    }
    if (m->queue_len == m->queue_alloc) {
        size_t alloc = m->queue_alloc ? m->queue_alloc * 2 : 16;
        TkPcscEvent *q = reallocarray(m->queue, alloc, sizeof(TkPcscEvent));
        if (!q) {
            pthread_mutex_unlock(&m->lock);
            return -ENOMEM;
        }
        m->queue = q;
        m->queue_alloc = alloc;
    }
    m->queue[m->queue_len++] = ev;
    uint64_t one = 1;
    /* The counter only has to be non-zero; EAGAIN at its maximum loses nothing. */
    (void)!write(m->efd, &one, sizeof(one));
    pthread_mutex_unlock(&m->lock);
    return 0;
}

int tk_pcsc_monitor_next(TkPcscMonitor *m, TkPcscEvent *ret)
{
    if (!m || !ret)
        return -EINVAL;

    pthread_mutex_lock(&m->lock);
    int r = 0;
    if (m->queue_head < m->queue_len) {
        *ret = m->queue[m->queue_head++];
        r = 1;
    } else if (m->error < 0)
        r = m->error;
    if (m->queue_head == m->queue_len && m->error >= 0) {
        /* Drained: reset the eventfd so the fd stops polling readable. Producers write under
         * the same lock, so no wakeup is lost. */
        uint64_t v;
        (void)!read(m->efd, &v, sizeof(v));
    }
    pthread_mutex_unlock(&m->lock);
    return r;
}

int tk_pcsc_monitor_fd(TkPcscMonitor *m)
{
    return m ? m->efd : -EINVAL;
}

static bool monitor_should_stop(TkPcscMonitor *m)
{
    pthread_mutex_lock(&m->lock);
    bool stop = m->stop;
    pthread_mutex_unlock(&m->lock);
    return stop;
}

static void monitor_readers_clear(TkPcscMonitor *m)
{
    for (size_t i = 0; i < m->n_readers; i++)
        free(m->readers[i].name);
    free(m->readers);
    m->readers = NULL;
    m->n_readers = 0;
}

static ssize_t monitor_find_reader(TkPcscMonitor *m, const char *name)
{
    for (size_t i = 0; i < m->n_readers; i++)
        if (streq(m->readers[i].name, name))
            return (ssize_t)i;
    return -1;
}

static int monitor_remove_reader(TkPcscMonitor *m, size_t i)
{
    int r = 0;
    if (m->readers[i].card_present)
        r = monitor_push(m, TK_PCSC_CARD_REMOVED, m->readers[i].name, NULL, 0);
    if (r >= 0)
        r = monitor_push(m, TK_PCSC_READER_REMOVED, m->readers[i].name, NULL, 0);
    free(m->readers[i].name);
    memmove(m->readers + i, m->readers + i + 1, (m->n_readers - i - 1) * sizeof(MonitoredReader));
    m->n_readers--;
    return r;
}

/* Brings the reader list in line with pcscd's: READER_REMOVED for the ones gone, READER_ADDED
 * for new ones. New readers start UNAWARE, so the next SCardGetStatusChange returns at once
 * with their card state and the usual comparison reports CARD_INSERTED. */
static LONG monitor_sync_readers(TkPcscMonitor *m, SCARDCONTEXT ctx, int *ret_r)
{
    _cleanup_free_ char *names = NULL;
    DWORD len = SCARD_AUTOALLOCATE;
    char *autobuf = NULL;
    *ret_r = 0;

    LONG rv = SCardListReaders(ctx, NULL, (LPSTR)&autobuf, &len);
    if (rv == SCARD_E_NO_READERS_AVAILABLE) {
        len = 0;
    } else if (rv != SCARD_S_SUCCESS) {
        return rv;
    } else {
        names = malloc(len + 1);
        if (names) {
            memcpy(names, autobuf, len);
            names[len] = '\0';
        }
        (void)SCardFreeMemory(ctx, autobuf);
        if (!names) {
            *ret_r = -ENOMEM;
            return SCARD_S_SUCCESS;
        }
    }

    for (size_t i = m->n_readers; i > 0; i--) {
        bool found = false;
        for (const char *p = names; p && p < names + len && *p; p += strlen(p) + 1)
            if (streq(p, m->readers[i - 1].name)) {
                found = true;
                break;
            }
        if (!found) {
            int r = monitor_remove_reader(m, i - 1);
            if (r < 0) {
                *ret_r = r;
                return SCARD_S_SUCCESS;
            }
        }
    }

    for (const char *p = names; p && p < names + len && *p; p += strlen(p) + 1) {
        if (monitor_find_reader(m, p) >= 0)
            continue;
        MonitoredReader *n = reallocarray(m->readers, m->n_readers + 1, sizeof(MonitoredReader));
        if (!n) {
            *ret_r = -ENOMEM;
            return SCARD_S_SUCCESS;
        }
        m->readers = n;
        m->readers[m->n_readers] = (MonitoredReader){
            .name = strdup(p),
            .current_state = SCARD_STATE_UNAWARE,
        };
        if (!m->readers[m->n_readers].name) {
            *ret_r = -ENOMEM;
            return SCARD_S_SUCCESS;
        }
        m->n_readers++;
        int r = monitor_push(m, TK_PCSC_READER_ADDED, p, NULL, 0);
        if (r < 0) {
            *ret_r = r;
            return SCARD_S_SUCCESS;
        }
    }
    return SCARD_S_SUCCESS;
}

/* Reports card changes of one reader from its new state. pcsc-lite counts card events in the
 * upper 16 bits of dwEventState, which also catches a card pulled and put back between two
 * calls. */
static int monitor_reader_changed(TkPcscMonitor *m, MonitoredReader *rd,
                                  const SCARD_READERSTATE *st)
{
    DWORD ev = st->dwEventState;
    bool present = (ev & SCARD_STATE_PRESENT) && !(ev & SCARD_STATE_EMPTY);
    bool recycled =
        rd->current_state != SCARD_STATE_UNAWARE && ((rd->current_state ^ ev) & 0xFFFF0000u) != 0;
    int r = 0;

    if (rd->card_present && (!present || recycled)) {
        r = monitor_push(m, TK_PCSC_CARD_REMOVED, rd->name, NULL, 0);
        rd->card_present = false;
    }
    if (r >= 0 && present && !rd->card_present) {
        r = monitor_push(m, TK_PCSC_CARD_INSERTED, rd->name, st->rgbAtr, st->cbAtr);
        rd->card_present = true;
    }
    rd->current_state = ev & ~SCARD_STATE_CHANGED;
    return r;
}

/* Runs while connected. Returns the PC/SC code that ended it (SCARD_E_CANCELLED when asked
 * to stop, a "service gone" code otherwise); *ret_r < 0 on our own failure. */
static LONG monitor_watch(TkPcscMonitor *m, SCARDCONTEXT ctx, int *ret_r)
{
    DWORD pnp_state = SCARD_STATE_UNAWARE;
    *ret_r = 0;

    LONG rv = monitor_sync_readers(m, ctx, ret_r);
    if (rv != SCARD_S_SUCCESS || *ret_r < 0)
        return rv;

    for (;;) {
        if (monitor_should_stop(m))
            return SCARD_E_CANCELLED;

        /* pcsc-lite takes at most PCSCLITE_MAX_READERS_CONTEXTS states a call (more is
         * SCARD_E_INVALID_PARAMETER), and serves as many readers: with every one of them there,
         * no reader can come, and the pseudo-reader that tells of new ones is left out. A
         * reader that goes still shows as UNKNOWN in its own state. */
        size_t watched = m->n_readers < PCSCLITE_MAX_READERS_CONTEXTS
                             ? m->n_readers
                             : PCSCLITE_MAX_READERS_CONTEXTS;
        size_t pnp = watched < PCSCLITE_MAX_READERS_CONTEXTS ? 1 : 0;
        size_t n = watched + pnp;
        _cleanup_free_ SCARD_READERSTATE *states = calloc(n, sizeof(SCARD_READERSTATE));
        if (!states) {
            *ret_r = -ENOMEM;
            return SCARD_S_SUCCESS;
        }
        if (pnp) {
            states[0].szReader = PNP_READER;
            states[0].dwCurrentState = pnp_state;
        }
        for (size_t i = 0; i < watched; i++) {
            states[i + pnp].szReader = m->readers[i].name;
            states[i + pnp].dwCurrentState = m->readers[i].current_state;
        }

        rv = SCardGetStatusChange(ctx, INFINITE, states, (DWORD)n);
        if (rv == SCARD_E_CANCELLED) {
            if (monitor_should_stop(m))
                return rv;
            continue;
        }
        if (rv == SCARD_E_UNKNOWN_READER) {
            /* A reader vanished between two calls; the list tells which. */
            rv = monitor_sync_readers(m, ctx, ret_r);
            if (rv != SCARD_S_SUCCESS || *ret_r < 0)
                return rv;
            continue;
        }
        if (rv == SCARD_E_TIMEOUT)
            continue;
        if (rv != SCARD_S_SUCCESS)
            return rv;

        bool relist = false;
        if (pnp && (states[0].dwEventState & SCARD_STATE_CHANGED)) {
            pnp_state = states[0].dwEventState & ~SCARD_STATE_CHANGED;
            relist = true;
        }
        for (size_t i = 0; i < watched; i++) {
            const SCARD_READERSTATE *st = &states[i + pnp];
            if (!(st->dwEventState & SCARD_STATE_CHANGED))
                continue;
            if (st->dwEventState & (SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE)) {
                relist = true;
                m->readers[i].current_state = st->dwEventState & ~SCARD_STATE_CHANGED;
                continue;
            }
            int r = monitor_reader_changed(m, &m->readers[i], st);
            if (r < 0) {
                *ret_r = r;
                return SCARD_S_SUCCESS;
            }
        }
        if (relist) {
            rv = monitor_sync_readers(m, ctx, ret_r);
            if (rv != SCARD_S_SUCCESS || *ret_r < 0)
                return rv;
        }
    }
}

/* Sleeps until the next reconnect attempt or until stop() is called; true when stopping. */
static bool monitor_wait_reconnect(TkPcscMonitor *m)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += RECONNECT_INTERVAL_S;

    pthread_mutex_lock(&m->lock);
    while (!m->stop)
        if (pthread_cond_timedwait(&m->wake, &m->lock, &until) == ETIMEDOUT)
            break;
    bool stop = m->stop;
    pthread_mutex_unlock(&m->lock);
    return stop;
}

static int monitor_set_ctx(TkPcscMonitor *m, SCARDCONTEXT ctx)
{
    pthread_mutex_lock(&m->lock);
    m->ctx = ctx;
    bool stop = m->stop;
    pthread_mutex_unlock(&m->lock);
    return stop;
}

static int monitor_service_lost(TkPcscMonitor *m)
{
    int r = monitor_push(m, TK_PCSC_SERVICE_LOST, NULL, NULL, 0);
    while (r >= 0 && m->n_readers > 0)
        r = monitor_remove_reader(m, m->n_readers - 1);
    return r;
}

static void *monitor_thread(void *userdata)
{
    TkPcscMonitor *m = userdata;
    bool reported_lost = false;
    int r = 0;

    for (;;) {
        SCARDCONTEXT ctx = 0;
        LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
        if (rv != SCARD_S_SUCCESS) {
            if (!reported_lost) {
                r = monitor_service_lost(m);
                if (r < 0)
                    break;
                reported_lost = true;
            }
            if (monitor_wait_reconnect(m))
                break;
            continue;
        }

        if (monitor_set_ctx(m, ctx)) {
            monitor_set_ctx(m, 0);
            (void)SCardReleaseContext(ctx);
            break;
        }
        /* pcscd missing at start counts as lost too, so its arrival is reported as back. */
        if (reported_lost)
            r = monitor_push(m, TK_PCSC_SERVICE_BACK, NULL, NULL, 0);
        reported_lost = false;

        if (r >= 0)
            rv = monitor_watch(m, ctx, &r);

        monitor_set_ctx(m, 0);
        (void)SCardReleaseContext(ctx);

        if (r < 0 || rv == SCARD_E_CANCELLED)
            break;

        /* Anything else ends the connection: pcscd stopped, or the context went stale. */
        r = monitor_service_lost(m);
        if (r < 0)
            break;
        reported_lost = true;
        if (monitor_wait_reconnect(m))
            break;
    }

    pthread_mutex_lock(&m->lock);
    if (r < 0) {
        m->error = r;
        uint64_t one = 1;
        (void)!write(m->efd, &one, sizeof(one));
    }
    m->thread_done = true;
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

static TkPcscMonitor *monitor_free(TkPcscMonitor *m)
{
    if (!m)
        return NULL;
    monitor_readers_clear(m);
    free(m->queue);
    if (m->efd >= 0)
        close(m->efd);
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->lock);
    free(m);
    return NULL;
}

TkPcscMonitor *tk_pcsc_monitor_stop(TkPcscMonitor *m)
{
    if (!m)
        return NULL;
    if (m->thread_started) {
        pthread_mutex_lock(&m->lock);
        m->stop = true;
        pthread_cond_broadcast(&m->wake);
        /* SCardCancel only wakes a call already waiting in SCardGetStatusChange; the thread
         * may be just about to enter one, so cancel again until it says it is done. */
        while (!m->thread_done) {
            if (m->ctx)
                (void)SCardCancel(m->ctx);
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += 50 * 1000 * 1000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            (void)pthread_cond_timedwait(&m->wake, &m->lock, &until);
        }
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->thread, NULL);
    }
    return monitor_free(m);
}

int tk_pcsc_monitor_start(TkPcscMonitor **ret, TkError *error)
{
    if (!ret)
        return -EINVAL;

    TkPcscMonitor *m = calloc(1, sizeof(TkPcscMonitor));
    if (!m)
        return tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory");
    m->efd = -1;

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int r = pthread_cond_init(&m->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (r != 0) {
        free(m);
        return tk_error_set(error, -r, TK_ERROR_FAILED, "Cannot set up the PC/SC monitor");
    }
    pthread_mutex_init(&m->lock, NULL);

    m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (m->efd < 0) {
        r = -errno;
        monitor_free(m);
        return tk_error_set(error, r, TK_ERROR_FAILED, "Cannot create the PC/SC monitor's eventfd");
    }

    r = pthread_create(&m->thread, NULL, monitor_thread, m);
    if (r != 0) {
        monitor_free(m);
        return tk_error_set(error, -r, TK_ERROR_FAILED, "Cannot start the PC/SC monitor thread");
    }
    m->thread_started = true;

    *ret = m;
    return 0;
}
