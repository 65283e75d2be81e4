/* attn-fuzz.h: what every fuzz target of tests/fuzz/ shares.
 *
 * Each fuzz-<target>.c defines LLVMFuzzerTestOneInput, the libFuzzer entry
 * point, and nothing else that libFuzzer would call: built with clang and
 * -fsanitize=fuzzer (meson -Dfuzz=true, tools/fuzz) it is a fuzzer; linked
 * with fuzz-replay.c by any compiler it is a replay program that feeds
 * every file of a corpus through the same function (the `fuzz` suite). A
 * target returns 0 for every input; a crash, a sanitizer report, an abort
 * or a GLib warning or critical (made fatal by attn_fuzz_init) is a
 * finding. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "core/attn-error.h"

G_BEGIN_DECLS

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Once per process: GLib warnings and criticals abort, so a reader that
 * trips a g_return_if_fail or logs a warning on some input is found. */
void attn_fuzz_init (void);

/* With ATTN_FUZZ_VERBOSE set, prints why an input was refused (to check
 * that seeds get as far as they should); otherwise nothing. */
void attn_fuzz_note (const GError *error);

/* A NUL-terminated copy of size bytes (which may hold NULs themselves):
 * the string readers stop at the first. Free with g_free. */
char *attn_fuzz_strndup (const uint8_t *data, size_t size);

/* Where the bundled models are: $ATTN_FUZZ_MODELS_DIR or the source
 * tree's assets/models (for targets that need a real vocabulary). */
const char *attn_fuzz_models_dir (void);
/* $ATTN_SHARED_MODELS or ../shared/models beside the source tree. */
const char *attn_fuzz_shared_models_dir (void);

G_END_DECLS
