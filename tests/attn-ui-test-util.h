/* attn-ui-test-util.h: helpers shared by the GUI tests (suite ui), which
 * run under Xvfb in their own D-Bus session (tools/test). */
#pragma once

#include <gtk/gtk.h>

#include "core/attn-model.h"
#include "tests/attn-test-util.h"
#include "ui/attn-attention-view.h"

G_BEGIN_DECLS

/* gtk_test_init and adw_init; points ATTNSCOPE_MODEL_PATH at a new empty
 * folder (attn_ui_test_model_dir) and XDG_CONFIG_HOME at another, so that
 * the models installed on the machine and the user's preferences cannot
 * change what a test sees (both removed at exit). */
void attn_ui_test_init (int *argc, char ***argv);
const char *attn_ui_test_model_dir (void);

/* A transformer with random weights over the dates task's characters
 * (2 + 2 layers, 2 heads, d_model 16, sources up to max_len - 1
 * characters), its card naming the task "dates" and example. */
AttnModel *attn_ui_test_new_model (const char *name, int max_len,
                                   const char *example);
/* Saves it as <dir>/<name>.safetensors; returns the path. */
char *attn_ui_test_save_model (AttnModel *model, const char *dir);

/* Runs the main loop until cond (data) holds; fails the test after
 * timeout_ms (a guard against a hang, not a timing check). */
void attn_ui_test_wait (gboolean (*cond) (gpointer data), gpointer data,
                        guint timeout_ms);
/* Until widget is allocated a size. */
void attn_ui_test_wait_allocated (GtkWidget *widget);

/* Scans the view (every 8 px) with attn_view_hit_test, as the widget
 * would, for points hitting `kind` with the given members (-1 = any); the
 * mean of those points into *x, *y. FALSE when none. */
gboolean attn_ui_test_find_hit (AttnAttentionView *view, AttnHitKind kind,
                                int query, int key, int layer, int head,
                                double *x, double *y);

G_END_DECLS
