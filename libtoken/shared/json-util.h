/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* json-c objects freed when they go out of scope: _cleanup_json_ json_object *o = ...; */
#pragma once

#include <json-c/json.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)
#define _cleanup_json_ _cleanup_(json_object_putp)
