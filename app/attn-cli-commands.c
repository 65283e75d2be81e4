/* attn-cli-commands.c: the run, export, train and info subcommands. */
#include "app/attn-cli.h"

#include <string.h>

#include "core/attn-model-ref.h"
#include "core/attn-error.h"
#include "core/attn-npy.h"
#include "core/attn-trace.h"

#ifndef ATTN_VERSION
#error "ATTN_VERSION must be the project version"
#endif

/* ---- output helpers ----------------------------------------------------- */

/* Writes `s` in double quotes, escaping quotes, backslashes and control
 * characters, so leading spaces and newlines of tokens stay visible. The
 * text is UTF-8 and is written as such, whatever the locale. */
static void
put_quoted (FILE *out, const char *s)
{
  fputc ('"', out);
  for (const unsigned char *p = (const unsigned char *) s; *p; p++)
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
put_tokens (FILE *out, const AttnTrace *trace, AttnSide side)
{
  guint n = attn_trace_n_tokens (trace, side);
  fprintf (out, "%s tokens (%u):", side == ATTN_SIDE_SOURCE ? "source"
                                                            : "target", n);
  for (guint i = 0; i < n; i++)
    {
      const AttnToken *t = attn_trace_get_token (trace, side, i);
      fputc (' ', out);
      /* Special tokens are markers, not text: shown bare. */
      if (t->special)
        fputs (t->text, out);
      else
        put_quoted (out, t->text);
    }
  fputc ('\n', out);
}

static const char *
display_path (const char *path, char **to_free)
{
  *to_free = g_filename_display_name (path);
  return *to_free;
}

/* ---- selecting a block -------------------------------------------------- */

/* "0-5", or "0, 2, 5" when the layers present have gaps; layers sorted. */
static char *
describe_numbers (const GArray *numbers)
{
  const int *v = (const int *) numbers->data;
  guint n = numbers->len;
  gboolean contiguous = TRUE;
  for (guint i = 1; i < n; i++)
    contiguous = contiguous && v[i] == v[i - 1] + 1;
  if (n == 1)
    return g_strdup_printf ("%d only", v[0]);
  if (contiguous)
    return g_strdup_printf ("%d-%d", v[0], v[n - 1]);
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, i ? ", %d" : "%d", v[i]);
  return g_string_free (s, FALSE);
}

static int
compare_ints (gconstpointer a, gconstpointer b)
{
  return *(const int *) a - *(const int *) b;
}

static char *
describe_kinds (const gboolean *present)
{
  GString *s = g_string_new (NULL);
  guint n = 0, total = 0;
  for (guint k = 0; k < ATTN_N_KINDS; k++)
    total += present[k] ? 1 : 0;
  for (guint k = 0; k < ATTN_N_KINDS; k++)
    if (present[k])
      {
        if (n > 0)
          g_string_append (s, n + 1 == total ? " and " : ", ");
        g_string_append (s, attn_kind_to_string ((AttnKind) k));
        n++;
      }
  return g_string_free (s, FALSE);
}

/* The block --kind and --layer name, applying the defaults of docs/cli.md:
 * a kind or layer may be left out when the trace has only one. */
static const AttnBlock *
select_block (const AttnTrace *trace, const AttnCliOptions *o, GError **error)
{
  gboolean present[ATTN_N_KINDS] = { FALSE };
  guint n_kinds = 0;
  for (guint i = 0; i < trace->blocks->len; i++)
    {
      const AttnBlock *b = g_ptr_array_index (trace->blocks, i);
      n_kinds += present[b->kind] ? 0 : 1;
      present[b->kind] = TRUE;
    }
  if (n_kinds == 0)
    {
      g_set_error_literal (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                           "this trace has no attention blocks to export");
      return NULL;
    }
  g_autofree char *kinds = describe_kinds (present);

  AttnKind kind = ATTN_KIND_ENCODER_SELF;
  if (o->kind != NULL)
    {
      if (!attn_kind_from_string (o->kind, &kind))
        g_assert_not_reached (); /* checked when parsing */
      if (!present[kind])
        {
          g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_OUT_OF_RANGE,
                       "--kind %s: this trace has no %s attention (it has "
                       "%s)", o->kind, o->kind, kinds);
          return NULL;
        }
    }
  else if (n_kinds == 1)
    {
      for (guint k = 0; k < ATTN_N_KINDS; k++)
        if (present[k])
          kind = (AttnKind) k;
    }
  else
    {
      g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_MISSING,
                   "this trace has %s attention: choose one with --kind",
                   kinds);
      return NULL;
    }

  g_autoptr (GArray) layers = g_array_new (FALSE, FALSE, sizeof (int));
  for (guint i = 0; i < trace->blocks->len; i++)
    {
      const AttnBlock *b = g_ptr_array_index (trace->blocks, i);
      if (b->kind == kind)
        g_array_append_val (layers, b->layer);
    }
  g_array_sort (layers, compare_ints);
  g_autofree char *have = describe_numbers (layers);
  const char *kind_name = attn_kind_to_string (kind);

  int layer = o->layer;
  if (layer < 0 && layers->len == 1)
    layer = g_array_index (layers, int, 0);
  else if (layer < 0)
    {
      g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_MISSING,
                   "this trace has layers %s (%s): choose one with --layer",
                   have, kind_name);
      return NULL;
    }
  const AttnBlock *block = attn_trace_lookup_block (trace, kind, layer);
  if (block == NULL)
    g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_OUT_OF_RANGE,
                 "layer %d out of range: this trace has layers %s (%s)",
                 layer, have, kind_name);
  return block;
}

/* The head argument of attn_block_write_csv: an index, ATTN_HEADS_MEAN or
 * ATTN_HEADS_MAX; -3 with an error. */
static int
select_head (const AttnBlock *block, const AttnCliOptions *o, GError **error)
{
  const int invalid = -3;
  switch (o->head_mode)
    {
    case ATTN_CLI_HEAD_MEAN:
      return ATTN_HEADS_MEAN;
    case ATTN_CLI_HEAD_MAX:
      return ATTN_HEADS_MAX;
    case ATTN_CLI_HEAD_INDEX:
      if (o->head < block->n_heads)
        return o->head;
      g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_OUT_OF_RANGE,
                   block->n_heads == 1
                     ? "head %d out of range: this trace has head %d only "
                       "(or mean, max)"
                     : "head %d out of range: this trace has heads 0-%d (or "
                       "mean, max)",
                   o->head, block->n_heads - 1);
      return invalid;
    case ATTN_CLI_HEAD_UNSET:
      if (block->n_heads == 1)
        return 0;
      g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_MISSING,
                   "this block has heads 0-%d: choose one with --head N, "
                   "mean or max", block->n_heads - 1);
      return invalid;
    }
  g_assert_not_reached ();
}

/* ---- shared steps -------------------------------------------------------- */

static gboolean
check_image_support (const AttnCliOptions *o, GError **error)
{
  gboolean image = o->atlas != NULL
                   || o->output_format == ATTN_CLI_FORMAT_PNG
                   || o->output_format == ATTN_CLI_FORMAT_SVG
                   || o->output_format == ATTN_CLI_FORMAT_PDF;
  if (!image)
    return TRUE;
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_UNSUPPORTED,
               "%s: image export (.png, .svg, .pdf and --atlas) is not in "
               "this build yet; it arrives with the render issue. Data "
               "export works now: .json, .npy and .csv",
               o->atlas != NULL ? "--atlas" : "-o");
  return FALSE;
}

/* Resolves and opens --model. Until a model format is readable this always
 * fails, with the message attn_model_ref_open gives. */
static gboolean
open_model (const AttnCliOptions *o, GError **error)
{
  g_autoptr (AttnModelRef) ref = attn_model_ref_resolve (o->model, error);
  if (ref == NULL)
    return FALSE;
  return attn_model_ref_open (ref, error);
}

/* ---- subcommands ------------------------------------------------------- */

gboolean
attn_cli_run (const AttnCliOptions *o, FILE *out, GError **error)
{
  if (!check_image_support (o, error))
    return FALSE;
  return open_model (o, error);
}

gboolean
attn_cli_train (const AttnCliOptions *o, FILE *out, GError **error)
{
  return open_model (o, error);
}

static void
print_trace (FILE *out, const char *path, const AttnTrace *t)
{
  g_autofree char *shown_path = NULL;
  fprintf (out, "trace: %s\n", display_path (path, &shown_path));
  fprintf (out, "model: %s\n", t->model_name);
  fprintf (out, "architecture: %s\n", t->architecture);
  fprintf (out, "attention: %s\n", attn_mechanism_to_string (t->mechanism));
  fprintf (out, "layers: %d\n", t->n_layers);
  fprintf (out, "heads: %d\n", t->n_heads);
  /* A decoder-only model has one stream, on the target side. */
  if (attn_trace_n_tokens (t, ATTN_SIDE_SOURCE) > 0 || *t->source_text)
    {
      fputs ("source text: ", out);
      put_quoted (out, t->source_text);
      fputc ('\n', out);
      put_tokens (out, t, ATTN_SIDE_SOURCE);
    }
  fputs ("target text: ", out);
  put_quoted (out, t->target_text);
  fputc ('\n', out);
  put_tokens (out, t, ATTN_SIDE_TARGET);

  fprintf (out, "blocks (%u):\n", t->blocks->len);
  for (guint i = 0; i < t->blocks->len; i++)
    {
      const AttnBlock *b = g_ptr_array_index (t->blocks, i);
      fprintf (out, "  %s layer %d: %d heads x %d queries x %d keys%s\n",
               attn_kind_to_string (b->kind), b->layer, b->n_heads,
               b->n_queries, b->n_keys,
               b->normalised ? "" : " (rows not normalised)");
    }
  if (t->steps->len == 0)
    return;
  fprintf (out, "steps (%u):\n", t->steps->len);
  for (guint i = 0; i < t->steps->len; i++)
    {
      const AttnStep *s = g_ptr_array_index (t->steps, i);
      fprintf (out, "  %u: ", i);
      put_quoted (out, s->emitted.text);
      fprintf (out, " p=%.4g", s->emitted.prob);
      for (int k = 0; k < s->n_top; k++)
        {
          fputs (k == 0 ? "; top: " : ", ", out);
          put_quoted (out, s->top[k].text);
          fprintf (out, " %.4g", s->top[k].prob);
        }
      fputc ('\n', out);
    }
}

gboolean
attn_cli_info (const AttnCliOptions *o, FILE *out, GError **error)
{
  if (o->trace != NULL)
    {
      g_autoptr (AttnTrace) trace = attn_trace_load_json (o->trace, error);
      if (trace == NULL)
        return FALSE;
      print_trace (out, o->trace, trace);
      return TRUE;
    }
  if (o->model != NULL)
    return open_model (o, error);

  fprintf (out, "attnscope-cli %s\n", ATTN_VERSION);
  g_auto (GStrv) names = attn_model_list_bundled ();
  g_auto (GStrv) dirs = attn_model_search_path ();
  if (names[0] == NULL)
    fputs ("bundled models: none found\n", out);
  else
    {
      fputs ("bundled models:\n", out);
      for (guint i = 0; names[i] != NULL; i++)
        fprintf (out, "  %s\n", names[i]);
    }
  fputs ("searched:\n", out);
  for (guint i = 0; dirs[i] != NULL; i++)
    {
      g_autofree char *shown = NULL;
      fprintf (out, "  %s\n", display_path (dirs[i], &shown));
    }
  return TRUE;
}

gboolean
attn_cli_export (const AttnCliOptions *o, FILE *out, GError **error)
{
  if (!check_image_support (o, error))
    return FALSE;
  if (o->model != NULL)
    return open_model (o, error);

  g_autoptr (AttnTrace) trace = attn_trace_load_json (o->trace, error);
  if (trace == NULL)
    return FALSE;
  g_autofree char *shown = NULL;
  display_path (o->output, &shown);

  if (o->output_format == ATTN_CLI_FORMAT_JSON)
    {
      if (!attn_trace_save_json (trace, o->output, error))
        return FALSE;
      fprintf (out, "wrote %s: the whole trace (%u blocks)\n", shown,
               trace->blocks->len);
      return TRUE;
    }

  const AttnBlock *block = select_block (trace, o, error);
  if (block == NULL)
    return FALSE;
  const char *kind = attn_kind_to_string (block->kind);

  if (o->output_format == ATTN_CLI_FORMAT_NPY)
    {
      const gsize shape[3] = { block->n_heads, block->n_queries,
                               block->n_keys };
      if (!attn_npy_write (o->output, block->weights, 3, shape, error))
        return FALSE;
      fprintf (out, "wrote %s: %s layer %d, shape (%d, %d, %d)\n", shown,
               kind, block->layer, block->n_heads, block->n_queries,
               block->n_keys);
      return TRUE;
    }

  g_assert (o->output_format == ATTN_CLI_FORMAT_CSV);
  g_autoptr (GError) head_error = NULL;
  int head = select_head (block, o, &head_error);
  if (head_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&head_error));
      return FALSE;
    }
  if (!attn_block_write_csv (trace, block, head, o->output, error))
    return FALSE;
  g_autofree char *which = head >= 0 ? g_strdup_printf ("head %d", head)
                                     : g_strdup (head == ATTN_HEADS_MEAN
                                                   ? "mean over heads"
                                                   : "max over heads");
  fprintf (out, "wrote %s: %s layer %d, %s, %d x %d\n", shown, kind,
           block->layer, which, block->n_queries, block->n_keys);
  return TRUE;
}
