/* attn-cli-commands.c: the run, export, train and info subcommands. */
#include "app/attn-cli.h"
#include "app/attn-cli-run.h"

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

/* The kind --kind names, or the only kind the trace has (docs/cli.md).
 * FALSE with a usage error naming the kinds present otherwise. */
static gboolean
select_kind (const AttnTrace *trace, const AttnCliOptions *o, AttnKind *out,
             GError **error)
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
      return FALSE;
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
          return FALSE;
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
      return FALSE;
    }
  *out = kind;
  return TRUE;
}

/* The block --kind and --layer name, applying the defaults of docs/cli.md:
 * a kind or layer may be left out when the trace has only one. */
static const AttnBlock *
select_block (const AttnTrace *trace, const AttnCliOptions *o, GError **error)
{
  AttnKind kind;
  if (!select_kind (trace, o, &kind, error))
    return NULL;
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

/* ---- subcommands ------------------------------------------------------- */

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
  if (o->model != NULL && attn_cli_is_gpt2 (o->model))
    {
      g_autofree char *path = NULL;
      const char *kind = NULL;
      g_autoptr (AttnGpt2) gpt2 = attn_cli_open_gpt2 (o->model, &path, &kind,
                                                      error);
      if (gpt2 == NULL)
        return FALSE;
      attn_cli_print_gpt2 (out, path, kind, gpt2);
      return TRUE;
    }
  if (o->model != NULL)
    {
      g_autofree char *path = NULL;
      const char *kind = NULL;
      g_autoptr (AttnModel) model = attn_cli_open_model (o->model, &path,
                                                         &kind, error);
      if (model == NULL)
        return FALSE;
      attn_cli_print_model (out, path, kind, model);
      return TRUE;
    }

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

/* ---- pictures ------------------------------------------------------------ */

static char *
describe_head (int head)
{
  if (head == ATTN_HEADS_MEAN)
    return g_strdup ("mean over heads");
  if (head == ATTN_HEADS_MAX)
    return g_strdup ("max over heads");
  return g_strdup_printf ("head %d", head);
}

/* "800 x 600 px (96 dpi)", "340.2 x 255.1 pt (12 x 9 cm)". */
static char *
describe_size (const AttnExportOptions *size, AttnExportFormat format,
               GError **error)
{
  AttnExportGeometry g;
  if (!attn_export_geometry (size, format, &g, error))
    return NULL;
  if (format == ATTN_EXPORT_PNG)
    return g_strdup_printf ("%d x %d px (%g dpi)", g.pixel_width,
                            g.pixel_height, size->dpi);
  if (g.scale == 1.0)
    return g_strdup_printf ("%g x %g px", g.page_width, g.page_height);
  return g_strdup_printf ("%.1f x %.1f pt (%.1f x %.1f cm)", g.page_width,
                          g.page_height, g.page_width / 72 * 2.54,
                          g.page_height / 72 * 2.54);
}

static void
style_from_options (AttnRenderStyle *style, const AttnCliOptions *o)
{
  attn_render_style_init (style, o->theme);
  style->colormap = o->colormap;
  style->reversed = o->reversed;
  style->scale = o->scale;
  style->show_values = o->values;
  if (o->threshold >= 0)
    style->threshold = o->threshold;
}

static gboolean
check_step (const AttnTrace *trace, const AttnCliOptions *o, GError **error)
{
  int n = (int) trace->steps->len;
  if (n == 0)
    {
      g_set_error_literal (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_OUT_OF_RANGE,
                           "--view step: this trace has no decoding steps");
      return FALSE;
    }
  g_autofree char *have = n == 1 ? g_strdup ("step 0 only")
                                 : g_strdup_printf ("steps 0-%d", n - 1);
  if (o->step < 0)
    {
      g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_MISSING,
                   "this trace has %s: choose one with --step", have);
      return FALSE;
    }
  if (o->step >= n)
    {
      g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_OUT_OF_RANGE,
                   "step %d out of range: this trace has %s", o->step, have);
      return FALSE;
    }
  return TRUE;
}

/* The block the step view shades with (ui/render/attn-step-view.h): cross
 * attention when the trace has it, else decoder self-attention; the layer
 * --layer names, else the last. */
static const AttnBlock *
select_step_block (const AttnTrace *trace, const AttnCliOptions *o,
                   GError **error)
{
  gboolean has_cross = FALSE;
  for (guint i = 0; i < trace->blocks->len; i++)
    has_cross = has_cross
                || ((const AttnBlock *) g_ptr_array_index (trace->blocks, i))
                       ->kind == ATTN_KIND_CROSS;
  const char *kind = has_cross ? "cross" : "decoder-self";
  if (o->kind != NULL && strcmp (o->kind, kind) != 0)
    {
      g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_CONFLICT,
                   "--view step shades with %s attention%s: --kind %s does "
                   "not apply", kind,
                   has_cross ? "" : " (this trace has no cross attention)",
                   o->kind);
      return NULL;
    }
  AttnCliOptions step = *o;
  step.kind = (char *) kind;
  for (int l = trace->n_layers - 1; l >= 0 && step.layer < 0; l--)
    if (attn_trace_lookup_block (trace, has_cross ? ATTN_KIND_CROSS
                                                  : ATTN_KIND_DECODER_SELF,
                                 l) != NULL)
      step.layer = l;
  return select_block (trace, &step, error);
}

/* -o FILE.png/.svg/.pdf: one view of the selected block. */
static gboolean
write_picture (const AttnTrace *trace, const AttnCliOptions *o, FILE *out,
               GError **error)
{
  AttnSelection sel;
  g_autofree char *what = NULL;
  const char *view = attn_view_kind_to_string (o->view);
  if (o->view == ATTN_VIEW_MODEL)
    {
      AttnKind kind;
      if (!select_kind (trace, o, &kind, error))
        return FALSE;
      attn_selection_init (&sel, kind);
      /* No head is "open": nothing is outlined. */
      sel.head = ATTN_HEADS_MEAN;
      what = g_strdup_printf ("model view of %s, every layer and head",
                              attn_kind_to_string (kind));
    }
  else
    {
      const AttnBlock *block = o->view == ATTN_VIEW_STEP
                                 ? select_step_block (trace, o, error)
                                 : select_block (trace, o, error);
      if (block == NULL)
        return FALSE;
      attn_selection_init (&sel, block->kind);
      sel.layer = block->layer;
      g_autofree char *heads = NULL;
      if (o->view == ATTN_VIEW_HEADS)
        {
          /* The head view draws heads, all of them unless one is named. */
          g_autoptr (GError) head_error = NULL;
          if (o->head_mode == ATTN_CLI_HEAD_INDEX
              && select_head (block, o, &head_error) < 0)
            {
              g_propagate_error (error, g_steal_pointer (&head_error));
              return FALSE;
            }
          if (o->head_mode == ATTN_CLI_HEAD_INDEX && o->head >= 64)
            {
              g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_OUT_OF_RANGE,
                           "head %d: the head view draws heads 0-63 only",
                           o->head);
              return FALSE;
            }
          if (o->head_mode == ATTN_CLI_HEAD_INDEX)
            {
              sel.head = o->head;
              sel.head_subset = G_GUINT64_CONSTANT (1) << o->head;
              heads = g_strdup_printf ("head %d", o->head);
            }
          else
            heads = g_strdup_printf ("all %d heads", block->n_heads);
        }
      else
        {
          g_autoptr (GError) head_error = NULL;
          /* The step view shades with the mean unless told otherwise. */
          int head = o->view == ATTN_VIEW_STEP
                         && o->head_mode == ATTN_CLI_HEAD_UNSET
                       ? ATTN_HEADS_MEAN
                       : select_head (block, o, &head_error);
          if (head_error != NULL)
            {
              g_propagate_error (error, g_steal_pointer (&head_error));
              return FALSE;
            }
          sel.head = head;
          heads = describe_head (head);
        }
      if (o->view == ATTN_VIEW_STEP)
        {
          if (!check_step (trace, o, error))
            return FALSE;
          sel.step = o->step;
        }
      if (o->range_start >= 0)
        {
          int longest = MAX (block->n_queries, block->n_keys);
          if (o->range_end > longest)
            {
              g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_OUT_OF_RANGE,
                           "--range %d:%d out of range: %s layer %d has %d "
                           "query and %d key tokens (END at most %d)",
                           o->range_start, o->range_end,
                           attn_kind_to_string (block->kind), block->layer,
                           block->n_queries, block->n_keys, longest);
              return FALSE;
            }
          sel.range_start = o->range_start;
          sel.range_end = o->range_end;
        }
      what = o->view == ATTN_VIEW_STEP
               ? g_strdup_printf ("%s view of step %d, %s layer %d, %s",
                                  view, o->step,
                                  attn_kind_to_string (block->kind),
                                  block->layer, heads)
               : g_strdup_printf ("%s%s of %s layer %d, %s", view,
                                  o->view == ATTN_VIEW_HEADS ? " view" : "",
                                  attn_kind_to_string (block->kind),
                                  block->layer, heads);
    }
  sel.hide_special = o->hide_special;
  sel.hide_sink = o->hide_sink;

  AttnExportFormat format = o->output_format == ATTN_CLI_FORMAT_PNG
                              ? ATTN_EXPORT_PNG
                            : o->output_format == ATTN_CLI_FORMAT_SVG
                              ? ATTN_EXPORT_SVG
                              : ATTN_EXPORT_PDF;
  g_autofree char *size = describe_size (&o->size, format, error);
  if (size == NULL)
    return FALSE;
  AttnRenderStyle style;
  style_from_options (&style, o);
  gboolean ok = attn_export_view (o->view, trace, &sel, &style, &o->size,
                                  o->output, error);
  attn_render_style_clear (&style);
  if (!ok)
    return FALSE;
  g_autofree char *shown = g_filename_display_name (o->output);
  fprintf (out, "wrote %s: %s, %s\n", shown, what, size);
  return TRUE;
}

/* --atlas FILE.pdf: a page per head of every block (of --kind). */
static gboolean
write_atlas (const AttnTrace *trace, const AttnCliOptions *o, FILE *out,
             GError **error)
{
  int kind = -1;
  if (o->kind != NULL)
    {
      AttnKind k;
      if (!select_kind (trace, o, &k, error))
        return FALSE;
      kind = (int) k;
    }
  g_autofree char *size = describe_size (&o->size, ATTN_EXPORT_PDF, error);
  if (size == NULL)
    return FALSE;
  AttnSelection base;
  attn_selection_init (&base, ATTN_KIND_ENCODER_SELF);
  base.hide_special = o->hide_special;
  base.hide_sink = o->hide_sink;
  AttnRenderStyle style;
  style_from_options (&style, o);
  gboolean ok = attn_export_atlas (trace, kind, &base, &style, &o->size,
                                   o->atlas, error);
  attn_render_style_clear (&style);
  if (!ok)
    return FALSE;
  guint n_blocks = 0;
  for (guint i = 0; i < trace->blocks->len; i++)
    {
      const AttnBlock *b = g_ptr_array_index (trace->blocks, i);
      n_blocks += kind < 0 || (int) b->kind == kind;
    }
  g_autofree char *shown = g_filename_display_name (o->atlas);
  fprintf (out, "wrote %s: %d pages, one per head of %u blocks%s%s, %s\n",
           shown, attn_export_atlas_n_pages (trace, kind), n_blocks,
           kind >= 0 ? " of " : "",
           kind >= 0 ? attn_kind_to_string ((AttnKind) kind) : "", size);
  return TRUE;
}

/* Writes what -o or --atlas asks for from trace (loaded with --trace, or
 * made by a run). */
static gboolean
export_trace (const AttnTrace *trace, const AttnCliOptions *o, FILE *out,
              GError **error)
{
  if (o->atlas != NULL)
    return write_atlas (trace, o, out, error);
  if (o->output_format == ATTN_CLI_FORMAT_PNG
      || o->output_format == ATTN_CLI_FORMAT_SVG
      || o->output_format == ATTN_CLI_FORMAT_PDF)
    return write_picture (trace, o, out, error);

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

/* The trace of --model run on the text (run, export --model); for a
 * GPT-2 model *n_prompt (may be NULL) receives the text's token count. */
static AttnTrace *
run_model (const AttnCliOptions *o, int *n_prompt, GError **error)
{
  if (attn_cli_is_gpt2 (o->model))
    {
      g_autoptr (AttnGpt2) gpt2 = attn_cli_open_gpt2 (o->model, NULL, NULL,
                                                      error);
      return gpt2 != NULL ? attn_cli_run_gpt2 (gpt2, o, n_prompt, error)
                          : NULL;
    }
  g_autoptr (AttnModel) model = attn_cli_open_model (o->model, NULL, NULL,
                                                     error);
  if (model == NULL)
    return NULL;
  return attn_cli_run_model (model, o, error);
}

gboolean
attn_cli_export (const AttnCliOptions *o, FILE *out, GError **error)
{
  g_autoptr (AttnTrace) trace = o->model != NULL
                                  ? run_model (o, NULL, error)
                                  : attn_trace_load_json (o->trace, error);
  if (trace == NULL)
    return FALSE;
  return export_trace (trace, o, out, error);
}

gboolean
attn_cli_run (const AttnCliOptions *o, FILE *out, GError **error)
{
  int n_prompt = 0;
  g_autoptr (AttnTrace) trace = run_model (o, &n_prompt, error);
  if (trace == NULL)
    return FALSE;
  if (o->json)
    return attn_cli_print_json (out, trace, error);
  if (o->output != NULL || o->atlas != NULL)
    return export_trace (trace, o, out, error);
  if (attn_trace_n_tokens (trace, ATTN_SIDE_SOURCE) == 0)
    attn_cli_print_gpt2_summary (out, trace, n_prompt, o->generate);
  else
    attn_cli_print_run_summary (out, trace);
  return TRUE;
}
