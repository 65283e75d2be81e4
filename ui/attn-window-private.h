/* attn-window-private.h: AttnWindow's members, for its own file and for the
 * GUI tests, which drive its controls and views as a user would. */
#pragma once

#include "ui/attn-attention-view.h"
#include "ui/attn-runner.h"
#include "ui/attn-window.h"

G_BEGIN_DECLS

/* A run shows its progress bar and Stop button once it has gone this
 * long: the runs of most keystrokes end sooner and never flash it. */
#define ATTN_WINDOW_PROGRESS_DELAY_MS 300

struct _AttnWindow
{
  AdwApplicationWindow parent_instance;

  /* template children */
  AdwToastOverlay *toast_overlay;
  AdwViewSwitcherTitle *switcher_title;
  GtkMenuButton *model_button;
  GtkMenuButton *export_button;
  GtkToggleButton *presentation_button;
  GtkStack *main_stack; /* "empty" | "content" */
  AdwStatusPage *empty_page;
  GtkEntry *text_entry;
  GtkWidget *generate_box; /* GPT-2 models only */
  GtkSpinButton *generate_spin;
  GtkLabel *output_label;
  GtkSpinner *spinner;
  GtkRevealer *progress_revealer; /* a run going for PROGRESS_DELAY_MS */
  GtkProgressBar *progress_bar;
  GtkButton *stop_button;
  GtkLabel *notice_label;
  GtkWidget *controls_box;
  GtkDropDown *block_dropdown;
  GtkSpinButton *layer_spin;
  GtkDropDown *head_dropdown;
  GtkWidget *step_box;
  GtkSpinButton *step_spin;
  GtkToggleButton *play_button;
  GtkScale *step_scale;
  GtkDropDown *colormap_dropdown;
  GtkWidget *threshold_box;
  GtkSpinButton *threshold_spin;
  GtkStack *views_stack; /* "views" | "message" */
  AdwStatusPage *message_page;
  GtkButton *run_button; /* on the message page when a run was stopped */
  AdwViewStack *view_stack;
  AttnAttentionView *views[ATTN_N_VIEWS]; /* by AttnViewKind */
  GtkLabel *hover_label;

  AttnRunner *runner;
  GCancellable *load_cancellable; /* the model load in flight, if any */
  AttnTrace *trace;               /* shown; owned */
  char *trace_path;               /* when opened from a file */
  AttnSelection sel;
  AttnViewOptions options;
  AttnKind kinds[ATTN_N_KINDS]; /* the block dropdown's entries */
  int n_kinds;
  gboolean updating_controls; /* set while code moves the controls */
  GMenu *model_menu;
  char *example_text;        /* the loaded model's example */
  char *initial_text;        /* for the next model, or NULL */
  char *last_toast;          /* the message of the latest toast */
  char *prefs_path;          /* attn_preferences_path () */
  gint64 draw_pending_since; /* a new trace waits to be painted: when
                              * its run started, or 0 */
  gboolean presentation;     /* fullscreen, large type, arrow keys
                              * through layers, heads and steps */
  guint play_id;             /* the step animation's timeout */
  guint play_interval_ms;    /* between steps while playing */
  gint64 run_started_us;     /* of the result being shown, or 0 */
  gboolean first_paint_logged;
  GdkFrameClock *paint_clock;
  gulong after_paint_id;
  guint progress_delay_id; /* reveals the progress bar of a long run */
  int gpt2_generate;       /* the Generate spin's value, kept across
                            * models and saved with the window state */
};

/* What an arrow key does in presentation mode (the window's key handler
 * calls it): Up / Down the previous or next layer, Left / Right the
 * previous or next head (in the step view: step), Escape leaves. TRUE when
 * it did something. */
gboolean attn_window_presentation_key (AttnWindow *self, guint keyval);

G_END_DECLS
