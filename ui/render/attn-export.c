/* attn-export.c: views to PNG / SVG / PDF files with their metadata. */
#include "ui/render/attn-export.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <glib/gstdio.h>

#include "core/attn-error.h"
#include "ui/render/attn-text.h"

/* ---- formats and sizes ---------------------------------------------------- */

static const char *const format_suffixes[ATTN_EXPORT_N_FORMATS] = {
  [ATTN_EXPORT_PNG] = ".png",
  [ATTN_EXPORT_SVG] = ".svg",
  [ATTN_EXPORT_PDF] = ".pdf",
};

const char *
attn_export_format_suffix (AttnExportFormat format)
{
  g_return_val_if_fail ((guint) format < ATTN_EXPORT_N_FORMATS, NULL);
  return format_suffixes[format];
}

gboolean
attn_export_format_from_path (const char *path, AttnExportFormat *format,
                              GError **error)
{
  g_autofree char *base = g_path_get_basename (path);
  gsize len = strlen (base);
  for (guint f = 0; f < ATTN_EXPORT_N_FORMATS; f++)
    {
      gsize n = strlen (format_suffixes[f]);
      /* ".png" alone names no file. */
      if (len > n && g_ascii_strcasecmp (base + len - n, format_suffixes[f])
                       == 0)
        {
          *format = (AttnExportFormat) f;
          return TRUE;
        }
    }
  g_autofree char *shown = g_filename_display_name (path);
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
               "%s: cannot tell the image format from the suffix; supported "
               "suffixes are .png, .svg and .pdf", shown);
  return FALSE;
}

static const struct {
  const char *name;
  AttnUnit unit;
  double inches; /* one unit in inches; px has none of its own */
} units[] = {
  { "px", ATTN_UNIT_PX, 0.0 },
  { "pt", ATTN_UNIT_PT, 1.0 / 72.0 },
  { "mm", ATTN_UNIT_MM, 1.0 / 25.4 },
  { "cm", ATTN_UNIT_CM, 1.0 / 2.54 },
  { "in", ATTN_UNIT_IN, 1.0 },
};

gboolean
attn_length_parse (const char *str, AttnLength *length, GError **error)
{
  const char *unit = str;
  while (g_ascii_isdigit (*unit) || *unit == '.')
    unit++;
  g_autofree char *number = g_strndup (str, unit - str);
  char *end = NULL;
  double value = number[0] != '\0' ? g_ascii_strtod (number, &end) : 0.0;
  gboolean ok = number[0] != '\0' && end != NULL && *end == '\0'
                && isfinite (value) && value > 0.0 && value <= 100000.0;
  AttnUnit u = ATTN_UNIT_PX;
  if (ok && *unit != '\0')
    {
      ok = FALSE;
      for (guint i = 0; i < G_N_ELEMENTS (units); i++)
        if (g_ascii_strcasecmp (unit, units[i].name) == 0)
          {
            u = units[i].unit;
            ok = TRUE;
          }
    }
  if (!ok)
    {
      g_autofree char *shown = g_utf8_make_valid (str, -1);
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "“%s” is not a size: expected a positive number up to "
                   "100000, optionally followed by px, pt, mm, cm or in "
                   "(e.g. 800, 12cm, 4in)", shown);
      return FALSE;
    }
  length->value = value;
  length->unit = u;
  return TRUE;
}

void
attn_export_options_init (AttnExportOptions *options)
{
  *options = (AttnExportOptions){
    .width = { 800.0, ATTN_UNIT_PX },
    .height = { 600.0, ATTN_UNIT_PX },
    .dpi = 96.0,
    .creator = NULL,
  };
}

/* Layout units are CSS pixels: 1/96 inch. */
#define LAYOUT_DPI 96.0

static double
length_inches (const AttnLength *l, double dpi)
{
  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    if (units[i].unit == l->unit)
      return l->value * (l->unit == ATTN_UNIT_PX ? 1.0 / dpi
                                                 : units[i].inches);
  g_return_val_if_reached (0.0);
}

gboolean
attn_export_geometry (const AttnExportOptions *options,
                      AttnExportFormat format, AttnExportGeometry *g,
                      GError **error)
{
  double dpi = options->dpi;
  if (!(dpi >= 1.0 && dpi <= 2400.0))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "DPI %g out of range: expected 1 to 2400", dpi);
      return FALSE;
    }
  double w_in = length_inches (&options->width, dpi);
  double h_in = length_inches (&options->height, dpi);
  *g = (AttnExportGeometry){ 0 };

  if (format == ATTN_EXPORT_PNG)
    {
      /* A size in px is exact; a physical one rounds to whole pixels. */
      double pw = options->width.unit == ATTN_UNIT_PX ? options->width.value
                                                      : w_in * dpi;
      double ph = options->height.unit == ATTN_UNIT_PX
                    ? options->height.value
                    : h_in * dpi;
      pw = round (pw);
      ph = round (ph);
      if (pw < 16 || ph < 16 || pw > 16384 || ph > 16384)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                       "a PNG of %.0f x %.0f pixels is out of range: each "
                       "side must be 16 to 16384 pixels", pw, ph);
          return FALSE;
        }
      g->pixel_width = (int) pw;
      g->pixel_height = (int) ph;
      g->page_width = pw;
      g->page_height = ph;
      g->scale = dpi / LAYOUT_DPI;
      g->layout_width = pw / g->scale;
      g->layout_height = ph / g->scale;
      return TRUE;
    }

  double pt_w = w_in * 72.0, pt_h = h_in * 72.0;
  if (pt_w < 16 || pt_h < 16 || pt_w > 14400 || pt_h > 14400)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "a page of %.0f x %.0f points (%.1f x %.1f cm) is out of "
                   "range: each side must be 16 to 14400 points", pt_w, pt_h,
                   w_in * 2.54, h_in * 2.54);
      return FALSE;
    }
  gboolean svg_px = format == ATTN_EXPORT_SVG
                    && options->width.unit == ATTN_UNIT_PX
                    && options->height.unit == ATTN_UNIT_PX;
  if (svg_px)
    {
      /* The SVG keeps the pixel size the user asked for. */
      g->page_width = options->width.value;
      g->page_height = options->height.value;
      g->scale = 1.0;
    }
  else
    {
      g->page_width = pt_w;
      g->page_height = pt_h;
      g->scale = 72.0 / LAYOUT_DPI;
    }
  g->layout_width = g->page_width / g->scale;
  g->layout_height = g->page_height / g->scale;
  return TRUE;
}

/* ---- what a file shows ---------------------------------------------------- */

static void
field_free (gpointer p)
{
  AttnExportField *f = p;
  g_free (f->key);
  g_free (f->value);
  g_free (f);
}

/* Control characters become their U+2400 pictures (tab and newline too):
 * XML 1.0 cannot carry them, and PNG text should not. */
static char *
clean_value (const char *value)
{
  g_autofree char *valid = g_utf8_make_valid (value, -1);
  GString *s = g_string_new (NULL);
  for (const char *p = valid; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (c < 0x20)
        g_string_append_unichar (s, 0x2400 + c);
      else if (c == 0x7f)
        g_string_append_unichar (s, 0x2421);
      else if (c >= 0x80 && c < 0xa0)
        g_string_append_unichar (s, 0xfffd);
      else
        g_string_append_unichar (s, c);
    }
  return g_string_free (s, FALSE);
}

static void
add_field (GPtrArray *fields, const char *key, const char *value)
{
  AttnExportField *f = g_new (AttnExportField, 1);
  f->key = g_strdup (key);
  f->value = clean_value (value);
  g_ptr_array_add (fields, f);
}

static const char *
view_title (AttnViewKind view)
{
  switch (view)
    {
    case ATTN_VIEW_HEATMAP:
      return "Heatmap";
    case ATTN_VIEW_ALIGNMENT:
      return "Alignment";
    case ATTN_VIEW_HEADS:
      return "Head view";
    case ATTN_VIEW_MODEL:
      return "Model view";
    case ATTN_VIEW_STEP:
      return "Step view";
    }
  g_return_val_if_reached ("View");
}

static char *
describe_head (AttnViewKind view, const AttnSelection *sel)
{
  if (view == ATTN_VIEW_MODEL)
    return g_strdup ("all");
  if (view == ATTN_VIEW_HEADS)
    {
      if (sel->head_subset == 0)
        return g_strdup ("all");
      GString *s = g_string_new (NULL);
      for (int h = 0; h < 64; h++)
        if (sel->head_subset & (G_GUINT64_CONSTANT (1) << h))
          g_string_append_printf (s, s->len ? ", %d" : "%d", h);
      return g_string_free (s, FALSE);
    }
  if (sel->head == ATTN_HEADS_MEAN)
    return g_strdup ("mean");
  if (sel->head == ATTN_HEADS_MAX)
    return g_strdup ("max");
  return g_strdup_printf ("%d", sel->head);
}

static void
add_trace_fields (GPtrArray *fields, const AttnTrace *trace)
{
  add_field (fields, "Model", trace->model_name);
  add_field (fields, "Architecture", trace->architecture);
  if (attn_trace_n_tokens (trace, ATTN_SIDE_SOURCE) > 0
      || trace->source_text[0] != '\0')
    add_field (fields, "Source text", trace->source_text);
  add_field (fields, "Target text", trace->target_text);
}

static void
add_style_fields (GPtrArray *fields, const AttnRenderStyle *style)
{
  g_autofree char *cmap = g_strdup_printf (
    "%s%s", attn_colormap_to_name (style->colormap),
    style->reversed ? " (reversed)" : "");
  add_field (fields, "Colormap", cmap);
  static const char *const scales[] = { "fixed [0, 1]", "matrix maximum",
                                        "logarithmic" };
  add_field (fields, "Scale",
             (guint) style->scale < G_N_ELEMENTS (scales)
               ? scales[style->scale]
               : "unknown");
}

GPtrArray *
attn_export_describe (AttnViewKind view, const AttnTrace *trace,
                      const AttnSelection *sel, const AttnRenderStyle *style,
                      const char *creator)
{
  GPtrArray *fields = g_ptr_array_new_with_free_func (field_free);
  const char *kind = attn_kind_to_string (sel->kind);
  g_autofree char *head = describe_head (view, sel);
  g_autofree char *layer = view == ATTN_VIEW_MODEL
                             ? g_strdup ("all")
                             : g_strdup_printf ("%d", sel->layer);

  g_autofree char *title = NULL;
  if (view == ATTN_VIEW_MODEL)
    title = g_strdup_printf ("%s of %s attention, every layer and head (%s)",
                             view_title (view), kind, trace->model_name);
  else if (view == ATTN_VIEW_STEP)
    title = g_strdup_printf ("%s of step %d, %s attention, layer %s, head %s "
                             "(%s)", view_title (view), sel->step, kind,
                             layer, head, trace->model_name);
  else
    title = g_strdup_printf ("%s of %s attention, layer %s, head%s %s (%s)",
                             view_title (view), kind, layer,
                             view == ATTN_VIEW_HEADS ? "s" : "", head,
                             trace->model_name);
  add_field (fields, "Title", title);
  add_field (fields, "Software", creator != NULL ? creator : "Attnscope");
  add_trace_fields (fields, trace);
  add_field (fields, "View", attn_view_kind_to_string (view));
  add_field (fields, "Kind", kind);
  add_field (fields, "Layer", layer);
  add_field (fields, "Head", head);
  if (view == ATTN_VIEW_STEP)
    {
      g_autofree char *step = g_strdup_printf ("%d", sel->step);
      add_field (fields, "Step", step);
    }
  if (sel->hide_special || sel->hide_sink)
    add_field (fields, "Hidden",
               sel->hide_special && sel->hide_sink
                 ? "special tokens and the first key, rows renormalised"
               : sel->hide_special ? "special tokens, rows renormalised"
                                   : "the first key, rows renormalised");
  if (sel->range_start >= 0 && sel->range_end >= 0)
    {
      g_autofree char *range = g_strdup_printf ("%d:%d", sel->range_start,
                                                sel->range_end);
      add_field (fields, "Range", range);
    }
  add_style_fields (fields, style);
  return fields;
}

static const char *
field_value (GPtrArray *fields, const char *key)
{
  for (guint i = 0; i < fields->len; i++)
    {
      const AttnExportField *f = g_ptr_array_index (fields, i);
      if (strcmp (f->key, key) == 0)
        return f->value;
    }
  return NULL;
}

/* "Model: x; View: heatmap; ...": every field but the title and software,
 * as PDF keywords. */
static char *
fields_as_keywords (GPtrArray *fields)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < fields->len; i++)
    {
      const AttnExportField *f = g_ptr_array_index (fields, i);
      if (strcmp (f->key, "Title") == 0 || strcmp (f->key, "Software") == 0)
        continue;
      g_string_append_printf (s, "%s%s: %s", s->len ? "; " : "", f->key,
                              f->value);
    }
  return g_string_free (s, FALSE);
}

/* The PDF subject and SVG description: what went in and what came out. */
static char *
fields_subject (GPtrArray *fields)
{
  const char *src = field_value (fields, "Source text");
  const char *tgt = field_value (fields, "Target text");
  if (src != NULL)
    return g_strdup_printf ("%s → %s", src, tgt);
  return g_strdup (tgt);
}

/* ---- writing files ---------------------------------------------------------- */

static gboolean
write_all (int fd, const guint8 *p, gsize n)
{
  while (n > 0)
    {
      gssize w = write (fd, p, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return FALSE;
      p += w;
      n -= (gsize) w;
    }
  return TRUE;
}

gboolean
attn_export_write_file (const char *path, const void *data, gsize len,
                        GError **error)
{
  g_autofree char *shown = g_filename_display_name (path);
  g_autofree char *tmp = g_strconcat (path, ".XXXXXX", NULL);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0666);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "cannot write %s: %s",
                   shown, g_strerror (saved));
      return FALSE;
    }
  /* Created 0666 less the umask, as any file the user saves (plain
   * mkstemp would make it 0600). */
  gboolean ok = write_all (fd, data, len) && fsync (fd) == 0;
  int saved = errno;
  if (close (fd) != 0 && ok)
    {
      ok = FALSE;
      saved = errno;
    }
  if (ok && g_rename (tmp, path) != 0)
    {
      ok = FALSE;
      saved = errno;
    }
  if (!ok)
    {
      g_unlink (tmp);
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "cannot write %s: %s",
                   shown, g_strerror (saved));
    }
  return ok;
}

static cairo_status_t
append_bytes (void *closure, const unsigned char *data, unsigned int length)
{
  g_byte_array_append (closure, data, length);
  return CAIRO_STATUS_SUCCESS;
}

static gboolean
check_surface (cairo_surface_t *surface, const char *path, GError **error)
{
  cairo_status_t status = cairo_surface_status (surface);
  if (status == CAIRO_STATUS_SUCCESS)
    return TRUE;
  g_autofree char *shown = g_filename_display_name (path);
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_FAILED,
               "cannot draw %s: %s", shown, cairo_status_to_string (status));
  return FALSE;
}

/* ---- PNG chunks ---------------------------------------------------------- */

static guint32
crc32_png (const guint8 *p, gsize n)
{
  static guint32 table[256];
  static gsize init = 0;
  if (g_once_init_enter (&init))
    {
      for (guint32 i = 0; i < 256; i++)
        {
          guint32 c = i;
          for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
          table[i] = c;
        }
      g_once_init_leave (&init, 1);
    }
  guint32 c = 0xffffffffu;
  for (gsize i = 0; i < n; i++)
    c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

static void
put_be32 (GByteArray *out, guint32 v)
{
  guint8 b[4] = { v >> 24, v >> 16, v >> 8, v };
  g_byte_array_append (out, b, 4);
}

static void
put_chunk (GByteArray *out, const char type[4], const guint8 *data, gsize n)
{
  put_be32 (out, (guint32) n);
  gsize start = out->len;
  g_byte_array_append (out, (const guint8 *) type, 4);
  if (n > 0)
    g_byte_array_append (out, data, (guint) n);
  put_be32 (out, crc32_png (out->data + start, n + 4));
}

/* tEXt when the value fits Latin-1 (the chunk's encoding), iTXt (UTF-8,
 * uncompressed, no language) otherwise. */
static void
put_text_chunk (GByteArray *out, const char *key, const char *value)
{
  g_autoptr (GByteArray) data = g_byte_array_new ();
  g_byte_array_append (data, (const guint8 *) key, strlen (key) + 1);
  g_autofree char *latin1 = g_convert (value, -1, "ISO-8859-1", "UTF-8",
                                       NULL, NULL, NULL);
  if (latin1 != NULL)
    {
      g_byte_array_append (data, (const guint8 *) latin1, strlen (latin1));
      put_chunk (out, "tEXt", data->data, data->len);
      return;
    }
  /* compression flag, method, empty language tag and translated key */
  static const guint8 itxt_head[4] = { 0, 0, 0, 0 };
  g_byte_array_append (data, itxt_head, 4);
  g_byte_array_append (data, (const guint8 *) value, strlen (value));
  put_chunk (out, "iTXt", data->data, data->len);
}

static const guint8 png_signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n',
                                         0x1a, '\n' };

/* Rebuilds Cairo's PNG with pHYs (the DPI) and the text chunks right after
 * IHDR, dropping any of those Cairo wrote itself. */
static GByteArray *
png_add_chunks (const GByteArray *png, double dpi, GPtrArray *fields,
                GError **error)
{
  const guint8 *p = png->data;
  gsize n = png->len;
  if (n < 8 + 25 || memcmp (p, png_signature, 8) != 0
      || memcmp (p + 12, "IHDR", 4) != 0)
    {
      g_set_error_literal (error, ATTN_ERROR, ATTN_ERROR_FAILED,
                           "Cairo wrote no PNG header");
      return NULL;
    }
  GByteArray *out = g_byte_array_sized_new (png->len + 1024);
  g_byte_array_append (out, p, 8 + 25);

  guint8 phys[9];
  guint32 ppm = (guint32) lround (dpi / 0.0254);
  for (int i = 0; i < 2; i++)
    {
      phys[4 * i] = ppm >> 24;
      phys[4 * i + 1] = ppm >> 16;
      phys[4 * i + 2] = ppm >> 8;
      phys[4 * i + 3] = ppm;
    }
  phys[8] = 1; /* unit: the metre */
  put_chunk (out, "pHYs", phys, sizeof phys);
  for (guint i = 0; i < fields->len; i++)
    {
      const AttnExportField *f = g_ptr_array_index (fields, i);
      put_text_chunk (out, f->key, f->value);
    }

  for (gsize at = 8 + 25; at < n;)
    {
      if (n - at < 12)
        break;
      guint32 len = ((guint32) p[at] << 24) | ((guint32) p[at + 1] << 16)
                    | ((guint32) p[at + 2] << 8) | p[at + 3];
      if (len > n - at - 12)
        break;
      const guint8 *type = p + at + 4;
      if (memcmp (type, "pHYs", 4) != 0 && memcmp (type, "tEXt", 4) != 0
          && memcmp (type, "iTXt", 4) != 0 && memcmp (type, "zTXt", 4) != 0)
        g_byte_array_append (out, p + at, len + 12);
      at += len + 12;
      if (memcmp (type, "IEND", 4) == 0)
        return out;
    }
  g_byte_array_unref (out);
  g_set_error_literal (error, ATTN_ERROR, ATTN_ERROR_FAILED,
                       "Cairo wrote a truncated PNG");
  return NULL;
}

/* ---- SVG metadata -------------------------------------------------------- */

/* Inserts <title> and <metadata> (Dublin Core title and description, then
 * every field) as the first children of the root <svg> element. */
static char *
svg_add_metadata (const char *svg, GPtrArray *fields, GError **error)
{
  const char *root = strstr (svg, "<svg");
  const char *open_end = root != NULL ? strchr (root, '>') : NULL;
  if (open_end == NULL)
    {
      g_set_error_literal (error, ATTN_ERROR, ATTN_ERROR_FAILED,
                           "Cairo wrote no <svg> element");
      return NULL;
    }
  g_autofree char *subject = fields_subject (fields);
  GString *s = g_string_new_len (svg, open_end + 1 - svg);
  g_autofree char *title = g_markup_escape_text (field_value (fields,
                                                              "Title"), -1);
  g_autofree char *desc = g_markup_escape_text (subject, -1);
  g_string_append_printf (
    s,
    "\n<title>%s</title>\n"
    "<metadata>\n"
    "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" "
    "xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n"
    "<rdf:Description rdf:about=\"\">\n"
    "<dc:title>%s</dc:title>\n"
    "<dc:description>%s</dc:description>\n"
    "</rdf:Description>\n"
    "</rdf:RDF>\n"
    "<attnscope:export xmlns:attnscope=\"urn:x-attnscope:export:1\">\n",
    title, title, desc);
  for (guint i = 0; i < fields->len; i++)
    {
      const AttnExportField *f = g_ptr_array_index (fields, i);
      g_autofree char *key = g_markup_escape_text (f->key, -1);
      g_autofree char *value = g_markup_escape_text (f->value, -1);
      g_string_append_printf (s,
                              "<attnscope:field name=\"%s\">%s"
                              "</attnscope:field>\n", key, value);
    }
  g_string_append (s, "</attnscope:export>\n</metadata>");
  g_string_append (s, open_end + 1);
  return g_string_free (s, FALSE);
}

/* ---- PDF metadata ----------------------------------------------------------- */

static void
pdf_set_metadata (cairo_surface_t *surface, GPtrArray *fields)
{
  g_autofree char *subject = fields_subject (fields);
  g_autofree char *keywords = fields_as_keywords (fields);
  cairo_pdf_surface_set_metadata (surface, CAIRO_PDF_METADATA_TITLE,
                                  field_value (fields, "Title"));
  cairo_pdf_surface_set_metadata (surface, CAIRO_PDF_METADATA_SUBJECT,
                                  subject);
  cairo_pdf_surface_set_metadata (surface, CAIRO_PDF_METADATA_KEYWORDS,
                                  keywords);
  cairo_pdf_surface_set_metadata (surface, CAIRO_PDF_METADATA_CREATOR,
                                  field_value (fields, "Software"));
}

/* ---- one view ------------------------------------------------------------ */

static void
fill_background (cairo_t *cr, const AttnRenderStyle *style, double w,
                 double h)
{
  const AttnRgba *bg = &style->background;
  cairo_save (cr);
  cairo_set_source_rgba (cr, bg->r, bg->g, bg->b, bg->a);
  cairo_rectangle (cr, 0, 0, w, h);
  cairo_fill (cr);
  cairo_restore (cr);
}

/* Draws the view scaled to layout units; FALSE with the view's error. */
static gboolean
draw_view (cairo_surface_t *surface, const AttnExportGeometry *g,
           AttnViewKind view, const AttnTrace *trace,
           const AttnSelection *sel, const AttnRenderStyle *style,
           GError **error)
{
  cairo_t *cr = cairo_create (surface);
  cairo_scale (cr, g->scale, g->scale);
  fill_background (cr, style, g->layout_width, g->layout_height);
  gboolean ok = attn_view_render (view, cr, trace, sel, style,
                                  g->layout_width, g->layout_height, error);
  cairo_destroy (cr);
  return ok;
}

gboolean
attn_export_view (AttnViewKind view, const AttnTrace *trace,
                  const AttnSelection *sel, const AttnRenderStyle *style,
                  const AttnExportOptions *options, const char *path,
                  GError **error)
{
  AttnExportFormat format;
  AttnExportGeometry g;
  if (!attn_export_format_from_path (path, &format, error)
      || !attn_export_geometry (options, format, &g, error))
    return FALSE;

  g_autoptr (GPtrArray) fields = attn_export_describe (view, trace, sel,
                                                       style,
                                                       options->creator);
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  cairo_surface_t *surface = NULL;
  switch (format)
    {
    case ATTN_EXPORT_PNG:
      surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32,
                                            g.pixel_width, g.pixel_height);
      break;
    case ATTN_EXPORT_SVG:
      surface = cairo_svg_surface_create_for_stream (append_bytes, bytes,
                                                     g.page_width,
                                                     g.page_height);
      cairo_svg_surface_set_document_unit (
        surface, g.scale == 1.0 ? CAIRO_SVG_UNIT_PX : CAIRO_SVG_UNIT_PT);
      break;
    case ATTN_EXPORT_PDF:
      surface = cairo_pdf_surface_create_for_stream (append_bytes, bytes,
                                                     g.page_width,
                                                     g.page_height);
      pdf_set_metadata (surface, fields);
      break;
    }

  gboolean ok = check_surface (surface, path, error)
                && draw_view (surface, &g, view, trace, sel, style, error);
  if (ok && format == ATTN_EXPORT_PNG)
    {
      cairo_surface_flush (surface);
      cairo_status_t status = cairo_surface_write_to_png_stream (
        surface, append_bytes, bytes);
      if (status != CAIRO_STATUS_SUCCESS)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_FAILED,
                       "cannot encode the PNG: %s",
                       cairo_status_to_string (status));
          ok = FALSE;
        }
    }
  /* Finishing a vector surface emits the rest of its stream. */
  cairo_surface_finish (surface);
  ok = ok && check_surface (surface, path, error);
  cairo_surface_destroy (surface);
  if (!ok)
    return FALSE;

  switch (format)
    {
    case ATTN_EXPORT_PNG:
      {
        g_autoptr (GByteArray) png = png_add_chunks (bytes, options->dpi,
                                                     fields, error);
        return png != NULL
               && attn_export_write_file (path, png->data, png->len, error);
      }
    case ATTN_EXPORT_SVG:
      {
        g_byte_array_append (bytes, (const guint8 *) "", 1);
        g_autofree char *svg = svg_add_metadata ((const char *) bytes->data,
                                                 fields, error);
        return svg != NULL
               && attn_export_write_file (path, svg, strlen (svg), error);
      }
    case ATTN_EXPORT_PDF:
      return attn_export_write_file (path, bytes->data, bytes->len, error);
    }
  g_return_val_if_reached (FALSE);
}

/* ---- the atlas ----------------------------------------------------------- */

static int
compare_blocks (gconstpointer a, gconstpointer b)
{
  const AttnBlock *x = *(const AttnBlock *const *) a;
  const AttnBlock *y = *(const AttnBlock *const *) b;
  if (x->kind != y->kind)
    return (int) x->kind - (int) y->kind;
  return x->layer - y->layer;
}

/* The blocks of the atlas in page order (borrowed from trace). */
static GPtrArray *
atlas_blocks (const AttnTrace *trace, int kind)
{
  GPtrArray *blocks = g_ptr_array_new ();
  for (guint i = 0; i < trace->blocks->len; i++)
    {
      AttnBlock *b = g_ptr_array_index (trace->blocks, i);
      if (kind < 0 || (int) b->kind == kind)
        g_ptr_array_add (blocks, b);
    }
  g_ptr_array_sort (blocks, compare_blocks);
  return blocks;
}

int
attn_export_atlas_n_pages (const AttnTrace *trace, int kind)
{
  g_autoptr (GPtrArray) blocks = atlas_blocks (trace, kind);
  int n = 0;
  for (guint i = 0; i < blocks->len; i++)
    n += ((const AttnBlock *) g_ptr_array_index (blocks, i))->n_heads;
  return n;
}

/* The running head of an atlas page, in the style's muted colour, cut
 * short with "…" when the page is narrow. Returns the height it takes. */
static double
draw_header (cairo_t *cr, const AttnRenderStyle *style, const char *text,
             double width)
{
  PangoContext *ctx = attn_text_context_new ();
  attn_text_context_update (ctx, cr);
  PangoLayout *layout = attn_text_layout_new (ctx, style, 0.9, FALSE, text);
  double margin = style->font_size;
  attn_text_fit_width (layout, width - 2.0 * margin);
  double height = 0.0;
  attn_text_get_size (layout, NULL, &height);
  attn_text_draw (cr, layout, margin, 0.5 * margin, 0.0, 0.0, 0.0,
                  &style->muted);
  g_object_unref (layout);
  g_object_unref (ctx);
  return height + 0.75 * margin;
}

gboolean
attn_export_atlas (const AttnTrace *trace, int kind,
                   const AttnSelection *base, const AttnRenderStyle *style,
                   const AttnExportOptions *options, const char *path,
                   GError **error)
{
  AttnExportFormat format;
  AttnExportGeometry g;
  if (!attn_export_format_from_path (path, &format, error))
    return FALSE;
  if (format != ATTN_EXPORT_PDF)
    {
      g_autofree char *shown = g_filename_display_name (path);
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "%s: an atlas has a page per head and is written as PDF "
                   "only (.pdf)", shown);
      return FALSE;
    }
  if (!attn_export_geometry (options, format, &g, error))
    return FALSE;
  g_autoptr (GPtrArray) blocks = atlas_blocks (trace, kind);
  if (blocks->len == 0)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   kind >= 0 ? "the trace has no %s attention to draw"
                             : "the trace has no attention blocks to draw%s",
                   kind >= 0 ? attn_kind_to_string ((AttnKind) kind) : "");
      return FALSE;
    }

  /* The document facts: what every page shares. */
  g_autoptr (GPtrArray) fields = g_ptr_array_new_with_free_func (field_free);
  g_autofree char *title = g_strdup_printf (
    "Attention atlas of %s: every head of %s", trace->model_name,
    kind >= 0 ? attn_kind_to_string ((AttnKind) kind) : "every block");
  add_field (fields, "Title", title);
  add_field (fields, "Software",
             options->creator != NULL ? options->creator : "Attnscope");
  add_trace_fields (fields, trace);
  add_field (fields, "View", "atlas (heatmap per head)");
  add_field (fields, "Kind",
             kind >= 0 ? attn_kind_to_string ((AttnKind) kind) : "all");
  g_autofree char *pages = g_strdup_printf (
    "%d", attn_export_atlas_n_pages (trace, kind));
  add_field (fields, "Pages", pages);
  if (base != NULL && (base->hide_special || base->hide_sink))
    add_field (fields, "Hidden",
               base->hide_special && base->hide_sink
                 ? "special tokens and the first key, rows renormalised"
               : base->hide_special ? "special tokens, rows renormalised"
                                    : "the first key, rows renormalised");
  add_style_fields (fields, style);

  g_autofree char *subject = fields_subject (fields);
  int n_pages = attn_export_atlas_n_pages (trace, kind);
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  cairo_surface_t *surface = cairo_pdf_surface_create_for_stream (
    append_bytes, bytes, g.page_width, g.page_height);
  pdf_set_metadata (surface, fields);
  gboolean ok = check_surface (surface, path, error);
  int page = 0;
  for (guint i = 0; ok && i < blocks->len; i++)
    {
      const AttnBlock *b = g_ptr_array_index (blocks, i);
      const char *kind_name = attn_kind_to_string (b->kind);
      g_autofree char *block_label = g_strdup_printf ("%s layer %d",
                                                      kind_name, b->layer);
      g_autofree char *first_page = g_strdup_printf ("page=%d", page + 1);
      int parent = cairo_pdf_surface_add_outline (surface,
                                                  CAIRO_PDF_OUTLINE_ROOT,
                                                  block_label, first_page, 0);
      for (int h = 0; ok && h < b->n_heads; h++)
        {
          page++;
          AttnSelection sel;
          attn_selection_init (&sel, b->kind);
          sel.layer = b->layer;
          sel.head = h;
          if (base != NULL)
            {
              sel.hide_special = base->hide_special;
              sel.hide_sink = base->hide_sink;
            }
          /* The heatmap titles itself with kind, layer and head; the
           * running head says whose run this is and where the page is. */
          g_autofree char *header = g_strdup_printf (
            "%s — %s — page %d of %d", trace->model_name, subject, page,
            n_pages);
          g_autofree char *head_label = g_strdup_printf ("head %d", h);
          g_autofree char *link = g_strdup_printf ("page=%d", page);
          g_autofree char *page_label = g_strdup_printf (
            "%s L%d H%d", kind_name, b->layer, h);
          cairo_pdf_surface_set_page_label (surface, page_label);
          cairo_pdf_surface_add_outline (surface, parent, head_label, link,
                                         0);

          cairo_t *cr = cairo_create (surface);
          cairo_scale (cr, g.scale, g.scale);
          fill_background (cr, style, g.layout_width, g.layout_height);
          double top = draw_header (cr, style, header, g.layout_width);
          cairo_translate (cr, 0, top);
          ok = attn_view_render (ATTN_VIEW_HEATMAP, cr, trace, &sel, style,
                                 g.layout_width, g.layout_height - top,
                                 error);
          cairo_destroy (cr);
          cairo_surface_show_page (surface);
        }
    }
  cairo_surface_finish (surface);
  ok = ok && check_surface (surface, path, error);
  cairo_surface_destroy (surface);
  return ok && attn_export_write_file (path, bytes->data, bytes->len, error);
}
