/* attn-application.h: the Attnscope application
 * (io.github.attnscope.Attnscope).
 *
 * Command line: attnscope [--model MODEL] [--trace FILE] [--view VIEW]
 * [--text TEXT] [--presentation] [FILE...]. MODEL is a model file, a folder or
 * a bundled model's name; FILEs are opened by their kind (.json as a trace,
 * anything else as a model); VIEW is spelled as the CLI spells it (heatmap,
 * alignment, head, model, step). Without any, a window opens on the bundled
 * default model when it exists, or on the empty state that says how to open
 * one. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define ATTN_APP_ID "io.github.attnscope.Attnscope"
/* The bundled model a new window starts on. */
#define ATTN_DEFAULT_MODEL "dates-transformer"

#define ATTN_TYPE_APPLICATION (attn_application_get_type ())
G_DECLARE_FINAL_TYPE (AttnApplication, attn_application, ATTN, APPLICATION,
                      AdwApplication)

AttnApplication *attn_application_new (void);
/* g_get_monotonic_time () when the application was created (in main):
 * the window logs the time to its first drawn trace from it. */
gint64 attn_application_get_start_time (AttnApplication *self);

G_END_DECLS
