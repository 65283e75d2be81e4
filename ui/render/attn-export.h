/* attn-export.h: any view as a PNG, SVG or PDF file, and the PDF atlas of
 * every head.
 *
 * Exports draw through attn_view_render (), the same code the app draws
 * its widgets with. Views lay out in "layout units" of 1/96 inch (a CSS
 * pixel, what a view's user unit is on an ordinary screen), whatever the
 * format, so a figure looks the same in every format and only gets sharper
 * with a higher DPI:
 *
 * - PNG: pixels. A size in px is the image size; in cm / mm / in / pt it
 *   becomes pixels at the DPI. The drawing is scaled by DPI / 96, so
 *   `--dpi 192` draws the same figure with twice the pixels. The DPI is
 *   recorded in a pHYs chunk.
 * - PDF and SVG: points (1/72 inch). A size in px becomes points at the DPI
 *   (96 by default: 800 px is 600 pt). An SVG whose size was given in px
 *   says so (width="800px"); otherwise its width is in points.
 *
 * Every file records what it shows (AttnExportField: model, texts, view,
 * kind, layer, head, colour map, ...): in PNG tEXt chunks (iTXt, UTF-8, for
 * a value Latin-1 cannot hold), in an SVG <title> and <metadata> element,
 * and in the PDF document information (title, subject, keywords, creator).
 *
 * A file is written whole or not at all: the drawing is made in memory,
 * written to a temporary file in the target's folder and renamed over the
 * target. A failed export leaves nothing behind and an existing file of
 * that name untouched. */
#pragma once

#include <glib.h>

#include "core/attn-trace.h"
#include "ui/render/attn-view.h"

G_BEGIN_DECLS

typedef enum {
  ATTN_EXPORT_PNG,
  ATTN_EXPORT_SVG,
  ATTN_EXPORT_PDF,
} AttnExportFormat;
#define ATTN_EXPORT_N_FORMATS 3

/* ".png", ".svg", ".pdf". */
const char *attn_export_format_suffix (AttnExportFormat format);
/* The format named by path's suffix (any case). FALSE with
 * ATTN_ERROR_INVALID_ARGUMENT naming the path and the supported suffixes
 * otherwise. */
gboolean attn_export_format_from_path (const char *path,
                                       AttnExportFormat *format,
                                       GError **error);

typedef enum {
  ATTN_UNIT_PX, /* 1/dpi inch on a PNG; 1/96 inch on paper at dpi 96 */
  ATTN_UNIT_PT, /* 1/72 inch */
  ATTN_UNIT_MM,
  ATTN_UNIT_CM,
  ATTN_UNIT_IN,
} AttnUnit;

typedef struct {
  double value; /* > 0 */
  AttnUnit unit;
} AttnLength;

/* Parses "800", "800px", "12cm", "4.5in", "90mm", "300pt": a positive
 * number (at most 100000) and an optional unit, no space between.
 * FALSE with ATTN_ERROR_INVALID_ARGUMENT quoting str otherwise. */
gboolean attn_length_parse (const char *str, AttnLength *length,
                            GError **error);

typedef struct {
  AttnLength width, height; /* default 800 x 600 px */
  double dpi;          /* pixels per inch, 1 to 2400 (default 96) */
  const char *creator; /* recorded as the creating program, e.g.
                        * "attnscope-cli 0.1.0"; NULL = "Attnscope" */
} AttnExportOptions;

void attn_export_options_init (AttnExportOptions *options);

/* The sizes an export of `format` gets under `options`. */
typedef struct {
  int pixel_width, pixel_height; /* PNG image; 0 for SVG and PDF */
  double page_width, page_height; /* SVG / PDF, in points (in px for an SVG
                                   * sized in px); PNG: the pixel size */
  double layout_width, layout_height; /* what the view lays out in */
  double scale; /* device units per layout unit */
} AttnExportGeometry;

/* FALSE with ATTN_ERROR_INVALID_ARGUMENT when the DPI is out of range or a
 * PNG would be under 16 or over 16384 pixels on a side (or a page under
 * 16 or over 14400 points, PDF's own limit). */
gboolean attn_export_geometry (const AttnExportOptions *options,
                               AttnExportFormat format,
                               AttnExportGeometry *geometry, GError **error);

/* One fact about what a file shows. Keys are short English words, as
 * written into PNG text chunks ("Title", "Model", "Kind", ...). */
typedef struct {
  char *key;
  char *value; /* UTF-8 */
} AttnExportField;

/* The facts recorded for (view, trace, selection, style), in order:
 * Title, Software, Model, Architecture, Source text (encoder-decoder only),
 * Target text, View, Kind, Layer, Head, Step (step view only), Hidden (when
 * tokens are hidden), Range (when zoomed), Colormap, Scale. A GPtrArray of
 * AttnExportField *, freeing them with it. */
GPtrArray *attn_export_describe (AttnViewKind view, const AttnTrace *trace,
                                 const AttnSelection *sel,
                                 const AttnRenderStyle *style,
                                 const char *creator);

/* Draws `view` of trace to path (format from the suffix) at the size of
 * options. Nothing is written when the selection does not fit the trace
 * (the view's error), the size is out of range, or the suffix is unknown;
 * a file that cannot be written is ATTN_ERROR_IO naming path. */
gboolean attn_export_view (AttnViewKind view, const AttnTrace *trace,
                           const AttnSelection *sel,
                           const AttnRenderStyle *style,
                           const AttnExportOptions *options, const char *path,
                           GError **error);

/* A multi-page PDF: one page per head of every block of trace (of `kind`
 * only when kind >= 0), blocks in kind then layer order, heads in order.
 * Each page is the heatmap of one head (titled by the view with kind,
 * layer and head) under a running head naming the model, the texts and
 * "page i of n"; each page's PDF label is "<kind> L<layer> H<head>", and
 * the outline has an entry per block with one child per head. hide_special
 * and hide_sink of base (which may be NULL) apply to every page; the rest
 * of base is not used. path must end in .pdf. */
gboolean attn_export_atlas (const AttnTrace *trace, int kind,
                            const AttnSelection *base,
                            const AttnRenderStyle *style,
                            const AttnExportOptions *options,
                            const char *path, GError **error);

/* Pages attn_export_atlas () writes for (trace, kind). */
int attn_export_atlas_n_pages (const AttnTrace *trace, int kind);

/* Writes data to a temporary file beside path, then renames it over path.
 * ATTN_ERROR_IO naming path and the system's reason on failure, with the
 * temporary file removed. */
gboolean attn_export_write_file (const char *path, const void *data,
                                 gsize len, GError **error);

G_END_DECLS
