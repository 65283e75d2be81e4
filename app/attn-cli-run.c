/* attn-cli-run.c: opening, running and describing models for the CLI. */
#include "app/attn-cli-run.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <json-glib/json-glib.h>

#include "app/attn-cli-progress.h"

#include "core/attn-error.h"
#include "core/attn-model-ref.h"

AttnModel *
attn_cli_open_model (const char *name, char **path, const char **kind,
                     GError **error)
{
  g_autoptr (AttnModelRef) ref = attn_model_ref_resolve (name, error);
  if (ref == NULL)
    return NULL;
  g_autofree char *shown_name = g_filename_display_name (ref->name);
  g_autofree char *shown_path = g_filename_display_name (ref->path);
  const char *kind_name = attn_model_ref_kind_name (ref->kind);
  if (ref->kind == ATTN_MODEL_REF_FOLDER)
    {
      /* GPT-2 folders open through attn_cli_open_gpt2: this one is not. */
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_UNSUPPORTED,
                   "cannot open model “%s” (%s %s): not a model folder: it "
                   "has no config.json of a GPT-2 model (model_type "
                   "“gpt2”)", shown_name, kind_name, shown_path);
      return NULL;
    }
  g_autoptr (GError) local = NULL;
  AttnModel *model = attn_model_load (ref->path, &local);
  if (model == NULL)
    {
      /* The loader's message starts with the path, which ours names. */
      const char *why = local->message;
      if (g_str_has_prefix (why, ref->path)
          && g_str_has_prefix (why + strlen (ref->path), ": "))
        why += strlen (ref->path) + 2;
      g_set_error (error, local->domain, local->code,
                   "cannot open model “%s” (%s %s): %s", shown_name,
                   kind_name, shown_path, why);
      return NULL;
    }
  if (path != NULL)
    *path = g_strdup (ref->path);
  if (kind != NULL)
    *kind = kind_name;
  return model;
}

gboolean
attn_cli_is_gpt2 (const char *name)
{
  g_autoptr (AttnModelRef) ref = attn_model_ref_resolve (name, NULL);
  return ref != NULL && ref->kind != ATTN_MODEL_REF_BUNDLED
         && attn_gpt2_detect (ref->path);
}

AttnGpt2 *
attn_cli_open_gpt2 (const char *name, char **path, const char **kind,
                    GError **error)
{
  g_autoptr (AttnModelRef) ref = attn_model_ref_resolve (name, error);
  if (ref == NULL)
    return NULL;
  const char *kind_name = attn_model_ref_kind_name (ref->kind);
  g_autoptr (GError) local = NULL;
  AttnGpt2 *model = attn_gpt2_open (ref->path, &local);
  if (model == NULL)
    {
      g_autofree char *shown_name = g_filename_display_name (ref->name);
      g_autofree char *shown_path = g_filename_display_name (ref->path);
      g_set_error (error, local->domain, local->code,
                   "cannot open model “%s” (%s %s): %s", shown_name,
                   kind_name, shown_path, local->message);
      return NULL;
    }
  if (path != NULL)
    *path = g_strdup (ref->path);
  if (kind != NULL)
    *kind = kind_name;
  return model;
}

/* A GPT-2 token stands for at most this many characters in practice: text
 * beyond limit times this is cut before it is encoded at all. */
#define GPT2_CHARS_PER_TOKEN_BOUND 16

/* The longest prefix of text, cut at a character boundary, that encodes to
 * at most limit tokens (their count in *n_tokens), or NULL when the whole
 * text does. */
static char *
gpt2_cut (const AttnBpe *bpe, const char *text, int limit, int *n_tokens)
{
  g_autofree char *cut = NULL;
  if (g_utf8_strlen (text, -1) > (glong) limit * GPT2_CHARS_PER_TOKEN_BOUND)
    cut = g_utf8_substring (text, 0,
                            (glong) limit * GPT2_CHARS_PER_TOKEN_BOUND);
  /* A prefix re-encodes to as many tokens or fewer, bar a merge across
   * the cut; a few rounds settle it. */
  for (int round = 0; round < 8; round++)
    {
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
      g_autoptr (GArray) spans = g_array_new (FALSE, FALSE,
                                              sizeof (AttnBpeSpan));
      const char *now = cut != NULL ? cut : text;
      if (!attn_bpe_encode (bpe, now, ATTN_BPE_ENCODE_DEFAULT, ids, spans,
                            NULL))
        return NULL; /* attn_gpt2_run reports it */
      *n_tokens = (int) ids->len;
      if (ids->len <= (guint) limit)
        return g_steal_pointer (&cut);
      /* Where token `limit` starts, back to a character's first byte (a
       * byte-level token may start inside a character). */
      gsize end = g_array_index (spans, AttnBpeSpan, limit).start;
      while (end > 0 && ((guchar) now[end] & 0xC0) == 0x80)
        end--;
      char *shorter = g_strndup (now, end);
      g_free (cut);
      cut = shorter;
    }
  return NULL;
}

/* ---- a GPT-2 run in a worker thread, with progress and Ctrl-C ---------- */

/* How the run's progress reaches stderr. */
typedef enum {
  SHOW_NONE,  /* stderr is not a terminal and --progress was not given */
  SHOW_BAR,   /* a terminal: one line redrawn in place */
  SHOW_LINES, /* --progress: a line per report, throttled */
} ShowMode;

/* A run that ends sooner shows no bar at all. */
#define BAR_DELAY_US G_GINT64_CONSTANT (300000)
/* At most ten bar draws or lines a second (the first and the last line
 * always shown). */
#define REDRAW_US G_GINT64_CONSTANT (100000)

typedef struct {
  /* Set before the worker starts, read by it, unchanged until it ends. */
  AttnGpt2 *model;
  const char *text;
  AttnGpt2RunOptions options;

  /* The worker's reports, handed to the main thread under lock. */
  GMutex lock;
  GArray *reports;  /* of AttnGpt2Progress, not yet taken */
  GSource *idle;    /* attached to take them, or NULL */

  /* The main thread's. */
  const char *command; /* "run" or "export", for messages */
  ShowMode mode;
  GMainContext *context;
  GMainLoop *loop;
  int interrupts;
  gint64 start;      /* monotonic µs when the run began */
  gint64 last_shown; /* monotonic µs of the last draw or line, 0: none */
  AttnGpt2Progress latest; /* before any report: nothing done */
  gboolean have_report;  /* latest is a report */
  gboolean latest_shown; /* latest is on screen */
  gboolean bar_shown;    /* a bar is on stderr's current line */
  gboolean quiet;        /* the run is ending: show nothing more */
  GSource *timer;        /* shows latest when it falls due, or NULL */
  AttnTrace *trace;      /* the result */
  GError *error;
} Gpt2Run;

/* "prompt: layer 7/12 (23 %)", "generating: 12/50 tokens (64 %)": the
 * percent rounded down, so 100 % is the end only. */
static char *
describe_progress (const AttnGpt2Progress *p)
{
  int percent = (int) (p->fraction * 100.0);
  if (p->generated > 0)
    return g_strdup_printf ("generating: %d/%d tokens (%d %%)", p->generated,
                            p->n_generate, percent);
  return g_strdup_printf ("prompt: layer %d/%d (%d %%)", p->layers_done,
                          p->n_layers, percent);
}

static void
show_latest (Gpt2Run *r, gint64 now)
{
  g_autofree char *text = describe_progress (&r->latest);
  if (r->mode == SHOW_BAR)
    {
      attn_cli_bar_draw (stderr, r->latest.fraction, text);
      r->bar_shown = TRUE;
    }
  else
    {
      fprintf (stderr, "%s\n", text);
      fflush (stderr);
    }
  r->latest_shown = TRUE;
  r->last_shown = now;
}

static void consider_showing (Gpt2Run *r);

static gboolean
on_show_timer (gpointer data)
{
  Gpt2Run *r = data;
  g_clear_pointer (&r->timer, g_source_unref);
  consider_showing (r);
  return G_SOURCE_REMOVE;
}

/* Shows latest now if it is due, else makes sure a timer will: a bar from
 * BAR_DELAY_US on (before any report too: a long first layer), lines from
 * the first report; then REDRAW_US apart. */
static void
consider_showing (Gpt2Run *r)
{
  if (r->mode == SHOW_NONE || r->quiet || r->latest_shown
      || (r->mode == SHOW_LINES && !r->have_report))
    return;
  gint64 now = g_get_monotonic_time ();
  gint64 due = r->last_shown == 0 ? now : r->last_shown + REDRAW_US;
  if (r->mode == SHOW_BAR)
    due = MAX (due, r->start + BAR_DELAY_US);
  if (now >= due)
    {
      show_latest (r, now);
      return;
    }
  if (r->timer == NULL)
    {
      r->timer = g_timeout_source_new ((guint) ((due - now + 999) / 1000));
      g_source_set_callback (r->timer, on_show_timer, r, NULL);
      g_source_attach (r->timer, r->context);
    }
}

/* Takes the reports the worker has made so far, in order. */
static void
take_reports (Gpt2Run *r)
{
  g_mutex_lock (&r->lock);
  GArray *reports = r->reports;
  r->reports = g_array_new (FALSE, FALSE, sizeof (AttnGpt2Progress));
  if (r->idle != NULL)
    {
      g_source_destroy (r->idle);
      g_clear_pointer (&r->idle, g_source_unref);
    }
  g_mutex_unlock (&r->lock);
  for (guint i = 0; i < reports->len; i++)
    {
      r->latest = g_array_index (reports, AttnGpt2Progress, i);
      r->have_report = TRUE;
      r->latest_shown = FALSE;
      consider_showing (r);
    }
  g_array_unref (reports);
}

static gboolean
on_reports (gpointer data)
{
  take_reports (data);
  return G_SOURCE_REMOVE;
}

/* In the worker: never prints; queues the report for the main thread. */
static void
on_worker_progress (const AttnGpt2Progress *p, gpointer data)
{
  Gpt2Run *r = data;
  g_mutex_lock (&r->lock);
  g_array_append_val (r->reports, *p);
  if (r->idle == NULL)
    {
      r->idle = g_idle_source_new ();
      g_source_set_priority (r->idle, G_PRIORITY_DEFAULT);
      g_source_set_callback (r->idle, on_reports, r, NULL);
      g_source_attach (r->idle, r->context);
    }
  g_mutex_unlock (&r->lock);
}

static void
run_in_worker (GTask *task, gpointer source, gpointer data,
               GCancellable *cancellable)
{
  Gpt2Run *r = data;
  (void) source;
  (void) cancellable;
  GError *error = NULL;
  AttnTrace *trace = attn_gpt2_run (r->model, r->text, &r->options, &error);
  if (trace == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, trace, (GDestroyNotify) attn_trace_free);
}

static void
on_run_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Gpt2Run *r = data;
  (void) source;
  /* Reports still queued come before the end (the idle that would take
   * them has a lower priority than this callback). */
  take_reports (r);
  r->trace = g_task_propagate_pointer (G_TASK (result), &r->error);
  g_main_loop_quit (r->loop);
}

/* Ctrl-C: the first cancels the run (it stops at the next layer and
 * nothing is written); a second ends the program at once. */
static gboolean
on_sigint (gpointer data)
{
  Gpt2Run *r = data;
  r->interrupts++;
  r->quiet = TRUE;
  if (r->bar_shown)
    {
      attn_cli_bar_clear (stderr);
      r->bar_shown = FALSE;
    }
  if (r->interrupts > 1)
    {
      fprintf (stderr, "attnscope-cli %s: interrupted again: exiting now\n",
               r->command);
      _exit (ATTN_CLI_EXIT_INTERRUPTED);
    }
  g_cancellable_cancel (r->options.cancellable);
  return G_SOURCE_CONTINUE;
}

/* attn_gpt2_run in a worker thread while this one runs a main loop that
 * shows the progress and handles Ctrl-C. */
static AttnTrace *
run_gpt2_threaded (AttnGpt2 *model, const char *text,
                   const AttnGpt2RunOptions *options,
                   const AttnCliOptions *o, GError **error)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GMainContext) context = g_main_context_ref_thread_default ();
  g_autoptr (GMainLoop) loop = g_main_loop_new (context, FALSE);
  Gpt2Run r = {
    .model = model,
    .text = text,
    .options = *options,
    .reports = g_array_new (FALSE, FALSE, sizeof (AttnGpt2Progress)),
    .command = attn_cli_command_name (o->command),
    .mode = o->progress               ? SHOW_LINES
            : isatty (STDERR_FILENO) ? SHOW_BAR
                                      : SHOW_NONE,
    .context = context,
    .loop = loop,
    .start = g_get_monotonic_time (),
    .latest = { .n_layers = model->config.L, .n_generate = o->generate },
  };
  g_mutex_init (&r.lock);
  r.options.cancellable = cancellable;
  r.options.progress = on_worker_progress;
  r.options.progress_data = &r;

  guint sigint = g_unix_signal_add (SIGINT, on_sigint, &r);
  g_autoptr (GTask) task = g_task_new (NULL, NULL, on_run_done, &r);
  g_task_set_task_data (task, &r, NULL);
  g_task_run_in_thread (task, run_in_worker);
  consider_showing (&r);
  g_main_loop_run (loop);
  g_source_remove (sigint);

  /* The worker has ended: nothing is queued any more. */
  if (r.timer != NULL)
    {
      g_source_destroy (r.timer);
      g_clear_pointer (&r.timer, g_source_unref);
    }
  if (r.bar_shown)
    attn_cli_bar_clear (stderr);
  else if (r.mode == SHOW_LINES && r.trace != NULL && r.interrupts == 0
           && r.have_report && !r.latest_shown)
    show_latest (&r, g_get_monotonic_time ());
  g_array_unref (r.reports);
  g_mutex_clear (&r.lock);

  if (r.interrupts > 0)
    {
      /* Even a run that finished as Ctrl-C came writes nothing. */
      g_clear_pointer (&r.trace, attn_trace_free);
      g_clear_error (&r.error);
      g_set_error_literal (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_INTERRUPTED,
                           "interrupted: run cancelled");
      return NULL;
    }
  if (r.trace == NULL)
    g_propagate_error (error, r.error);
  return r.trace;
}

AttnTrace *
attn_cli_run_gpt2 (AttnGpt2 *model, const AttnCliOptions *o, int *n_prompt,
                   GError **error)
{
  if (o->beam > 1)
    {
      g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_CONFLICT,
                   "--beam applies to the built-in encoder-decoder models; "
                   "%s is a GPT-2 model (use --generate)", model->name);
      return NULL;
    }
  /* As with the built-in models, a text longer than the context is cut,
   * with a notice, rather than refused: to the context less the tokens to
   * generate. (A text that fits but leaves too little room for --generate
   * is refused by attn_gpt2_run: the user asked for too much.) */
  const char *text = o->text;
  g_autofree char *cut = NULL;
  int limit = model->config.n_positions;
  /* gpt2_cut counts the tokens of the text it settles on, cut or not. */
  int n_tokens = 0;
  if (model->bpe != NULL
      && (cut = gpt2_cut (model->bpe, text, limit, &n_tokens)) != NULL)
    {
      if (o->generate > 0 && limit - o->generate >= 1)
        {
          limit -= o->generate;
          g_free (cut);
          cut = gpt2_cut (model->bpe, text, limit, &n_tokens);
        }
      fprintf (stderr, "attnscope-cli %s: warning: the text is %ld "
               "characters long, more than the %d tokens model “%s” reads%s: "
               "using the first %ld characters (%d tokens)\n",
               attn_cli_command_name (o->command), g_utf8_strlen (text, -1),
               limit, model->name,
               limit < model->config.n_positions
                 ? " besides those it generates" : "",
               g_utf8_strlen (cut, -1), n_tokens);
      text = cut;
    }
  AttnGpt2RunOptions options = ATTN_GPT2_RUN_OPTIONS_INIT;
  options.n_generate = o->generate;
  options.temperature = (float) o->temperature;
  options.top_k = o->top_k;
  options.top_p = (float) o->top_p;
  options.seed = o->seed;
  options.max_trace_bytes = (guint64) (o->max_trace_mb * 1e6);
  options.ignore_eos = o->ignore_eos;
  g_autoptr (GError) local = NULL;
  AttnTrace *trace = run_gpt2_threaded (model, text, &options, o, &local);
  if (trace == NULL)
    {
      if (g_error_matches (local, ATTN_ERROR, ATTN_ERROR_TOO_LARGE))
        g_set_error (error, local->domain, local->code,
                     "%s; --max-trace-mb raises the limit", local->message);
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (n_prompt != NULL)
    *n_prompt = n_tokens;
  return trace;
}

AttnTrace *
attn_cli_run_model (AttnModel *model, const AttnCliOptions *o,
                    GError **error)
{
  if (o->gpt2_option != NULL)
    {
      g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_CONFLICT,
                   "%s applies to GPT-2 models; %s is a %s", o->gpt2_option,
                   model->name, attn_arch_to_string (model->config.arch));
      return NULL;
    }
  AttnRunOptions options = ATTN_RUN_OPTIONS_INIT;
  options.beam_width = o->beam > 0 ? o->beam : 1;
  /* A text longer than the model reads (a paste of a whole page) is cut
   * to its first max_len - 1 characters, with a notice, rather than
   * refused. The text is valid UTF-8 here (attn_cli_parse checks it). */
  const char *text = o->text;
  g_autofree char *cut = NULL;
  glong n_chars = g_utf8_strlen (text, -1);
  glong limit = model->config.max_len - 1;
  if (n_chars > limit)
    {
      cut = g_utf8_substring (text, 0, limit);
      text = cut;
      fprintf (stderr, "attnscope-cli %s: warning: the text is %ld "
               "characters long; model “%s” reads at most %ld: using the "
               "first %ld\n", attn_cli_command_name (o->command), n_chars,
               model->name, limit, limit);
    }
  g_autoptr (GPtrArray) unknown = g_ptr_array_new_with_free_func (g_free);
  AttnTrace *trace = attn_model_run (model, text, &options, unknown, error);
  if (trace != NULL && unknown->len > 0)
    {
      GString *list = g_string_new (NULL);
      for (guint i = 0; i < unknown->len; i++)
        {
          /* Control and format characters (ESC, U+202E, ...) by number,
           * so the notice cannot drive the terminal. */
          const char *ch = unknown->pdata[i];
          gunichar c = g_utf8_get_char (ch);
          GUnicodeType type = g_unichar_type (c);
          if (type == G_UNICODE_CONTROL || type == G_UNICODE_FORMAT)
            g_string_append_printf (list, "%sU+%04X", i > 0 ? ", " : "", c);
          else
            g_string_append_printf (list, "%s“%s”", i > 0 ? ", " : "", ch);
        }
      fprintf (stderr, "attnscope-cli %s: warning: %s not in the "
               "vocabulary of %s, read as <unk>: %s\n",
               attn_cli_command_name (o->command),
               unknown->len == 1 ? "a character is" : "characters are",
               model->name, list->str);
      g_string_free (list, TRUE);
    }
  return trace;
}

/* Quoted as info --trace quotes token texts; special tokens bare. */
static void
put_token (FILE *out, const AttnToken *t)
{
  if (t->special)
    {
      fputs (t->text, out);
      return;
    }
  fputc ('"', out);
  for (const unsigned char *p = (const unsigned char *) t->text; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        fprintf (out, "\\%c", *p);
      else if (*p == '\n')
        fputs ("\\n", out);
      else if (*p == '\t')
        fputs ("\\t", out);
      else if (*p < 0x20 || *p == 0x7f)
        fprintf (out, "\\x%02x", *p);
      else
        fputc (*p, out);
    }
  fputc ('"', out);
}

static void
put_text_line (FILE *out, const char *label, const char *text)
{
  AttnToken t = { .text = (char *) text };
  fprintf (out, "%s: ", label);
  put_token (out, &t);
  fputc ('\n', out);
}

#define SUMMARY_TOP 3

void
attn_cli_print_run_summary (FILE *out, const AttnTrace *trace)
{
  put_text_line (out, "input", trace->source_text);
  put_text_line (out, "output", trace->target_text);

  /* The last cross block: the one closest to the output. */
  const AttnBlock *cross = NULL;
  for (guint i = 0; i < trace->blocks->len; i++)
    {
      const AttnBlock *b = g_ptr_array_index (trace->blocks, i);
      if (b->kind == ATTN_KIND_CROSS && (cross == NULL
                                         || b->layer > cross->layer))
        cross = b;
    }
  if (cross == NULL || trace->steps->len == 0)
    return;
  int Tq = cross->n_queries, Tk = cross->n_keys;
  g_autofree float *mean = g_new (float, (gsize) Tq * Tk); /* (Tq, Tk) */
  attn_block_head_weights (cross, ATTN_HEADS_MEAN, mean);
  int top = MIN (SUMMARY_TOP, Tk);
  if (cross->n_heads > 1)
    fprintf (out, "attention: cross layer %d, mean over %d heads; for each "
             "output token the %d source tokens weighted most, "
             "\"token\"@position weight%s\n", cross->layer, cross->n_heads,
             top, cross->normalised ? "" : " (rows not normalised)");
  else
    fprintf (out, "attention: cross layer %d; for each output token the %d "
             "source tokens weighted most, \"token\"@position weight%s\n",
             cross->layer, top,
             cross->normalised ? "" : " (rows not normalised)");

  /* Step i emits output token i from query i (whose input is target token
   * i: <s>, then the output so far). */
  guint n = MIN (trace->steps->len, (guint) Tq);
  for (guint i = 0; i < n; i++)
    {
      const AttnStep *step = g_ptr_array_index (trace->steps, i);
      const float *row = mean + (gsize) i * Tk; /* (Tk) */
      AttnToken emitted = { .text = step->emitted.text,
                            .special = step->emitted.id >= 0
                                       && step->emitted.id
                                            < ATTN_VOCAB_N_SPECIAL };
      fputs ("  ", out);
      put_token (out, &emitted);
      int chosen[SUMMARY_TOP];
      for (int k = 0; k < top; k++)
        {
          /* The k-th largest; ties go to the earlier position. */
          int best = -1;
          for (int j = 0; j < Tk; j++)
            {
              gboolean taken = FALSE;
              for (int q = 0; q < k; q++)
                taken |= chosen[q] == j;
              if (!taken && (best < 0 || row[j] > row[best]))
                best = j;
            }
          chosen[k] = best;
          fputs ("  ", out);
          put_token (out, attn_trace_get_token (trace, ATTN_SIDE_SOURCE,
                                                best));
          fprintf (out, "@%d %.3f", best, row[best]);
        }
      fputc ('\n', out);
    }
}

/* The k keys of row (n) weighted most, strongest first, ties to the
 * earlier position. */
static int
top_keys (const float *row, int n, int k, int *chosen)
{
  k = MIN (k, n);
  for (int i = 0; i < k; i++)
    {
      int best = -1;
      for (int j = 0; j < n; j++)
        {
          gboolean taken = FALSE;
          for (int q = 0; q < i; q++)
            taken |= chosen[q] == j;
          if (!taken && (best < 0 || row[j] > row[best]))
            best = j;
        }
      chosen[i] = best;
    }
  return k;
}

static void
put_candidates (FILE *out, const AttnStep *step)
{
  put_token (out, &(AttnToken){ .text = step->emitted.text });
  fprintf (out, " p=%.4g", step->emitted.prob);
  for (int k = 0; k < step->n_top; k++)
    {
      fputs (k == 0 ? "; top: " : ", ", out);
      put_token (out, &(AttnToken){ .text = step->top[k].text });
      fprintf (out, " %.4g", step->top[k].prob);
    }
  fputc ('\n', out);
}

/* The end-of-text token as the stop notice names it: bare when it is
 * spelled as GPT-2's special tokens are (<|endoftext|>), as special tokens
 * are shown everywhere; quoted when a config names an ordinary token. */
static void
put_stop_token (FILE *out, const AttnCandidate *c)
{
  AttnToken t = { .text = c->text,
                  .special = g_str_has_prefix (c->text, "<|")
                             && g_str_has_suffix (c->text, "|>") };
  put_token (out, &t);
}

void
attn_cli_print_gpt2_summary (FILE *out, const AttnTrace *trace, int n_prompt,
                             int n_generate)
{
  const int T = (int) attn_trace_n_tokens (trace, ATTN_SIDE_TARGET);
  /* Generation may stop at the end-of-text token: T - n_prompt tokens
   * were generated, possibly fewer than n_generate. */
  const int n = CLAMP (n_prompt, 0, T);
  const AttnToken *first_new
      = n < T ? attn_trace_get_token (trace, ATTN_SIDE_TARGET, n) : NULL;
  /* The prompt is the stream up to the first generated token's span. */
  int cut = first_new != NULL && first_new->start >= 0
              ? first_new->start
              : (int) strlen (trace->target_text);
  g_autofree char *prompt = g_strndup (trace->target_text, cut);
  put_text_line (out, "text", prompt);
  if (n_generate > 0)
    put_text_line (out, "generated", trace->target_text + cut);
  if (n_generate > 0 && T - n < n_generate && trace->steps->len > 0)
    {
      /* The last step chose the end-of-text token, never fed back. */
      const AttnStep *last = g_ptr_array_index (trace->steps,
                                                trace->steps->len - 1);
      fputs ("generation stopped at ", out);
      put_stop_token (out, &last->emitted);
      fprintf (out, " after %d of %d tokens\n", T - n, n_generate);
    }

  /* The predictions after the text: step n - 1 onwards. */
  for (guint p = MAX (n, 1) - 1; p < trace->steps->len; p++)
    {
      if ((int) p == n - 1)
        fputs ("next token: ", out);
      else
        fprintf (out, "  token %u: ", p + 1);
      put_candidates (out, g_ptr_array_index (trace->steps, p));
    }

  const AttnBlock *last = NULL;
  for (guint i = 0; i < trace->blocks->len; i++)
    {
      const AttnBlock *b = g_ptr_array_index (trace->blocks, i);
      if (b->kind == ATTN_KIND_DECODER_SELF
          && (last == NULL || b->layer > last->layer))
        last = b;
    }
  if (last == NULL)
    return;
  g_autofree float *mean = g_new (float, (gsize) T * T); /* (T, T) */
  attn_block_head_weights (last, ATTN_HEADS_MEAN, mean);
  g_autofree char *heads = last->n_heads > 1
                             ? g_strdup_printf (", mean over %d heads",
                                                last->n_heads)
                             : g_strdup ("");
  fprintf (out, "attention: decoder-self layer %d%s; for each token the %d "
           "tokens it weighs most, \"token\"@position weight\n", last->layer,
           heads, MIN (SUMMARY_TOP, T));
  for (int t = 0; t < T; t++)
    {
      int chosen[SUMMARY_TOP];
      /* Causal: token t sees positions 0 .. t only. */
      int k = top_keys (mean + (gsize) t * T, t + 1, SUMMARY_TOP, chosen);
      fputs ("  ", out);
      put_token (out, attn_trace_get_token (trace, ATTN_SIDE_TARGET, t));
      for (int i = 0; i < k; i++)
        {
          fputs ("  ", out);
          put_token (out, attn_trace_get_token (trace, ATTN_SIDE_TARGET,
                                                chosen[i]));
          fprintf (out, "@%d %.3f", chosen[i], mean[(gsize) t * T + chosen[i]]);
        }
      fputc ('\n', out);
    }
}

gboolean
attn_cli_print_json (FILE *out, const AttnTrace *trace, GError **error)
{
  g_autofree char *json = attn_trace_to_json (trace, error);
  if (json == NULL)
    return FALSE;
  fputs (json, out);
  return TRUE;
}

/* ---- info --model ---------------------------------------------------------- */

static void
print_json_value (FILE *out, JsonNode *node, int indent);

static void
print_json_object (FILE *out, JsonObject *obj, int indent)
{
  g_autoptr (GList) members = json_object_get_members (obj);
  for (GList *m = members; m != NULL; m = m->next)
    {
      const char *name = m->data;
      JsonNode *node = json_object_get_member (obj, name);
      fprintf (out, "%*s%s:", indent, "", name);
      if (JSON_NODE_HOLDS_OBJECT (node))
        {
          fputc ('\n', out);
          print_json_object (out, json_node_get_object (node), indent + 2);
        }
      else
        {
          fputc (' ', out);
          print_json_value (out, node, indent);
          fputc ('\n', out);
        }
    }
}

/* Scalars as text (strings bare, numbers as written), arrays on one
 * line. */
static void
print_json_value (FILE *out, JsonNode *node, int indent)
{
  if (JSON_NODE_HOLDS_NULL (node))
    fputs ("null", out);
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *arr = json_node_get_array (node);
      fputc ('[', out);
      for (guint i = 0; i < json_array_get_length (arr); i++)
        {
          if (i > 0)
            fputs (", ", out);
          print_json_value (out, json_array_get_element (arr, i), indent);
        }
      fputc (']', out);
    }
  else if (JSON_NODE_HOLDS_OBJECT (node))
    fputs ("{…}", out);
  else
    {
      GType type = json_node_get_value_type (node);
      if (type == G_TYPE_STRING)
        fputs (json_node_get_string (node), out);
      else if (type == G_TYPE_INT64)
        fprintf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
      else if (type == G_TYPE_BOOLEAN)
        fputs (json_node_get_boolean (node) ? "true" : "false", out);
      else
        {
          char buf[G_ASCII_DTOSTR_BUF_SIZE];
          fputs (g_ascii_formatd (buf, sizeof buf, "%.6g",
                                  json_node_get_double (node)),
                 out);
        }
    }
}

static void
print_json_section (FILE *out, const char *title, const char *json)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (json == NULL || !json_parser_load_from_data (parser, json, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      fprintf (out, "%s: none\n", title);
      return;
    }
  fprintf (out, "%s:\n", title);
  print_json_object (out,
                     json_node_get_object (json_parser_get_root (parser)), 2);
}

void
attn_cli_print_model (FILE *out, const char *path, const char *kind,
                      AttnModel *model)
{
  g_autofree char *shown = g_filename_display_name (path);
  const AttnModelConfig *c = &model->config;
  gsize n = 0;
  for (guint i = 0; i < model->params->n_tensors; i++)
    n += model->params->tensors[i].numel;
  fprintf (out, "model: %s\n", model->name);
  fprintf (out, "file: %s (%s)\n", shown, kind);
  fprintf (out, "architecture: %s\n", attn_arch_to_string (c->arch));
  fprintf (out, "attention: %s\n",
           attn_mechanism_to_string (c->arch == ATTN_ARCH_TRANSFORMER
                                       ? ATTN_MECHANISM_SCALED_DOT_PRODUCT
                                       : c->attention));
  fprintf (out, "parameters: %" G_GSIZE_FORMAT " in %u tensors\n", n,
           model->params->n_tensors);
  fprintf (out, "vocabulary: %d tokens (%d special)\n",
           attn_vocab_size (model->vocab), ATTN_VOCAB_N_SPECIAL);
  g_autofree char *config = attn_model_config_to_json (c);
  print_json_section (out, "config", config);
  print_json_section (out, "card", model->card_json);
}

void
attn_cli_print_gpt2 (FILE *out, const char *path, const char *kind,
                     const AttnGpt2 *m)
{
  g_autofree char *shown = g_filename_display_name (path);
  g_autofree char *weights = g_filename_display_name (m->weights_path);
  const AttnGpt2Config *c = &m->config;
  fprintf (out, "model: %s\n", m->name);
  fprintf (out, "file: %s (%s)\n", shown, kind);
  fprintf (out, "weights: %s\n", weights);
  fputs ("architecture: gpt2\n", out);
  fprintf (out, "attention: %s\n",
           attn_mechanism_to_string (ATTN_MECHANISM_SCALED_DOT_PRODUCT));
  fprintf (out, "parameters: %" G_GSIZE_FORMAT " (%.1f MB mapped in place, "
           "%.1f MB converted)\n", m->n_params, m->bytes_mapped / 1e6,
           m->bytes_copied / 1e6);
  if (m->bpe != NULL)
    fprintf (out, "vocabulary: %d tokens (tokenizer: %d tokens, %d merges)\n",
             c->V, attn_bpe_n_vocab (m->bpe), attn_bpe_n_merges (m->bpe));
  else
    fprintf (out, "vocabulary: %d tokens (no tokenizer: runs ids only)\n",
             c->V);
  fputs ("config:\n", out);
  fprintf (out, "  n_layer: %d\n  n_head: %d\n  n_embd: %d\n  n_inner: %d\n"
           "  n_positions: %d\n  vocab_size: %d\n", c->L, c->NH, c->C, c->F,
           c->n_positions, c->V);
  char eps[G_ASCII_DTOSTR_BUF_SIZE];
  fprintf (out, "  layer_norm_epsilon: %s\n",
           g_ascii_formatd (eps, sizeof eps, "%g", c->eps));
  fprintf (out, "  tie_word_embeddings: %s\n", c->tied ? "true" : "false");
  fprintf (out, "attention of a full %d-token run: %.1f MB\n",
           c->n_positions, attn_gpt2_trace_bytes (c, c->n_positions) / 1e6);
}
