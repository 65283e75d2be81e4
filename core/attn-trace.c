/* attn-trace.c: the AttnTrace type, its validation, head reductions and CSV
 * export. The JSON format lives in attn-trace-json.c. */
#include "core/attn-trace.h"

#include <math.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "core/attn-trace-private.h"

/* Indexed by AttnKind / AttnMechanism. */
static const char *const kind_names[ATTN_N_KINDS] = {
  "encoder-self",
  "decoder-self",
  "cross",
};

static const char *const mechanism_names[ATTN_N_MECHANISMS] = {
  "scaled-dot-product",
  "additive",
  "luong-dot",
  "luong-general",
  "luong-concat",
  "luong-local-p",
};

/* A normalised row may be off 1 by float rounding of the softmax. */
#define ROW_SUM_TOLERANCE 1e-4

const char *
attn_kind_to_string (AttnKind kind)
{
  attn_check ((guint) kind < ATTN_N_KINDS);
  return kind_names[kind];
}

gboolean
attn_kind_from_string (const char *str, AttnKind *kind)
{
  for (guint i = 0; str != NULL && i < ATTN_N_KINDS; i++)
    if (strcmp (str, kind_names[i]) == 0)
      {
        *kind = (AttnKind) i;
        return TRUE;
      }
  return FALSE;
}

AttnSide
attn_kind_query_side (AttnKind kind)
{
  attn_check ((guint) kind < ATTN_N_KINDS);
  return kind == ATTN_KIND_ENCODER_SELF ? ATTN_SIDE_SOURCE : ATTN_SIDE_TARGET;
}

AttnSide
attn_kind_key_side (AttnKind kind)
{
  attn_check ((guint) kind < ATTN_N_KINDS);
  return kind == ATTN_KIND_DECODER_SELF ? ATTN_SIDE_TARGET : ATTN_SIDE_SOURCE;
}

const char *
attn_mechanism_to_string (AttnMechanism mechanism)
{
  attn_check ((guint) mechanism < ATTN_N_MECHANISMS);
  return mechanism_names[mechanism];
}

gboolean
attn_mechanism_from_string (const char *str, AttnMechanism *mechanism)
{
  for (guint i = 0; str != NULL && i < ATTN_N_MECHANISMS; i++)
    if (strcmp (str, mechanism_names[i]) == 0)
      {
        *mechanism = (AttnMechanism) i;
        return TRUE;
      }
  return FALSE;
}

static void
token_clear (gpointer data)
{
  AttnToken *token = data;
  g_clear_pointer (&token->text, g_free);
}

static void
block_free (gpointer data)
{
  AttnBlock *block = data;
  g_free (block->weights);
  g_free (block);
}

static void
step_free (gpointer data)
{
  AttnStep *step = data;
  g_free (step->emitted.text);
  for (int i = 0; i < step->n_top; i++)
    g_free (step->top[i].text);
  g_free (step);
}

AttnTrace *
attn_trace_new (const char *model_name, const char *architecture,
                AttnMechanism mechanism, int n_layers, int n_heads)
{
  attn_check ((guint) mechanism < ATTN_N_MECHANISMS);
  AttnTrace *trace = g_new0 (AttnTrace, 1);
  trace->model_name = g_strdup (model_name ? model_name : "");
  trace->architecture = g_strdup (architecture ? architecture : "");
  trace->mechanism = mechanism;
  trace->n_layers = n_layers;
  trace->n_heads = n_heads;
  trace->source_text = g_strdup ("");
  trace->target_text = g_strdup ("");
  trace->source_tokens = g_array_new (FALSE, TRUE, sizeof (AttnToken));
  g_array_set_clear_func (trace->source_tokens, token_clear);
  trace->target_tokens = g_array_new (FALSE, TRUE, sizeof (AttnToken));
  g_array_set_clear_func (trace->target_tokens, token_clear);
  trace->blocks = g_ptr_array_new_with_free_func (block_free);
  trace->steps = g_ptr_array_new_with_free_func (step_free);
  return trace;
}

void
attn_trace_free (AttnTrace *trace)
{
  if (trace == NULL)
    return;
  g_free (trace->model_name);
  g_free (trace->architecture);
  g_free (trace->source_text);
  g_free (trace->target_text);
  g_array_unref (trace->source_tokens);
  g_array_unref (trace->target_tokens);
  g_ptr_array_unref (trace->blocks);
  g_ptr_array_unref (trace->steps);
  g_free (trace);
}

void
attn_trace_set_text (AttnTrace *trace, AttnSide side, const char *text)
{
  attn_check (side == ATTN_SIDE_SOURCE || side == ATTN_SIDE_TARGET);
  char **slot = side == ATTN_SIDE_SOURCE ? &trace->source_text
                                         : &trace->target_text;
  g_free (*slot);
  *slot = g_strdup (text ? text : "");
}

const char *
attn_trace_get_text (const AttnTrace *trace, AttnSide side)
{
  attn_check (side == ATTN_SIDE_SOURCE || side == ATTN_SIDE_TARGET);
  return side == ATTN_SIDE_SOURCE ? trace->source_text : trace->target_text;
}

static GArray *
side_tokens (const AttnTrace *trace, AttnSide side)
{
  attn_check (side == ATTN_SIDE_SOURCE || side == ATTN_SIDE_TARGET);
  return side == ATTN_SIDE_SOURCE ? trace->source_tokens
                                  : trace->target_tokens;
}

guint
attn_trace_add_token (AttnTrace *trace, AttnSide side, const char *text,
                      int id, int start, int end, gboolean special)
{
  GArray *tokens = side_tokens (trace, side);
  AttnToken token = {
    .text = g_strdup (text ? text : ""),
    .id = id,
    .start = start,
    .end = end,
    .special = special,
  };
  g_array_append_val (tokens, token);
  return tokens->len - 1;
}

guint
attn_trace_n_tokens (const AttnTrace *trace, AttnSide side)
{
  return side_tokens (trace, side)->len;
}

const AttnToken *
attn_trace_get_token (const AttnTrace *trace, AttnSide side, guint position)
{
  GArray *tokens = side_tokens (trace, side);
  attn_check (position < tokens->len);
  return &g_array_index (tokens, AttnToken, position);
}

AttnBlock *
attn_trace_take_block (AttnTrace *trace, AttnKind kind, int layer,
                       int n_heads, int n_queries, int n_keys, float *weights)
{
  attn_check ((guint) kind < ATTN_N_KINDS);
  attn_check (layer >= 0 && n_heads >= 0 && n_queries >= 0 && n_keys >= 0);
  attn_check (attn_trace_lookup_block (trace, kind, layer) == NULL);
  attn_check (weights != NULL);
  AttnBlock *block = g_new0 (AttnBlock, 1);
  block->kind = kind;
  block->layer = layer;
  block->n_heads = n_heads;
  block->n_queries = n_queries;
  block->n_keys = n_keys;
  block->normalised = TRUE;
  block->weights = weights;
  g_ptr_array_add (trace->blocks, block);
  return block;
}

/* Zeroed floats for a block. A large block (GPT-2 small's are 50 MB a
 * layer at 1024 tokens) asks for transparent huge pages, which this kernel
 * gives on request (madvise mode): first touching 600 MB of fresh 4 KB
 * pages, a fault each, took 2 s of a 5.1 s run at T = 1024 (3.1 s with huge
 * pages). The memory is malloc's, freed by g_free. */
#define HUGE_PAGE ((gsize) 2 << 20)
static float *
attn_weights_alloc0 (gsize n)
{
  if (n >= G_MAXSIZE / sizeof (float) - HUGE_PAGE)
    return g_new0 (float, n); /* aborts with the size */
  gsize bytes = n * sizeof (float);
  if (bytes < 2 * HUGE_PAGE)
    return g_new0 (float, n);
  void *p = NULL;
  gsize rounded = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
  if (posix_memalign (&p, HUGE_PAGE, rounded) != 0)
    return g_new0 (float, n);
  madvise (p, rounded, MADV_HUGEPAGE);
  memset (p, 0, bytes);
  return p;
}

AttnBlock *
attn_trace_add_block (AttnTrace *trace, AttnKind kind, int layer, int n_heads,
                      int n_queries, int n_keys)
{
  attn_check (n_heads >= 0 && n_queries >= 0 && n_keys >= 0);
  gsize rows = (gsize) n_heads * (gsize) n_queries; /* < 2^62: no overflow */
  attn_check (n_keys == 0 || rows <= G_MAXSIZE / (gsize) n_keys);
  gsize n = rows * (gsize) n_keys;
  /* g_new0 aborts on overflow of n * sizeof (float). */
  return attn_trace_take_block (trace, kind, layer, n_heads, n_queries,
                                n_keys, attn_weights_alloc0 (MAX (n, 1)));
}

void
attn_block_crop (AttnBlock *block, int n_queries, int n_keys)
{
  attn_check (n_queries >= 0 && n_queries <= block->n_queries);
  attn_check (n_keys >= 0 && n_keys <= block->n_keys);
  const gsize Tq = block->n_queries, Tk = block->n_keys;
  /* Every row moves to an index no later than its own: forward order
   * never overwrites a row before it is read. */
  for (gsize h = 0; h < (gsize) block->n_heads; h++)
    for (gsize i = 0; i < (gsize) n_queries; i++)
      memmove (block->weights + (h * n_queries + i) * n_keys,
               block->weights + (h * Tq + i) * Tk, n_keys * sizeof (float));
  gsize n = (gsize) block->n_heads * n_queries * n_keys;
  block->weights = g_realloc (block->weights, MAX (n, 1) * sizeof (float));
  block->n_queries = n_queries;
  block->n_keys = n_keys;
}

AttnBlock *
attn_trace_lookup_block (const AttnTrace *trace, AttnKind kind, int layer)
{
  for (guint i = 0; i < trace->blocks->len; i++)
    {
      AttnBlock *block = g_ptr_array_index (trace->blocks, i);
      if (block->kind == kind && block->layer == layer)
        return block;
    }
  return NULL;
}

AttnStep *
attn_trace_add_step (AttnTrace *trace, int id, const char *text, float prob)
{
  AttnStep *step = g_new0 (AttnStep, 1);
  step->emitted.id = id;
  step->emitted.text = g_strdup (text ? text : "");
  step->emitted.prob = prob;
  g_ptr_array_add (trace->steps, step);
  return step;
}

void
attn_step_add_top (AttnStep *step, int id, const char *text, float prob)
{
  attn_check (step->n_top < ATTN_STEP_MAX_TOP);
  AttnCandidate *c = &step->top[step->n_top++];
  c->id = id;
  c->text = g_strdup (text ? text : "");
  c->prob = prob;
}

static gboolean
bad (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
bad (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, ATTN_ERROR, ATTN_ERROR_BAD_TRACE, msg);
  return FALSE;
}

static gboolean
is_char_boundary (const char *text, gsize len, int offset)
{
  /* text is valid UTF-8, so any byte that is not 10xxxxxx starts a char. */
  return (gsize) offset == len
         || ((guchar) text[offset] & 0xC0) != 0x80;
}

static gboolean
validate_tokens (const AttnTrace *trace, AttnSide side, GError **error)
{
  const char *side_name = side == ATTN_SIDE_SOURCE ? "source" : "target";
  const char *text = attn_trace_get_text (trace, side);
  gsize len = strlen (text);
  GArray *tokens = side_tokens (trace, side);
  for (guint i = 0; i < tokens->len; i++)
    {
      const AttnToken *t = &g_array_index (tokens, AttnToken, i);
      if (!g_utf8_validate (t->text, -1, NULL))
        return bad (error, "%s token %u: text is not valid UTF-8", side_name,
                    i);
      if (t->special)
        {
          if (t->start != -1 || t->end != -1)
            return bad (error, "%s token %u (“%s”): special tokens have no "
                        "span, found [%d, %d)", side_name, i, t->text,
                        t->start, t->end);
          continue;
        }
      if (t->start < 0 || t->end < t->start || (gsize) t->end > len)
        return bad (error, "%s token %u (“%s”): span [%d, %d) is not inside "
                    "the %" G_GSIZE_FORMAT "-byte %s text", side_name, i,
                    t->text, t->start, t->end, len, side_name);
      if (!is_char_boundary (text, len, t->start)
          || !is_char_boundary (text, len, t->end))
        return bad (error, "%s token %u (“%s”): span [%d, %d) splits a "
                    "UTF-8 character of the %s text", side_name, i, t->text,
                    t->start, t->end, side_name);
    }
  return TRUE;
}

static gboolean
validate_block (const AttnTrace *trace, guint index, GError **error)
{
  const AttnBlock *b = g_ptr_array_index (trace->blocks, index);
  if ((guint) b->kind >= ATTN_N_KINDS)
    return bad (error, "block %u: unknown kind %d", index, (int) b->kind);
  const char *kind = attn_kind_to_string (b->kind);
  if (b->layer < 0 || b->layer >= trace->n_layers)
    return bad (error, "block %s L%d: layer outside 0 .. %d", kind, b->layer,
                trace->n_layers - 1);
  for (guint j = 0; j < index; j++)
    {
      const AttnBlock *o = g_ptr_array_index (trace->blocks, j);
      if (o->kind == b->kind && o->layer == b->layer)
        return bad (error, "block %s L%d appears twice", kind, b->layer);
    }
  if (b->n_heads != trace->n_heads)
    return bad (error, "block %s L%d: n_heads %d, but the model's n_heads "
                "is %d", kind,
                b->layer, b->n_heads, trace->n_heads);
  guint nq = attn_trace_n_tokens (trace, attn_kind_query_side (b->kind));
  guint nk = attn_trace_n_tokens (trace, attn_kind_key_side (b->kind));
  if (b->n_queries < 0 || (guint) b->n_queries != nq)
    return bad (error, "block %s L%d: %d queries, but the query side has %u "
                "tokens", kind, b->layer, b->n_queries, nq);
  if (b->n_keys < 0 || (guint) b->n_keys != nk)
    return bad (error, "block %s L%d: %d keys, but the key side has %u "
                "tokens", kind, b->layer, b->n_keys, nk);

  for (int h = 0; h < b->n_heads; h++)
    for (int q = 0; q < b->n_queries; q++)
      {
        const float *row =
          b->weights + ((gsize) h * b->n_queries + q) * b->n_keys; /* (Tk) */
        double sum = 0.0;
        for (int k = 0; k < b->n_keys; k++)
          {
            /* Also false for NaN. */
            if (!(row[k] >= 0.0f && row[k] <= 1.0f))
              return bad (error, "block %s L%d: weight [%d][%d][%d] = %g is "
                          "not in [0, 1]", kind, b->layer, h, q, k,
                          (double) row[k]);
            sum += row[k];
          }
        if (b->normalised && fabs (sum - 1.0) > ROW_SUM_TOLERANCE)
          return bad (error, "block %s L%d: row %d of head %d sums to %.7g, "
                      "not 1 (the block is marked normalised)", kind,
                      b->layer, q, h, sum);
      }
  return TRUE;
}

static gboolean
validate_candidate (const AttnCandidate *c, const char *what, guint step,
                    GError **error)
{
  if (!g_utf8_validate (c->text, -1, NULL))
    return bad (error, "step %u: %s text is not valid UTF-8", step, what);
  if (!(c->prob >= 0.0f && c->prob <= 1.0f))
    return bad (error, "step %u: %s probability %g is not in [0, 1]", step,
                what, (double) c->prob);
  return TRUE;
}

static gboolean
validate_steps (const AttnTrace *trace, GError **error)
{
  guint n_target = trace->target_tokens->len;
  if (trace->steps->len > n_target)
    return bad (error, "%u decoding steps for %u target tokens: step i emits "
                "target token i + 1, so there can be at most %u",
                trace->steps->len, n_target, n_target);
  for (guint i = 0; i < trace->steps->len; i++)
    {
      const AttnStep *s = g_ptr_array_index (trace->steps, i);
      if (!validate_candidate (&s->emitted, "emitted token", i, error))
        return FALSE;
      if (s->n_top < 0 || s->n_top > ATTN_STEP_MAX_TOP)
        return bad (error, "step %u: %d alternatives, at most %d allowed", i,
                    s->n_top, ATTN_STEP_MAX_TOP);
      for (int k = 0; k < s->n_top; k++)
        if (!validate_candidate (&s->top[k], "alternative", i, error))
          return FALSE;
      if (i + 1 < n_target)
        {
          const AttnToken *next =
            &g_array_index (trace->target_tokens, AttnToken, i + 1);
          if (s->emitted.id >= 0 && next->id >= 0 && s->emitted.id != next->id)
            return bad (error, "step %u emits id %d, but target token %u has "
                        "id %d", i, s->emitted.id, i + 1, next->id);
        }
    }
  return TRUE;
}

gboolean
attn_trace_validate (const AttnTrace *trace, GError **error)
{
  if (trace->n_layers < 1 || trace->n_heads < 1)
    return bad (error, "the model has %d layers and %d heads; both must be at "
                "least 1", trace->n_layers, trace->n_heads);
  if ((guint) trace->mechanism >= ATTN_N_MECHANISMS)
    return bad (error, "unknown attention mechanism %d",
                (int) trace->mechanism);
  const char *strings[][2] = {
    { "model name", trace->model_name },
    { "architecture", trace->architecture },
    { "source text", trace->source_text },
    { "target text", trace->target_text },
  };
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    if (!g_utf8_validate (strings[i][1], -1, NULL))
      return bad (error, "the %s is not valid UTF-8", strings[i][0]);
  if (!validate_tokens (trace, ATTN_SIDE_SOURCE, error)
      || !validate_tokens (trace, ATTN_SIDE_TARGET, error))
    return FALSE;
  for (guint i = 0; i < trace->blocks->len; i++)
    if (!validate_block (trace, i, error))
      return FALSE;
  return validate_steps (trace, error);
}

void
attn_block_head_weights (const AttnBlock *block, int head, float *out)
{
  attn_check (head == ATTN_HEADS_MEAN || head == ATTN_HEADS_MAX
              || (head >= 0 && head < block->n_heads));
  gsize plane = (gsize) block->n_queries * block->n_keys; /* Tq * Tk */
  if (head >= 0)
    {
      memcpy (out, block->weights + head * plane, plane * sizeof (float));
      return;
    }
  attn_check (block->n_heads >= 1);
  for (gsize i = 0; i < plane; i++)
    {
      /* Mean in double so the result is the float nearest the true mean. */
      double sum = 0.0;
      float max = block->weights[i];
      for (int h = 0; h < block->n_heads; h++)
        {
          float w = block->weights[h * plane + i];
          sum += w;
          max = MAX (max, w);
        }
      out[i] = head == ATTN_HEADS_MEAN ? (float) (sum / block->n_heads) : max;
    }
}

/* RFC 4180 quoting; leading or trailing spaces (GPT-2's " world") are quoted
 * too so that no spreadsheet trims them. */
static void
append_csv_field (GString *out, const char *field)
{
  gsize len = strlen (field);
  gboolean quote = strpbrk (field, ",\"\r\n") != NULL
                   || (len > 0 && (field[0] == ' ' || field[len - 1] == ' '));
  if (!quote)
    {
      g_string_append (out, field);
      return;
    }
  g_string_append_c (out, '"');
  for (const char *p = field; *p != '\0'; p++)
    {
      if (*p == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
}

gboolean
attn_block_write_csv (const AttnTrace *trace, const AttnBlock *block,
                      int head, const char *path, GError **error)
{
  if (head != ATTN_HEADS_MEAN && head != ATTN_HEADS_MAX
      && (head < 0 || head >= block->n_heads))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "head %d of a block with %d heads", head, block->n_heads);
      return FALSE;
    }
  AttnSide qside = attn_kind_query_side (block->kind);
  AttnSide kside = attn_kind_key_side (block->kind);
  attn_check ((guint) block->n_queries == attn_trace_n_tokens (trace, qside));
  attn_check ((guint) block->n_keys == attn_trace_n_tokens (trace, kside));

  gsize plane = (gsize) block->n_queries * block->n_keys;
  g_autofree float *w = g_new (float, MAX (plane, 1)); /* (Tq, Tk) */
  attn_block_head_weights (block, head, w);

  g_autoptr (GString) out = g_string_new (NULL);
  for (int k = 0; k < block->n_keys; k++)
    {
      g_string_append_c (out, ',');
      append_csv_field (out, attn_trace_get_token (trace, kside, k)->text);
    }
  g_string_append (out, "\r\n");
  char num[G_ASCII_DTOSTR_BUF_SIZE];
  for (int q = 0; q < block->n_queries; q++)
    {
      append_csv_field (out, attn_trace_get_token (trace, qside, q)->text);
      for (int k = 0; k < block->n_keys; k++)
        {
          g_string_append_c (out, ',');
          g_string_append (out, g_ascii_formatd (num, sizeof num, "%.9g",
                                                 w[(gsize) q * block->n_keys
                                                   + k]));
        }
      g_string_append (out, "\r\n");
    }

  g_autoptr (GError) local = NULL;
  if (!g_file_set_contents (path, out->str, out->len, &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "cannot write %s: %s",
                   path, local->message);
      return FALSE;
    }
  return TRUE;
}
