/* test-export.c: views written as PNG, SVG and PDF files — sizes, metadata,
 * the atlas, and failures that leave nothing behind.
 *
 * Files are read back by means independent of the writer: PNG chunks
 * parsed here with a bitwise CRC (the writer uses a table), decoded by
 * Cairo's libpng reader; SVG parsed as XML by GMarkup; PDF read by
 * poppler's pdfinfo, pdftoppm and pdftotext. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <cairo.h>
#include <glib/gstdio.h>

#include "core/attn-error.h"
#include "tests/attn-test-util.h"
#include "ui/render/attn-export.h"
#include "ui/render/attn-text.h"

/* ---- fixtures ------------------------------------------------------------ */

/* render-dates.json: "23 Nov 2026" -> "2026-11-23", 2 layers x 4 heads, all
 * three kinds (tests/data/make-render-traces.py). */
static AttnTrace *
load_dates (void)
{
  g_autofree char *path = attn_test_data_path ("render-dates.json");
  g_autoptr (GError) error = NULL;
  AttnTrace *trace = attn_trace_load_json (path, &error);
  g_assert_no_error (error);
  return trace;
}

#define INTL_SOURCE "注意力 <b> & \"x\""
#define INTL_TARGET "café"

/* A one-layer, one-head trace whose texts need escaping in XML (<, &, "),
 * need UTF-16 in PDF strings and iTXt in PNG (Chinese), or fit Latin-1
 * only as a non-ASCII byte (é). */
static AttnTrace *
make_intl_trace (void)
{
  AttnTrace *t = attn_trace_new ("intl <test>", "transformer-encoder-decoder",
                                 ATTN_MECHANISM_SCALED_DOT_PRODUCT, 1, 1);
  attn_trace_set_text (t, ATTN_SIDE_SOURCE, INTL_SOURCE);
  attn_trace_set_text (t, ATTN_SIDE_TARGET, INTL_TARGET);
  const char *src = INTL_SOURCE;
  attn_trace_add_token (t, ATTN_SIDE_SOURCE, "注意力", 5, 0, 9, FALSE);
  attn_trace_add_token (t, ATTN_SIDE_SOURCE, " <b>", 6, 9, 13, FALSE);
  attn_trace_add_token (t, ATTN_SIDE_SOURCE, " &", 7, 13, 15, FALSE);
  attn_trace_add_token (t, ATTN_SIDE_SOURCE, " \"x\"", 8, 15,
                        (int) strlen (src), FALSE);
  attn_trace_add_token (t, ATTN_SIDE_SOURCE, "</s>", 2, -1, -1, TRUE);
  attn_trace_add_token (t, ATTN_SIDE_TARGET, "<s>", 1, -1, -1, TRUE);
  attn_trace_add_token (t, ATTN_SIDE_TARGET, "café", 9, 0, 5, FALSE);
  const int sizes[3][2] = { { 5, 5 }, { 2, 2 }, { 2, 5 } };
  for (int k = 0; k < 3; k++)
    {
      AttnBlock *b = attn_trace_add_block (t, (AttnKind) k, 0, 1,
                                           sizes[k][0], sizes[k][1]);
      for (int q = 0; q < b->n_queries; q++)
        {
          /* Causal for decoder self-attention; rows sum to 1. */
          int visible = k == ATTN_KIND_DECODER_SELF ? q + 1 : b->n_keys;
          for (int j = 0; j < visible; j++)
            b->weights[q * b->n_keys + j] = 1.0f / visible;
        }
    }
  AttnStep *s = attn_trace_add_step (t, 9, "café", 0.75f);
  attn_step_add_top (s, 9, "café", 0.75f);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_trace_validate (t, &error));
  g_assert_no_error (error);
  return t;
}

static void
style_and_selection (AttnRenderStyle *style, AttnSelection *sel,
                     AttnKind kind, int layer, int head)
{
  attn_render_style_init (style, ATTN_THEME_LIGHT);
  attn_selection_init (sel, kind);
  sel->layer = layer;
  sel->head = head;
}

/* ---- sizes --------------------------------------------------------------- */

typedef struct {
  const char *text;
  gboolean ok;
  double value;
  AttnUnit unit;
} LengthCase;

static const LengthCase length_cases[] = {
  { "800", TRUE, 800, ATTN_UNIT_PX },
  { "800px", TRUE, 800, ATTN_UNIT_PX },
  { "12cm", TRUE, 12, ATTN_UNIT_CM },
  { "4in", TRUE, 4, ATTN_UNIT_IN },
  { "4.5IN", TRUE, 4.5, ATTN_UNIT_IN },
  { "90mm", TRUE, 90, ATTN_UNIT_MM },
  { "300pt", TRUE, 300, ATTN_UNIT_PT },
  { "0.5cm", TRUE, 0.5, ATTN_UNIT_CM },
  { "100000", TRUE, 100000, ATTN_UNIT_PX },
  { "", FALSE, 0, 0 },
  { "0", FALSE, 0, 0 },
  { "-5", FALSE, 0, 0 },
  { "12 cm", FALSE, 0, 0 },
  { "12furlong", FALSE, 0, 0 },
  { "1e3", FALSE, 0, 0 },
  { "cm", FALSE, 0, 0 },
  { "1.2.3", FALSE, 0, 0 },
  { "100001", FALSE, 0, 0 },
  { ".", FALSE, 0, 0 },
};

static void
test_length_parse (gconstpointer data)
{
  const LengthCase *c = data;
  AttnLength l = { 0 };
  g_autoptr (GError) error = NULL;
  gboolean ok = attn_length_parse (c->text, &l, &error);
  if (!c->ok)
    {
      g_assert_false (ok);
      g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
      g_autofree char *quoted = g_strdup_printf ("“%s”", c->text);
      g_assert_nonnull (strstr (error->message, quoted));
      g_assert_nonnull (strstr (error->message, "px, pt, mm, cm or in"));
      return;
    }
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpfloat (l.value, ==, c->value);
  g_assert_cmpint (l.unit, ==, c->unit);
}

typedef struct {
  const char *name;
  AttnExportFormat format;
  const char *width, *height;
  double dpi;
  gboolean ok;
  int pixel_width, pixel_height;
  double page_width, page_height;
  double scale;
} GeometryCase;

/* Layout units are 1/96 inch: layout = page / scale in every case. */
static const GeometryCase geometry_cases[] = {
  { "png-px", ATTN_EXPORT_PNG, "800", "600", 96, TRUE, 800, 600, 800, 600,
    1.0 },
  /* 4 x 3 in at 300 dpi: 1200 x 900 pixels, drawn 3.125 times larger. */
  { "png-in", ATTN_EXPORT_PNG, "4in", "3in", 300, TRUE, 1200, 900, 1200, 900,
    3.125 },
  /* 8.5 cm at 300 dpi is 1003.9 pixels, rounded. */
  { "png-cm", ATTN_EXPORT_PNG, "8.5cm", "6cm", 300, TRUE, 1004, 709, 1004,
    709, 3.125 },
  /* A pixel size stays; the DPI scales the drawing (a 2x figure). */
  { "png-px-hidpi", ATTN_EXPORT_PNG, "800", "600", 192, TRUE, 800, 600, 800,
    600, 2.0 },
  { "png-pt", ATTN_EXPORT_PNG, "72pt", "144pt", 100, TRUE, 100, 200, 100,
    200, 100.0 / 96.0 },
  { "pdf-cm", ATTN_EXPORT_PDF, "12cm", "9cm", 96, TRUE, 0, 0,
    12 / 2.54 * 72, 9 / 2.54 * 72, 0.75 },
  /* 800 px at 96 dpi is 600 points; at 200 dpi, 288 points. */
  { "pdf-px", ATTN_EXPORT_PDF, "800", "600", 96, TRUE, 0, 0, 600, 450,
    0.75 },
  { "pdf-px-200dpi", ATTN_EXPORT_PDF, "800", "600", 200, TRUE, 0, 0, 288,
    216, 0.75 },
  { "svg-px", ATTN_EXPORT_SVG, "800", "600", 96, TRUE, 0, 0, 800, 600, 1.0 },
  { "svg-in", ATTN_EXPORT_SVG, "4in", "3in", 96, TRUE, 0, 0, 288, 216,
    0.75 },
  { "svg-mixed", ATTN_EXPORT_SVG, "800", "10cm", 96, TRUE, 0, 0, 600,
    10 / 2.54 * 72, 0.75 },
  { "png-too-large", ATTN_EXPORT_PNG, "20000", "600", 96, FALSE },
  { "png-too-small", ATTN_EXPORT_PNG, "10", "600", 96, FALSE },
  { "png-too-large-dpi", ATTN_EXPORT_PNG, "10in", "10in", 2000, FALSE },
  { "pdf-too-large", ATTN_EXPORT_PDF, "300in", "10in", 96, FALSE },
  { "dpi-zero", ATTN_EXPORT_PDF, "800", "600", 0, FALSE },
  { "dpi-huge", ATTN_EXPORT_PNG, "800", "600", 5000, FALSE },
};

static void
test_geometry (gconstpointer data)
{
  const GeometryCase *c = data;
  AttnExportOptions o;
  attn_export_options_init (&o);
  g_assert_true (attn_length_parse (c->width, &o.width, NULL));
  g_assert_true (attn_length_parse (c->height, &o.height, NULL));
  o.dpi = c->dpi;
  AttnExportGeometry g;
  g_autoptr (GError) error = NULL;
  gboolean ok = attn_export_geometry (&o, c->format, &g, &error);
  if (!c->ok)
    {
      g_assert_false (ok);
      g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpint (g.pixel_width, ==, c->pixel_width);
  g_assert_cmpint (g.pixel_height, ==, c->pixel_height);
  g_assert_cmpfloat_with_epsilon (g.page_width, c->page_width, 1e-9);
  g_assert_cmpfloat_with_epsilon (g.page_height, c->page_height, 1e-9);
  g_assert_cmpfloat_with_epsilon (g.scale, c->scale, 1e-12);
  g_assert_cmpfloat_with_epsilon (g.layout_width, c->page_width / c->scale,
                                  1e-9);
  g_assert_cmpfloat_with_epsilon (g.layout_height,
                                  c->page_height / c->scale, 1e-9);
}

static void
test_options_default (void)
{
  AttnExportOptions o;
  attn_export_options_init (&o);
  g_assert_cmpfloat (o.width.value, ==, 800);
  g_assert_cmpint (o.width.unit, ==, ATTN_UNIT_PX);
  g_assert_cmpfloat (o.height.value, ==, 600);
  g_assert_cmpfloat (o.dpi, ==, 96);
  g_assert_null (o.creator);
}

typedef struct {
  const char *path;
  int format; /* -1: refused */
} SuffixCase;

static const SuffixCase suffix_cases[] = {
  { "out.png", ATTN_EXPORT_PNG },
  { "dir.d/OUT.PNG", ATTN_EXPORT_PNG },
  { "a.b.svg", ATTN_EXPORT_SVG },
  { "/tmp/x.Pdf", ATTN_EXPORT_PDF },
  { "out.gif", -1 },
  { "out", -1 },
  { ".png", -1 },
  { "x/.pdf", -1 },
  { "out.png.bak", -1 },
};

static void
test_suffix (gconstpointer data)
{
  const SuffixCase *c = data;
  AttnExportFormat f = ATTN_EXPORT_N_FORMATS;
  g_autoptr (GError) error = NULL;
  gboolean ok = attn_export_format_from_path (c->path, &f, &error);
  if (c->format < 0)
    {
      g_assert_false (ok);
      g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, c->path));
      g_assert_nonnull (strstr (error->message,
                                "supported suffixes are .png, .svg and "
                                ".pdf"));
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpint (f, ==, c->format);
  static const char *const suffixes[] = { ".png", ".svg", ".pdf" };
  g_assert_cmpstr (attn_export_format_suffix (f), ==, suffixes[c->format]);
}

/* ---- what a file records --------------------------------------------------- */

static const char *
lookup_field (GPtrArray *fields, const char *key)
{
  for (guint i = 0; i < fields->len; i++)
    {
      const AttnExportField *f = g_ptr_array_index (fields, i);
      if (strcmp (f->key, key) == 0)
        return f->value;
    }
  return NULL;
}

static void
test_describe (void)
{
  g_autoptr (AttnTrace) trace = load_dates ();
  AttnRenderStyle style;
  AttnSelection sel;
  style_and_selection (&style, &sel, ATTN_KIND_CROSS, 1, ATTN_HEADS_MEAN);
  style.colormap = ATTN_COLORMAP_CIVIDIS;
  style.reversed = TRUE;
  style.scale = ATTN_SCALE_LOG;
  sel.hide_special = TRUE;
  sel.range_start = 2;
  sel.range_end = 7;

  g_autoptr (GPtrArray) f = attn_export_describe (ATTN_VIEW_HEATMAP, trace,
                                                  &sel, &style, "tester 1");
  static const char *const order[] = {
    "Title", "Software", "Model", "Architecture", "Source text",
    "Target text", "View", "Kind", "Layer", "Head", "Hidden", "Range",
    "Colormap", "Scale",
  };
  g_assert_cmpuint (f->len, ==, G_N_ELEMENTS (order));
  for (guint i = 0; i < f->len; i++)
    g_assert_cmpstr (((AttnExportField *) g_ptr_array_index (f, i))->key, ==,
                     order[i]);
  g_assert_cmpstr (lookup_field (f, "Title"), ==,
                   "Heatmap of cross attention, layer 1, head mean "
                   "(dates-transformer)");
  g_assert_cmpstr (lookup_field (f, "Software"), ==, "tester 1");
  g_assert_cmpstr (lookup_field (f, "Model"), ==, "dates-transformer");
  g_assert_cmpstr (lookup_field (f, "Source text"), ==, "23 Nov 2026");
  g_assert_cmpstr (lookup_field (f, "Target text"), ==, "2026-11-23");
  g_assert_cmpstr (lookup_field (f, "View"), ==, "heatmap");
  g_assert_cmpstr (lookup_field (f, "Head"), ==, "mean");
  g_assert_cmpstr (lookup_field (f, "Hidden"), ==,
                   "special tokens, rows renormalised");
  g_assert_cmpstr (lookup_field (f, "Range"), ==, "2:7");
  g_assert_cmpstr (lookup_field (f, "Colormap"), ==, "cividis (reversed)");
  g_assert_cmpstr (lookup_field (f, "Scale"), ==, "logarithmic");

  /* Head view: a subset of heads; model view: every layer and head; step
   * view: the step. */
  sel.hide_special = FALSE;
  sel.range_start = sel.range_end = -1;
  sel.head_subset = (1u << 0) | (1u << 3);
  g_autoptr (GPtrArray) fh = attn_export_describe (ATTN_VIEW_HEADS, trace,
                                                   &sel, &style, NULL);
  g_assert_cmpstr (lookup_field (fh, "Head"), ==, "0, 3");
  g_assert_cmpstr (lookup_field (fh, "Software"), ==, "Attnscope");
  g_assert_null (lookup_field (fh, "Hidden"));
  g_assert_null (lookup_field (fh, "Range"));
  g_assert_null (lookup_field (fh, "Step"));
  g_autoptr (GPtrArray) fm = attn_export_describe (ATTN_VIEW_MODEL, trace,
                                                   &sel, &style, NULL);
  g_assert_cmpstr (lookup_field (fm, "Layer"), ==, "all");
  g_assert_cmpstr (lookup_field (fm, "Head"), ==, "all");
  sel.step = 4;
  sel.head = 2;
  g_autoptr (GPtrArray) fs = attn_export_describe (ATTN_VIEW_STEP, trace,
                                                   &sel, &style, NULL);
  g_assert_cmpstr (lookup_field (fs, "Step"), ==, "4");
  g_assert_cmpstr (lookup_field (fs, "Head"), ==, "2");

  /* Control characters cannot go into XML 1.0: they are shown as their
   * pictures, in every format alike. */
  g_free (trace->model_name);
  trace->model_name = g_strdup ("a\tb\x01");
  g_autoptr (GPtrArray) fc = attn_export_describe (ATTN_VIEW_HEATMAP, trace,
                                                   &sel, &style, NULL);
  g_assert_cmpstr (lookup_field (fc, "Model"), ==, "a␉b␁");
  attn_render_style_clear (&style);
}

/* ---- PNG ------------------------------------------------------------------ */

/* Bitwise CRC-32 of PNG (ISO 3309), independent of the writer's table. */
static guint32
crc_bitwise (const guint8 *p, gsize n)
{
  guint32 c = 0xffffffffu;
  for (gsize i = 0; i < n; i++)
    {
      c ^= p[i];
      for (int k = 0; k < 8; k++)
        c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
  return ~c;
}

static guint32
be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16)
         | ((guint32) p[2] << 8) | p[3];
}

typedef struct {
  char type[5];
  GBytes *data;
} PngChunk;

static void
png_chunk_free (gpointer p)
{
  PngChunk *c = p;
  g_bytes_unref (c->data);
  g_free (c);
}

/* Every chunk of the file, in order, after checking the signature, each
 * length and CRC, and that the last is IEND. */
static GPtrArray *
read_png_chunks (const char *path)
{
  g_autofree char *contents = NULL;
  gsize n = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents (path, &contents, &n, &error));
  g_assert_no_error (error);
  const guint8 *p = (const guint8 *) contents;
  static const guint8 sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
                                 '\n' };
  g_assert_cmpuint (n, >, 8);
  g_assert_cmpmem (p, 8, sig, 8);
  GPtrArray *chunks = g_ptr_array_new_with_free_func (png_chunk_free);
  gsize at = 8;
  while (at < n)
    {
      g_assert_cmpuint (n - at, >=, 12);
      guint32 len = be32 (p + at);
      g_assert_cmpuint (len, <=, n - at - 12);
      guint32 crc = be32 (p + at + 8 + len);
      g_assert_cmphex (crc, ==, crc_bitwise (p + at + 4, len + 4));
      PngChunk *c = g_new0 (PngChunk, 1);
      memcpy (c->type, p + at + 4, 4);
      c->data = g_bytes_new (p + at + 8, len);
      g_ptr_array_add (chunks, c);
      at += 12 + len;
    }
  g_assert_cmpuint (at, ==, n);
  g_assert_cmpuint (chunks->len, >=, 3);
  g_assert_cmpstr (((PngChunk *) g_ptr_array_index (chunks, 0))->type, ==,
                   "IHDR");
  g_assert_cmpstr (
    ((PngChunk *) g_ptr_array_index (chunks, chunks->len - 1))->type, ==,
    "IEND");
  return chunks;
}

/* The text of keyword `key` from a tEXt (Latin-1, returned as UTF-8) or
 * iTXt chunk; *itxt says which. NULL when absent; a key twice fails. */
static char *
png_text (GPtrArray *chunks, const char *key, gboolean *itxt)
{
  char *found = NULL;
  for (guint i = 0; i < chunks->len; i++)
    {
      PngChunk *c = g_ptr_array_index (chunks, i);
      gboolean is_t = strcmp (c->type, "tEXt") == 0;
      gboolean is_i = strcmp (c->type, "iTXt") == 0;
      if (!is_t && !is_i)
        continue;
      gsize n = 0;
      const char *d = g_bytes_get_data (c->data, &n);
      gsize klen = strnlen (d, n);
      g_assert_cmpuint (klen, >=, 1);
      g_assert_cmpuint (klen, <=, 79);
      g_assert_cmpuint (klen, <, n);
      if (klen != strlen (key) || memcmp (d, key, klen) != 0)
        continue;
      g_assert_null (found);
      const char *v = d + klen + 1;
      gsize vlen = n - klen - 1;
      if (is_t)
        {
          g_assert_null (memchr (v, 0, vlen));
          found = g_convert (v, vlen, "UTF-8", "ISO-8859-1", NULL, NULL,
                             NULL);
        }
      else
        {
          /* compression flag 0, method 0, empty language, empty
           * translated keyword, then UTF-8 */
          g_assert_cmpuint (vlen, >=, 4);
          g_assert_cmpmem (v, 4, "\0\0\0\0", 4);
          found = g_strndup (v + 4, vlen - 4);
          g_assert_true (g_utf8_validate (found, -1, NULL));
        }
      *itxt = is_i;
    }
  return found;
}

static void
assert_png_text (GPtrArray *chunks, const char *key, const char *want,
                 gboolean want_itxt)
{
  gboolean itxt = FALSE;
  g_autofree char *got = png_text (chunks, key, &itxt);
  g_assert_cmpstr (got, ==, want);
  g_assert_cmpint (itxt, ==, want_itxt);
}

static void
export_ok (AttnViewKind view, const AttnTrace *trace,
           const AttnSelection *sel, const AttnRenderStyle *style,
           const AttnExportOptions *o, const char *path)
{
  g_autoptr (GError) error = NULL;
  gboolean ok = attn_export_view (view, trace, sel, style, o, path, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
}

static void
test_png (void)
{
  g_autoptr (AttnTrace) trace = load_dates ();
  AttnRenderStyle style;
  AttnSelection sel;
  style_and_selection (&style, &sel, ATTN_KIND_CROSS, 1, 2);
  style.colormap = ATTN_COLORMAP_MAGMA;
  AttnExportOptions o;
  attn_export_options_init (&o);
  g_assert_true (attn_length_parse ("4in", &o.width, NULL));
  g_assert_true (attn_length_parse ("3in", &o.height, NULL));
  o.dpi = 150;
  o.creator = "test-export";
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-export-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "cross.png", NULL);
  export_ok (ATTN_VIEW_HEATMAP, trace, &sel, &style, &o, path);

  g_autoptr (GPtrArray) chunks = read_png_chunks (path);
  gsize n = 0;
  PngChunk *ihdr = g_ptr_array_index (chunks, 0);
  const guint8 *h = g_bytes_get_data (ihdr->data, &n);
  g_assert_cmpuint (n, ==, 13);
  g_assert_cmpuint (be32 (h), ==, 600); /* 4 in at 150 dpi */
  g_assert_cmpuint (be32 (h + 4), ==, 450);

  /* pHYs right after IHDR, once: 150 dpi = 5905.5 -> 5906 pixels per
   * metre, unit 1 (metre). */
  PngChunk *phys = g_ptr_array_index (chunks, 1);
  g_assert_cmpstr (phys->type, ==, "pHYs");
  const guint8 *ph = g_bytes_get_data (phys->data, &n);
  g_assert_cmpuint (n, ==, 9);
  g_assert_cmpuint (be32 (ph), ==, 5906);
  g_assert_cmpuint (be32 (ph + 4), ==, 5906);
  g_assert_cmpuint (ph[8], ==, 1);
  guint n_phys = 0, n_text = 0;
  for (guint i = 0; i < chunks->len; i++)
    {
      PngChunk *c = g_ptr_array_index (chunks, i);
      n_phys += strcmp (c->type, "pHYs") == 0;
      n_text += strcmp (c->type, "tEXt") == 0 || strcmp (c->type, "iTXt") == 0;
      /* Text chunks come before the image data. */
      if (strcmp (c->type, "IDAT") == 0)
        g_assert_cmpuint (n_text, >, 0);
    }
  g_assert_cmpuint (n_phys, ==, 1);

  assert_png_text (chunks, "Title",
                   "Heatmap of cross attention, layer 1, head 2 "
                   "(dates-transformer)", FALSE);
  assert_png_text (chunks, "Software", "test-export", FALSE);
  assert_png_text (chunks, "Model", "dates-transformer", FALSE);
  assert_png_text (chunks, "Source text", "23 Nov 2026", FALSE);
  assert_png_text (chunks, "Target text", "2026-11-23", FALSE);
  assert_png_text (chunks, "View", "heatmap", FALSE);
  assert_png_text (chunks, "Kind", "cross", FALSE);
  assert_png_text (chunks, "Layer", "1", FALSE);
  assert_png_text (chunks, "Head", "2", FALSE);
  assert_png_text (chunks, "Colormap", "magma", FALSE);
  assert_png_text (chunks, "Scale", "fixed [0, 1]", FALSE);
  g_assert_cmpuint (n_text, ==, 12);

  /* libpng (through Cairo) decodes it at the same size. */
  cairo_surface_t *img = cairo_image_surface_create_from_png (path);
  g_assert_cmpint (cairo_surface_status (img), ==, CAIRO_STATUS_SUCCESS);
  g_assert_cmpint (cairo_image_surface_get_width (img), ==, 600);
  g_assert_cmpint (cairo_image_surface_get_height (img), ==, 450);
  cairo_surface_destroy (img);

  g_autofree char *left = attn_test_list_dir (dir);
  g_assert_cmpstr (left, ==, "cross.png");
  attn_test_tmp_dir_remove (dir);
  attn_render_style_clear (&style);
}

/* A value Latin-1 cannot hold goes to iTXt as UTF-8; one it can (é) to
 * tEXt as Latin-1. */
static void
test_png_utf8 (void)
{
  g_autoptr (AttnTrace) trace = make_intl_trace ();
  AttnRenderStyle style;
  AttnSelection sel;
  style_and_selection (&style, &sel, ATTN_KIND_CROSS, 0, 0);
  AttnExportOptions o;
  attn_export_options_init (&o);
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-export-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "intl.png", NULL);
  export_ok (ATTN_VIEW_HEATMAP, trace, &sel, &style, &o, path);
  g_autoptr (GPtrArray) chunks = read_png_chunks (path);
  assert_png_text (chunks, "Source text", INTL_SOURCE, TRUE);
  assert_png_text (chunks, "Target text", INTL_TARGET, FALSE);
  assert_png_text (chunks, "Model", "intl <test>", FALSE);
  /* é as the single Latin-1 byte 0xE9 */
  for (guint i = 0; i < chunks->len; i++)
    {
      PngChunk *c = g_ptr_array_index (chunks, i);
      gsize n = 0;
      const char *d = g_bytes_get_data (c->data, &n);
      if (strcmp (c->type, "tEXt") == 0 && strcmp (d, "Target text") == 0)
        g_assert_cmpmem (d + 12, n - 12, "caf\xe9", 4);
    }
  /* The default DPI: 96 = 3779.5 -> 3780 pixels per metre. */
  PngChunk *phys = g_ptr_array_index (chunks, 1);
  g_assert_cmpuint (be32 (g_bytes_get_data (phys->data, NULL)), ==, 3780);
  attn_test_tmp_dir_remove (dir);
  attn_render_style_clear (&style);
}

/* What you see is what you export: at 96 dpi the PNG has exactly the
 * pixels of the view drawn straight onto an image surface. */
static void
test_png_matches_screen (void)
{
  g_autoptr (AttnTrace) trace = load_dates ();
  AttnRenderStyle style;
  AttnSelection sel;
  style_and_selection (&style, &sel, ATTN_KIND_ENCODER_SELF, 0, 1);
  AttnExportOptions o;
  attn_export_options_init (&o);
  g_assert_true (attn_length_parse ("640", &o.width, NULL));
  g_assert_true (attn_length_parse ("480", &o.height, NULL));
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-export-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "enc.png", NULL);
  export_ok (ATTN_VIEW_HEATMAP, trace, &sel, &style, &o, path);

  cairo_surface_t *direct = cairo_image_surface_create (CAIRO_FORMAT_ARGB32,
                                                        640, 480);
  cairo_t *cr = cairo_create (direct);
  const AttnRgba *bg = &style.background;
  cairo_set_source_rgba (cr, bg->r, bg->g, bg->b, bg->a);
  cairo_paint (cr);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_view_render (ATTN_VIEW_HEATMAP, cr, trace, &sel,
                                   &style, 640, 480, &error));
  g_assert_no_error (error);
  cairo_destroy (cr);
  cairo_surface_flush (direct);

  cairo_surface_t *file = cairo_image_surface_create_from_png (path);
  g_assert_cmpint (cairo_surface_status (file), ==, CAIRO_STATUS_SUCCESS);
  cairo_surface_flush (file);
  int stride_a = cairo_image_surface_get_stride (direct);
  int stride_b = cairo_image_surface_get_stride (file);
  const guint8 *a = cairo_image_surface_get_data (direct);
  const guint8 *b = cairo_image_surface_get_data (file);
  guint differing = 0, non_background = 0;
  guint32 bg_pixel = *(const guint32 *) a;
  for (int y = 0; y < 480; y++)
    for (int x = 0; x < 640; x++)
      {
        guint32 pa = *(const guint32 *) (a + y * stride_a + 4 * x);
        guint32 pb = *(const guint32 *) (b + y * stride_b + 4 * x);
        differing += pa != pb;
        non_background += pa != bg_pixel;
      }
  g_assert_cmpuint (differing, ==, 0);
  /* ... and the view did draw: most of it is not background. */
  g_assert_cmpuint (non_background, >, 640 * 480 / 4);
  cairo_surface_destroy (direct);
  cairo_surface_destroy (file);
  attn_test_tmp_dir_remove (dir);
  attn_render_style_clear (&style);
}

/* ---- SVG ------------------------------------------------------------------ */

typedef struct {
  char *root;         /* name of the root element */
  char *width, *height, *view_box;
  GString *text;      /* text of the element being read */
  GSList *stack;      /* of element names (borrowed from GMarkup) */
  GHashTable *fields; /* attnscope:field name -> text */
  char *title;        /* <title> directly under <svg> */
  char *dc_title, *dc_description;
  char *field_name;
  guint n_metadata;
} SvgInfo;

static void
svg_start (GMarkupParseContext *ctx, const char *name, const char **names,
           const char **values, gpointer data, GError **error)
{
  SvgInfo *s = data;
  if (s->root == NULL)
    {
      s->root = g_strdup (name);
      for (int i = 0; names[i] != NULL; i++)
        {
          if (strcmp (names[i], "width") == 0)
            s->width = g_strdup (values[i]);
          else if (strcmp (names[i], "height") == 0)
            s->height = g_strdup (values[i]);
          else if (strcmp (names[i], "viewBox") == 0)
            s->view_box = g_strdup (values[i]);
        }
    }
  if (strcmp (name, "metadata") == 0)
    s->n_metadata++;
  if (strcmp (name, "attnscope:field") == 0)
    for (int i = 0; names[i] != NULL; i++)
      if (strcmp (names[i], "name") == 0)
        s->field_name = g_strdup (values[i]);
  s->stack = g_slist_prepend (s->stack, (gpointer) name);
  g_string_truncate (s->text, 0);
}

static void
svg_end (GMarkupParseContext *ctx, const char *name, gpointer data,
         GError **error)
{
  SvgInfo *s = data;
  const char *parent = s->stack->next != NULL ? s->stack->next->data : NULL;
  if (strcmp (name, "title") == 0 && g_strcmp0 (parent, "svg") == 0)
    s->title = g_strdup (s->text->str);
  else if (strcmp (name, "dc:title") == 0)
    s->dc_title = g_strdup (s->text->str);
  else if (strcmp (name, "dc:description") == 0)
    s->dc_description = g_strdup (s->text->str);
  else if (strcmp (name, "attnscope:field") == 0)
    g_hash_table_insert (s->fields, g_steal_pointer (&s->field_name),
                         g_strdup (s->text->str));
  s->stack = g_slist_delete_link (s->stack, s->stack);
}

static void
svg_text (GMarkupParseContext *ctx, const char *text, gsize len,
          gpointer data, GError **error)
{
  SvgInfo *s = data;
  g_string_append_len (s->text, text, len);
}

static void
svg_info_clear (SvgInfo *s)
{
  g_free (s->root);
  g_free (s->width);
  g_free (s->height);
  g_free (s->view_box);
  g_string_free (s->text, TRUE);
  g_slist_free (s->stack);
  g_hash_table_unref (s->fields);
  g_free (s->title);
  g_free (s->dc_title);
  g_free (s->dc_description);
  g_free (s->field_name);
}

/* Parses the whole file as XML (GMarkup refuses what is not well formed). */
static void
read_svg (const char *path, SvgInfo *s)
{
  g_autofree char *contents = NULL;
  gsize n = 0;
  g_assert_true (g_file_get_contents (path, &contents, &n, NULL));
  *s = (SvgInfo){ 0 };
  s->text = g_string_new (NULL);
  s->fields = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  static const GMarkupParser parser = { svg_start, svg_end, svg_text, NULL,
                                        NULL };
  GMarkupParseContext *ctx = g_markup_parse_context_new (&parser, 0, s,
                                                         NULL);
  g_autoptr (GError) error = NULL;
  gboolean ok = g_markup_parse_context_parse (ctx, contents, n, &error)
                && g_markup_parse_context_end_parse (ctx, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_markup_parse_context_free (ctx);
  g_assert_cmpstr (s->root, ==, "svg");
}

static void
test_svg (void)
{
  g_autoptr (AttnTrace) trace = make_intl_trace ();
  AttnRenderStyle style;
  AttnSelection sel;
  style_and_selection (&style, &sel, ATTN_KIND_ENCODER_SELF, 0, 0);
  style.colormap = ATTN_COLORMAP_GREY;
  AttnExportOptions o;
  attn_export_options_init (&o);
  g_assert_true (attn_length_parse ("10cm", &o.width, NULL));
  g_assert_true (attn_length_parse ("7.5cm", &o.height, NULL));
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-export-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "enc.svg", NULL);
  export_ok (ATTN_VIEW_HEATMAP, trace, &sel, &style, &o, path);

  SvgInfo s;
  read_svg (path, &s);
  /* 10 cm = 283.46 pt, 7.5 cm = 212.6 pt. */
  g_assert_true (g_str_has_suffix (s.width, "pt"));
  g_assert_true (g_str_has_suffix (s.height, "pt"));
  g_assert_cmpfloat_with_epsilon (g_ascii_strtod (s.width, NULL),
                                  10 / 2.54 * 72, 0.01);
  g_assert_cmpfloat_with_epsilon (g_ascii_strtod (s.height, NULL),
                                  7.5 / 2.54 * 72, 0.01);
  g_assert_cmpuint (s.n_metadata, ==, 1);
  const char *title = "Heatmap of encoder-self attention, layer 0, head 0 "
                      "(intl <test>)";
  g_assert_cmpstr (s.title, ==, title);
  g_assert_cmpstr (s.dc_title, ==, title);
  g_assert_cmpstr (s.dc_description, ==, INTL_SOURCE " → " INTL_TARGET);
  g_assert_cmpstr (g_hash_table_lookup (s.fields, "Model"), ==,
                   "intl <test>");
  g_assert_cmpstr (g_hash_table_lookup (s.fields, "Source text"), ==,
                   INTL_SOURCE);
  g_assert_cmpstr (g_hash_table_lookup (s.fields, "Target text"), ==,
                   INTL_TARGET);
  g_assert_cmpstr (g_hash_table_lookup (s.fields, "View"), ==, "heatmap");
  g_assert_cmpstr (g_hash_table_lookup (s.fields, "Kind"), ==,
                   "encoder-self");
  g_assert_cmpstr (g_hash_table_lookup (s.fields, "Layer"), ==, "0");
  g_assert_cmpstr (g_hash_table_lookup (s.fields, "Head"), ==, "0");
  g_assert_cmpstr (g_hash_table_lookup (s.fields, "Colormap"), ==, "grey");
  svg_info_clear (&s);

  /* A size in px stays px. */
  attn_export_options_init (&o);
  g_autofree char *px = g_build_filename (dir, "px.svg", NULL);
  export_ok (ATTN_VIEW_HEATMAP, trace, &sel, &style, &o, px);
  read_svg (px, &s);
  g_assert_cmpstr (s.width, ==, "800px");
  g_assert_cmpstr (s.height, ==, "600px");
  g_assert_cmpstr (s.view_box, ==, "0 0 800 600");
  svg_info_clear (&s);
  attn_test_tmp_dir_remove (dir);
  attn_render_style_clear (&style);
}

/* ---- PDF (poppler-utils) ---------------------------------------------------- */

/* Runs argv; returns its stdout, or NULL after g_test_skip when the tool
 * is not installed (tools/deps.sh installs poppler-utils). Fails the test
 * on a non-zero exit. */
static char *
run_tool (const char *const *argv)
{
  g_autofree char *prog = g_find_program_in_path (argv[0]);
  if (prog == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("%s not installed "
                                              "(poppler-utils)", argv[0]);
      g_test_skip (msg);
      return NULL;
    }
  char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;
  g_autoptr (GError) error = NULL;
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("%s failed: %s", argv[0], err);
  return out;
}

/* The value of "Key:" in pdfinfo's output, stripped. */
static char *
pdfinfo_value (const char *info, const char *key)
{
  g_auto (GStrv) lines = g_strsplit (info, "\n", -1);
  g_autofree char *prefix = g_strconcat (key, ":", NULL);
  for (int i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix))
      return g_strstrip (g_strdup (lines[i] + strlen (prefix)));
  return NULL;
}

static void
test_pdf (void)
{
  g_autoptr (AttnTrace) trace = make_intl_trace ();
  AttnRenderStyle style;
  AttnSelection sel;
  style_and_selection (&style, &sel, ATTN_KIND_CROSS, 0, 0);
  AttnExportOptions o;
  attn_export_options_init (&o);
  g_assert_true (attn_length_parse ("12cm", &o.width, NULL));
  g_assert_true (attn_length_parse ("9cm", &o.height, NULL));
  o.creator = "test-export 1";
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-export-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "cross.pdf", NULL);
  export_ok (ATTN_VIEW_HEATMAP, trace, &sel, &style, &o, path);

  const char *info_argv[] = { "pdfinfo", "-enc", "UTF-8", path, NULL };
  g_autofree char *info = run_tool (info_argv);
  if (info == NULL)
    {
      attn_test_tmp_dir_remove (dir);
      attn_render_style_clear (&style);
      return;
    }
  g_autofree char *title = pdfinfo_value (info, "Title");
  g_autofree char *subject = pdfinfo_value (info, "Subject");
  g_autofree char *keywords = pdfinfo_value (info, "Keywords");
  g_autofree char *creator = pdfinfo_value (info, "Creator");
  g_autofree char *pages = pdfinfo_value (info, "Pages");
  g_autofree char *size = pdfinfo_value (info, "Page size");
  g_assert_cmpstr (title, ==,
                   "Heatmap of cross attention, layer 0, head 0 "
                   "(intl <test>)");
  g_assert_cmpstr (subject, ==, INTL_SOURCE " → " INTL_TARGET);
  g_assert_cmpstr (creator, ==, "test-export 1");
  g_assert_nonnull (strstr (keywords, "Model: intl <test>"));
  g_assert_nonnull (strstr (keywords, "View: heatmap; Kind: cross; Layer: "
                                      "0; Head: 0"));
  g_assert_nonnull (strstr (keywords, "Colormap: viridis"));
  g_assert_cmpstr (pages, ==, "1");
  /* 12 x 9 cm = 340.157 x 255.118 pt */
  g_assert_true (g_str_has_prefix (size, "340.157 x 255.118 pts"));

  /* poppler draws it: 12 cm at 24 dpi is 113 or 114 pixels wide. */
  g_autofree char *prefix = g_build_filename (dir, "page", NULL);
  const char *ppm_argv[] = { "pdftoppm", "-r", "24", "-png", "-singlefile",
                             path, prefix, NULL };
  g_autofree char *ppm_out = run_tool (ppm_argv);
  g_autofree char *png = g_strconcat (prefix, ".png", NULL);
  cairo_surface_t *img = cairo_image_surface_create_from_png (png);
  g_assert_cmpint (cairo_surface_status (img), ==, CAIRO_STATUS_SUCCESS);
  g_assert_cmpint (cairo_image_surface_get_width (img), >=, 113);
  g_assert_cmpint (cairo_image_surface_get_width (img), <=, 114);
  cairo_surface_destroy (img);
  attn_test_tmp_dir_remove (dir);
  attn_render_style_clear (&style);
}

static void
test_atlas (void)
{
  g_autoptr (AttnTrace) trace = load_dates ();
  AttnRenderStyle style;
  attn_render_style_init (&style, ATTN_THEME_LIGHT);
  AttnExportOptions o;
  attn_export_options_init (&o);
  g_assert_true (attn_length_parse ("16cm", &o.width, NULL));
  g_assert_true (attn_length_parse ("12cm", &o.height, NULL));
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-export-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "atlas.pdf", NULL);

  /* 3 kinds x 2 layers x 4 heads */
  g_assert_cmpint (attn_export_atlas_n_pages (trace, -1), ==, 24);
  g_assert_cmpint (attn_export_atlas_n_pages (trace, ATTN_KIND_CROSS), ==,
                   8);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_export_atlas (trace, -1, NULL, &style, &o, path,
                                    &error));
  g_assert_no_error (error);

  const char *info_argv[] = { "pdfinfo", "-enc", "UTF-8", path, NULL };
  g_autofree char *info = run_tool (info_argv);
  if (info == NULL)
    {
      attn_test_tmp_dir_remove (dir);
      attn_render_style_clear (&style);
      return;
    }
  g_autofree char *pages = pdfinfo_value (info, "Pages");
  g_autofree char *title = pdfinfo_value (info, "Title");
  g_autofree char *keywords = pdfinfo_value (info, "Keywords");
  g_assert_cmpstr (pages, ==, "24");
  g_assert_cmpstr (title, ==, "Attention atlas of dates-transformer: every "
                              "head of every block");
  g_assert_nonnull (strstr (keywords, "Pages: 24"));
  g_assert_nonnull (strstr (keywords, "Source text: 23 Nov 2026"));

  /* Pages go kind by kind (encoder, decoder, cross), layer by layer, head
   * by head, each titled with what it shows: page 6 is encoder layer 1
   * head 1, page 24 cross layer 1 head 3. */
  static const struct {
    const char *page;
    AttnKind kind;
    int layer, head;
  } titled[] = {
    { "1", ATTN_KIND_ENCODER_SELF, 0, 0 },
    { "6", ATTN_KIND_ENCODER_SELF, 1, 1 },
    { "11", ATTN_KIND_DECODER_SELF, 0, 2 },
    { "24", ATTN_KIND_CROSS, 1, 3 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (titled); i++)
    {
      /* The view's own title names kind, layer and head. */
      g_autofree char *view_title = attn_text_block_title (
        titled[i].kind, titled[i].layer, titled[i].head, 4);
      g_autofree char *running = g_strdup_printf (
        "dates-transformer — 23 Nov 2026 → 2026-11-23 — page %s of 24",
        titled[i].page);
      const char *text_argv[] = { "pdftotext", "-enc", "UTF-8", "-f",
                                  titled[i].page, "-l", titled[i].page, path,
                                  "-", NULL };
      g_autofree char *text = run_tool (text_argv);
      if (text == NULL)
        break;
      g_assert_nonnull (strstr (text, view_title));
      g_assert_nonnull (strstr (text, running));
    }

  /* One kind only: its pages alone. */
  g_autofree char *cross = g_build_filename (dir, "cross.pdf", NULL);
  g_assert_true (attn_export_atlas (trace, ATTN_KIND_CROSS, NULL, &style, &o,
                                    cross, &error));
  g_assert_no_error (error);
  const char *cross_argv[] = { "pdfinfo", cross, NULL };
  g_autofree char *cross_info = run_tool (cross_argv);
  g_autofree char *cross_pages = pdfinfo_value (cross_info, "Pages");
  g_assert_cmpstr (cross_pages, ==, "8");

  /* poppler draws its last page. */
  g_autofree char *prefix = g_build_filename (dir, "last", NULL);
  const char *ppm_argv[] = { "pdftoppm", "-r", "20", "-png", "-singlefile",
                             "-f", "8", cross, prefix, NULL };
  g_autofree char *ppm_out = run_tool (ppm_argv);
  g_autofree char *png = g_strconcat (prefix, ".png", NULL);
  g_assert_true (g_file_test (png, G_FILE_TEST_IS_REGULAR));

  /* An atlas is PDF only. */
  g_autofree char *as_png = g_build_filename (dir, "atlas.png", NULL);
  g_assert_false (attn_export_atlas (trace, -1, NULL, &style, &o, as_png,
                                     &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "PDF only"));
  g_assert_false (g_file_test (as_png, G_FILE_TEST_EXISTS));
  attn_test_tmp_dir_remove (dir);
  attn_render_style_clear (&style);
}

/* ---- failures ------------------------------------------------------------- */

static const char *const formats[] = { "png", "svg", "pdf" };

/* A path whose parent is a regular file cannot be created, even by root
 * (../shared/NOTES.md): the error names the path, nothing is left. */
static void
test_unwritable (gconstpointer data)
{
  const char *suffix = data;
  g_autoptr (AttnTrace) trace = load_dates ();
  AttnRenderStyle style;
  AttnSelection sel;
  style_and_selection (&style, &sel, ATTN_KIND_CROSS, 0, 0);
  AttnExportOptions o;
  attn_export_options_init (&o);
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-export-XXXXXX");
  g_autofree char *file = g_build_filename (dir, "file", NULL);
  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  g_autofree char *name = g_strconcat ("out.", suffix, NULL);
  g_autofree char *path = g_build_filename (file, name, NULL);

  g_autoptr (GError) error = NULL;
  g_assert_false (attn_export_view (ATTN_VIEW_HEATMAP, trace, &sel, &style,
                                    &o, path, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_IO);
  g_autofree char *want = g_strdup_printf ("cannot write %s: ", path);
  g_assert_true (g_str_has_prefix (error->message, want));
  g_assert_nonnull (strstr (error->message, g_strerror (ENOTDIR)));
  g_autofree char *left = attn_test_list_dir (dir);
  g_assert_cmpstr (left, ==, "file");

  if (strcmp (suffix, "pdf") == 0)
    {
      g_clear_error (&error);
      g_assert_false (attn_export_atlas (trace, -1, NULL, &style, &o, path,
                                         &error));
      g_assert_error (error, ATTN_ERROR, ATTN_ERROR_IO);
      g_assert_true (g_str_has_prefix (error->message, want));
    }
  attn_test_tmp_dir_remove (dir);
  attn_render_style_clear (&style);
}

/* A selection the trace lacks, or an unknown suffix: an error, and an
 * existing file of that name is left as it was, with nothing beside it. */
static void
test_refused_keeps_existing (gconstpointer data)
{
  const char *suffix = data;
  g_autoptr (AttnTrace) trace = load_dates ();
  AttnRenderStyle style;
  AttnSelection sel;
  style_and_selection (&style, &sel, ATTN_KIND_CROSS, 5, 0);
  AttnExportOptions o;
  attn_export_options_init (&o);
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-export-XXXXXX");
  g_autofree char *name = g_strconcat ("out.", suffix, NULL);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_assert_true (g_file_set_contents (path, "keep me", -1, NULL));

  g_autoptr (GError) error = NULL;
  g_assert_false (attn_export_view (ATTN_VIEW_HEATMAP, trace, &sel, &style,
                                    &o, path, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "layer"));
  g_autofree char *contents = NULL;
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "keep me");
  g_autofree char *left = attn_test_list_dir (dir);
  g_assert_cmpstr (left, ==, name);

  /* A size out of range is refused before anything is drawn. */
  g_clear_error (&error);
  sel.layer = 0;
  g_assert_true (attn_length_parse ("20000", &o.width, NULL));
  g_assert_false (attn_export_view (ATTN_VIEW_HEATMAP, trace, &sel, &style,
                                    &o, path, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "keep me");

  /* Unknown suffix: the supported ones are listed. */
  g_clear_error (&error);
  attn_export_options_init (&o);
  g_autofree char *gif = g_build_filename (dir, "out.gif", NULL);
  g_assert_false (attn_export_view (ATTN_VIEW_HEATMAP, trace, &sel, &style,
                                    &o, gif, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "out.gif"));
  g_assert_nonnull (strstr (error->message,
                            "supported suffixes are .png, .svg and .pdf"));
  g_free (left);
  left = attn_test_list_dir (dir);
  g_assert_cmpstr (left, ==, name);

  /* A successful export replaces the file whole. */
  g_clear_error (&error);
  g_assert_true (attn_export_view (ATTN_VIEW_HEATMAP, trace, &sel, &style,
                                   &o, path, &error));
  g_assert_no_error (error);
  g_free (contents);
  gsize n = 0;
  g_assert_true (g_file_get_contents (path, &contents, &n, NULL));
  g_assert_cmpuint (n, >, 1000);
  g_free (left);
  left = attn_test_list_dir (dir);
  g_assert_cmpstr (left, ==, name);
  attn_test_tmp_dir_remove (dir);
  attn_render_style_clear (&style);
}

static void
test_write_file_mode (void)
{
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-export-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "f.bin", NULL);
  mode_t old = umask (022);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_export_write_file (path, "abc", 3, &error));
  umask (old);
  g_assert_no_error (error);
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  /* As readable as a file any program saves under that umask (mkstemp
   * alone would leave 0600). */
  g_assert_cmpint (st.st_mode & 0777, ==, 0644);
  g_assert_cmpint (st.st_size, ==, 3);
  attn_test_tmp_dir_remove (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (length_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/export/length/%u-%s", i,
                                               length_cases[i].ok ? "ok"
                                                                  : "bad");
      g_test_add_data_func (name, &length_cases[i], test_length_parse);
    }
  for (guint i = 0; i < G_N_ELEMENTS (geometry_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/export/geometry/%s",
                                               geometry_cases[i].name);
      g_test_add_data_func (name, &geometry_cases[i], test_geometry);
    }
  for (guint i = 0; i < G_N_ELEMENTS (suffix_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/export/suffix/%u", i);
      g_test_add_data_func (name, &suffix_cases[i], test_suffix);
    }
  g_test_add_func ("/attn/export/options-default", test_options_default);
  g_test_add_func ("/attn/export/describe", test_describe);
  g_test_add_func ("/attn/export/png", test_png);
  g_test_add_func ("/attn/export/png-utf8", test_png_utf8);
  g_test_add_func ("/attn/export/png-matches-screen",
                   test_png_matches_screen);
  g_test_add_func ("/attn/export/svg", test_svg);
  g_test_add_func ("/attn/export/pdf", test_pdf);
  g_test_add_func ("/attn/export/atlas", test_atlas);
  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      g_autofree char *a = g_strdup_printf ("/attn/export/unwritable/%s",
                                            formats[i]);
      g_test_add_data_func (a, formats[i], test_unwritable);
      g_autofree char *b = g_strdup_printf ("/attn/export/refused/%s",
                                            formats[i]);
      g_test_add_data_func (b, formats[i], test_refused_keeps_existing);
    }
  g_test_add_func ("/attn/export/write-file-mode", test_write_file_mode);
  return g_test_run ();
}
