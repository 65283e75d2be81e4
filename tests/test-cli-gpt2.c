/* test-cli-gpt2.c: attnscope-cli with GPT-2 folders (docs/cli.md): run,
 * export --model, info --model and bench --gpt2 on
 * ../shared/models/hf-fake-gpt2 (real layout and vocabulary; skipped when
 * absent) and on tests/data/gpt2-tiny (no tokenizer); progress lines,
 * the end-of-text stop and Ctrl-C on scratch folders of
 * attn_test_write_gpt2 (byte-level tokenizer, random weights). */
/* posix_openpt, grantpt, unlockpt, ptsname */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

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
 * tests/data/gpt2-tiny, @R@ the bundled reverse-transformer (a built-in
 * model). */
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
  { "ignore-eos-without-generate",
    { "run", "--model", "@Y@", "x", "--ignore-eos" }, 2,
    "--ignore-eos applies to generation: give --generate N (above 0) "
    "too" },
  { "progress-with-trace",
    { "export", "--trace", "@G@", "-o", "a.json", "--progress" }, 2,
    "--progress applies to a model run: --trace exports a saved trace" },
  { "progress-built-in", { "run", "--model", "@R@", "abc", "--progress" },
    2, "--progress applies to GPT-2 models; reverse-transformer is a " },
  { "ignore-eos-built-in",
    { "export", "--model", "@R@", "abc", "-o", "a.json", "--ignore-eos",
      "--generate", "3" }, 2,
    "--generate applies to GPT-2 models; reverse-transformer is a " },
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
  g_autofree char *tests = attn_test_data_path ("..");
  g_autofree char *reverse = g_build_filename (
    tests, "..", "assets", "models", "reverse-transformer.safetensors",
    NULL);
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  const char *args[G_N_ELEMENTS (fc->args) + 1] = { NULL };
  for (guint i = 0; fc->args[i] != NULL; i++)
    args[i] = strcmp (fc->args[i], "@M@") == 0   ? shared
              : strcmp (fc->args[i], "@Y@") == 0 ? tiny
              : strcmp (fc->args[i], "@R@") == 0 ? reverse
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

/* ---- progress, the end-of-text stop, Ctrl-C (scratch models) ---------- */

/* A scratch GPT-2 folder (attn_test_write_gpt2: byte-level tokenizer, so
 * "abc" is 3 tokens; random weights from seed). Remove with
 * attn_test_tmp_dir_remove. */
static char *
new_scratch_gpt2 (int L, int NH, int C, int n_positions, guint32 seed)
{
  char *dir = attn_test_tmp_dir_new ("attn-cli-gpt2-model-XXXXXX");
  attn_test_write_gpt2 (dir, L, NH, C, n_positions, -1, seed);
  return dir;
}

/* The percent a progress line shows: the core's fraction (layers of the
 * prompt's n tokens, then generated tokens through every layer, over all
 * of it), rounded down. */
static int
expected_percent (int layers_done, int generated, int L, int n, int N)
{
  double done = (double) layers_done * n + (double) generated * L;
  double total = (double) L * (n + N);
  return (int) (MIN (done / total, 1.0) * 100.0);
}

/* --progress: a line per report (throttled), the prompt's layers then the
 * generated tokens, in order, each with the right percent, ending at
 * 100 %; stdout is the same as without it, and without it stderr (not a
 * terminal here) is silent. */
static void
test_run_progress (void)
{
  const int L = 3, n = 3, N = 5;
  g_autofree char *model = new_scratch_gpt2 (L, 2, 16, 64, 3);
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  const char *quiet_args[] = { "run", "--model", model, "abc", "--generate",
                               "5", "--ignore-eos", NULL };
  const char *progress_args[] = { "run", "--model", model, "abc",
                                  "--generate", "5", "--ignore-eos",
                                  "--progress", NULL };
  g_auto (AttnTestCliResult) quiet = { 0 };
  g_auto (AttnTestCliResult) shown = { 0 };
  run_cli (quiet_args, tmp, &quiet);
  run_cli (progress_args, tmp, &shown);
  g_assert_cmpint (quiet.status, ==, 0);
  g_assert_cmpint (shown.status, ==, 0);
  g_assert_cmpstr (quiet.err, ==, "");
  g_assert_cmpstr (shown.out, ==, quiet.out);
  g_assert_true (g_str_has_prefix (shown.out, "text: \"abc\"\n"));

  g_assert_true (g_str_has_suffix (shown.err, "\n"));
  g_auto (GStrv) lines = g_strsplit (shown.err, "\n", -1);
  guint n_lines = g_strv_length (lines) - 1; /* after the last \n: "" */
  g_assert_cmpuint (n_lines, >=, 2);
  g_assert_cmpstr (lines[0], ==, "prompt: layer 1/3 (12 %)");
  g_assert_cmpstr (lines[n_lines - 1], ==,
                   "generating: 5/5 tokens (100 %)");
  g_autoptr (GRegex) re = g_regex_new (
    "^(?:prompt: layer ([0-9]+)/3|generating: ([0-9]+)/5 tokens) "
    "\\(([0-9]+) %\\)$", 0, 0, NULL);
  int last_layer = 0, last_generated = 0;
  for (guint i = 0; i < n_lines; i++)
    {
      g_autoptr (GMatchInfo) m = NULL;
      if (!g_regex_match (re, lines[i], 0, &m))
        g_error ("progress line %u is “%s”", i, lines[i]);
      g_autofree char *layer = g_match_info_fetch (m, 1);
      g_autofree char *generated = g_match_info_fetch (m, 2);
      g_autofree char *percent = g_match_info_fetch (m, 3);
      if (layer != NULL && *layer != '\0')
        {
          /* Every prompt line comes before the first generation line. */
          g_assert_cmpint (last_generated, ==, 0);
          g_assert_cmpint (atoi (layer), >, last_layer);
          last_layer = atoi (layer);
          g_assert_cmpint (atoi (percent), ==,
                           expected_percent (last_layer, 0, L, n, N));
        }
      else
        {
          g_assert_cmpint (atoi (generated), >, last_generated);
          last_generated = atoi (generated);
          g_assert_cmpint (atoi (percent), ==,
                           expected_percent (L, last_generated, L, n, N));
        }
    }
  attn_test_tmp_dir_remove (tmp);
  attn_test_tmp_dir_remove (model);
}

/* A token's text as run's report quotes it. */
static char *
quoted (const char *text)
{
  GString *s = g_string_new ("\"");
  for (const unsigned char *p = (const unsigned char *) text; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_printf (s, "\\%c", *p);
      else if (*p == '\n')
        g_string_append (s, "\\n");
      else if (*p == '\t')
        g_string_append (s, "\\t");
      else if (*p < 0x20 || *p == 0x7f)
        g_string_append_printf (s, "\\x%02x", *p);
      else
        g_string_append_c (s, (char) *p);
    }
  g_string_append_c (s, '"');
  return g_string_free (s, FALSE);
}

static AttnTrace *
run_json (const char *model, const char *tmp, gboolean ignore_eos)
{
  const char *args[] = { "run", "--model", model, "abc", "--generate", "12",
                         "--json", ignore_eos ? "--ignore-eos" : NULL,
                         NULL };
  g_auto (AttnTestCliResult) r = { 0 };
  run_cli (args, tmp, &r);
  g_assert_cmpint (r.status, ==, 0);
  return load_out (tmp, r.out);
}

/* The end-of-text token stops generation unless --ignore-eos: a scratch
 * folder's config names as eos_token_id a token greedy generation picks
 * after a few others (found by a first run with --ignore-eos); the default
 * run stops there, its report saying so and still reading the text as the
 * text's 3 tokens; --ignore-eos generates all 12. */
static void
test_run_eos (void)
{
  const int n = 3, N = 12;
  /* Seed 10 generates "c", byte 0xBC, "#" x 4, "T" x 5: "T" first after
   * 7 others. */
  g_autofree char *model = new_scratch_gpt2 (2, 2, 16, 64, 10);
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_autofree char *config_path = g_build_filename (model, "config.json",
                                                   NULL);

  /* The choices after the text: the 12 generated tokens, then the last
   * step's choice. Not <|endoftext|> (256) before the end, or the first
   * run would not show what greedy generation picks past it. */
  g_autoptr (AttnTrace) all = run_json (model, tmp, TRUE);
  g_assert_cmpuint (attn_trace_n_tokens (all, ATTN_SIDE_TARGET), ==, n + N);
  int choice[12];
  for (int k = 0; k < N; k++)
    choice[k] = attn_trace_get_token (all, ATTN_SIDE_TARGET, n + k)->id;
  /* The latest first occurrence: generation stops after k tokens. */
  int k = 0;
  for (int j = 1; j < N; j++)
    {
      gboolean seen = FALSE;
      for (int i = 0; i < j; i++)
        seen |= choice[i] == choice[j];
      if (!seen)
        k = j;
    }
  g_test_message ("greedy picks token %d first after %d others", choice[k],
                  k);
  g_assert_cmpint (k, >=, 2);
  const int eos = choice[k];
  const char *eos_text
    = ((const AttnStep *) g_ptr_array_index (all->steps, n + k - 1))
        ->emitted.text;

  g_autofree char *config = NULL;
  g_assert_true (g_file_get_contents (config_path, &config, NULL, NULL));
  GString *edited = g_string_new (config);
  g_autofree char *old = g_strdup_printf ("\"eos_token_id\": %d",
                                          ATTN_TEST_GPT2_EOT);
  g_autofree char *new = g_strdup_printf ("\"eos_token_id\": %d", eos);
  g_assert_cmpuint (g_string_replace (edited, old, new, 0), ==, 1);
  g_assert_true (g_file_set_contents (config_path, edited->str, -1, NULL));
  g_string_free (edited, TRUE);

  /* Stopped: the k tokens before it, the choice of eos the last step's. */
  g_autoptr (AttnTrace) stopped = run_json (model, tmp, FALSE);
  g_assert_cmpuint (attn_trace_n_tokens (stopped, ATTN_SIDE_TARGET), ==,
                    n + k);
  for (int i = 0; i < k; i++)
    g_assert_cmpint (
      attn_trace_get_token (stopped, ATTN_SIDE_TARGET, n + i)->id, ==,
      choice[i]);
  g_assert_cmpuint (stopped->steps->len, ==, n + k);
  const AttnStep *last = g_ptr_array_index (stopped->steps, n + k - 1);
  g_assert_cmpint (last->emitted.id, ==, eos);
  const AttnBlock *b = g_ptr_array_index (stopped->blocks, 0);
  g_assert_cmpint (b->n_queries, ==, n + k);

  const char *report_args[] = { "run", "--model", model, "abc",
                                "--generate", "12", NULL };
  g_auto (AttnTestCliResult) report = { 0 };
  run_cli (report_args, tmp, &report);
  g_assert_cmpint (report.status, ==, 0);
  g_autofree char *generated = g_strndup (
    stopped->target_text + attn_trace_get_token (stopped, ATTN_SIDE_TARGET,
                                                 n)->start, 1000);
  g_autofree char *generated_q = quoted (generated);
  g_autofree char *eos_q = quoted (eos_text);
  g_autofree char *head = g_strdup_printf (
    "text: \"abc\"\ngenerated: %s\ngeneration stopped at %s after %d of "
    "12 tokens\nnext token: ", generated_q, eos_q, k);
  if (!g_str_has_prefix (report.out, head))
    g_error ("report “%s” does not start “%s”", report.out, head);
  /* The predictions: after the text, then at each generated token. */
  g_autofree char *last_step = g_strdup_printf ("\n  token %d: ", n + k);
  attn_test_assert_contains ("stdout", report.out, last_step);

  /* --ignore-eos: all 12, no notice. */
  g_autoptr (AttnTrace) again = run_json (model, tmp, TRUE);
  g_assert_cmpuint (attn_trace_n_tokens (again, ATTN_SIDE_TARGET), ==,
                    n + N);
  const char *ignore_args[] = { "run", "--model", model, "abc",
                                "--generate", "12", "--ignore-eos", NULL };
  g_auto (AttnTestCliResult) ignored = { 0 };
  run_cli (ignore_args, tmp, &ignored);
  g_assert_cmpint (ignored.status, ==, 0);
  g_assert_null (strstr (ignored.out, "generation stopped"));
  g_autofree char *last_ignored = g_strdup_printf ("\n  token %d: ", n + N);
  attn_test_assert_contains ("stdout", ignored.out, last_ignored);
  attn_test_tmp_dir_remove (tmp);
  attn_test_tmp_dir_remove (model);
}

/* A run long enough to interrupt: 8 layers, n_embd 256 (a 27 MB file,
 * written in about 0.2 s), 1020 tokens generated after "abc": seconds on
 * two cores, longer on a slower machine. */
#define LONG_L 8
#define LONG_NH 4
#define LONG_C 256
#define LONG_GENERATE "1020"

typedef struct {
  const char *name;
  const char *command;  /* run or export */
  const char *extra[4]; /* what it writes */
  const char *file;     /* which must not exist after Ctrl-C, or NULL */
} InterruptCase;

static const InterruptCase interrupt_cases[] = {
  { "run-output", "run", { "-o", "out.json" }, "out.json" },
  { "run-json", "run", { "--json" }, NULL },
  { "export", "export", { "--layer", "3", "-o", "l3.npy" }, "l3.npy" },
};

static GPtrArray *
long_run_argv (const InterruptCase *ic, const char *model, gboolean progress)
{
  GPtrArray *argv = g_ptr_array_new ();
  const char *base[] = { g_getenv ("ATTN_CLI"), ic->command, "--model",
                         model, "abc", "--generate", LONG_GENERATE,
                         "--ignore-eos" };
  for (guint i = 0; i < G_N_ELEMENTS (base); i++)
    g_ptr_array_add (argv, (char *) base[i]);
  if (progress)
    g_ptr_array_add (argv, "--progress");
  for (guint i = 0; i < G_N_ELEMENTS (ic->extra) && ic->extra[i]; i++)
    g_ptr_array_add (argv, (char *) ic->extra[i]);
  g_ptr_array_add (argv, NULL);
  return argv;
}

/* Ctrl-C once the run reports progress: exit 130, the message, nothing on
 * stdout and nothing written (the folder stays empty: no temporary file
 * either). */
static void
test_interrupt (gconstpointer data)
{
  const InterruptCase *ic = data;
  g_autofree char *model = new_scratch_gpt2 (LONG_L, LONG_NH, LONG_C, 1024,
                                             7);
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
    G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_cwd (launcher, tmp);
  g_autoptr (GPtrArray) argv = long_run_argv (ic, model, TRUE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_launcher_spawnv (
    launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);

  /* The first progress line: the run is under way. */
  g_autoptr (GDataInputStream) lines = g_data_input_stream_new (
    g_subprocess_get_stderr_pipe (p));
  g_autofree char *first = g_data_input_stream_read_line_utf8 (
    lines, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (first, ==, "prompt: layer 1/8 (0 %)");
  g_subprocess_send_signal (p, SIGINT);

  g_autoptr (GString) err = g_string_new (NULL);
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line_utf8 (
        lines, NULL, NULL, &error);
      g_assert_no_error (error);
      if (line == NULL)
        break;
      g_string_append_printf (err, "%s\n", line);
    }
  g_autoptr (GBytes) out = g_input_stream_read_bytes (
    g_subprocess_get_stdout_pipe (p), 1 << 20, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait (p, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("stderr after the first line:\n%s", err->str);
  g_assert_true (g_subprocess_get_if_exited (p));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 130);
  g_autofree char *message = g_strdup_printf (
    "attnscope-cli %s: interrupted: run cancelled\n", ic->command);
  g_assert_true (g_str_has_suffix (err->str, message));
  g_assert_cmpuint (g_bytes_get_size (out), ==, 0);
  g_autofree char *listing = attn_test_list_dir (tmp);
  g_assert_cmpstr (listing, ==, "");
  if (ic->file != NULL)
    {
      g_autofree char *path = g_build_filename (tmp, ic->file, NULL);
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    }
  attn_test_tmp_dir_remove (tmp);
  attn_test_tmp_dir_remove (model);
}

/* Reads the terminal's master side into s until it holds needle (TRUE) or
 * the other side is closed (FALSE). */
static gboolean
read_until (int fd, GString *s, const char *needle)
{
  while (needle == NULL || strstr (s->str, needle) == NULL)
    {
      char buf[4096];
      ssize_t got = read (fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0) /* EIO: every slave descriptor is closed */
        return FALSE;
      g_string_append_len (s, buf, got);
    }
  return TRUE;
}

/* stderr a terminal, no --progress: a bar redrawn in place (\r, the
 * line erased), cleared before the Ctrl-C message; no plain lines. */
static void
test_interrupt_terminal (void)
{
  g_autofree char *model = new_scratch_gpt2 (LONG_L, LONG_NH, LONG_C, 1024,
                                             7);
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  int master = posix_openpt (O_RDWR | O_NOCTTY);
  g_assert_cmpint (master, >=, 0);
  g_assert_cmpint (grantpt (master), ==, 0);
  g_assert_cmpint (unlockpt (master), ==, 0);
  int slave = open (ptsname (master), O_RDWR | O_NOCTTY);
  g_assert_cmpint (slave, >=, 0);

  GSubprocessLauncher *launcher
    = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_cwd (launcher, tmp);
  g_subprocess_launcher_take_stderr_fd (launcher, slave);
  const InterruptCase ic = { "terminal", "run", { "-o", "out.json" },
                             "out.json" };
  g_autoptr (GPtrArray) argv = long_run_argv (&ic, model, FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_launcher_spawnv (
    launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  /* Closes the parent's slave descriptor, so the master reads EOF once
   * the program has exited. */
  g_object_unref (launcher);

  g_autoptr (GString) seen = g_string_new (NULL);
  g_assert_true (read_until (master, seen, " tokens ("));
  g_subprocess_send_signal (p, SIGINT);
  g_assert_false (read_until (master, seen, NULL));
  close (master);
  g_assert_true (g_subprocess_wait (p, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("terminal: %s", seen->str);
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 130);
  /* Bars, each erasing the line before (which bars are drawn depends on
   * the machine's speed), then the bar erased and the message (the
   * terminal turns \n into \r\n). */
  const char *end = "\r\033[Kattnscope-cli run: interrupted: run cancelled"
                    "\r\n";
  g_assert_true (g_str_has_prefix (seen->str, "\r\033[K["));
  g_assert_true (g_str_has_suffix (seen->str, end));
  g_autofree char *bars = g_strndup (seen->str,
                                     seen->len - strlen (end));
  g_auto (GStrv) drawn = g_strsplit (bars + strlen ("\r\033[K"),
                                     "\r\033[K", -1);
  g_autoptr (GRegex) bar_re = g_regex_new (
    "^\\[[=]*>? *\\] (prompt: layer [0-8]/8|generating: [0-9]+/1020 "
    "tokens) \\([0-9]+ %\\)$", 0, 0, NULL);
  for (guint i = 0; drawn[i] != NULL; i++)
    {
      g_assert_cmpuint (strlen (drawn[i]), >=, 26);
      g_assert_true (drawn[i][25] == ']');
      if (!g_regex_match (bar_re, drawn[i], 0, NULL))
        g_error ("bar %u is “%s”", i, drawn[i]);
    }
  /* It was read up to a generation bar. */
  attn_test_assert_contains ("terminal", seen->str, "] generating: ");
  g_autofree char *listing = attn_test_list_dir (tmp);
  g_assert_cmpstr (listing, ==, "");
  attn_test_tmp_dir_remove (tmp);
  attn_test_tmp_dir_remove (model);
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
  g_test_add_func ("/attn/cli-gpt2/run/progress", test_run_progress);
  g_test_add_func ("/attn/cli-gpt2/run/eos", test_run_eos);
  for (guint i = 0; i < G_N_ELEMENTS (interrupt_cases); i++)
    {
      g_autofree char *p = g_strdup_printf ("/attn/cli-gpt2/interrupt/%s",
                                            interrupt_cases[i].name);
      g_test_add_data_func (p, &interrupt_cases[i], test_interrupt);
    }
  g_test_add_func ("/attn/cli-gpt2/interrupt/terminal",
                   test_interrupt_terminal);
  for (guint i = 0; i < G_N_ELEMENTS (fail_cases); i++)
    {
      g_autofree char *p = g_strdup_printf ("/attn/cli-gpt2/failure/%s",
                                            fail_cases[i].name);
      g_test_add_data_func (p, &fail_cases[i], test_failure);
    }
  return g_test_run ();
}
