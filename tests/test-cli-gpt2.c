/* test-cli-gpt2.c: attnscope-cli with GPT-2 folders (docs/cli.md): run,
 * export --model, info --model and bench --gpt2 on
 * ../shared/models/hf-fake-gpt2 (real layout and vocabulary; skipped when
 * absent) and on tests/data/gpt2-tiny (no tokenizer). */
#include <stdlib.h>
#include <string.h>

#include "core/attn-npy.h"
#include "core/attn-trace.h"
#include "tests/attn-test-util.h"

#define SCRATCH "attn-cli-gpt2-XXXXXX"

static void
run_cli (const char *const *args, const char *dir, AttnTestCliResult *r)
{
  attn_test_cli_run (args, dir, NULL, r);
  g_test_message ("exit %d\nstdout:\n%s\nstderr:\n%s", r->status, r->out,
                  r->err);
}

static void
test_run_summary (void)
{
  g_autofree char *model = attn_test_shared_model ("hf-fake-gpt2");
  if (model == NULL)
    return;
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "run", "--model", model, "Hello world",
                         "--generate", "2", NULL };
  run_cli (args, tmp, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");
  g_assert_true (g_str_has_prefix (r.out, "text: \"Hello world\"\n"
                                          "generated: \""));
  attn_test_assert_contains ("stdout", r.out, "\nnext token: \"");
  attn_test_assert_contains ("stdout", r.out, "\n  token 3: \"");
  attn_test_assert_contains ("stdout", r.out,
                             "\nattention: decoder-self layer 0; for each "
                             "token the 3 tokens it weighs most");
  /* The first token sees only itself. */
  attn_test_assert_contains ("stdout", r.out, "\n  \"Hello\"  \"Hello\"@0 "
                                              "1.000\n");
  attn_test_tmp_dir_remove (tmp);
}

static AttnTrace *
load_out (const char *tmp, const char *json)
{
  g_autofree char *path = g_build_filename (tmp, "t.json", NULL);
  if (json != NULL)
    g_assert_true (g_file_set_contents (path, json, -1, NULL));
  g_autoptr (GError) error = NULL;
  AttnTrace *trace = attn_trace_load_json (path, &error);
  g_assert_no_error (error);
  return trace;
}

static void
test_run_json (void)
{
  g_autofree char *model = attn_test_shared_model ("hf-fake-gpt2");
  if (model == NULL)
    return;
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "run", "--model", model, "--json", "Hello world",
                         "--generate", "3", "--temperature", "0.8",
                         "--top-k", "40", "--seed", "5", NULL };
  run_cli (args, tmp, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (AttnTrace) trace = load_out (tmp, r.out);
  g_assert_cmpstr (trace->architecture, ==, "gpt2");
  g_assert_cmpstr (trace->model_name, ==, "hf-fake-gpt2");
  g_assert_cmpuint (attn_trace_n_tokens (trace, ATTN_SIDE_SOURCE), ==, 0);
  g_assert_cmpuint (attn_trace_n_tokens (trace, ATTN_SIDE_TARGET), ==, 5);
  g_assert_cmpint (attn_trace_get_token (trace, ATTN_SIDE_TARGET, 0)->id,
                   ==, 15496);
  g_assert_cmpint (attn_trace_get_token (trace, ATTN_SIDE_TARGET, 1)->id,
                   ==, 995);
  g_assert_cmpuint (trace->blocks->len, ==, 1);
  const AttnBlock *b = g_ptr_array_index (trace->blocks, 0);
  g_assert_cmpint (b->kind, ==, ATTN_KIND_DECODER_SELF);
  g_assert_cmpint (b->n_queries, ==, 5);
  g_assert_cmpuint (trace->steps->len, ==, 5);

  /* The same seed, the same continuation. */
  g_auto (AttnTestCliResult) again = { 0 };
  run_cli (args, tmp, &again);
  g_assert_cmpint (again.status, ==, 0);
  g_assert_cmpstr (again.out, ==, r.out);
  attn_test_tmp_dir_remove (tmp);
}

static void
test_export_model (void)
{
  g_autofree char *model = attn_test_shared_model ("hf-fake-gpt2");
  if (model == NULL)
    return;
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "export", "--model", model, "The cat sat",
                         "-o", "l0.npy", NULL };
  run_cli (args, tmp, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_autofree char *path = g_build_filename (tmp, "l0.npy", NULL);
  g_autoptr (GError) error = NULL;
  int ndim = 0;
  gsize shape[ATTN_NPY_MAX_DIMS] = { 0 };
  g_autofree float *w = attn_npy_read (path, &ndim, shape, &error);
  g_assert_no_error (error);
  /* (NH, T, T) = (1, 3, 3), causal rows. */
  g_assert_cmpint (ndim, ==, 3);
  g_assert_cmpuint (shape[0], ==, 1);
  g_assert_cmpuint (shape[1], ==, 3);
  g_assert_cmpuint (shape[2], ==, 3);
  g_assert_cmpfloat (w[0], ==, 1.0f);
  g_assert_cmpfloat (w[1], ==, 0.0f);
  g_assert_cmpfloat (w[5], ==, 0.0f);
  g_assert_cmpfloat_with_epsilon (w[6] + w[7] + w[8], 1.0, 1e-5);
  attn_test_tmp_dir_remove (tmp);
}

static void
test_info_model (void)
{
  g_autofree char *model = attn_test_shared_model ("hf-fake-gpt2");
  if (model == NULL)
    return;
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "info", "--model", model, NULL };
  run_cli (args, tmp, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_prefix (r.out, "model: hf-fake-gpt2\n"));
  attn_test_assert_contains ("stdout", r.out, "\narchitecture: gpt2\n");
  attn_test_assert_contains ("stdout", r.out,
                             "\nvocabulary: 50257 tokens (tokenizer: 50257 "
                             "tokens, 50000 merges)\n");
  attn_test_assert_contains ("stdout", r.out, "\n  n_layer: 1\n");
  attn_test_tmp_dir_remove (tmp);
}

typedef struct {
  const char *name;
  const char *args[12];
  int status;
  const char *err; /* stderr contains this */
} FailCase;

/* @M@ is the shared hf-fake-gpt2 folder (the case skips without it), @Y@
 * tests/data/gpt2-tiny. */
static const FailCase fail_cases[] = {
  /* 1 layer x 1 head x 602 x 602 x 4 bytes = 1.45 MB */
  { "trace-too-large",
    { "run", "--model", "@M@", "Hello world", "--generate", "600",
      "--max-trace-mb", "1" }, 1,
    "the attention of 602 tokens would take 1.4 MB (1 layers x 1 heads x "
    "602 x 602 x 4 bytes), above the limit of 1.0 MB; --max-trace-mb "
    "raises the limit" },
  { "too-many-positions",
    { "run", "--model", "@M@", "Hello world", "--generate", "1023" }, 1,
    "1025 tokens with the generated ones exceed the model's 1024 "
    "positions" },
  { "sampling-without-temperature",
    { "run", "--model", "@Y@", "x", "--top-k", "5" }, 2,
    "--top-k applies to sampling: give --temperature X (above 0) too" },
  { "bad-top-p", { "run", "--model", "@Y@", "x", "--top-p", "1.5" }, 2,
    "--top-p “1.5”: expected a number from 1e-06 to 1" },
  { "generate-with-trace",
    { "export", "--trace", "@G@", "-o", "a.json", "--generate", "2" }, 2,
    "--generate applies to a model run: --trace exports a saved trace" },
  { "no-tokenizer", { "run", "--model", "@Y@", "hello" }, 1,
    "gpt2-tiny: the folder has no tokenizer" },
  { "not-a-model-folder", { "info", "--model", "@D@" }, 1,
    "(folder @D@): not a model folder: it has no config.json of a GPT-2 "
    "model" },
};

static void
test_failure (gconstpointer data)
{
  const FailCase *fc = data;
  g_autofree char *shared = NULL;
  gboolean needs_shared = FALSE;
  for (guint i = 0; fc->args[i] != NULL; i++)
    needs_shared |= strcmp (fc->args[i], "@M@") == 0;
  if (needs_shared && (shared = attn_test_shared_model ("hf-fake-gpt2"))
                        == NULL)
    return;
  g_autofree char *tiny = attn_test_data_path ("gpt2-tiny");
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  const char *args[G_N_ELEMENTS (fc->args) + 1] = { NULL };
  for (guint i = 0; fc->args[i] != NULL; i++)
    args[i] = strcmp (fc->args[i], "@M@") == 0   ? shared
              : strcmp (fc->args[i], "@Y@") == 0 ? tiny
                                                 : fc->args[i];
  g_auto (AttnTestCliResult) r = { 0 };
  run_cli (args, tmp, &r);
  g_assert_cmpint (r.status, ==, fc->status);
  g_assert_cmpstr (r.out, ==, "");
  g_autofree char *want = attn_test_cli_expand (fc->err, tmp);
  attn_test_assert_contains ("stderr", r.err, want);
  attn_test_tmp_dir_remove (tmp);
}

/* A 100,000-character paste: cut to the longest prefix of at most
 * n_positions (1024) tokens less --generate, said on stderr, and run. */
static void
test_run_long_text (void)
{
  g_autofree char *model = attn_test_shared_model ("hf-fake-gpt2");
  if (model == NULL)
    return;
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_autoptr (GString) text = g_string_new (NULL);
  while (text->len < 100000)
    g_string_append (text, "Hello world! ");
  g_string_truncate (text, 100000);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "run", "--model", model, "--json", "--generate",
                         "4", text->str, NULL };
  attn_test_cli_run (args, tmp, NULL, &r);
  g_assert_cmpint (r.status, ==, 0);
  /* The notice gives the counts; the trace agrees: 1020 tokens of the
   * text's first characters (ASCII: characters are bytes), then 4
   * generated. */
  g_autoptr (GRegex) re = g_regex_new (
    "^attnscope-cli run: warning: the text is 100000 characters long, more "
    "than the 1020 tokens model “hf-fake-gpt2” reads besides those it "
    "generates: using the first ([0-9]+) characters \\(1020 tokens\\)\n$",
    0, 0, NULL);
  g_autoptr (GMatchInfo) match = NULL;
  g_assert_true (g_regex_match (re, r.err, 0, &match));
  g_autofree char *n_chars = g_match_info_fetch (match, 1);
  g_autoptr (AttnTrace) trace = load_out (tmp, r.out);
  /* 1020 tokens of text, 4 generated. */
  g_assert_cmpuint (attn_trace_n_tokens (trace, ATTN_SIDE_TARGET), ==, 1024);
  const AttnToken *first_new = attn_trace_get_token (trace, ATTN_SIDE_TARGET,
                                                     1020);
  g_assert_cmpint (first_new->start, ==, atoi (n_chars));
  g_assert_true (strncmp (trace->target_text, text->str, atoi (n_chars))
                 == 0);
  attn_test_tmp_dir_remove (tmp);
}

/* bench --gpt2: the lines bench/bench-gpt2-vs-torch.py reads. */
static void
test_bench (void)
{
  g_autofree char *tiny = attn_test_data_path ("gpt2-tiny");
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "bench", "--gpt2", tiny, "--seq", "8,32,33",
                         "--reps", "1", "--threads", "1", NULL };
  run_cli (args, tmp, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_prefix (r.out, "gpt2 gpt2-tiny: 2 layers, 4 "
                                          "heads, C 32, V 200, "));
  attn_test_assert_contains ("stdout", r.out, "\nload: ");
  g_autoptr (GRegex) re = g_regex_new (
      "\nT 8: forward with attention \\+ last logits [0-9.]+ s, "
      "full-sequence logits \\+[0-9.]+ s, whole run \\(trace, steps\\) "
      "[0-9.]+ s, then generation [0-9.]+ ms/token \\(24 greedy tokens, "
      "rows kept\\) \\(best of 1\\)\nT 32: [^\n]* s \\(best of 1\\)\n"
      "T 33: skipped, above n_positions 32\npeak RSS: [0-9.]+ MB\n$",
      0, 0, NULL);
  g_assert_true (g_regex_match (re, r.out, 0, NULL));
  attn_test_tmp_dir_remove (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/attn/cli-gpt2/run/summary", test_run_summary);
  g_test_add_func ("/attn/cli-gpt2/run/json", test_run_json);
  g_test_add_func ("/attn/cli-gpt2/export/model", test_export_model);
  g_test_add_func ("/attn/cli-gpt2/info/model", test_info_model);
  g_test_add_func ("/attn/cli-gpt2/bench", test_bench);
  g_test_add_func ("/attn/cli-gpt2/run/long-text", test_run_long_text);
  for (guint i = 0; i < G_N_ELEMENTS (fail_cases); i++)
    {
      g_autofree char *p = g_strdup_printf ("/attn/cli-gpt2/failure/%s",
                                            fail_cases[i].name);
      g_test_add_data_func (p, &fail_cases[i], test_failure);
    }
  return g_test_run ();
}
