/* test-shipped.c: the models bundled in assets/models/ (suite `models`).
 *
 * For each shipped model whose file is present (a missing one is skipped,
 * naming the file): its card names where it came from; its greedy exact
 * match on a FRESH draw of its task's test split (seed 12345, which no
 * training run uses: the trainer's final test draws with the training seed,
 * 1) is at least 99 %, as issue 3 requires; and two models' attention does
 * what a classroom is shown it does: reverse-transformer's last
 * cross-attention layer is anti-diagonal, and dates-bahdanau's month digits
 * look at the month's name.
 *
 * The models are found by name, as `attnscope-cli run --model NAME` finds
 * them (attn_model_ref_resolve): from the build tree, that is the source
 * tree's assets/models/, so these tests also prove that an uninstalled
 * build sees every bundled file. */
#include <string.h>

#include "core/attn-error.h"
#include "core/attn-model-ref.h"
#include "core/attn-model.h"
#include "core/attn-task.h"
#include "core/attn-train.h"
#include "tests/attn-test-util.h"

/* Seed of every fresh draw here. */
#define FRESH_SEED 12345
/* Examples per accuracy check (a model at exactly 99 % gets 20 wrong; a
 * greedy decode takes about 1-3 ms, so 2000 cost seconds), and the fewest
 * a card's own test may have used. */
#define ACCURACY_EXAMPLES 2000
#define CARD_TEST_MIN 500
#define ACCURACY_MIN 0.99
#define EVAL_THREADS 2

typedef struct {
  const char *name;      /* assets/models/<name>.safetensors */
  const char *task;      /* attn_task_name of what it was trained on */
  const char *arch;      /* attn_arch_to_string */
  const char *attention; /* attn_mechanism_to_string */
  const char *cli_attention; /* `train --attention` spelling, or NULL */
} Shipped;

/* The list of assets/models/meson.build (shipped_model_names). */
static const Shipped shipped[] = {
  { "dates-transformer", "dates", "transformer", "scaled-dot-product", NULL },
  { "dates-bahdanau", "dates", "rnn", "additive", "bahdanau" },
  { "dates-luong-general", "dates", "rnn", "luong-general", "luong-general" },
  { "dates-local-p", "dates", "rnn", "luong-local-p", "local-p" },
  { "numbers-transformer", "numbers-to-digits", "transformer",
    "scaled-dot-product", NULL },
  { "reverse-transformer", "reverse", "transformer", "scaled-dot-product",
    NULL },
};

/* The shipped model `name` loaded by name, or NULL after g_test_skip when
 * its file is not in the source tree's assets/models/. A file that is there
 * but is not found by name, or does not load, fails the test. */
static AttnModel *
open_shipped (const char *name)
{
  const char *srcdir = g_getenv ("G_TEST_SRCDIR");
  g_assert_nonnull (srcdir);
  g_autofree char *file = g_strconcat (name, ".safetensors", NULL);
  g_autofree char *source_path = g_build_filename (srcdir, "..", "assets",
                                                   "models", file, NULL);
  if (!g_file_test (source_path, G_FILE_TEST_IS_REGULAR))
    {
      g_autofree char *msg = g_strdup_printf (
        "assets/models/%s is absent (not trained and copied yet)", file);
      g_test_skip (msg);
      return NULL;
    }

  g_autoptr (GError) error = NULL;
  g_autoptr (AttnModelRef) ref = attn_model_ref_resolve (name, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ref->kind, ==, ATTN_MODEL_REF_BUNDLED);
  if (g_getenv ("ATTNSCOPE_MODEL_PATH") == NULL)
    {
      /* An uninstalled build reads the source tree's copy, not an older
       * installed one. */
      g_autofree char *want = g_canonicalize_filename (source_path, NULL);
      g_autofree char *got = g_canonicalize_filename (ref->path, NULL);
      g_assert_cmpstr (got, ==, want);
    }
  AttnModel *model = attn_model_load (ref->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  g_assert_cmpstr (model->name, ==, name);
  return model;
}

static AttnTask
task_of (const Shipped *s)
{
  AttnTask task;
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_task_from_name (s->task, &task, &error));
  g_assert_no_error (error);
  return task;
}

/* ---- card --------------------------------------------------------------- */

/* The value of option `opt` ("--task") in argv: the next argument or the
 * part after "=". NULL when absent. */
static const char *
option_value (char **argv, const char *opt)
{
  gsize len = strlen (opt);
  for (guint i = 0; argv[i] != NULL; i++)
    {
      if (strcmp (argv[i], opt) == 0)
        return argv[i + 1];
      if (strncmp (argv[i], opt, len) == 0 && argv[i][len] == '=')
        return argv[i] + len + 1;
    }
  return NULL;
}

static gint64
card_int (JsonObject *card, const char *member)
{
  g_assert_true (json_object_has_member (card, member));
  JsonNode *node = json_object_get_member (card, member);
  g_assert_true (JSON_NODE_HOLDS_VALUE (node));
  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_INT64);
  return json_node_get_int (node);
}

static const char *
card_string (JsonObject *card, const char *member)
{
  g_assert_true (json_object_has_member (card, member));
  const char *s = json_object_get_string_member (card, member);
  g_assert_nonnull (s);
  return s;
}

/* The card is JSON naming the task, architecture and attention this entry
 * says (and the loaded config has), the command that trained it (which
 * itself says that task, architecture, attention, steps and seed, and
 * wrote this file), the seed, the steps, and a test accuracy of at least
 * 99 % over a stated number of examples. */
static void
test_card (gconstpointer data)
{
  const Shipped *s = data;
  g_autoptr (AttnModel) model = open_shipped (s->name);
  if (model == NULL)
    return;
  g_assert_nonnull (model->card_json);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_data (parser, model->card_json, -1,
                                             &error));
  g_assert_no_error (error);
  JsonNode *root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  JsonObject *card = json_node_get_object (root);

  g_assert_cmpstr (card_string (card, "name"), ==, s->name);
  g_assert_cmpstr (card_string (card, "task"), ==, s->task);
  g_assert_cmpstr (card_string (card, "architecture"), ==, s->arch);
  g_assert_cmpstr (card_string (card, "attention"), ==, s->attention);
  g_assert_cmpstr (attn_arch_to_string (model->config.arch), ==, s->arch);
  if (model->config.arch == ATTN_ARCH_RNN)
    g_assert_cmpstr (attn_mechanism_to_string (model->config.attention), ==,
                     s->attention);

  gint64 seed = card_int (card, "seed");
  gint64 steps = card_int (card, "steps");
  g_assert_cmpint (seed, >=, 0);
  g_assert_cmpint (steps, >, 0);
  /* A checkpoint is not a shipped model: training ran to its end. */
  g_assert_cmpstr (card_string (card, "status"), ==, "final");
  double acc = json_object_get_double_member (card, "test_accuracy");
  gint64 n_test = card_int (card, "test_examples");
  g_test_message ("%s: card test exact match %.4f on %" G_GINT64_FORMAT
                  " examples (seed %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                  " steps)",
                  s->name, acc, n_test, seed, steps);
  g_assert_cmpint (n_test, >=, CARD_TEST_MIN);
  g_assert_cmpfloat (acc, >=, ACCURACY_MIN);
  g_assert_cmpfloat (acc, <=, 1.0);

  const char *command = card_string (card, "command");
  g_auto (GStrv) argv = NULL;
  g_assert_true (g_shell_parse_argv (command, NULL, &argv, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (argv[0], ==, "attnscope-cli");
  g_assert_cmpstr (argv[1], ==, "train");
  g_assert_cmpstr (option_value (argv, "--task"), ==, s->task);
  g_assert_cmpstr (option_value (argv, "--arch"), ==, s->arch);
  g_assert_cmpstr (option_value (argv, "--attention"), ==, s->cli_attention);
  /* -o names a file of this model's name (a folder before it is where the
   * trainer ran, not part of the model). */
  const char *out = option_value (argv, "-o");
  if (out == NULL)
    out = option_value (argv, "--output");
  g_assert_nonnull (out);
  g_autofree char *base = g_path_get_basename (out);
  g_autofree char *want_base = g_strconcat (s->name, ".safetensors", NULL);
  g_assert_cmpstr (base, ==, want_base);
  const char *steps_opt = option_value (argv, "--steps");
  if (steps_opt != NULL)
    g_assert_cmpint (g_ascii_strtoll (steps_opt, NULL, 10), ==, steps);
  const char *seed_opt = option_value (argv, "--seed");
  if (seed_opt != NULL)
    g_assert_cmpint (g_ascii_strtoll (seed_opt, NULL, 10), ==, seed);
}

/* ---- accuracy on a fresh test split --------------------------------------- */

static void
test_accuracy (gconstpointer data)
{
  const Shipped *s = data;
  g_autoptr (AttnModel) model = open_shipped (s->name);
  if (model == NULL)
    return;
  AttnEvalResult r = { 0 };
  g_autoptr (GError) error = NULL;
  gboolean ok = attn_train_evaluate (model, task_of (s), ATTN_SPLIT_TEST,
                                     ACCURACY_EXAMPLES, FRESH_SEED,
                                     EVAL_THREADS, NULL, &r, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_test_message ("%s: fresh test split (seed %d): exact match %.4f (%d of "
                  "%d), token accuracy %.4f",
                  s->name, FRESH_SEED, r.exact_match, r.exact, r.n,
                  r.token_accuracy);
  g_assert_cmpint (r.n, ==, ACCURACY_EXAMPLES);
  g_assert_cmpfloat (r.exact_match, >=, ACCURACY_MIN);
}

/* ---- attention ------------------------------------------------------------ */

/* reverse-transformer: for the character emitted at output position i of a
 * source of n characters, the last decoder layer's cross-attention averaged
 * over heads peaks at source position n - 1 - i, for at least 95 % of all
 * positions of 300 fresh test strings. Row i of a cross block is the query
 * of decoder input i (<s> first), the one that emits output character i. */
#define REVERSE_EXAMPLES 300
#define REVERSE_MIN 0.95

static void
test_reverse_attention (void)
{
  g_autoptr (AttnModel) model = open_shipped ("reverse-transformer");
  if (model == NULL)
    return;
  g_autoptr (GRand) rng = g_rand_new_with_seed (FRESH_SEED);
  int positions = 0, hits = 0, exact = 0;
  AttnRunOptions o = ATTN_RUN_OPTIONS_INIT;
  for (int e = 0; e < REVERSE_EXAMPLES; e++)
    {
      g_autofree char *source = NULL, *target = NULL;
      attn_task_example (ATTN_TASK_REVERSE, ATTN_SPLIT_TEST, rng, &source,
                         &target, NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (AttnTrace) trace = attn_model_run (model, source, &o, NULL,
                                                    &error);
      g_assert_no_error (error);
      exact += strcmp (trace->target_text, target) == 0;
      AttnBlock *block = attn_trace_lookup_block (trace, ATTN_KIND_CROSS,
                                                  model->config.L_dec - 1);
      g_assert_nonnull (block);
      int n = (int) g_utf8_strlen (source, -1);
      g_assert_cmpint (block->n_keys, ==, n + 1); /* + </s> */
      g_autofree float *mean = g_new (float, block->n_queries
                                                 * block->n_keys);
      attn_block_head_weights (block, ATTN_HEADS_MEAN, mean);
      /* A short output has no row for its missing characters: they count
       * as misses. */
      for (int i = 0; i < n; i++, positions++)
        {
          if (i >= block->n_queries)
            continue;
          const float *row = mean + (gsize) i * block->n_keys;
          int best = 0;
          for (int k = 1; k < block->n_keys; k++)
            if (row[k] > row[best])
              best = k;
          hits += best == n - 1 - i;
        }
    }
  double frac = (double) hits / positions;
  g_test_message ("reverse-transformer: cross-attention argmax (last layer, "
                  "mean over heads) on the mirrored source position for "
                  "%d of %d output positions (%.4f) of %d fresh test "
                  "strings; %d outputs exact",
                  hits, positions, frac, REVERSE_EXAMPLES, exact);
  g_assert_cmpfloat (frac, >=, REVERSE_MIN);
}

/* dates-bahdanau: when the source spells the month as an English word, the
 * two month digits of the output (characters 5 and 6 of YYYY-MM-DD) put
 * more than half of their attention on that word's characters.
 *
 * Asserted per row, as the issue states it: at least 90 % of the month-digit
 * rows of 200 correctly decoded fresh test dates each put more than half
 * their weight on the word (the mean alone could hide a sizeable minority
 * of rows looking elsewhere); the mean over rows must exceed 0.5 too.
 * Measured on the shipped file: 393 of 400 rows (98 %), mean 0.89; the 7
 * rows under 0.5 are the first month digit ("0") of "Sep" or "Mar". */
#define MONTH_EXAMPLES 200 /* with a month word */
#define MONTH_ROWS_MIN 0.90

static const char *const month_words[] = {
  "january", "february", "march", "april", "may", "june", "july",
  "august", "september", "october", "november", "december",
  "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
};

/* The byte span [*start, *end) of the first maximal run of ASCII letters in
 * text that is an English month name or its three-letter abbreviation, in
 * any case (format 17 is upper case, 18 lower case). FALSE when none is:
 * numeric and Chinese formats. Weekday names ("Mon", "Monday") are no
 * month. */
static gboolean
find_month_word (const char *text, int *start, int *end)
{
  int i = 0, len = (int) strlen (text);
  while (i < len)
    {
      if (!g_ascii_isalpha (text[i]))
        {
          i++;
          continue;
        }
      int j = i;
      while (j < len && g_ascii_isalpha (text[j]))
        j++;
      for (guint m = 0; m < G_N_ELEMENTS (month_words); m++)
        if ((int) strlen (month_words[m]) == j - i
            && g_ascii_strncasecmp (text + i, month_words[m], j - i) == 0)
          {
            *start = i;
            *end = j;
            return TRUE;
          }
      i = j;
    }
  return FALSE;
}

static void
test_month_attention (void)
{
  g_autoptr (AttnModel) model = open_shipped ("dates-bahdanau");
  if (model == NULL)
    return;
  g_autoptr (GRand) rng = g_rand_new_with_seed (FRESH_SEED);
  int examples = 0, drawn = 0, rows = 0, rows_over = 0, wrong = 0;
  double mass_sum = 0, mass_min = 1;
  AttnRunOptions o = ATTN_RUN_OPTIONS_INIT;
  while (examples < MONTH_EXAMPLES)
    {
      g_autofree char *source = NULL, *target = NULL;
      attn_task_example (ATTN_TASK_DATES, ATTN_SPLIT_TEST, rng, &source,
                         &target, NULL);
      drawn++;
      g_assert_cmpint (drawn, <, 20 * MONTH_EXAMPLES);
      int ws, we;
      if (!find_month_word (source, &ws, &we))
        continue;
      g_autoptr (GError) error = NULL;
      g_autoptr (AttnTrace) trace = attn_model_run (model, source, &o, NULL,
                                                    &error);
      g_assert_no_error (error);
      /* Rows 5 and 6 emit the month digits only in a right output. */
      if (strcmp (trace->target_text, target) != 0)
        {
          wrong++;
          continue;
        }
      examples++;
      AttnBlock *block = attn_trace_lookup_block (trace, ATTN_KIND_CROSS, 0);
      g_assert_nonnull (block);
      g_assert_cmpint (block->n_heads, ==, 1);
      g_assert_cmpint (block->n_queries, >=, 7);
      for (int i = 5; i <= 6; i++)
        {
          const float *row = block->weights + (gsize) i * block->n_keys;
          double mass = 0;
          for (int k = 0; k < block->n_keys; k++)
            {
              const AttnToken *tok = attn_trace_get_token (
                trace, ATTN_SIDE_SOURCE, k);
              if (!tok->special && tok->start >= ws && tok->end <= we)
                mass += row[k];
            }
          rows++;
          rows_over += mass > 0.5;
          /* A few of the rows that look elsewhere, to read when it fails. */
          if (mass <= 0.5 && rows - rows_over <= 5)
            g_test_message ("  \"%s\" -> %s: month digit %d has %.3f on "
                            "the month word",
                            source, target, i - 4, mass);
          mass_sum += mass;
          mass_min = MIN (mass_min, mass);
        }
    }
  double frac = (double) rows_over / rows;
  g_test_message ("dates-bahdanau: month digits with more than half their "
                  "attention on the month word: %d of %d rows (%.4f); mass "
                  "on the word: mean %.4f, least %.4f; %d sources with a "
                  "month word (of %d drawn), %d more decoded wrongly and "
                  "not counted",
                  rows_over, rows, frac, mass_sum / rows, mass_min,
                  examples, drawn, wrong);
  g_assert_cmpint (wrong, <=, MONTH_EXAMPLES / 50);
  g_assert_cmpfloat (frac, >=, MONTH_ROWS_MIN);
  g_assert_cmpfloat (mass_sum / rows, >, 0.5);
}

/* The month finder itself, on every kind of source it meets. */
static void
test_find_month_word (void)
{
  static const struct {
    const char *text;
    int start, end; /* -1: none */
  } cases[] = {
    { "23 Nov 2026", 3, 6 },
    { "Monday, the 23rd of November 2026", 20, 28 },
    { "Mon Nov 23 2026", 4, 7 },
    { "NOVEMBER 23, 2026", 0, 8 },
    { "23 may 2026", 3, 6 },
    { "Nov. 23, 2026", 0, 3 },
    { "23-Mar-2026", 3, 6 },
    { "Sat, 5 Sep 2026", 7, 10 },
    { "11/23/26", -1, -1 },
    { "2026年11月23日", -1, -1 },
    { "Monday 2026", -1, -1 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      int start = -1, end = -1;
      gboolean found = find_month_word (cases[i].text, &start, &end);
      g_assert_cmpint (found, ==, cases[i].start >= 0);
      g_assert_cmpint (start, ==, cases[i].start);
      g_assert_cmpint (end, ==, cases[i].end);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (shipped); i++)
    {
      g_autofree char *card = g_strdup_printf ("/attn/shipped/card/%s",
                                               shipped[i].name);
      g_autofree char *acc = g_strdup_printf ("/attn/shipped/accuracy/%s",
                                              shipped[i].name);
      g_test_add_data_func (card, &shipped[i], test_card);
      g_test_add_data_func (acc, &shipped[i], test_accuracy);
    }
  g_test_add_func ("/attn/shipped/find-month-word", test_find_month_word);
  g_test_add_func ("/attn/shipped/reverse-attention",
                   test_reverse_attention);
  g_test_add_func ("/attn/shipped/month-attention", test_month_attention);
  return g_test_run ();
}
