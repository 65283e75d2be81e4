/* test-runner.c: AttnRunner, the debounced worker-thread model runs behind
 * the text entry: only the newest text's result is ever delivered, text
 * that waits for a busy worker runs next, long text is cut to the model's
 * limit, unknown characters are reported, and a model swapped mid-run
 * never delivers the old model's result. Suite ui (it links attn-ui). */
#include <string.h>

#include "core/attn-error.h"
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
  return g_test_run ();
}
