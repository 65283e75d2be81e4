/* attn-cli-run.c: opening, running and describing models for the CLI. */
#include "app/attn-cli-run.h"

#include <string.h>

#include <json-glib/json-glib.h>

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

AttnTrace *
attn_cli_run_gpt2 (AttnGpt2 *model, const AttnCliOptions *o, GError **error)
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
  g_autoptr (GError) local = NULL;
  AttnTrace *trace = attn_gpt2_run (model, text, &options, &local);
  if (trace == NULL)
    {
      if (g_error_matches (local, ATTN_ERROR, ATTN_ERROR_TOO_LARGE))
        g_set_error (error, local->domain, local->code,
                     "%s; --max-trace-mb raises the limit", local->message);
      else
        g_propagate_error (error, g_steal_pointer (&local));
    }
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

void
attn_cli_print_gpt2_summary (FILE *out, const AttnTrace *trace,
                             int n_generate)
{
  const int T = (int) attn_trace_n_tokens (trace, ATTN_SIDE_TARGET);
  const int n = MAX (T - n_generate, 0);
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
