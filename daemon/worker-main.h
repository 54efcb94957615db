/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the files of the tokend-worker program give each other: its main() in worker-main.c
 * and the scanner in worker-scanner.c. (worker.h is the main process's side of a worker.) */
#pragma once

#include <stdint.h>
#include <systemd/sd-bus.h>

/* Lists the module's slots every interval (or, with an interval of 0, only when asked with
 * Rescan) and reports what it found in Tokens signals on bus, until the main process goes
 * away. */
int worker_scan(sd_bus *bus, const char *module_path, uint64_t interval_usec);
