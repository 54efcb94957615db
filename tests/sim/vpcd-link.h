/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The card side of vpcd's protocol: a TCP client to the reader's port; each frame is a
 * big-endian 16-bit length and a payload. A 1-byte payload is a control code, anything longer
 * is an APDU answered by one frame with the response. */

#define VPCD_CTRL_OFF   0
#define VPCD_CTRL_ON    1
#define VPCD_CTRL_RESET 2
#define VPCD_CTRL_ATR   4

/* The longest frame the card reads, and the longest answer it gives. */
#define VPCD_FRAME_MAX 4096

/* Connects to host:port. Returns the socket or -errno. */
int vpcd_connect(const char *host, int port);
/* Reads one frame into buf. Returns its length, 0 when the reader went away, or -errno. */
int vpcd_read_frame(int fd, uint8_t *buf, size_t size);
int vpcd_write_frame(int fd, const uint8_t *p, size_t n);
