/* attn-test-util.h: helpers shared by the test programs.
 *
 * Reference fixtures are JSON files in tests/data/ written by the Python
 * generators beside them (run by hand with Debian's python3-torch). Each is
 * an object whose members are arrays of numbers (flattened row-major) or
 * scalars; float32 values are printed with 9 significant digits, so they
 * round-trip exactly. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "core/attn-trace.h"

G_BEGIN_DECLS

/* Path of a file under tests/data/ (uses G_TEST_SRCDIR when set). */
char *attn_test_data_path (const char *name);

/* Parses tests/data/<name>; fails the test when missing or malformed. The
 * returned object belongs to the parser kept alive by the fixture cache. */
JsonObject *attn_test_fixture (const char *name);

/* The member `key` of obj (which may be a nested object): a flat float array
 * (n elements, checked against expect_n when expect_n > 0). Fails the test
 * when missing or of the wrong length. Free with g_free. */
float *attn_test_floats (JsonObject *obj, const char *key, gsize expect_n);
int *attn_test_ints (JsonObject *obj, const char *key, gsize expect_n);
double attn_test_number (JsonObject *obj, const char *key);

/* Fails the test with a message naming `what` when max |got - want| > tol. */
void attn_test_assert_close (const char *what, const float *got,
                             const float *want, gsize n, double tol);
/* Same with relative error max |got - want| / max(|want|, floor). */
void attn_test_assert_rel_close (const char *what, const float *got,
                                 const float *want, gsize n, double tol,
                                 double floor);

/* Deterministic uniform floats in [lo, hi). */
void attn_test_fill_uniform (float *x, gsize n, float lo, float hi,
                             guint32 seed);

/* Path of ../shared/models/<name> (the read-only real model files), or NULL
 * after g_test_skip() when it is absent. */
char *attn_test_shared_model (const char *name);

/* A new empty folder in the system's temporary folder, named from tmpl
 * (ending in "XXXXXX", e.g. "attn-npy-XXXXXX"); fails the test when it
 * cannot be made. Remove it with attn_test_tmp_dir_remove (), then g_free. */
char *attn_test_tmp_dir_new (const char *tmpl);

/* Removes path and everything below it, without following symbolic links;
 * fails the test when anything cannot be removed. */
void attn_test_tmp_dir_remove (const char *path);

/* The names in folder dir, sorted bytewise and joined by single spaces (""
 * when it is empty); fails the test when dir cannot be opened. */
char *attn_test_list_dir (const char *dir);

/* Fails the test unless a and b are the same trace field by field: model
 * facts, texts, tokens with their spans, blocks in the same order, steps;
 * weights and probabilities bit for bit. */
void attn_test_assert_traces_equal (const AttnTrace *a, const AttnTrace *b);

/* Fails the test, naming what, when needle is not in haystack. */
void attn_test_assert_contains (const char *what, const char *haystack,
                                const char *needle);

/* A GPT-2 folder written into dir (which must exist): config.json,
 * model.safetensors with random weights drawn from seed (L layers, NH
 * heads, n_embd C, n_positions positions, F = 4 C) and a byte-level
 * tokenizer, vocab.json + merges.txt without merges: token b is byte b
 * (every byte of a text is one token) and <|endoftext|> is 256, the
 * config's eos_token_id, so V = 257. When favour >= 0 the final layer
 * norm's gain is 0 and its bias wte[favour]: every position's hidden state
 * is that row, so greedy choice is token favour, always. */
void attn_test_write_gpt2 (const char *dir, int L, int NH, int C,
                              int n_positions, int favour, guint32 seed);
#define ATTN_TEST_GPT2_EOT 256

/* ---- attnscope-cli as a user runs it (the cli suite) ---- */

/* What a run left: its exit code and all it wrote. */
typedef struct {
  int status; /* exit code */
  char *out;
  char *err;
} AttnTestCliResult;

void attn_test_cli_result_clear (AttnTestCliResult *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (AttnTestCliResult,
                                  attn_test_cli_result_clear)

/* arg with @T@ and @G@ replaced by the paths of the fixture traces
 * tests/data/cli-trace.json (2 layers x 3 heads, all kinds) and
 * cli-trace-gpt.json (2 layers x 1 head, decoder-self), and @D@ by dir. */
char *attn_test_cli_expand (const char *arg, const char *dir);

/* Runs the program at $ATTN_CLI in folder dir with args (NULL-terminated,
 * each expanded), $ATTNSCOPE_MODEL_PATH set to model_path or unset when it
 * is NULL. Fails the test unless the program ran and exited. */
void attn_test_cli_run (const char *const *args, const char *dir,
                        const char *model_path, AttnTestCliResult *r);

G_END_DECLS
