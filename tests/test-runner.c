/* test-runner.c: AttnRunner, the debounced worker-thread model runs behind
 * the text entry: only the newest text's result is ever delivered, text
 * that waits for a busy worker runs next, long text is cut to the model's
 * limit, unknown characters are reported, and a model swapped mid-run
 * never delivers the old model's result. GPT-2 runs (scratch folders of
 * attn_test_write_gpt2) report progress on the main thread, drop the
 * reports of stale runs, can be stopped, and generate the tokens asked.
 * Suite ui (it links attn-ui). */
#include <string.h>

#include "core/attn-error.h"
#include "tests/attn-test-util.h"
#include "tests/attn-ui-test-util.h"
#include "ui/attn-runner.h"

typedef struct
{
  int n_finished;
  guint64 generation;
  char *text;
  gboolean truncated;
  int max_chars;
  guint n_source_tokens;
  char **unknown;
  GError *error;
} Seen;

static void
seen_clear (Seen *seen)
{
  g_free (seen->text);
  g_strfreev (seen->unknown);
  g_clear_error (&seen->error);
  memset (seen, 0, sizeof *seen);
}

static void
on_finished (AttnRunner *runner, AttnRunResult *result, Seen *seen)
{
  seen->n_finished++;
  seen->generation = result->generation;
  g_free (seen->text);
  seen->text = g_strdup (result->text);
  seen->truncated = result->truncated;
  seen->max_chars = result->max_chars;
  seen->n_source_tokens
      = result->trace != NULL
            ? attn_trace_n_tokens (result->trace, ATTN_SIDE_SOURCE)
            : 0;
  g_strfreev (seen->unknown);
  g_ptr_array_add (result->unknown, NULL);
  seen->unknown = g_strdupv ((char **)result->unknown->pdata);
  g_ptr_array_remove_index (result->unknown, result->unknown->len - 1);
  g_clear_error (&seen->error);
  if (result->error != NULL)
    seen->error = g_error_copy (result->error);
}

static gboolean
is_idle (gpointer data)
{
  return !attn_runner_is_busy (data);
}

static AttnRunner *
new_runner (Seen *seen, int max_len)
{
  AttnRunner *runner = attn_runner_new ();
  attn_runner_set_model (
      runner, attn_ui_test_new_model ("runner-test", max_len, "23 Nov 2026"));
  g_signal_connect (runner, "finished", G_CALLBACK (on_finished), seen);
  return runner;
}

static void
test_debounce_keeps_newest (void)
{
  Seen seen = { 0 };
  g_autoptr (AttnRunner) runner = new_runner (&seen, 24);
  g_assert_true (attn_runner_has_model (runner));
  g_assert_cmpstr (attn_runner_get_model_name (runner), ==, "runner-test");
  g_assert_cmpint (attn_runner_get_max_chars (runner), ==, 23);

  /* Keystrokes closer together than the delay: one run, of the last
   * text. */
  attn_runner_set_debounce (runner, 60);
  attn_runner_request (runner, "2");
  attn_runner_request (runner, "23");
  guint64 last = attn_runner_request (runner, "23 N");
  g_assert_true (attn_runner_is_busy (runner));
  g_assert_cmpint (seen.n_finished, ==, 0);
  attn_ui_test_wait (is_idle, runner, 20000);
  g_assert_cmpint (seen.n_finished, ==, 1);
  g_assert_cmpstr (seen.text, ==, "23 N");
  g_assert_cmpuint (seen.generation, ==, last);
  g_assert_cmpuint (seen.n_source_tokens, ==, 5);
  g_assert_no_error (seen.error);
  seen_clear (&seen);
}

static void
test_stale_result_dropped (void)
{
  Seen seen = { 0 };
  g_autoptr (AttnRunner) runner = new_runner (&seen, 24);
  /* The first run is in the worker when the second text arrives: the
   * first result is stale and dropped, the second runs after it. */
  attn_runner_run_now (runner, "1 Jan 2000");
  guint64 newest = attn_runner_run_now (runner, "2 Feb 2001");
  attn_ui_test_wait (is_idle, runner, 20000);
  g_assert_cmpint (seen.n_finished, ==, 1);
  g_assert_cmpstr (seen.text, ==, "2 Feb 2001");
  g_assert_cmpuint (seen.generation, ==, newest);
  seen_clear (&seen);

  /* Cancelled: nothing arrives. */
  attn_runner_run_now (runner, "3 Mar 2002");
  attn_runner_cancel (runner);
  attn_ui_test_wait (is_idle, runner, 20000);
  g_assert_cmpint (seen.n_finished, ==, 0);
}

static void
test_model_swap_drops_result (void)
{
  Seen seen = { 0 };
  g_autoptr (AttnRunner) runner = new_runner (&seen, 24);
  attn_runner_run_now (runner, "1 Jan 2000");
  /* The run in flight keeps the old model alive until it ends; its result
   * is not delivered. */
  attn_runner_set_model (runner, attn_ui_test_new_model ("other", 12, "1"));
  attn_ui_test_wait (is_idle, runner, 20000);
  g_assert_cmpint (seen.n_finished, ==, 0);
  g_assert_cmpstr (attn_runner_get_model_name (runner), ==, "other");

  /* Unloaded: requests wait for a model and never run. */
  attn_runner_set_model (runner, NULL);
  g_assert_false (attn_runner_has_model (runner));
  g_assert_cmpint (attn_runner_get_max_chars (runner), ==, 0);
  attn_runner_run_now (runner, "1");
  g_assert_cmpint (seen.n_finished, ==, 0);
  attn_runner_cancel (runner);
  g_assert_false (attn_runner_is_busy (runner));
}

static void
test_truncates_and_reports_unknown (void)
{
  Seen seen = { 0 };
  g_autoptr (AttnRunner) runner = new_runner (&seen, 8);
  /* 7 characters fit; the text is cut on a character boundary (年 is three
   * bytes). */
  attn_runner_run_now (runner, "2026年11月23日");
  attn_ui_test_wait (is_idle, runner, 20000);
  g_assert_cmpint (seen.n_finished, ==, 1);
  g_assert_true (seen.truncated);
  g_assert_cmpint (seen.max_chars, ==, 7);
  g_assert_cmpstr (seen.text, ==, "2026年11");
  g_assert_cmpuint (seen.n_source_tokens, ==, 8);
  seen_clear (&seen);

  /* Unknown characters are read as <unk> and listed once each. */
  attn_runner_run_now (runner, "☃1☃é");
  attn_ui_test_wait (is_idle, runner, 20000);
  g_assert_cmpint (seen.n_finished, ==, 1);
  g_assert_false (seen.truncated);
  g_assert_no_error (seen.error);
  g_assert_cmpuint (g_strv_length (seen.unknown), ==, 2);
  g_assert_cmpstr (seen.unknown[0], ==, "☃");
  g_assert_cmpstr (seen.unknown[1], ==, "é");
  seen_clear (&seen);

  /* The model's own refusal comes back as the result's error. */
  attn_runner_run_now (runner, " ");
  attn_ui_test_wait (is_idle, runner, 20000);
  g_assert_cmpint (seen.n_finished, ==, 1);
  g_assert_error (seen.error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT);
  g_assert_cmpuint (seen.n_source_tokens, ==, 0);
  seen_clear (&seen);
}

/* ---- GPT-2: progress, stop, generation ---------------------------------- */

#define MAX_REPORTS 64

typedef struct
{
  AttnRunner *runner;
  GThread *main_thread;
  int n_reports;
  guint64 generations[MAX_REPORTS];
  double fractions[MAX_REPORTS];
  AttnGpt2Progress reports[MAX_REPORTS];
  gboolean off_main_thread;
  int n_finished;
  int reports_at_finish; /* n_reports when "finished" came */
  guint64 finished_generation;
  char *target_text;
  int n_tokens;
  int n_steps;
  int last_emitted; /* the last step's token id */
  AttnRunResult result; /* its scalars; pointers cleared */
  GError *error;
  int n_stopped;
  guint64 stopped_generation;
  /* What the progress handler does at the first report of `act_on` with
   * layers_done == 1. */
  enum
  {
    ACT_NONE,
    ACT_REQUEST,
    ACT_STOP,
    ACT_STOP_THEN_REQUEST,
  } act;
  guint64 act_on;
  gboolean acted;
  guint64 requested; /* the generation ACT_*REQUEST made */
  gboolean stop_returned;
  int reports_at_act; /* n_reports right after acting */
} Gpt2Seen;

static void
gpt2_seen_clear (Gpt2Seen *seen)
{
  g_free (seen->target_text);
  g_clear_error (&seen->error);
}

static void
on_gpt2_progress (AttnRunner *runner, guint64 generation, double fraction,
                  const AttnGpt2Progress *progress, Gpt2Seen *seen)
{
  if (g_thread_self () != seen->main_thread)
    seen->off_main_thread = TRUE;
  g_assert_cmpint (seen->n_reports, <, MAX_REPORTS);
  int i = seen->n_reports++;
  seen->generations[i] = generation;
  seen->fractions[i] = fraction;
  seen->reports[i] = *progress;
  if (seen->act != ACT_NONE && !seen->acted && generation == seen->act_on
      && progress->layers_done == 1)
    {
      seen->acted = TRUE;
      if (seen->act == ACT_STOP || seen->act == ACT_STOP_THEN_REQUEST)
        seen->stop_returned = attn_runner_stop (runner);
      if (seen->act == ACT_REQUEST || seen->act == ACT_STOP_THEN_REQUEST)
        seen->requested = attn_runner_run_now (runner, "later text");
      seen->reports_at_act = seen->n_reports;
    }
}

static void
on_gpt2_finished (AttnRunner *runner, AttnRunResult *result, Gpt2Seen *seen)
{
  seen->n_finished++;
  seen->reports_at_finish = seen->n_reports;
  seen->finished_generation = result->generation;
  seen->result = *result;
  seen->result.text = NULL;
  seen->result.trace = NULL;
  seen->result.unknown = NULL;
  seen->result.error = NULL;
  g_clear_error (&seen->error);
  if (result->error != NULL)
    seen->error = g_error_copy (result->error);
  g_clear_pointer (&seen->target_text, g_free);
  if (result->trace != NULL)
    {
      const AttnTrace *trace = result->trace;
      seen->target_text = g_strdup (trace->target_text);
      seen->n_tokens = attn_trace_n_tokens (trace, ATTN_SIDE_TARGET);
      seen->n_steps = trace->steps->len;
      const AttnStep *last
          = g_ptr_array_index (trace->steps, trace->steps->len - 1);
      seen->last_emitted = last->emitted.id;
    }
}

static void
on_gpt2_stopped (AttnRunner *runner, guint64 generation, Gpt2Seen *seen)
{
  seen->n_stopped++;
  seen->stopped_generation = generation;
}

/* A runner on a scratch GPT-2 folder (removed once loaded: the weights
 * are read on open or mapped, and a mapping outlives the file). */
static AttnRunner *
new_gpt2_runner (Gpt2Seen *seen, int L, int n_positions, int favour)
{
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-runner-gpt2-XXXXXX");
  attn_test_write_gpt2 (dir, L, 2, 16, n_positions, favour, 11);
  g_autoptr (GError) error = NULL;
  AttnGpt2 *gpt2 = attn_gpt2_open (dir, &error);
  g_assert_no_error (error);
  attn_test_tmp_dir_remove (dir);
  AttnRunner *runner = attn_runner_new ();
  attn_runner_set_gpt2 (runner, gpt2);
  g_assert_true (attn_runner_is_gpt2 (runner));
  seen->runner = runner;
  seen->main_thread = g_thread_self ();
  g_signal_connect (runner, "progress", G_CALLBACK (on_gpt2_progress), seen);
  g_signal_connect (runner, "finished", G_CALLBACK (on_gpt2_finished), seen);
  g_signal_connect (runner, "stopped", G_CALLBACK (on_gpt2_stopped), seen);
  return runner;
}

/* Every report on the main thread, of the one run, in the core's order
 * (each prompt layer, then each generated token), with the fraction of
 * the work done: k n / (L (n + g)) after prompt layer k, (L n + j L) /
 * (L (n + g)) after generated token j; "finished" after the last. */
static void
test_gpt2_progress (void)
{
  enum { L = 3, GEN = 4 };
  Gpt2Seen seen = { 0 };
  g_autoptr (AttnRunner) runner = new_gpt2_runner (&seen, L, 32, 'x');
  attn_runner_set_generate (runner, GEN);
  g_assert_cmpint (attn_runner_get_generate (runner), ==, GEN);
  /* "hello": 5 tokens, one a byte. */
  guint64 gen = attn_runner_run_now (runner, "hello");
  attn_ui_test_wait (is_idle, runner, 20000);
  g_assert_false (seen.off_main_thread);
  g_assert_cmpint (seen.n_finished, ==, 1);
  g_assert_no_error (seen.error);
  const int n = 5;
  g_assert_cmpint (seen.n_reports, ==, 1 + L + GEN);
  g_assert_cmpint (seen.reports_at_finish, ==, seen.n_reports);
  for (int i = 0; i < seen.n_reports; i++)
    {
      const AttnGpt2Progress *p = &seen.reports[i];
      g_assert_cmpuint (seen.generations[i], ==, gen);
      g_assert_cmpfloat (seen.fractions[i], ==, p->fraction);
      g_assert_cmpint (p->n_layers, ==, L);
      g_assert_cmpint (p->n_generate, ==, GEN);
      int layers = MIN (i, L), generated = MAX (i - L, 0);
      g_assert_cmpint (p->layers_done, ==, layers);
      g_assert_cmpint (p->generated, ==, generated);
      double want = (double)(layers * n + generated * L) / (L * (n + GEN));
      g_assert_cmpfloat_with_epsilon (p->fraction, want, 1e-12);
    }
  g_assert_cmpfloat (seen.fractions[seen.n_reports - 1], ==, 1.0);
  g_assert_cmpint (seen.result.generated, ==, GEN);
  gpt2_seen_clear (&seen);
}

/* A request arriving during a run: the rest of that run's reports (those
 * in the worker's queue and those still to come) are dropped, only the
 * new run's are delivered, and only its "finished". The request is made
 * from the handler of the first run's first layer, so the first run has
 * layers left to report whatever the machine's speed. */
static void
test_gpt2_stale_reports_dropped (void)
{
  Gpt2Seen seen = { 0 };
  g_autoptr (AttnRunner) runner = new_gpt2_runner (&seen, 6, 32, 'x');
  seen.act = ACT_REQUEST;
  seen.act_on = attn_runner_run_now (runner, "first text");
  attn_ui_test_wait (is_idle, runner, 20000);
  g_assert_true (seen.acted);
  g_assert_cmpuint (seen.requested, >, seen.act_on);
  /* Before the request: the start and layer 1 of the first run; then
   * the second run's start (once the first run's worker let go) and its
   * six layers, and nothing more of the first run. */
  for (int i = 0; i < seen.n_reports; i++)
    g_assert_cmpuint (seen.generations[i], ==,
                      i < 2 ? seen.act_on : seen.requested);
  g_assert_cmpint (seen.n_reports, ==, 2 + 1 + 6);
  g_assert_cmpfloat (seen.fractions[2], ==, 0.0);
  g_assert_cmpfloat (seen.fractions[seen.n_reports - 1], ==, 1.0);
  g_assert_cmpint (seen.n_finished, ==, 1);
  g_assert_cmpuint (seen.finished_generation, ==, seen.requested);
  g_assert_cmpstr (seen.target_text, ==, "later text");
  g_assert_cmpint (seen.n_stopped, ==, 0);
  gpt2_seen_clear (&seen);
}

/* Stop mid-run: "stopped" for that generation once the worker let go, no
 * "finished", no report after the stop; Stop with nothing running is
 * FALSE and silent; Stop while the text only waits for the debounce is
 * "stopped" at once; a request after the stop wins over it. */
static void
test_gpt2_stop (void)
{
  Gpt2Seen seen = { 0 };
  g_autoptr (AttnRunner) runner = new_gpt2_runner (&seen, 6, 32, 'x');
  attn_runner_set_generate (runner, 3);
  seen.act = ACT_STOP;
  seen.act_on = attn_runner_run_now (runner, "a text to stop");
  attn_ui_test_wait (is_idle, runner, 20000);
  g_assert_true (seen.acted);
  g_assert_true (seen.stop_returned);
  g_assert_cmpint (seen.n_finished, ==, 0);
  g_assert_cmpint (seen.n_stopped, ==, 1);
  g_assert_cmpuint (seen.stopped_generation, ==, seen.act_on);
  g_assert_cmpint (seen.n_reports, ==, seen.reports_at_act);
  g_assert_cmpint (seen.n_reports, ==, 2);
  gpt2_seen_clear (&seen);

  memset (&seen, 0, sizeof seen);
  seen.runner = runner;
  seen.main_thread = g_thread_self ();
  g_assert_false (attn_runner_stop (runner));
  g_assert_cmpint (seen.n_stopped, ==, 0);

  attn_runner_set_debounce (runner, 60000);
  guint64 waiting = attn_runner_request (runner, "waits");
  g_assert_true (attn_runner_stop (runner));
  g_assert_cmpint (seen.n_stopped, ==, 1);
  g_assert_cmpuint (seen.stopped_generation, ==, waiting);
  g_assert_false (attn_runner_is_busy (runner));
  g_assert_cmpint (seen.n_reports, ==, 0);
  attn_runner_set_debounce (runner, 0);

  memset (&seen, 0, sizeof seen);
  seen.main_thread = g_thread_self ();
  seen.act = ACT_STOP_THEN_REQUEST;
  seen.act_on = attn_runner_run_now (runner, "stopped, then replaced");
  attn_ui_test_wait (is_idle, runner, 20000);
  g_assert_true (seen.stop_returned);
  g_assert_cmpint (seen.n_stopped, ==, 0);
  g_assert_cmpint (seen.n_finished, ==, 1);
  g_assert_cmpuint (seen.finished_generation, ==, seen.requested);
  g_assert_cmpstr (seen.target_text, ==, "later textxxx");
  gpt2_seen_clear (&seen);
}

/* Generation through the runner: the tokens asked, greedily, the text cut
 * so that prompt and continuation fit n_positions, and a run that chose
 * <|endoftext|> ending early with its progress still ending at 1. */
typedef struct
{
  const char *name;
  int favour;         /* the token every position chooses */
  int n_generate;     /* asked */
  const char *text;
  const char *target; /* the trace's stream */
  int generated;
  gboolean truncated;
  int max_chars; /* the prompt's limit, in tokens */
} GenerateCase;

static const GenerateCase generate_cases[] = {
  { "none", 'x', 0, "abc", "abc", 0, FALSE, 16 },
  { "seven", 'x', 7, "abc", "abcxxxxxxx", 7, FALSE, 9 },
  /* 16 positions, 10 generated: a 20-byte text keeps 6. */
  { "cut-to-fit", 'y', 10, "0123456789abcdefghij", "012345yyyyyyyyyy", 10,
    TRUE, 6 },
  /* More than the context holds: all but one position. */
  { "context-bound", 'z', 200, "hello", "hzzzzzzzzzzzzzzz", 15, TRUE, 1 },
  /* Chose <|endoftext|> at once: nothing generated, the choice is the last
   * step's. */
  { "end-of-text", ATTN_TEST_GPT2_EOT, 5, "abc", "abc", 0, FALSE, 11 },
};

static void
test_gpt2_generate (gconstpointer data)
{
  const GenerateCase *gc = data;
  Gpt2Seen seen = { 0 };
  g_autoptr (AttnRunner) runner = new_gpt2_runner (&seen, 2, 16, gc->favour);
  attn_runner_set_generate (runner, gc->n_generate);
  attn_runner_run_now (runner, gc->text);
  attn_ui_test_wait (is_idle, runner, 20000);
  g_assert_cmpint (seen.n_finished, ==, 1);
  g_assert_no_error (seen.error);
  g_assert_cmpstr (seen.target_text, ==, gc->target);
  g_assert_cmpint (seen.n_tokens, ==, strlen (gc->target));
  g_assert_cmpint (seen.n_steps, ==, seen.n_tokens);
  g_assert_cmpint (seen.result.generated, ==, gc->generated);
  g_assert_cmpint (seen.result.n_generate, ==, MIN (gc->n_generate, 15));
  g_assert_cmpint (seen.result.truncated, ==, gc->truncated);
  g_assert_cmpint (seen.result.max_chars, ==, gc->max_chars);
  g_assert_cmpint (seen.last_emitted, ==, gc->favour);
  g_assert_cmpfloat (seen.fractions[seen.n_reports - 1], ==, 1.0);
  g_assert_cmpint (seen.reports_at_finish, ==, seen.n_reports);
  for (int i = 1; i < seen.n_reports; i++)
    g_assert_cmpfloat (seen.fractions[i], >=, seen.fractions[i - 1]);
  gpt2_seen_clear (&seen);
}

int
main (int argc, char **argv)
{
  attn_ui_test_init (&argc, &argv);
  g_test_add_func ("/attn/runner/debounce-keeps-newest",
                   test_debounce_keeps_newest);
  g_test_add_func ("/attn/runner/stale-result-dropped",
                   test_stale_result_dropped);
  g_test_add_func ("/attn/runner/model-swap-drops-result",
                   test_model_swap_drops_result);
  g_test_add_func ("/attn/runner/truncates-and-reports-unknown",
                   test_truncates_and_reports_unknown);
  g_test_add_func ("/attn/runner/gpt2-progress", test_gpt2_progress);
  g_test_add_func ("/attn/runner/gpt2-stale-reports-dropped",
                   test_gpt2_stale_reports_dropped);
  g_test_add_func ("/attn/runner/gpt2-stop", test_gpt2_stop);
  for (guint i = 0; i < G_N_ELEMENTS (generate_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/runner/gpt2-generate/%s",
                                               generate_cases[i].name);
      g_test_add_data_func (path, &generate_cases[i], test_gpt2_generate);
    }
  return g_test_run ();
}
