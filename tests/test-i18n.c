/* test-i18n.c: the GUI in Simplified Chinese. Runs with LANG=C.UTF-8 and
 * LANGUAGE=zh_CN (a fresh Debian has no zh_CN locale; GNU gettext honours
 * LANGUAGE over any locale but "C", and C.UTF-8 is not "C"), reads the
 * catalogue the build made in <build>/po, and checks that the window's
 * template, menus, dropdowns, status texts and drawn captions show the
 * Chinese strings.
 * Suite ui, under Xvfb. */
#include <locale.h>
#include <string.h>

#include "tests/attn-test-util.h"
#include "tests/attn-ui-test-util.h"
#include "ui/attn-i18n.h"
#include "ui/attn-window-private.h"
#include "ui/render/attn-text.h"

#define TRACE_FILE "ui-trace-zh.json"
/* The GUI's gettext domain (GETTEXT_PACKAGE in ui/meson.build). */
#define DOMAIN "attnscope"

typedef struct
{
  const char *msgid;
  const char *zh;
} Term;

/* The terms a Chinese classroom reads first, as the brief spells them. */
static const Term terms[] = {
  { "_Open Model…", "打开模型(_O)…" },
  { "Export", "导出" },
  { "Heatmap", "热力图" },
  { "Alignment", "对齐" },
  { "Heads", "注意力头" },
  { "Model Grid", "模型网格" },
  { "Steps", "步骤" },
  { "Cross-attention", "交叉注意力" },
  { "Encoder self-attention", "编码器自注意力" },
  { "Decoder self-attention", "解码器自注意力" },
  { "_Layer", "层(_L)" },
  { "Head %d", "头 %d" },
  { "Mean of heads", "头的平均" },
  { "Max of heads", "头的最大值" },
  { "Colour map", "色图" },
  { "_Threshold", "阈值(_T)" },
};

static void
test_catalogue (void)
{
  /* The uninstalled test program binds the build tree's catalogue. */
  g_autofree char *tests_dir
      = g_canonicalize_filename (g_test_get_dir (G_TEST_BUILT), NULL);
  g_autofree char *build_root = g_path_get_dirname (tests_dir);
  g_autofree char *po_dir = g_build_filename (build_root, "po", NULL);
  g_assert_cmpstr (attn_i18n_locale_dir (), ==, po_dir);
  g_autofree char *mo
      = g_build_filename (po_dir, "zh_CN", "LC_MESSAGES", DOMAIN ".mo", NULL);
  g_assert_true (g_file_test (mo, G_FILE_TEST_IS_REGULAR));
}

static void
test_term (gconstpointer data)
{
  const Term *term = data;
  g_assert_cmpstr (g_dgettext (DOMAIN, term->msgid), ==, term->zh);
}

/* The captions ui/render draws in the views come from the same domain. */
static void
test_drawn_caption (void)
{
  g_autofree char *title = attn_text_block_title (ATTN_KIND_CROSS, 1, 2, 4);
  g_assert_cmpstr (title, ==, "交叉注意力 · 第 1 层 · 头 2");
  g_autofree char *mean
      = attn_text_block_title (ATTN_KIND_DECODER_SELF, 0, ATTN_HEADS_MEAN, 4);
  g_assert_cmpstr (mean, ==, "解码器自注意力 · 第 0 层 · 4 个头的平均");
}

static AttnWindow *
new_window (void)
{
  AttnWindow *window = attn_window_new (NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 700);
  gtk_window_present (GTK_WINDOW (window));
  attn_ui_test_wait_allocated (GTK_WIDGET (window));
  return window;
}

static void
destroy_window (AttnWindow *window)
{
  gtk_window_destroy (GTK_WINDOW (window));
  for (int i = 0; i < 50 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

static char *
menu_label (GMenuModel *menu, int section, int item)
{
  GMenuModel *s
      = g_menu_model_get_item_link (menu, section, G_MENU_LINK_SECTION);
  g_assert_nonnull (s);
  char *label = NULL;
  g_assert_true (g_menu_model_get_item_attribute (
      s, item, G_MENU_ATTRIBUTE_LABEL, "s", &label));
  g_object_unref (s);
  return label;
}

static void
test_empty_window (void)
{
  /* The tests' model folder is empty: the empty state, its texts from the
   * template (title) and from code (description, model menu). */
  AttnWindow *window = new_window ();
  g_assert_cmpstr (adw_status_page_get_title (window->empty_page), ==,
                   "未打开模型");
  g_assert_true (
      g_str_has_prefix (adw_status_page_get_description (window->empty_page),
                        "未找到内置模型。"));
  GMenuModel *menu = G_MENU_MODEL (window->model_menu);
  g_autofree char *none = menu_label (menu, 0, 0);
  g_assert_cmpstr (none, ==, "未找到内置模型");
  g_autofree char *open = menu_label (menu, 1, 0);
  g_assert_cmpstr (open, ==, "打开模型(_O)…");
  g_assert_cmpstr (
      gtk_widget_get_tooltip_text (GTK_WIDGET (window->export_button)), ==,
      "导出");
  destroy_window (window);
}

static const char *
string_at (GtkDropDown *dropdown, guint i)
{
  GListModel *model = gtk_drop_down_get_model (dropdown);
  g_assert_cmpuint (i, <, g_list_model_get_n_items (model));
  return gtk_string_list_get_string (GTK_STRING_LIST (model), i);
}

static void
test_trace_window (void)
{
  AttnWindow *window = new_window ();
  g_autofree char *path = attn_test_data_path (TRACE_FILE);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_window_open_trace (window, path, &error));
  g_assert_no_error (error);

  /* The view switcher's pages. */
  static const struct
  {
    AttnViewKind view;
    const char *title;
  } pages[] = {
    { ATTN_VIEW_HEATMAP, "热力图" }, { ATTN_VIEW_ALIGNMENT, "对齐" },
    { ATTN_VIEW_HEADS, "注意力头" }, { ATTN_VIEW_MODEL, "模型网格" },
    { ATTN_VIEW_STEP, "步骤" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      AdwViewStackPage *page = adw_view_stack_get_page (
          window->view_stack, GTK_WIDGET (window->views[pages[i].view]));
      g_assert_cmpstr (adw_view_stack_page_get_title (page), ==,
                       pages[i].title);
    }

  /* The block dropdown: the trace has all three kinds, cross first. */
  g_assert_cmpint (window->n_kinds, ==, 3);
  g_assert_cmpstr (string_at (window->block_dropdown, 0), ==, "交叉注意力");
  g_assert_cmpstr (string_at (window->block_dropdown, 1), ==, "编码器自注意力");
  g_assert_cmpstr (string_at (window->block_dropdown, 2), ==, "解码器自注意力");

  /* Heads: mean, max, then one per head, numbered by the format. */
  g_assert_cmpstr (string_at (window->head_dropdown, 0), ==, "头的平均");
  g_assert_cmpstr (string_at (window->head_dropdown, 1), ==, "头的最大值");
  g_assert_cmpstr (string_at (window->head_dropdown, 2), ==, "头 0");
  g_assert_cmpstr (string_at (window->colormap_dropdown, 3), ==, "灰度");

  GtkWidget *layer_label
      = gtk_widget_get_prev_sibling (GTK_WIDGET (window->layer_spin));
  g_assert_true (GTK_IS_LABEL (layer_label));
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (layer_label)), ==, "层(_L)");

  /* The status line's hint while the pointer is over nothing. */
  g_assert_true (g_str_has_prefix (gtk_label_get_text (window->hover_label),
                                   "指向一个单元格"));
  destroy_window (window);
}

int
main (int argc, char **argv)
{
  /* Before GTK reads the locale. */
  g_unsetenv ("LC_ALL");
  g_unsetenv ("LC_MESSAGES");
  g_setenv ("LANG", "C.UTF-8", TRUE);
  g_setenv ("LANGUAGE", "zh_CN", TRUE);
  attn_ui_test_init (&argc, &argv);
  /* gtk_test_init asks for en_US.UTF-8, absent here, which leaves "C", in
   * which gettext ignores LANGUAGE: take the environment's C.UTF-8. */
  g_assert_nonnull (setlocale (LC_ALL, ""));

  g_test_add_func ("/attn/i18n/catalogue", test_catalogue);
  for (guint i = 0; i < G_N_ELEMENTS (terms); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/i18n/term/%u", i);
      g_test_add_data_func (name, &terms[i], test_term);
    }
  g_test_add_func ("/attn/i18n/drawn-caption", test_drawn_caption);
  g_test_add_func ("/attn/i18n/empty-window", test_empty_window);
  g_test_add_func ("/attn/i18n/trace-window", test_trace_window);
  return g_test_run ();
}
