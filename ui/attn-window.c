/* attn-window.c: the Attnscope window (see the header). */
#include "ui/attn-window-private.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "core/attn-error.h"
#include "core/attn-model-ref.h"
#include "core/attn-safetensors.h"
#include "ui/attn-application.h"
#include "ui/attn-i18n.h"
#include "ui/attn-preferences.h"
#include "ui/render/attn-export.h"

G_DEFINE_FINAL_TYPE (AttnWindow, attn_window, ADW_TYPE_APPLICATION_WINDOW)

enum
{
  PROP_0,
  PROP_PRESENTATION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The block dropdown lists the kinds a trace has in this order: cross
 * first, as it is what an encoder-decoder is read for. */
static const AttnKind kind_order[ATTN_N_KINDS] = {
  ATTN_KIND_CROSS,
  ATTN_KIND_ENCODER_SELF,
  ATTN_KIND_DECODER_SELF,
};

/* The view stack's page names, by AttnViewKind. */
static const char *const page_names[ATTN_N_VIEWS] = {
  [ATTN_VIEW_HEATMAP] = "heatmap", [ATTN_VIEW_ALIGNMENT] = "alignment",
  [ATTN_VIEW_HEADS] = "heads",     [ATTN_VIEW_MODEL] = "model",
  [ATTN_VIEW_STEP] = "steps",
};

/* What a GPT-2 model runs first. */
#define GPT2_EXAMPLE "The cat sat on the mat because it was tired"

/* The status line when the pointer is over nothing. */
#define HOVER_HINT                                                             \
  _ ("Point at a cell or a link to read its weight; click a token to follow "  \
     "it in every view.")

/* The head dropdown's first entries; head h follows at HEAD_ROW_FIRST + h. */
enum
{
  HEAD_ROW_MEAN,
  HEAD_ROW_MAX,
  HEAD_ROW_FIRST
};

static const char *
kind_label (AttnKind kind)
{
  switch (kind)
    {
    case ATTN_KIND_ENCODER_SELF:
      return _ ("Encoder self-attention");
    case ATTN_KIND_DECODER_SELF:
      return _ ("Decoder self-attention");
    case ATTN_KIND_CROSS:
      return _ ("Cross-attention");
    }
  return _ ("Attention");
}

void
attn_window_toast (AttnWindow *self, const char *message)
{
  g_return_if_fail (ATTN_IS_WINDOW (self));
  g_free (self->last_toast);
  self->last_toast = g_strdup (message);
  AdwToast *toast = adw_toast_new (message);
  adw_toast_set_timeout (toast, 4);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void
show_error_dialog (AttnWindow *self, const char *heading, const char *body)
{
  GtkWidget *dialog = adw_message_dialog_new (GTK_WINDOW (self), heading, body);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close",
                                   "_Close");
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- preferences -------------------------------------------------------- */

/* Saves what changed with `apply` over what the file holds now: other
 * windows and the application save their parts of it too. */
static void
update_preferences (AttnWindow *self,
                    void (*apply) (AttnWindow *self, AttnPreferences *prefs),
                    const char *extra)
{
  g_autoptr (AttnPreferences) prefs
      = attn_preferences_load (self->prefs_path, NULL);
  if (apply != NULL)
    apply (self, prefs);
  if (extra != NULL)
    attn_preferences_add_recent (prefs, extra);
  g_autoptr (GError) error = NULL;
  if (!attn_preferences_save (prefs, self->prefs_path, &error))
    attn_window_toast (self, error->message);
}

static void rebuild_model_menu (AttnWindow *self);

static void
remember_recent (AttnWindow *self, const char *path)
{
  update_preferences (self, NULL, path);
  rebuild_model_menu (self);
}

static void
apply_window_state (AttnWindow *self, AttnPreferences *prefs)
{
  prefs->colormap = self->options.colormap;
  prefs->threshold = self->options.threshold;
  prefs->view = attn_window_get_view (self);
  prefs->maximized = gtk_window_is_maximized (GTK_WINDOW (self));
  prefs->gpt2_generate = self->gpt2_generate;
  /* The size to come back to: the unmaximized, unfullscreened one, which
   * GTK keeps as the default size. */
  gtk_window_get_default_size (GTK_WINDOW (self), &prefs->width,
                               &prefs->height);
}

static gboolean
on_close_request (GtkWindow *window, AttnWindow *self)
{
  update_preferences (self, apply_window_state, NULL);
  return FALSE;
}

/* ---- model cards -------------------------------------------------------- */

/* The card of a model file (`attnscope.card`), reading only its header;
 * NULL when the file is not ours or has none. */
static char *
read_card (const char *path)
{
  g_autoptr (AttnSafetensors) st = attn_safetensors_open (path, NULL);
  if (st == NULL)
    return NULL;
  return g_strdup (attn_safetensors_get_metadata (st, "attnscope.card"));
}

/* Member `key` of a card as a string; with `index` >= 0, element `index`
 * of an array member. NULL when absent or of another type. */
static char *
card_string (const char *card, const char *key, int index)
{
  if (card == NULL)
    return NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, card, -1, NULL))
    return NULL;
  JsonNode *root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  JsonNode *node = json_object_get_member (json_node_get_object (root), key);
  if (node != NULL && index >= 0 && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      node = (guint)index < json_array_get_length (array)
                 ? json_array_get_element (array, index)
                 : NULL;
    }
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (node));
}

/* What to type first: the card's first example, else one per task. */
static char *
example_for_card (const char *card)
{
  char *example = card_string (card, "examples", 0);
  if (example != NULL)
    return example;
  g_autofree char *task = card_string (card, "task", -1);
  static const struct
  {
    const char *task, *text;
  } examples[] = {
    { "dates", "23 Nov 2026" },
    { "numbers-to-digits", "two thousand three hundred forty-five" },
    { "digits-to-words", "2345" },
    { "reverse", "attention" },
    { "sort", "attention" },
  };
  for (guint i = 0; task != NULL && i < G_N_ELEMENTS (examples); i++)
    if (strcmp (task, examples[i].task) == 0)
      return g_strdup (examples[i].text);
  return NULL;
}

static void
rebuild_model_menu (AttnWindow *self)
{
  g_menu_remove_all (self->model_menu);

  /* Model files opened before, while they still exist. */
  g_autoptr (AttnPreferences) prefs
      = attn_preferences_load (self->prefs_path, NULL);
  g_autoptr (GMenu) recent = g_menu_new ();
  for (guint i = 0; prefs->recent_models[i] != NULL; i++)
    {
      const char *path = prefs->recent_models[i];
      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        continue;
      g_autofree char *label = g_filename_display_basename (path);
      g_autoptr (GMenuItem) item = g_menu_item_new (label, NULL);
      g_menu_item_set_action_and_target (item, "win.open-ref", "s", path);
      g_menu_append_item (recent, item);
    }

  g_autoptr (GMenu) bundled = g_menu_new ();
  g_auto (GStrv) names = attn_model_list_bundled ();
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autoptr (AttnModelRef) ref = attn_model_ref_resolve (names[i], NULL);
      g_autofree char *card = ref != NULL ? read_card (ref->path) : NULL;
      g_autofree char *task = card_string (card, "task", -1);
      g_autofree char *label = task != NULL
                                   ? g_strdup_printf ("%s — %s", names[i], task)
                                   : g_strdup (names[i]);
      g_autoptr (GMenuItem) item = g_menu_item_new (label, NULL);
      g_menu_item_set_action_and_target (item, "win.open-ref", "s", names[i]);
      g_menu_append_item (bundled, item);
    }
  if (names[0] == NULL)
    /* An item without an action shows, greyed out, why the list is
     * empty. */
    g_menu_append (bundled, _ ("No bundled models found"), NULL);
  g_menu_append_section (self->model_menu, _ ("Bundled Models"),
                         G_MENU_MODEL (bundled));
  if (g_menu_model_get_n_items (G_MENU_MODEL (recent)) > 0)
    g_menu_append_section (self->model_menu, _ ("Recent Models"),
                           G_MENU_MODEL (recent));

  g_autoptr (GMenu) files = g_menu_new ();
  g_menu_append (files, _ ("_Open Model…"), "win.open-model");
  g_menu_append (files, _ ("Open _Trace…"), "win.open-trace");
  g_menu_append_section (self->model_menu, NULL, G_MENU_MODEL (files));
}

/* ---- selection and controls ------------------------------------------- */

static int
n_layers_of_kind (const AttnTrace *trace, AttnKind kind)
{
  int n = 0;
  for (guint i = 0; i < trace->blocks->len; i++)
    {
      const AttnBlock *b = g_ptr_array_index (trace->blocks, i);
      if (b->kind == kind)
        n = MAX (n, b->layer + 1);
    }
  return n;
}

static const AttnBlock *
shown_block (AttnWindow *self)
{
  if (self->trace == NULL)
    return NULL;
  return attn_trace_lookup_block (self->trace, self->sel.kind, self->sel.layer);
}

/* Hands the window's selection and options to every view. */
static void
push_selection (AttnWindow *self)
{
  /* A zoom outlives typing and layer changes while the block still has
   * the tokens it shows. */
  const AttnBlock *block = shown_block (self);
  if (self->sel.range_start >= 0
      && (block == NULL
          || self->sel.range_end > MAX (block->n_queries, block->n_keys)))
    self->sel.range_start = self->sel.range_end = -1;
  AttnSelection sel = self->sel;
  /* The head view draws a subset of heads: the chosen one, or all of them
   * for the mean and the max. */
  sel.head_subset
      = sel.head >= 0 && sel.head < 64 ? G_GUINT64_CONSTANT (1) << sel.head : 0;
  for (int v = 0; v < ATTN_N_VIEWS; v++)
    {
      /* Only the heatmap zooms; the other views show every token. */
      sel.range_start = v == ATTN_VIEW_HEATMAP ? self->sel.range_start : -1;
      sel.range_end = v == ATTN_VIEW_HEATMAP ? self->sel.range_end : -1;
      attn_attention_view_set_options (self->views[v], &self->options);
      attn_attention_view_set_selection (self->views[v], &sel);
    }
}

/* Gives dropdown the list of strings unless it has them already: a
 * dropdown must not get a new model from its own "selected" handler (GTK
 * 4.8 loops), and typing should not reset an open list. */
static void
set_strings (GtkDropDown *dropdown, GtkStringList *strings)
{
  GListModel *old = gtk_drop_down_get_model (dropdown);
  GListModel *new = G_LIST_MODEL (strings);
  guint n = g_list_model_get_n_items (new);
  gboolean same
      = GTK_IS_STRING_LIST (old) && g_list_model_get_n_items (old) == n;
  for (guint i = 0; same && i < n; i++)
    same = g_strcmp0 (gtk_string_list_get_string (GTK_STRING_LIST (old), i),
                      gtk_string_list_get_string (strings, i))
           == 0;
  if (!same)
    gtk_drop_down_set_model (dropdown, new);
}

static void
fill_head_dropdown (AttnWindow *self, int n_heads)
{
  g_autoptr (GtkStringList) heads = gtk_string_list_new (NULL);
  gtk_string_list_append (heads, _ ("Mean of heads"));
  gtk_string_list_append (heads, _ ("Max of heads"));
  for (int h = 0; h < n_heads; h++)
    {
      g_autofree char *label = g_strdup_printf (_ ("Head %d"), h);
      gtk_string_list_append (heads, label);
    }
  set_strings (self->head_dropdown, heads);
}

/* Fits the controls to the trace, keeping the user's choices where the
 * trace still has them (typing re-runs the model: the block, layer and head
 * looked at must not jump back). */
static void
refresh_controls (AttnWindow *self)
{
  const AttnTrace *trace = self->trace;
  self->updating_controls = TRUE;

  g_autoptr (GtkStringList) blocks = gtk_string_list_new (NULL);
  self->n_kinds = 0;
  int kind_row = -1;
  for (int i = 0; trace != NULL && i < ATTN_N_KINDS; i++)
    if (n_layers_of_kind (trace, kind_order[i]) > 0)
      {
        if (kind_order[i] == self->sel.kind)
          kind_row = self->n_kinds;
        self->kinds[self->n_kinds++] = kind_order[i];
        gtk_string_list_append (blocks, kind_label (kind_order[i]));
      }
  if (kind_row < 0 && self->n_kinds > 0)
    {
      kind_row = 0;
      self->sel.kind = self->kinds[0];
    }
  set_strings (self->block_dropdown, blocks);
  if (kind_row >= 0)
    gtk_drop_down_set_selected (self->block_dropdown, kind_row);

  int n_layers = trace != NULL ? n_layers_of_kind (trace, self->sel.kind) : 0;
  self->sel.layer = CLAMP (self->sel.layer, 0, MAX (n_layers - 1, 0));
  gtk_spin_button_set_range (self->layer_spin, 0, MAX (n_layers - 1, 0));
  gtk_spin_button_set_value (self->layer_spin, self->sel.layer);
  gtk_widget_set_sensitive (GTK_WIDGET (self->layer_spin), n_layers > 1);

  const AttnBlock *block = shown_block (self);
  int n_heads = block != NULL ? block->n_heads : 0;
  if (self->sel.head >= n_heads)
    self->sel.head = 0;
  fill_head_dropdown (self, n_heads);
  gtk_drop_down_set_selected (self->head_dropdown,
                              self->sel.head == ATTN_HEADS_MEAN ? HEAD_ROW_MEAN
                              : self->sel.head == ATTN_HEADS_MAX
                                  ? HEAD_ROW_MAX
                                  : HEAD_ROW_FIRST + self->sel.head);

  int n_steps = trace != NULL ? (int)trace->steps->len : 0;
  self->sel.step = CLAMP (self->sel.step, 0, MAX (n_steps - 1, 0));
  gtk_spin_button_set_range (self->step_spin, 0, MAX (n_steps - 1, 0));
  gtk_spin_button_set_value (self->step_spin, self->sel.step);
  gtk_widget_set_sensitive (GTK_WIDGET (self->step_spin), n_steps > 1);
  gtk_widget_set_sensitive (GTK_WIDGET (self->step_scale), n_steps > 1);
  gtk_widget_set_sensitive (GTK_WIDGET (self->play_button), n_steps > 1);

  /* Token indices survive a re-run only while they still exist. */
  if (trace != NULL)
    {
      guint nq
          = attn_trace_n_tokens (trace, attn_kind_query_side (self->sel.kind));
      guint nk
          = attn_trace_n_tokens (trace, attn_kind_key_side (self->sel.kind));
      if (self->sel.selected_query >= (int)nq)
        self->sel.selected_query = -1;
      if (self->sel.selected_key >= (int)nk)
        self->sel.selected_key = -1;
    }

  self->updating_controls = FALSE;
}

static void
on_block_selected (GtkDropDown *dropdown, GParamSpec *pspec, AttnWindow *self)
{
  if (self->updating_controls)
    return;
  guint row = gtk_drop_down_get_selected (dropdown);
  if (row == GTK_INVALID_LIST_POSITION || (int)row >= self->n_kinds)
    return;
  if (self->kinds[row] != self->sel.kind)
    {
      /* Token positions mean other tokens on another block's sides. */
      self->sel.kind = self->kinds[row];
      self->sel.selected_query = self->sel.selected_key = -1;
    }
  refresh_controls (self);
  push_selection (self);
}

static void
on_layer_changed (GtkSpinButton *spin, AttnWindow *self)
{
  if (self->updating_controls)
    return;
  self->sel.layer = gtk_spin_button_get_value_as_int (spin);
  refresh_controls (self);
  push_selection (self);
}

static void
on_head_selected (GtkDropDown *dropdown, GParamSpec *pspec, AttnWindow *self)
{
  if (self->updating_controls)
    return;
  guint row = gtk_drop_down_get_selected (dropdown);
  if (row == GTK_INVALID_LIST_POSITION)
    return;
  self->sel.head = row == HEAD_ROW_MEAN  ? ATTN_HEADS_MEAN
                   : row == HEAD_ROW_MAX ? ATTN_HEADS_MAX
                                         : (int)row - HEAD_ROW_FIRST;
  push_selection (self);
}

static void
on_step_changed (GtkSpinButton *spin, AttnWindow *self)
{
  if (self->updating_controls)
    return;
  self->sel.step = gtk_spin_button_get_value_as_int (spin);
  push_selection (self);
}

/* Playing: one step per interval to the last, then the button pops back
 * up; playing again from the last step starts over. */
static gboolean
on_play_tick (gpointer data)
{
  AttnWindow *self = data;
  int last = self->trace != NULL ? (int)self->trace->steps->len - 1 : 0;
  if (self->sel.step >= last)
    {
      self->play_id = 0;
      gtk_toggle_button_set_active (self->play_button, FALSE);
      return G_SOURCE_REMOVE;
    }
  gtk_spin_button_set_value (self->step_spin, self->sel.step + 1);
  return G_SOURCE_CONTINUE;
}

static void
stop_playing (AttnWindow *self)
{
  g_clear_handle_id (&self->play_id, g_source_remove);
  if (gtk_toggle_button_get_active (self->play_button))
    gtk_toggle_button_set_active (self->play_button, FALSE);
}

static void
on_play_toggled (GtkToggleButton *button, AttnWindow *self)
{
  gboolean active = gtk_toggle_button_get_active (button);
  gtk_button_set_icon_name (GTK_BUTTON (button),
                            active ? "media-playback-pause-symbolic"
                                   : "media-playback-start-symbolic");
  gtk_widget_set_tooltip_text (GTK_WIDGET (button),
                               active ? _ ("Pause")
                                      : _ ("Play the decoding one step at a "
                                           "time"));
  if (!active)
    {
      g_clear_handle_id (&self->play_id, g_source_remove);
      return;
    }
  int last = self->trace != NULL ? (int)self->trace->steps->len - 1 : 0;
  if (self->sel.step >= last)
    gtk_spin_button_set_value (self->step_spin, 0);
  if (self->play_id == 0)
    self->play_id = g_timeout_add (self->play_interval_ms, on_play_tick, self);
}

static void
on_colormap_selected (GtkDropDown *dropdown, GParamSpec *pspec,
                      AttnWindow *self)
{
  guint row = gtk_drop_down_get_selected (dropdown);
  if (row >= ATTN_COLORMAP_N_KINDS)
    return;
  self->options.colormap = (AttnColormap)row;
  push_selection (self);
}

static void
on_threshold_changed (GtkSpinButton *spin, AttnWindow *self)
{
  self->options.threshold = gtk_spin_button_get_value (spin);
  push_selection (self);
}

const AttnSelection *
attn_window_get_selection (AttnWindow *self)
{
  g_return_val_if_fail (ATTN_IS_WINDOW (self), NULL);
  return &self->sel;
}

void
attn_window_set_view (AttnWindow *self, AttnViewKind kind)
{
  g_return_if_fail (ATTN_IS_WINDOW (self));
  g_return_if_fail ((int)kind >= 0 && (int)kind < ATTN_N_VIEWS);
  adw_view_stack_set_visible_child_name (self->view_stack, page_names[kind]);
}

AttnViewKind
attn_window_get_view (AttnWindow *self)
{
  g_return_val_if_fail (ATTN_IS_WINDOW (self), ATTN_VIEW_HEATMAP);
  const char *name = adw_view_stack_get_visible_child_name (self->view_stack);
  for (int v = 0; v < ATTN_N_VIEWS; v++)
    if (g_strcmp0 (name, page_names[v]) == 0)
      return (AttnViewKind)v;
  return ATTN_VIEW_HEATMAP;
}

static void
on_visible_view_changed (AdwViewStack *stack, GParamSpec *pspec,
                         AttnWindow *self)
{
  AttnViewKind view = attn_window_get_view (self);
  /* Only the step view reads the step; the model grid shows every layer
   * and head. */
  gtk_widget_set_visible (self->step_box, view == ATTN_VIEW_STEP);
  if (view != ATTN_VIEW_STEP)
    stop_playing (self);
  gtk_widget_set_sensitive (
      GTK_WIDGET (self->layer_spin),
      view != ATTN_VIEW_MODEL && self->trace != NULL
          && n_layers_of_kind (self->trace, self->sel.kind) > 1);
  gtk_widget_set_sensitive (GTK_WIDGET (self->head_dropdown),
                            view != ATTN_VIEW_MODEL);
  /* Shown only where it applies, which also keeps the row narrow. */
  gtk_widget_set_visible (self->threshold_box, view == ATTN_VIEW_ALIGNMENT
                                                   || view == ATTN_VIEW_HEADS);
  gtk_label_set_text (self->hover_label, HOVER_HINT);
}

/* ---- linked selection -------------------------------------------------- */

static void
on_token_activated (AttnAttentionView *view, int query, int key,
                    AttnWindow *self)
{
  /* A second click on what is selected clears it. */
  if (query == self->sel.selected_query && key == self->sel.selected_key)
    query = key = -1;
  self->sel.selected_query = query;
  self->sel.selected_key = key;
  push_selection (self);
}

static void
on_token_selected (AttnAttentionView *view, int query, int key,
                   AttnWindow *self)
{
  self->sel.selected_query = query;
  self->sel.selected_key = key;
  push_selection (self);
}

static void
on_range_changed (AttnAttentionView *view, int start, int end, AttnWindow *self)
{
  self->sel.range_start = start;
  self->sel.range_end = end;
  push_selection (self);
}

static void
on_thumbnail_activated (AttnAttentionView *view, int layer, int head,
                        AttnWindow *self)
{
  self->sel.layer = layer;
  self->sel.head = head;
  refresh_controls (self);
  push_selection (self);
  attn_window_set_view (self, ATTN_VIEW_HEATMAP);
}

static void
on_hover_changed (AttnAttentionView *view, AttnWindow *self)
{
  if (attn_window_get_view (self) != attn_attention_view_get_kind (view))
    return;
  g_autofree char *text = attn_attention_view_describe_hit (
      view, attn_attention_view_get_hover (view));
  gtk_label_set_text (self->hover_label, text != NULL ? text : HOVER_HINT);
}

/* ---- what is shown ----------------------------------------------------- */

static void
update_title (AttnWindow *self, const char *subtitle)
{
  adw_view_switcher_title_set_subtitle (self->switcher_title,
                                        subtitle != NULL ? subtitle : "");
  g_autofree char *title = subtitle != NULL
                               ? g_strdup_printf ("Attnscope — %s", subtitle)
                               : g_strdup ("Attnscope");
  gtk_window_set_title (GTK_WINDOW (self), title);
}

static void
show_message (AttnWindow *self, const char *icon, const char *title,
              const char *description)
{
  adw_status_page_set_icon_name (self->message_page, icon);
  adw_status_page_set_title (self->message_page, title);
  adw_status_page_set_description (self->message_page, description);
  gtk_widget_set_visible (GTK_WIDGET (self->run_button), FALSE);
  gtk_stack_set_visible_child_name (self->views_stack, "message");
  gtk_widget_set_sensitive (self->controls_box, FALSE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->export_button), FALSE);
}

static void
clear_trace (AttnWindow *self)
{
  if (self->play_button != NULL)
    stop_playing (self);
  for (int v = 0; v < ATTN_N_VIEWS; v++)
    if (self->views[v] != NULL) /* NULL once the template is disposed */
      attn_attention_view_set_trace (self->views[v], NULL);
  g_clear_pointer (&self->trace, attn_trace_free);
}

/* What the model answered: the decoder's text, or for a decoder-only model
 * the token it predicts next. */
static char *
output_text (const AttnTrace *trace)
{
  if (attn_trace_n_tokens (trace, ATTN_SIDE_SOURCE) == 0
      && trace->steps->len > 0)
    {
      const AttnStep *last
          = g_ptr_array_index (trace->steps, trace->steps->len - 1);
      return g_strdup_printf ("next: %s", last->emitted.text);
    }
  return g_strdup (trace->target_text);
}

static void watch_next_paint (AttnWindow *self, gint64 run_started_us);

/* GDK drops a frame clock's handlers itself when the window is
 * unrealized; only a handler still there is disconnected. */
static void
forget_paint_clock (AttnWindow *self)
{
  if (self->after_paint_id != 0
      && g_signal_handler_is_connected (self->paint_clock,
                                        self->after_paint_id))
    g_signal_handler_disconnect (self->paint_clock, self->after_paint_id);
  self->after_paint_id = 0;
  g_clear_object (&self->paint_clock);
}

static void
watch_next_paint_on_realize (GtkWidget *widget, gpointer data)
{
  AttnWindow *self = ATTN_WINDOW (widget);
  g_signal_handlers_disconnect_by_func (self, watch_next_paint_on_realize,
                                        NULL);
  watch_next_paint (self, self->draw_pending_since);
}

/* Logs (g_debug) how long a new trace took to reach the screen: from the
 * start of its run (the keystroke's cost, debounce excluded) and, for the
 * first trace, from the application's start. */
static void
on_after_paint (GdkFrameClock *clock, AttnWindow *self)
{
  gint64 now = g_get_monotonic_time ();
  if (self->draw_pending_since != 0)
    g_debug ("run and redraw: %.1f ms from the run's start to the painted "
             "frame",
             (now - self->draw_pending_since) / 1000.0);
  GApplication *app = g_application_get_default ();
  if (!self->first_paint_logged && ATTN_IS_APPLICATION (app))
    g_debug ("first trace painted %.0f ms after the application started",
             (now - attn_application_get_start_time (ATTN_APPLICATION (app)))
                 / 1000.0);
  self->first_paint_logged = TRUE;
  self->draw_pending_since = 0;
  forget_paint_clock (self);
}

static void
watch_next_paint (AttnWindow *self, gint64 run_started_us)
{
  self->draw_pending_since = run_started_us;
  if (self->after_paint_id != 0)
    return;
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (self));
  if (clock == NULL)
    {
      /* Not realized yet: the first paint comes with the first frame. */
      g_signal_handlers_disconnect_by_func (self, watch_next_paint_on_realize,
                                            NULL);
      g_signal_connect (self, "realize",
                        G_CALLBACK (watch_next_paint_on_realize), NULL);
      return;
    }
  self->paint_clock = g_object_ref (clock);
  self->after_paint_id = g_signal_connect (clock, "after-paint",
                                           G_CALLBACK (on_after_paint), self);
}

void
attn_window_set_trace (AttnWindow *self, AttnTrace *trace, const char *label)
{
  g_return_if_fail (ATTN_IS_WINDOW (self));
  g_return_if_fail (trace != NULL);

  clear_trace (self);
  self->trace = trace;
  refresh_controls (self);
  push_selection (self);
  for (int v = 0; v < ATTN_N_VIEWS; v++)
    attn_attention_view_set_trace (self->views[v], trace);

  g_autofree char *output = output_text (trace);
  gtk_label_set_text (self->output_label, output);
  if (label != NULL)
    update_title (self, label);
  gtk_stack_set_visible_child_name (self->main_stack, "content");
  adw_view_switcher_title_set_view_switcher_enabled (self->switcher_title,
                                                     TRUE);
  gtk_stack_set_visible_child_name (self->views_stack, "views");
  gtk_widget_set_sensitive (self->controls_box, TRUE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->export_button), TRUE);
  on_visible_view_changed (self->view_stack, NULL, self);
  watch_next_paint (self, self->run_started_us);
  self->run_started_us = 0;
}

const AttnTrace *
attn_window_get_trace (AttnWindow *self)
{
  g_return_val_if_fail (ATTN_IS_WINDOW (self), NULL);
  return self->trace;
}

/* Marks the characters the model does not know in the entry (wavy red
 * underline), so the user sees which ones were read as <unk>: within the
 * first run_len bytes, the part that ran (a cut text's rest was not read
 * at all, and marking all of a long paste would cost more than the run). */
static void
mark_unknown (AttnWindow *self, GPtrArray *unknown, gsize run_len)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->text_entry));
  run_len = MIN (run_len, strlen (text));
  PangoAttrList *attrs = pango_attr_list_new ();
  for (guint i = 0; unknown != NULL && i < unknown->len; i++)
    {
      const char *u = g_ptr_array_index (unknown, i);
      gsize len = strlen (u);
      if (len == 0 || len > run_len)
        continue;
      for (const char *p = g_strstr_len (text, run_len, u); p != NULL;
           p = g_strstr_len (p + len, run_len - (p + len - text), u))
        {
          PangoAttribute *a = pango_attr_underline_new (PANGO_UNDERLINE_ERROR);
          a->start_index = p - text;
          a->end_index = a->start_index + len;
          pango_attr_list_insert (attrs, a);
          a = pango_attr_foreground_new (0xc000, 0x1c00, 0x2800);
          a->start_index = p - text;
          a->end_index = a->start_index + len;
          pango_attr_list_insert (attrs, a);
        }
    }
  gtk_entry_set_attributes (self->text_entry, attrs);
  pango_attr_list_unref (attrs);
}

static void
set_notice (AttnWindow *self, const char *text)
{
  gtk_label_set_text (self->notice_label, text != NULL ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->notice_label),
                          text != NULL && text[0] != '\0');
}

/* ---- long runs: progress and Stop ------------------------------------ */

static void
hide_progress (AttnWindow *self)
{
  g_clear_handle_id (&self->progress_delay_id, g_source_remove);
  gtk_revealer_set_reveal_child (self->progress_revealer, FALSE);
}

static gboolean
on_progress_delay (gpointer data)
{
  AttnWindow *self = data;
  self->progress_delay_id = 0;
  if (!attn_runner_is_busy (self->runner))
    return G_SOURCE_REMOVE;
  gtk_revealer_set_reveal_child (self->progress_revealer, TRUE);
  /* A model's first run has nothing to show meanwhile but what it is
   * doing; an earlier trace stays in view until the new one is done. */
  if (self->trace == NULL)
    show_message (self, "content-loading-symbolic", _ ("Running the Model"),
                  _ ("A long text on a large model takes a while: the bar "
                     "above shows how far the run is."));
  return G_SOURCE_REMOVE;
}

/* What the run is doing now: the layer being computed, or the token being
 * generated. */
static char *
progress_text (const AttnGpt2Progress *p)
{
  if (p->n_generate > 0 && (p->generated > 0 || p->layers_done >= p->n_layers))
    return g_strdup_printf (_ ("Generating token %d of %d"),
                            MIN (p->generated + 1, p->n_generate),
                            p->n_generate);
  return g_strdup_printf (_ ("Layer %d of %d"),
                          MIN (p->layers_done + 1, p->n_layers), p->n_layers);
}

static void
on_run_progress (AttnRunner *runner, guint64 generation, double fraction,
                 const AttnGpt2Progress *progress, AttnWindow *self)
{
  /* A run's first report comes as it starts. A run that replaces one
   * still going (the text changed) keeps the bar, or the delay already
   * counting: the user has been waiting since the first. */
  if (progress->layers_done == 0 && progress->generated == 0)
    {
      gtk_widget_set_sensitive (GTK_WIDGET (self->stop_button), TRUE);
      if (!gtk_revealer_get_reveal_child (self->progress_revealer)
          && self->progress_delay_id == 0)
        self->progress_delay_id = g_timeout_add (
            ATTN_WINDOW_PROGRESS_DELAY_MS, on_progress_delay, self);
    }
  gtk_progress_bar_set_fraction (self->progress_bar, fraction);
  g_autofree char *text = progress_text (progress);
  gtk_progress_bar_set_text (self->progress_bar, text);
}

/* The run stops between two layers; "stopped" says when. */
static void
on_stop_clicked (GtkButton *button, AttnWindow *self)
{
  gtk_progress_bar_set_text (self->progress_bar, _ ("Stopping…"));
  gtk_widget_set_sensitive (GTK_WIDGET (self->stop_button), FALSE);
  if (!attn_runner_stop (self->runner))
    hide_progress (self);
}

static void
on_run_stopped (AttnRunner *runner, guint64 generation, AttnWindow *self)
{
  hide_progress (self);
  gtk_spinner_stop (self->spinner);
  clear_trace (self);
  gtk_label_set_text (self->output_label, "");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->output_label), NULL);
  set_notice (self, NULL);
  show_message (self, "media-playback-stop-symbolic", _ ("Run Stopped"),
                _ ("The text is kept. Press Enter in the text box, or Run "
                   "Again, to run it."));
  gtk_widget_set_visible (GTK_WIDGET (self->run_button), TRUE);
}

/* What GPT-2 wrote after the text: the trace's stream past the prompt
 * (the decoded stream begins with the prompt's text itself). */
static char *
continuation_text (const AttnTrace *trace, const char *prompt, int generated)
{
  if (g_str_has_prefix (trace->target_text, prompt))
    return g_strdup (trace->target_text + strlen (prompt));
  int first = attn_trace_n_tokens (trace, ATTN_SIDE_TARGET) - generated;
  const AttnToken *token
      = attn_trace_get_token (trace, ATTN_SIDE_TARGET, first);
  return g_strdup (token != NULL && token->start >= 0
                       ? trace->target_text + token->start
                       : "");
}

static void
on_run_finished (AttnRunner *runner, AttnRunResult *result, AttnWindow *self)
{
  gtk_spinner_stop (self->spinner);
  hide_progress (self);

  g_autoptr (GString) notice = g_string_new (NULL);
  if (result->truncated && result->limit_in_tokens && result->n_generate > 0)
    g_string_append_printf (notice,
                            _ ("The text was cut to %d tokens, so that it and "
                               "the %d to generate fit in the model’s "
                               "context. "),
                            result->max_chars, result->n_generate);
  else if (result->truncated)
    g_string_append_printf (notice,
                            result->limit_in_tokens
                                ? _ ("The text was cut to the model’s limit "
                                     "of %d tokens. ")
                                : _ ("The text was cut to the model’s limit "
                                     "of %d characters. "),
                            result->max_chars);
  if (result->unknown != NULL && result->unknown->len > 0)
    {
      g_string_append (notice, _ ("Not in the model’s vocabulary, read as "
                                  "<unk>:"));
      for (guint i = 0; i < result->unknown->len; i++)
        g_string_append_printf (
            notice, "%s “%s”", i > 0 ? "," : "",
            (const char *)g_ptr_array_index (result->unknown, i));
      g_string_append_c (notice, '.');
    }
  if (result->trace != NULL && result->generated < result->n_generate)
    g_string_append_printf (
        notice,
        g_dngettext (GETTEXT_PACKAGE,
                     "GPT-2 ended the text (<|endoftext|>) after %d of the "
                     "%d token asked.",
                     "GPT-2 ended the text (<|endoftext|>) after %d of the "
                     "%d tokens asked.",
                     result->n_generate),
        result->generated, result->n_generate);
  set_notice (self, notice->str);
  mark_unknown (self, result->unknown, strlen (result->text));

  if (result->trace == NULL)
    {
      clear_trace (self);
      gtk_label_set_text (self->output_label, "");
      show_message (self, "dialog-warning-symbolic",
                    _ ("The Model Could Not Run"),
                    result->error != NULL ? result->error->message : NULL);
      return;
    }
  self->run_started_us = result->started_us;
  attn_window_set_trace (self, g_steal_pointer (&result->trace), NULL);
  /* What GPT-2 generated, rather than its next prediction; whole in the
   * tooltip when the label cuts it. */
  g_autofree char *continuation
      = result->generated > 0 ? continuation_text (self->trace, result->text,
                                                   result->generated)
                              : NULL;
  if (continuation != NULL)
    {
      g_autofree char *shown = g_strdup_printf ("…%s", continuation);
      gtk_label_set_text (self->output_label, shown);
    }
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->output_label), continuation);
}

static gboolean
is_blank (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    if (!g_unichar_isspace (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

static void
on_text_changed (GtkEditable *editable, AttnWindow *self)
{
  if (!attn_runner_has_model (self->runner))
    return;
  const char *text = gtk_editable_get_text (editable);
  if (is_blank (text))
    {
      attn_runner_cancel (self->runner);
      gtk_spinner_stop (self->spinner);
      hide_progress (self);
      clear_trace (self);
      gtk_label_set_text (self->output_label, "");
      set_notice (self, NULL);
      gtk_entry_set_attributes (self->text_entry, NULL);
      show_message (self, "document-edit-symbolic", _ ("Type a Sentence"),
                    _ ("Every attention weight the model uses on it appears "
                       "here as you type."));
      return;
    }
  gtk_spinner_start (self->spinner);
  attn_runner_request (self->runner, text);
}

/* Enter in the entry, or Run Again: the text now, without the delay (after
 * a Stop, or to see a run again). */
static void
run_text_now (AttnWindow *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->text_entry));
  if (!attn_runner_has_model (self->runner) || is_blank (text))
    return;
  gtk_spinner_start (self->spinner);
  attn_runner_run_now (self->runner, text);
}

static void
on_entry_activate (GtkEntry *entry, AttnWindow *self)
{
  run_text_now (self);
}

static void
on_run_clicked (GtkButton *button, AttnWindow *self)
{
  run_text_now (self);
}

/* The tokens GPT-2 generates: the text runs again with the new count. */
static void
on_generate_changed (GtkSpinButton *spin, AttnWindow *self)
{
  self->gpt2_generate = gtk_spin_button_get_value_as_int (spin);
  attn_runner_set_generate (self->runner, self->gpt2_generate);
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->text_entry));
  if (!attn_runner_is_gpt2 (self->runner) || is_blank (text))
    return;
  gtk_spinner_start (self->spinner);
  attn_runner_request (self->runner, text);
}

/* Sets the entry without the debounce: a new model shows its example at
 * once. */
static void
set_text_now (AttnWindow *self, const char *text)
{
  g_signal_handlers_block_by_func (self->text_entry, on_text_changed, self);
  gtk_editable_set_text (GTK_EDITABLE (self->text_entry),
                         text != NULL ? text : "");
  g_signal_handlers_unblock_by_func (self->text_entry, on_text_changed, self);
  if (text != NULL && !is_blank (text))
    {
      gtk_spinner_start (self->spinner);
      attn_runner_run_now (self->runner, text);
    }
  else
    on_text_changed (GTK_EDITABLE (self->text_entry), self);
}

/* ---- opening models and traces ----------------------------------------- */

/* What a load hands back: the model, and the file it came from when that
 * was not a bundled model (for the recent list). */
typedef struct
{
  AttnModel *model; /* or */
  AttnGpt2 *gpt2;
  char *file;
} Loaded;

static void
loaded_free (Loaded *loaded)
{
  g_clear_pointer (&loaded->model, attn_model_free);
  g_clear_pointer (&loaded->gpt2, attn_gpt2_free);
  g_free (loaded->file);
  g_free (loaded);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Loaded, loaded_free)

static void
load_model_in_thread (GTask *task, gpointer source, gpointer task_data,
                      GCancellable *cancellable)
{
  const char *name = task_data;
  GError *error = NULL;
  g_autoptr (AttnModelRef) ref = attn_model_ref_resolve (name, &error);
  if (ref == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* A Hugging Face GPT-2 folder (or its config.json or model.safetensors);
   * any other folder is nothing we read. */
  AttnGpt2 *gpt2 = NULL;
  AttnModel *model = NULL;
  if (attn_gpt2_detect (ref->path))
    gpt2 = attn_gpt2_open (ref->path, &error);
  else if (ref->kind == ATTN_MODEL_REF_FOLDER)
    {
      g_autofree char *shown = g_filename_display_name (ref->path);
      g_task_return_new_error (task, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                               "“%s” is a folder but not a GPT-2 model's: "
                               "it has no config.json whose model_type is "
                               "“gpt2”",
                               shown);
      return;
    }
  else
    model = attn_model_load (ref->path, &error);
  if (model == NULL && gpt2 == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  Loaded *loaded = g_new0 (Loaded, 1);
  loaded->model = model;
  loaded->gpt2 = gpt2;
  if (ref->kind != ATTN_MODEL_REF_BUNDLED)
    {
      g_autoptr (GFile) file = g_file_new_for_path (ref->path);
      loaded->file = g_file_get_path (file); /* absolute */
    }
  g_task_return_pointer (task, loaded, (GDestroyNotify)loaded_free);
}

static void
on_model_loaded (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Loaded) loaded = g_task_propagate_pointer (G_TASK (res), &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  AttnWindow *self = ATTN_WINDOW (source);
  g_clear_object (&self->load_cancellable);
  if (loaded == NULL)
    {
      show_error_dialog (self, _ ("Cannot Open Model"), error->message);
      return;
    }
  if (loaded->file != NULL)
    remember_recent (self, loaded->file);

  g_clear_pointer (&self->trace_path, g_free);
  g_free (self->example_text);
  g_autofree char *first_text = g_steal_pointer (&self->initial_text);
  g_autofree char *name = NULL;
  if (loaded->gpt2 != NULL)
    {
      /* A language model: a sentence whose attention has something to
       * show (the pronoun looks back at what it refers to). */
      self->example_text = g_strdup (GPT2_EXAMPLE);
      name = g_strdup (loaded->gpt2->name);
      attn_runner_set_gpt2 (self->runner, g_steal_pointer (&loaded->gpt2));
      attn_runner_set_generate (self->runner, self->gpt2_generate);
    }
  else
    {
      self->example_text = example_for_card (loaded->model->card_json);
      name = g_strdup (loaded->model->name);
      attn_runner_set_model (self->runner, g_steal_pointer (&loaded->model));
    }
  /* The model's run in flight, if any, was dropped. */
  hide_progress (self);
  gtk_widget_set_visible (self->generate_box,
                          attn_runner_is_gpt2 (self->runner));

  gtk_menu_button_set_label (self->model_button, name);
  update_title (self, name);
  gtk_widget_set_sensitive (GTK_WIDGET (self->text_entry), TRUE);
  gtk_entry_set_placeholder_text (self->text_entry, _ ("Type a sentence"));
  gtk_stack_set_visible_child_name (self->main_stack, "content");
  set_text_now (self, first_text != NULL ? first_text : self->example_text);
  /* The cursor at the end, nothing selected: editing the example (another
   * day, another spelling) is the usual next step. */
  gtk_widget_grab_focus (GTK_WIDGET (self->text_entry));
  gtk_editable_select_region (GTK_EDITABLE (self->text_entry), -1, -1);
}

void
attn_window_set_initial_text (AttnWindow *self, const char *text)
{
  g_return_if_fail (ATTN_IS_WINDOW (self));
  g_free (self->initial_text);
  self->initial_text = g_strdup (text);
}

void
attn_window_open_model (AttnWindow *self, const char *ref)
{
  g_return_if_fail (ATTN_IS_WINDOW (self));
  g_return_if_fail (ref != NULL);
  /* A newer choice wins over a load still in flight. */
  if (self->load_cancellable != NULL)
    g_cancellable_cancel (self->load_cancellable);
  g_set_object (&self->load_cancellable, g_cancellable_new ());
  g_autoptr (GTask) task
      = g_task_new (self, self->load_cancellable, on_model_loaded, NULL);
  g_task_set_return_on_cancel (task, TRUE);
  g_task_set_task_data (task, g_strdup (ref), g_free);
  g_task_run_in_thread (task, load_model_in_thread);
}

gboolean
attn_window_open_trace (AttnWindow *self, const char *path, GError **error)
{
  g_return_val_if_fail (ATTN_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  AttnTrace *trace = attn_trace_load_json (path, error);
  if (trace == NULL)
    return FALSE;

  /* The trace stands alone: typing would replace it with a run of another
   * model, so the entry shows its text and stays off. */
  if (self->load_cancellable != NULL)
    g_cancellable_cancel (self->load_cancellable);
  attn_runner_set_model (self->runner, NULL);
  gtk_spinner_stop (self->spinner);
  hide_progress (self);
  gtk_widget_set_visible (self->generate_box, FALSE);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->output_label), NULL);
  g_free (self->trace_path);
  self->trace_path = g_strdup (path);
  g_signal_handlers_block_by_func (self->text_entry, on_text_changed, self);
  gtk_editable_set_text (GTK_EDITABLE (self->text_entry),
                         attn_trace_n_tokens (trace, ATTN_SIDE_SOURCE) > 0
                             ? trace->source_text
                             : trace->target_text);
  g_signal_handlers_unblock_by_func (self->text_entry, on_text_changed, self);
  gtk_entry_set_attributes (self->text_entry, NULL);
  gtk_widget_set_sensitive (GTK_WIDGET (self->text_entry), FALSE);
  set_notice (self, NULL);

  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *shown = g_filename_display_name (base);
  g_autofree char *label
      = g_strdup_printf ("%s (%s)", shown, trace->model_name);
  gtk_menu_button_set_label (self->model_button, shown);
  attn_window_set_trace (self, trace, label);
  return TRUE;
}

static char *
file_path_or_error (GFile *file, AttnWindow *self)
{
  char *path = g_file_get_path (file);
  if (path == NULL)
    {
      g_autofree char *uri = g_file_get_uri (file);
      g_autofree char *msg = g_strdup_printf ("“%s” is not a local file", uri);
      attn_window_toast (self, msg);
    }
  return path;
}

/* A trace is a .json; anything else is taken for a model. */
static void
open_path (AttnWindow *self, const char *path)
{
  g_autofree char *lower = g_utf8_strdown (path, -1);
  if (g_str_has_suffix (lower, ".json"))
    {
      g_autoptr (GError) error = NULL;
      if (!attn_window_open_trace (self, path, &error))
        show_error_dialog (self, _ ("Cannot Open Trace"), error->message);
    }
  else
    attn_window_open_model (self, path);
}

static void
on_open_response (GtkNativeDialog *native, int response, AttnWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file
          = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (native));
      g_autofree char *path
          = file != NULL ? file_path_or_error (file, self) : NULL;
      gboolean trace = GPOINTER_TO_INT (
          g_object_get_data (G_OBJECT (native), "attn-trace"));
      if (path != NULL && trace)
        {
          g_autoptr (GError) error = NULL;
          if (!attn_window_open_trace (self, path, &error))
            show_error_dialog (self, _ ("Cannot Open Trace"), error->message);
        }
      else if (path != NULL)
        attn_window_open_model (self, path);
    }
  g_object_unref (native);
}

static void
run_open_dialog (AttnWindow *self, gboolean trace)
{
  GtkFileChooserNative *native = gtk_file_chooser_native_new (
      trace ? _ ("Open Trace") : _ ("Open Model"), GTK_WINDOW (self),
      GTK_FILE_CHOOSER_ACTION_OPEN, _ ("_Open"), _ ("_Cancel"));
  GtkFileFilter *filter = gtk_file_filter_new ();
  if (trace)
    {
      gtk_file_filter_set_name (filter, _ ("Attnscope traces (.json)"));
      gtk_file_filter_add_suffix (filter, "json");
    }
  else
    {
      gtk_file_filter_set_name (filter, _ ("Model files (.safetensors)"));
      gtk_file_filter_add_suffix (filter, "safetensors");
    }
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (native), filter);
  g_object_unref (filter);
  g_object_set_data (G_OBJECT (native), "attn-trace", GINT_TO_POINTER (trace));
  g_signal_connect (native, "response", G_CALLBACK (on_open_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (native));
}

static void
open_model_action (GtkWidget *widget, const char *action, GVariant *param)
{
  run_open_dialog (ATTN_WINDOW (widget), FALSE);
}

static void
open_trace_action (GtkWidget *widget, const char *action, GVariant *param)
{
  run_open_dialog (ATTN_WINDOW (widget), TRUE);
}

/* A bundled model's name or a recent model's path. */
static void
open_ref_action (GtkWidget *widget, const char *action, GVariant *param)
{
  attn_window_open_model (ATTN_WINDOW (widget),
                          g_variant_get_string (param, NULL));
}

static gboolean
on_drop (GtkDropTarget *target, const GValue *value, double x, double y,
         AttnWindow *self)
{
  if (!G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    return FALSE;
  GSList *files = gdk_file_list_get_files (g_value_get_boxed (value));
  if (files == NULL)
    return FALSE;
  g_autofree char *path = file_path_or_error (files->data, self);
  g_slist_free (files);
  if (path == NULL)
    return FALSE;
  open_path (self, path);
  return TRUE;
}

/* ---- presentation mode ------------------------------------------------- */

void
attn_window_set_presentation (AttnWindow *self, gboolean presentation)
{
  g_return_if_fail (ATTN_IS_WINDOW (self));
  presentation = !!presentation;
  if (self->presentation == presentation)
    return;
  self->presentation = presentation;
  self->options.presentation = presentation;
  if (presentation)
    {
      gtk_widget_add_css_class (GTK_WIDGET (self), "presentation");
      gtk_window_fullscreen (GTK_WINDOW (self));
    }
  else
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self), "presentation");
      gtk_window_unfullscreen (GTK_WINDOW (self));
    }
  push_selection (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PRESENTATION]);
}

gboolean
attn_window_get_presentation (AttnWindow *self)
{
  g_return_val_if_fail (ATTN_IS_WINDOW (self), FALSE);
  return self->presentation;
}

/* Leaving fullscreen some other way (the window manager) ends the mode. */
static void
on_fullscreened (GtkWindow *window, GParamSpec *pspec, AttnWindow *self)
{
  if (!gtk_window_is_fullscreen (window) && self->presentation
      && gtk_widget_get_mapped (GTK_WIDGET (window)))
    attn_window_set_presentation (self, FALSE);
}

/* The head dropdown's next or previous row, staying within it. */
static gboolean
move_head (AttnWindow *self, int delta)
{
  guint n = g_list_model_get_n_items (
      gtk_drop_down_get_model (self->head_dropdown));
  int row = (int)gtk_drop_down_get_selected (self->head_dropdown) + delta;
  if (n == 0 || row < 0 || row >= (int)n)
    return FALSE;
  gtk_drop_down_set_selected (self->head_dropdown, row);
  return TRUE;
}

static gboolean
move_spin (GtkSpinButton *spin, int delta)
{
  double lo, hi;
  gtk_spin_button_get_range (spin, &lo, &hi);
  int value = gtk_spin_button_get_value_as_int (spin) + delta;
  if (value < lo || value > hi)
    return FALSE;
  gtk_spin_button_set_value (spin, value);
  return TRUE;
}

gboolean
attn_window_presentation_key (AttnWindow *self, guint keyval)
{
  g_return_val_if_fail (ATTN_IS_WINDOW (self), FALSE);
  if (!self->presentation)
    return FALSE;
  if (keyval == GDK_KEY_Escape)
    {
      attn_window_set_presentation (self, FALSE);
      return TRUE;
    }
  if (self->trace == NULL)
    return FALSE;
  gboolean steps = attn_window_get_view (self) == ATTN_VIEW_STEP;
  switch (keyval)
    {
    case GDK_KEY_Up:
      return move_spin (self->layer_spin, -1);
    case GDK_KEY_Down:
      return move_spin (self->layer_spin, 1);
    case GDK_KEY_Left:
      return steps ? move_spin (self->step_spin, -1) : move_head (self, -1);
    case GDK_KEY_Right:
      return steps ? move_spin (self->step_spin, 1) : move_head (self, 1);
    default:
      return FALSE;
    }
}

static gboolean
on_window_key (GtkEventControllerKey *controller, guint keyval, guint keycode,
               GdkModifierType state, AttnWindow *self)
{
  if (!self->presentation
      || (state & (GDK_CONTROL_MASK | GDK_ALT_MASK | GDK_SHIFT_MASK)) != 0)
    return FALSE;
  /* The entry keeps its arrows for the cursor. */
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));
  if (focus != NULL
      && gtk_widget_is_ancestor (focus, GTK_WIDGET (self->text_entry)))
    return FALSE;
  return attn_window_presentation_key (self, keyval);
}

/* ---- export ------------------------------------------------------------ */

typedef enum
{
  EXPORT_PNG,
  EXPORT_SVG,
  EXPORT_PDF,
  EXPORT_ATLAS,
  EXPORT_CSV,
  EXPORT_JSON,
} ExportWhat;

static const struct
{
  const char *name; /* the action's target */
  const char *suffix;
  const char *title; /* N_ (), translated where shown */
} export_kinds[] = {
  [EXPORT_PNG] = { "png", ".png", N_ ("Export Image") },
  [EXPORT_SVG] = { "svg", ".svg", N_ ("Export Drawing") },
  [EXPORT_PDF] = { "pdf", ".pdf", N_ ("Export Document") },
  [EXPORT_ATLAS] = { "atlas", ".pdf", N_ ("Export Atlas") },
  [EXPORT_CSV] = { "csv", ".csv", N_ ("Export Weights") },
  [EXPORT_JSON] = { "json", ".json", N_ ("Export Trace") },
};

/* Sizes offered for images, in pixels (an SVG or PDF gets the same size at
 * 96 dpi). */
static const struct
{
  const char *id, *label;
  int width, height;
} export_sizes[] = {
  { "800", "800 × 600", 800, 600 },
  { "1200", "1200 × 900", 1200, 900 },
  { "1600", "1600 × 1200", 1600, 1200 },
  { "2400", "2400 × 1800", 2400, 1800 },
};

static const struct
{
  const char *id, *label;
  AttnTheme theme;
} export_themes[] = {
  { "light", N_ ("Light"), ATTN_THEME_LIGHT },
  { "dark", N_ ("Dark"), ATTN_THEME_DARK },
  { "presentation", N_ ("Presentation"), ATTN_THEME_PRESENTATION },
};

static char *
suggested_name (AttnWindow *self, ExportWhat what)
{
  const char *model = self->trace->model_name;
  if (what == EXPORT_JSON)
    return g_strdup_printf ("%s-trace.json", model);
  if (what == EXPORT_ATLAS)
    return g_strdup_printf ("%s-atlas.pdf", model);
  g_autofree char *head = self->sel.head == ATTN_HEADS_MEAN ? g_strdup ("mean")
                          : self->sel.head == ATTN_HEADS_MAX
                              ? g_strdup ("max")
                              : g_strdup_printf ("h%d", self->sel.head);
  const char *view
      = what == EXPORT_CSV
            ? "weights"
            : attn_view_kind_to_string (attn_window_get_view (self));
  return g_strdup_printf ("%s-%s-%s-l%d-%s%s", model, view,
                          attn_kind_to_string (self->sel.kind), self->sel.layer,
                          head, export_kinds[what].suffix);
}

/* Writes the export; TRUE with a message for the toast, FALSE with the
 * error. */
static gboolean
export_to (AttnWindow *self, ExportWhat what, const char *path,
           const char *size_id, const char *theme_id, GError **error)
{
  const AttnTrace *trace = self->trace;
  if (what == EXPORT_JSON)
    return attn_trace_save_json (trace, path, error);
  if (what == EXPORT_CSV)
    {
      const AttnBlock *block = shown_block (self);
      if (block == NULL)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                       "the trace has no %s block at layer %d",
                       attn_kind_to_string (self->sel.kind), self->sel.layer);
          return FALSE;
        }
      return attn_block_write_csv (trace, block, self->sel.head, path, error);
    }

  AttnExportOptions options;
  attn_export_options_init (&options);
  for (guint i = 0; size_id != NULL && i < G_N_ELEMENTS (export_sizes); i++)
    if (strcmp (size_id, export_sizes[i].id) == 0)
      {
        options.width = (AttnLength){ export_sizes[i].width, ATTN_UNIT_PX };
        options.height = (AttnLength){ export_sizes[i].height, ATTN_UNIT_PX };
      }
  AttnTheme theme = ATTN_THEME_LIGHT;
  for (guint i = 0; theme_id != NULL && i < G_N_ELEMENTS (export_themes); i++)
    if (strcmp (theme_id, export_themes[i].id) == 0)
      theme = export_themes[i].theme;
  g_autofree char *creator = g_strdup_printf ("Attnscope %s", ATTN_VERSION);
  options.creator = creator;

  AttnRenderStyle style;
  attn_render_style_init (&style, theme);
  style.colormap = self->options.colormap;
  style.reversed = self->options.reversed;
  style.scale = self->options.scale;
  style.threshold = self->options.threshold;
  style.show_values = self->options.show_values;
  gboolean ok;
  if (what == EXPORT_ATLAS)
    ok = attn_export_atlas (trace, self->sel.kind, &self->sel, &style, &options,
                            path, error);
  else
    {
      AttnViewKind view = attn_window_get_view (self);
      ok = attn_export_view (
          view, trace, attn_attention_view_get_selection (self->views[view]),
          &style, &options, path, error);
    }
  attn_render_style_clear (&style);
  return ok;
}

static int
export_kind_from_name (const char *name)
{
  for (guint i = 0; name != NULL && i < G_N_ELEMENTS (export_kinds); i++)
    if (strcmp (name, export_kinds[i].name) == 0)
      return i;
  return -1;
}

gboolean
attn_window_export (AttnWindow *self, const char *what, const char *path,
                    const char *size, const char *theme, GError **error)
{
  g_return_val_if_fail (ATTN_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_autoptr (GError) local = NULL;
  int kind = export_kind_from_name (what);
  gboolean ok = FALSE;
  if (kind < 0)
    g_set_error (&local, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                 "unknown export “%s”: png, svg, pdf, atlas, csv or json",
                 what != NULL ? what : "(null)");
  else if (self->trace == NULL)
    g_set_error (&local, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                 "nothing to export: no trace is shown");
  else
    ok = export_to (self, kind, path, size, theme, &local);

  g_autofree char *shown = g_filename_display_basename (path);
  g_autofree char *message
      = ok ? g_strdup_printf (_ ("Exported “%s”"), shown)
           : g_strdup_printf (_ ("Export failed: %s"), local->message);
  attn_window_toast (self, message);
  if (!ok)
    g_propagate_error (error, g_steal_pointer (&local));
  return ok;
}

static void
on_export_response (GtkNativeDialog *native, int response, AttnWindow *self)
{
  ExportWhat what
      = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (native), "attn-export"));
  if (response == GTK_RESPONSE_ACCEPT && self->trace != NULL)
    {
      GtkFileChooser *chooser = GTK_FILE_CHOOSER (native);
      g_autoptr (GFile) file = gtk_file_chooser_get_file (chooser);
      g_autofree char *path
          = file != NULL ? file_path_or_error (file, self) : NULL;
      if (path != NULL)
        attn_window_export (self, export_kinds[what].name, path,
                            gtk_file_chooser_get_choice (chooser, "size"),
                            gtk_file_chooser_get_choice (chooser, "theme"),
                            NULL);
    }
  g_object_unref (native);
}

static void
export_action (GtkWidget *widget, const char *action, GVariant *param)
{
  AttnWindow *self = ATTN_WINDOW (widget);
  if (self->trace == NULL)
    return;
  int what = export_kind_from_name (g_variant_get_string (param, NULL));
  if (what < 0)
    return;

  GtkFileChooserNative *native = gtk_file_chooser_native_new (
      _ (export_kinds[what].title), GTK_WINDOW (self),
      GTK_FILE_CHOOSER_ACTION_SAVE, _ ("_Export"), _ ("_Cancel"));
  GtkFileChooser *chooser = GTK_FILE_CHOOSER (native);
  g_autofree char *suggested = suggested_name (self, what);
  gtk_file_chooser_set_current_name (chooser, suggested);
  if (what <= EXPORT_ATLAS)
    {
      const char *ids[G_N_ELEMENTS (export_sizes) + 1] = { NULL };
      const char *labels[G_N_ELEMENTS (export_sizes) + 1] = { NULL };
      for (guint i = 0; i < G_N_ELEMENTS (export_sizes); i++)
        {
          ids[i] = export_sizes[i].id;
          labels[i] = export_sizes[i].label;
        }
      gtk_file_chooser_add_choice (chooser, "size", _ ("Size"), ids, labels);
      gtk_file_chooser_set_choice (chooser, "size", ids[0]);
      const char *tids[G_N_ELEMENTS (export_themes) + 1] = { NULL };
      const char *tlabels[G_N_ELEMENTS (export_themes) + 1] = { NULL };
      for (guint i = 0; i < G_N_ELEMENTS (export_themes); i++)
        {
          tids[i] = export_themes[i].id;
          tlabels[i] = _ (export_themes[i].label);
        }
      gtk_file_chooser_add_choice (chooser, "theme", _ ("Colours"), tids,
                                   tlabels);
      gtk_file_chooser_set_choice (chooser, "theme", tids[0]);
    }
  g_object_set_data (G_OBJECT (native), "attn-export", GINT_TO_POINTER (what));
  g_signal_connect (native, "response", G_CALLBACK (on_export_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (native));
}

/* ---- GObject ----------------------------------------------------------- */

static void
attn_window_dispose (GObject *object)
{
  AttnWindow *self = ATTN_WINDOW (object);
  if (self->load_cancellable != NULL)
    g_cancellable_cancel (self->load_cancellable);
  g_clear_object (&self->load_cancellable);
  g_clear_handle_id (&self->play_id, g_source_remove);
  g_clear_handle_id (&self->progress_delay_id, g_source_remove);
  if (self->runner != NULL)
    {
      /* A run still in flight finishes in its thread; its result must not
       * reach a window being destroyed. */
      g_signal_handlers_disconnect_by_data (self->runner, self);
      attn_runner_cancel (self->runner);
      g_clear_object (&self->runner);
    }
  clear_trace (self);
  forget_paint_clock (self);
  gtk_widget_dispose_template (GTK_WIDGET (self), ATTN_TYPE_WINDOW);
  G_OBJECT_CLASS (attn_window_parent_class)->dispose (object);
}

static void
attn_window_finalize (GObject *object)
{
  AttnWindow *self = ATTN_WINDOW (object);
  g_free (self->trace_path);
  g_free (self->example_text);
  g_free (self->initial_text);
  g_free (self->last_toast);
  g_free (self->prefs_path);
  g_clear_object (&self->model_menu);
  G_OBJECT_CLASS (attn_window_parent_class)->finalize (object);
}

static void
attn_window_get_property (GObject *object, guint prop_id, GValue *value,
                          GParamSpec *pspec)
{
  AttnWindow *self = ATTN_WINDOW (object);
  switch (prop_id)
    {
    case PROP_PRESENTATION:
      g_value_set_boolean (value, self->presentation);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
attn_window_set_property (GObject *object, guint prop_id, const GValue *value,
                          GParamSpec *pspec)
{
  AttnWindow *self = ATTN_WINDOW (object);
  switch (prop_id)
    {
    case PROP_PRESENTATION:
      attn_window_set_presentation (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
attn_window_class_init (AttnWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  /* Before the template's strings are looked up. */
  attn_i18n_init ();
  object_class->dispose = attn_window_dispose;
  object_class->finalize = attn_window_finalize;
  object_class->get_property = attn_window_get_property;
  object_class->set_property = attn_window_set_property;

  properties[PROP_PRESENTATION] = g_param_spec_boolean (
      "presentation", NULL, NULL, FALSE,
      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (ATTN_TYPE_ATTENTION_VIEW);
  gtk_widget_class_set_template_from_resource (
      widget_class, "/io/github/attnscope/Attnscope/attn-window.ui");
#define BIND(name)                                                             \
  gtk_widget_class_bind_template_child (widget_class, AttnWindow, name)
  BIND (toast_overlay);
  BIND (switcher_title);
  BIND (model_button);
  BIND (export_button);
  BIND (presentation_button);
  BIND (main_stack);
  BIND (empty_page);
  BIND (text_entry);
  BIND (generate_box);
  BIND (generate_spin);
  BIND (output_label);
  BIND (spinner);
  BIND (progress_revealer);
  BIND (progress_bar);
  BIND (stop_button);
  BIND (notice_label);
  BIND (controls_box);
  BIND (block_dropdown);
  BIND (layer_spin);
  BIND (head_dropdown);
  BIND (step_box);
  BIND (step_spin);
  BIND (play_button);
  BIND (step_scale);
  BIND (colormap_dropdown);
  BIND (threshold_box);
  BIND (threshold_spin);
  BIND (views_stack);
  BIND (message_page);
  BIND (run_button);
  BIND (view_stack);
  BIND (hover_label);
#undef BIND
  static const char *const view_ids[ATTN_N_VIEWS] = {
    [ATTN_VIEW_HEATMAP] = "heatmap_view",
    [ATTN_VIEW_ALIGNMENT] = "alignment_view",
    [ATTN_VIEW_HEADS] = "heads_view",
    [ATTN_VIEW_MODEL] = "model_view",
    [ATTN_VIEW_STEP] = "step_view",
  };
  for (int v = 0; v < ATTN_N_VIEWS; v++)
    gtk_widget_class_bind_template_child_full (
        widget_class, view_ids[v], FALSE,
        G_STRUCT_OFFSET (AttnWindow, views) + v * sizeof (gpointer));

  gtk_widget_class_install_action (widget_class, "win.open-model", NULL,
                                   open_model_action);
  gtk_widget_class_install_action (widget_class, "win.open-trace", NULL,
                                   open_trace_action);
  gtk_widget_class_install_action (widget_class, "win.open-ref", "s",
                                   open_ref_action);
  gtk_widget_class_install_action (widget_class, "win.export", "s",
                                   export_action);
  gtk_widget_class_add_binding_action (
      widget_class, GDK_KEY_o, GDK_CONTROL_MASK, "win.open-model", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o,
                                       GDK_CONTROL_MASK | GDK_SHIFT_MASK,
                                       "win.open-trace", NULL);
  gtk_widget_class_install_property_action (widget_class, "win.presentation",
                                            "presentation");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F11, 0,
                                       "win.presentation", NULL);
  gtk_widget_class_add_binding_action (
      widget_class, GDK_KEY_e, GDK_CONTROL_MASK, "win.export", "s", "png");
}

static void
attn_window_init (AttnWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  attn_selection_init (&self->sel, ATTN_KIND_CROSS);
  attn_view_options_init (&self->options);
  self->play_interval_ms = 700;

  self->runner = attn_runner_new ();
  g_signal_connect (self->runner, "finished", G_CALLBACK (on_run_finished),
                    self);
  g_signal_connect (self->runner, "progress", G_CALLBACK (on_run_progress),
                    self);
  g_signal_connect (self->runner, "stopped", G_CALLBACK (on_run_stopped),
                    self);

  /* The user's last choices. */
  self->prefs_path = attn_preferences_path ();
  g_autoptr (AttnPreferences) prefs
      = attn_preferences_load (self->prefs_path, NULL);
  self->options.colormap = prefs->colormap;
  self->options.threshold = prefs->threshold;
  gtk_spin_button_set_value (self->threshold_spin, self->options.threshold);
  gtk_drop_down_set_selected (self->colormap_dropdown, self->options.colormap);
  if (prefs->width > 0 && prefs->height > 0)
    gtk_window_set_default_size (GTK_WINDOW (self), prefs->width,
                                 prefs->height);
  if (prefs->maximized)
    gtk_window_maximize (GTK_WINDOW (self));
  self->gpt2_generate = prefs->gpt2_generate;
  gtk_spin_button_set_value (self->generate_spin, self->gpt2_generate);
  attn_runner_set_generate (self->runner, self->gpt2_generate);
  g_signal_connect (self, "close-request", G_CALLBACK (on_close_request), self);

  self->model_menu = g_menu_new ();
  rebuild_model_menu (self);
  gtk_menu_button_set_menu_model (self->model_button,
                                  G_MENU_MODEL (self->model_menu));

  g_auto (GStrv) bundled = attn_model_list_bundled ();
  adw_status_page_set_description (
      self->empty_page,
      bundled[0] == NULL
          ? _ ("No bundled model was found. Open an Attnscope model file "
               "(.safetensors) or a saved trace (.json), or drop one on this "
               "window.")
          : _ ("Choose a bundled model from the menu at the top left, open a "
               "model file (.safetensors) or a saved trace (.json), or drop "
               "one on this window."));
  gtk_stack_set_visible_child_name (self->main_stack, "empty");
  adw_view_switcher_title_set_view_switcher_enabled (self->switcher_title,
                                                     FALSE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->export_button), FALSE);

  g_signal_connect (self->text_entry, "changed", G_CALLBACK (on_text_changed),
                    self);
  g_signal_connect (self->text_entry, "activate",
                    G_CALLBACK (on_entry_activate), self);
  g_signal_connect (self->run_button, "clicked", G_CALLBACK (on_run_clicked),
                    self);
  g_signal_connect (self->stop_button, "clicked", G_CALLBACK (on_stop_clicked),
                    self);
  g_signal_connect (self->generate_spin, "value-changed",
                    G_CALLBACK (on_generate_changed), self);
  g_signal_connect (self->block_dropdown, "notify::selected",
                    G_CALLBACK (on_block_selected), self);
  g_signal_connect (self->layer_spin, "value-changed",
                    G_CALLBACK (on_layer_changed), self);
  g_signal_connect (self->head_dropdown, "notify::selected",
                    G_CALLBACK (on_head_selected), self);
  g_signal_connect (self->step_spin, "value-changed",
                    G_CALLBACK (on_step_changed), self);
  g_signal_connect (self->play_button, "toggled", G_CALLBACK (on_play_toggled),
                    self);
  g_signal_connect (self->colormap_dropdown, "notify::selected",
                    G_CALLBACK (on_colormap_selected), self);
  g_signal_connect (self->threshold_spin, "value-changed",
                    G_CALLBACK (on_threshold_changed), self);
  g_signal_connect (self->view_stack, "notify::visible-child",
                    G_CALLBACK (on_visible_view_changed), self);
  for (int v = 0; v < ATTN_N_VIEWS; v++)
    {
      g_signal_connect (self->views[v], "token-activated",
                        G_CALLBACK (on_token_activated), self);
      g_signal_connect (self->views[v], "token-selected",
                        G_CALLBACK (on_token_selected), self);
      g_signal_connect (self->views[v], "range-changed",
                        G_CALLBACK (on_range_changed), self);
      g_signal_connect (self->views[v], "thumbnail-activated",
                        G_CALLBACK (on_thumbnail_activated), self);
      g_signal_connect (self->views[v], "hover-changed",
                        G_CALLBACK (on_hover_changed), self);
    }
  attn_window_set_view (self, prefs->view);
  push_selection (self);
  on_visible_view_changed (self->view_stack, NULL, self);

  /* Before the focused widget sees them: in presentation mode the arrows
   * move through layers, heads and steps. */
  GtkEventController *keys = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (on_window_key), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
  g_signal_connect (self, "notify::fullscreened", G_CALLBACK (on_fullscreened),
                    self);

  GtkDropTarget *drop
      = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));
}

AttnWindow *
attn_window_new (GtkApplication *app)
{
  return g_object_new (ATTN_TYPE_WINDOW, "application", app, NULL);
}
