/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io-util.h"
#include "json-util.h"
#include "worker-launch.h"

int worker_launch_write(int fd, char *const *argv, const char *opensc_conf)
{
    _cleanup_json_ json_object *o = json_object_new_object();
    json_object *args = json_object_new_array();
    if (!o || !args) {
        json_object_put(args);
        return -ENOMEM;
    }
    json_object_object_add(o, "argv", args);
    for (char *const *a = argv; a && *a; a++)
        if (json_object_array_add(args, json_object_new_string(*a)) < 0)
            return -ENOMEM;
    if (opensc_conf &&
        json_object_object_add(o, "opensc-conf", json_object_new_string(opensc_conf)) < 0)
        return -ENOMEM;

    size_t len;
    const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    if (!text)
        return -ENOMEM;
    if (len > WORKER_LAUNCH_FRAME_MAX)
        return -E2BIG;
    uint32_t be = htonl((uint32_t)len);
    int r = tk_write_all(fd, &be, sizeof(be));
    if (r >= 0)
        r = tk_write_all(fd, text, len);
    return r;
}

/* A frame cut short is a bad frame, like any other. */
static int read_frame_part(int fd, void *buf, size_t len)
{
    int r = tk_read_all(fd, buf, len);
    return r == -ENODATA ? -EBADMSG : r;
}

int worker_launch_read(int fd, char ***ret_argv, char **ret_opensc_conf)
{
    uint32_t be;
    int r = read_frame_part(fd, &be, sizeof(be));
    if (r < 0)
        return r;
    size_t len = ntohl(be);
    if (len == 0 || len > WORKER_LAUNCH_FRAME_MAX)
        return -EBADMSG;
    _cleanup_free_ char *text = malloc(len + 1);
    if (!text)
        return -ENOMEM;
    r = read_frame_part(fd, text, len);
    if (r < 0)
        return r;
    text[len] = 0;
    if (strlen(text) != len)
        return -EBADMSG;

    _cleanup_json_ json_object *o = json_tokener_parse(text);
    json_object *args, *conf = NULL;
    if (!o || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, "argv", &args) || !json_object_is_type(args, json_type_array))
        return -EBADMSG;
    if (json_object_object_get_ex(o, "opensc-conf", &conf) &&
        !json_object_is_type(conf, json_type_string))
        return -EBADMSG;

    size_t n = json_object_array_length(args);
    _cleanup_strv_free_ char **argv = calloc(n + 1, sizeof(char *));
    if (!argv)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_object *a = json_object_array_get_idx(args, i);
        if (!json_object_is_type(a, json_type_string))
            return -EBADMSG;
        argv[i] = strdup(json_object_get_string(a));
        if (!argv[i])
            return -ENOMEM;
    }
    char *c = NULL;
    if (conf && !(c = strdup(json_object_get_string(conf))))
        return -ENOMEM;
    *ret_argv = TAKE_PTR(argv);
    *ret_opensc_conf = c;
    return 0;
}
