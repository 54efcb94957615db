/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "card.h"

/* The card's persistent state in a JSON file, so a card survives being pulled, the simulator
 * restarting, or a test inspecting it. Written atomically (temp file + rename), mode 0600. */

int sim_card_save(const SimCard *c, const char *path);
/* -ENOENT when there is no file yet. */
int sim_card_load(SimCard *c, const char *path);
