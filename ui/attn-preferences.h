/* attn-preferences.h: what Attnscope remembers between runs, in a key file
 * (attn_preferences_path (): $XDG_CONFIG_HOME/attnscope/preferences.ini).
 *
 * Every key is optional: a missing, unreadable or out-of-range value reads
 * as its default, so a hand-edited or damaged file never stops the app.
 * Keys this version does not know are kept when the file is written back. */
#pragma once

#include <glib.h>

#include "ui/render/attn-colormap.h"
#include "ui/render/attn-view.h"

G_BEGIN_DECLS

typedef enum
{
  ATTN_COLOR_SCHEME_SYSTEM, /* "system": follow the desktop */
  ATTN_COLOR_SCHEME_LIGHT,  /* "light" */
  ATTN_COLOR_SCHEME_DARK,   /* "dark" */
} AttnColorScheme;

/* Models opened from files, most recent first. */
#define ATTN_PREFERENCES_MAX_RECENT 5

typedef struct
{
  AttnColorScheme color_scheme; /* [appearance] color-scheme */
  AttnColormap colormap;        /* [view] colormap: "viridis", ... */
  double threshold;             /* [view] threshold, in [0, 1] */
  AttnViewKind view;            /* [view] view: "heatmap", ... */
  int width, height;            /* [window] width, height: 0 = default */
  gboolean maximized;           /* [window] maximized */
  char **recent_models;         /* [models] recent: paths, NULL-terminated */
  int gpt2_generate;            /* [models] gpt2-generate: tokens a GPT-2
                                 * model writes after the text, 0 .. 256 */
} AttnPreferences;

/* The defaults: follow the desktop, viridis, threshold 0.01, heatmap, the
 * window's own size, no recent models, no GPT-2 generation. */
AttnPreferences *attn_preferences_new (void);
void attn_preferences_free (AttnPreferences *prefs);

char *attn_preferences_path (void);

/* Reads path over the defaults. A file that is absent reads as the
 * defaults without error; one that cannot be parsed too, but with the
 * reason in *error (may be NULL) for the caller to show or ignore. */
AttnPreferences *attn_preferences_load (const char *path, GError **error);

/* Writes prefs to path (folders created), keeping the keys of the file
 * there that prefs does not hold; whole or not at all. ATTN_ERROR_IO
 * naming path on failure. */
gboolean attn_preferences_save (const AttnPreferences *prefs, const char *path,
                                GError **error);

/* Puts path first in the recent models, once, keeping at most
 * ATTN_PREFERENCES_MAX_RECENT. */
void attn_preferences_add_recent (AttnPreferences *prefs, const char *path);

const char *attn_color_scheme_to_string (AttnColorScheme scheme);
gboolean attn_color_scheme_from_string (const char *str,
                                        AttnColorScheme *scheme);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnPreferences, attn_preferences_free)

G_END_DECLS
