/* attn-json.h: what every reader of outside JSON checks before json-glib.
 *
 * json-glib 1.6 parses recursively, one C stack frame chain per nesting
 * level: some 10^5 nested brackets (a 100 KB file of "[[[[...") overflow an
 * 8 MB stack and kill the process. Readers of JSON that comes from files
 * (model metadata, config.json, training state) call attn_json_check_depth
 * first; the safetensors, trace and tokenizer readers have scans of their
 * own that also bound the depth. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Far deeper than any document Attnscope reads (a config is 1 level, a
 * card 3), far shallower than what exhausts a thread's stack. */
#define ATTN_JSON_MAX_DEPTH 64

/* TRUE when the len bytes of text (len < 0: NUL-terminated) nest arrays
 * and objects at most max_depth deep, brackets inside strings not counted.
 * Only counts: says nothing about whether the text is JSON. */
gboolean attn_json_check_depth (const char *text, gssize len, int max_depth);

/* The same scan, also refusing a run of more than max_digits digits outside
 * strings (json-glib silently wraps integers beyond 64 bits:
 * 18446744073709551620 parses as 3). Returns the problem ("nests too
 * deeply", "holds a number with too many digits") or NULL. */
const char *attn_json_prescan (const char *text, gsize len, int max_depth,
                               int max_digits);

G_END_DECLS
