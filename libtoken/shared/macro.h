/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _nonnull_(...) __attribute__((nonnull(__VA_ARGS__)))
#define _noreturn_     __attribute__((noreturn))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define FOREACH_ARRAY(i, array, num) \
    for (typeof(array[0]) *i = (array); i && i < (array) + (num); i++)

/* Takes ownership out of a cleanup variable: the variable is left NULL. */
#define TAKE_PTR(p)          \
    ({                       \
        typeof(p) _p_ = (p); \
        (p) = NULL;          \
        _p_;                 \
    })

#define TAKE_FD(fd)      \
    ({                   \
        int _fd_ = (fd); \
        (fd) = -1;       \
        _fd_;            \
    })

/* Declares a cleanup helper "name##p" that calls func on a non-NULL pointer. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
    static inline void func##p(type *p)         \
    {                                           \
        if (*p)                                 \
            func(*p);                           \
    }

static inline void freep(void *p)
{
    free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void strv_free(char **l)
{
    if (!l)
        return;
    for (char **s = l; *s; s++)
        free(*s);
    free(l);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)

static inline size_t strv_length(char *const *l)
{
    size_t n = 0;
    STRV_FOREACH (s, l)
        n++;
    return n;
}

static inline int streq_ptr(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}
#define streq(a, b) (strcmp((a), (b)) == 0)

static inline const char *strempty(const char *s)
{
    return s ? s : "";
}

static inline int isempty(const char *s)
{
    return !s || !*s;
}
