/* attn-window.h: the Attnscope window — model chooser, text entry, the five
 * views of the current trace, and export.
 *
 * The window owns what is shown: the trace (from the model run on the
 * entry's text, or opened from a file), the selection (block, layer, head,
 * step and the selected tokens, shared by every view so a token clicked in
 * one is highlighted in all) and the style options. */
#pragma once

#include <adwaita.h>

#include "core/attn-trace.h"
#include "ui/render/attn-view.h"

G_BEGIN_DECLS

#define ATTN_TYPE_WINDOW (attn_window_get_type ())
G_DECLARE_FINAL_TYPE (AttnWindow, attn_window, ATTN, WINDOW,
                      AdwApplicationWindow)

AttnWindow *attn_window_new (GtkApplication *app);

/* Loads a model in a worker thread: ref is a file, a folder or a bundled
 * model's name (core/attn-model-ref.h). On success the model replaces the
 * current one and runs its example text; on failure an error dialog names
 * the file and the problem, and the previous model stays. */
void attn_window_open_model (AttnWindow *self, const char *ref);

/* The text the next model opened runs first, instead of its example
 * (for `attnscope --text`). */
void attn_window_set_initial_text (AttnWindow *self, const char *text);

/* Shows a saved trace without its model (the entry is off until a model is
 * opened). FALSE with the loader's error, the window unchanged. */
gboolean attn_window_open_trace (AttnWindow *self, const char *path,
                                 GError **error);

/* Shows trace (taken) as if a run had produced it; label names where it
 * came from. */
void attn_window_set_trace (AttnWindow *self, AttnTrace *trace,
                            const char *label);
const AttnTrace *attn_window_get_trace (AttnWindow *self);

/* The selection every view gets. */
const AttnSelection *attn_window_get_selection (AttnWindow *self);

void attn_window_set_view (AttnWindow *self, AttnViewKind kind);
AttnViewKind attn_window_get_view (AttnWindow *self);

/* Exports what is shown, as the export menu does: what is "png", "svg" or
 * "pdf" (the current view), "atlas" (a PDF page per head of the current
 * block kind), "csv" (the matrix shown) or "json" (the whole trace); size
 * ("800", "1200", "1600", "2400": that many pixels wide at 4:3) and theme
 * ("light", "dark", "presentation") may be NULL for 800 x 600 and light.
 * Success and failure are also shown as a toast. */
gboolean attn_window_export (AttnWindow *self, const char *what,
                             const char *path, const char *size,
                             const char *theme, GError **error);

/* Presentation mode: fullscreen, large type and the renderer's
 * high-contrast theme in every view; the arrow keys move through layers,
 * heads and steps (also the "presentation" property and the
 * win.presentation action, on F11). */
void attn_window_set_presentation (AttnWindow *self, gboolean presentation);
gboolean attn_window_get_presentation (AttnWindow *self);

/* Shows message as a toast. */
void attn_window_toast (AttnWindow *self, const char *message);

G_END_DECLS
