/* test-cli-export.c: `attnscope-cli export` drawing pictures — every view
 * to PNG, SVG and PDF, the atlas, the picture options and their errors —
 * as a user runs it (docs/cli.md, "Pictures"). Spawns the built program
 * ($ATTN_CLI) on the fixture traces of tests/data/ (make-cli-traces.py)
 * and reads what it wrote back: PNG header and text chunks, SVG as XML,
 * PDF through poppler's pdfinfo. test-export.c checks the files in depth;
 * this checks that the command line reaches them. */
#include <string.h>

#include "tests/attn-test-util.h"

/* @T@ in an argument: cli-trace.json, 2 layers x 3 heads, all kinds, 6
 * source and 5 target tokens, 5 steps; @G@: cli-trace-gpt.json, 2 layers x 1
 * head, decoder-self; @D@: the scratch folder (attn_test_cli_expand). */
#define SCRATCH "attn-cli-export-XXXXXX" /* a folder per test */

/* ---- errors ------------------------------------------------------------ */

typedef struct {
  const char *args[20];
  int status;
  const char *message;
  const char *setup; /* a regular file made in the scratch folder first */
} FailCase;

#define ED_CROSS "export", "--trace", "@T@", "--kind", "cross", "--layer", "1"

static const FailCase fail_cases[] = {
  /* values */
  { { ED_CROSS, "--head", "0", "--view", "pie", "-o", "a.png" }, 2,
    "unknown --view “pie”: expected heatmap, alignment, head, model or "
    "step" },
  { { ED_CROSS, "--head", "0", "--colormap", "jet", "-o", "a.png" }, 2,
    "unknown --colormap “jet”: expected viridis, magma, cividis or grey" },
  { { ED_CROSS, "--head", "0", "--scale", "linear", "-o", "a.png" }, 2,
    "unknown --scale “linear”: expected fixed, max or log" },
  { { ED_CROSS, "--head", "0", "--theme", "solarized", "-o", "a.png" }, 2,
    "unknown --theme “solarized”: expected light, dark or presentation" },
  { { ED_CROSS, "--head", "0", "--width", "12furlong", "-o", "a.png" }, 2,
    "--width: “12furlong” is not a size: expected a positive number up to "
    "100000, optionally followed by px, pt, mm, cm or in" },
  { { ED_CROSS, "--head", "0", "--height", "0", "-o", "a.png" }, 2,
    "--height: “0” is not a size" },
  { { ED_CROSS, "--head", "0", "--dpi", "0", "-o", "a.png" }, 2,
    "--dpi “0”: expected a number from 1 to 2400" },
  { { ED_CROSS, "--head", "0", "--dpi", "1e3", "-o", "a.png" }, 2,
    "--dpi “1e3”: expected a number from 1 to 2400" },
  { { ED_CROSS, "--head", "0", "--view", "alignment", "--threshold", "1.5",
      "-o", "a.png" }, 2,
    "--threshold “1.5”: expected a number from 0 to 1" },
  { { ED_CROSS, "--head", "0", "--range", "5:2", "-o", "a.png" }, 2,
    "--range “5:2”: expected START:END, token positions from 0 with START < "
    "END (END not included)" },
  { { ED_CROSS, "--head", "0", "--step", "-1", "--view", "step", "-o",
      "a.png" }, 2, "--step -1 out of range" },
  { { ED_CROSS, "--head", "0", "--width", "20000", "-o", "a.png" }, 2,
    "a PNG of 20000 x 15000 pixels is out of range: each side must be 16 to "
    "16384 pixels" },
  { { ED_CROSS, "--head", "0", "--width", "300in", "-o", "a.pdf" }, 2,
    "a page of 21600 x 16200 points" },
  /* options that do not apply */
  { { ED_CROSS, "--head", "0", "--colormap", "magma", "-o", "a.csv" }, 2,
    "--colormap applies to pictures: give -o FILE.png, .svg or .pdf, or "
    "--atlas FILE.pdf" },
  { { ED_CROSS, "--values", "-o", "a.npy" }, 2, "--values applies to "
                                                "pictures" },
  { { "export", "--trace", "@T@", "--hide-special", "-o", "a.json" }, 2,
    "--hide-special applies to pictures" },
  { { ED_CROSS, "--head", "0", "--step", "2", "-o", "a.png" }, 2,
    "--step chooses the decoding step of --view step: it does not apply to "
    "--view heatmap" },
  { { ED_CROSS, "--head", "0", "--threshold", "0.1", "-o", "a.png" }, 2,
    "--threshold hides weak links of --view alignment or head: it does not "
    "apply to --view heatmap" },
  { { ED_CROSS, "--head", "0", "--view", "alignment", "--values", "-o",
      "a.png" }, 2,
    "--values prints weights in heatmap cells: it does not apply to --view "
    "alignment" },
  { { ED_CROSS, "--view", "model", "-o", "a.png" }, 2,
    "--view model draws every layer and head: --layer and --head do not "
    "apply" },
  { { ED_CROSS, "--view", "head", "--head", "mean", "-o", "a.png" }, 2,
    "--view head draws the heads themselves" },
  { { "export", "--trace", "@T@", "--view", "alignment", "--atlas",
      "a.pdf" }, 2,
    "--atlas draws a heatmap of every head: --view does not apply" },
  { { "export", "--trace", "@T@", "--range", "0:2", "--atlas", "a.pdf" }, 2,
    "--atlas draws a heatmap of every head: --range does not apply" },
  { { "export", "--trace", "@T@", "--atlas", "a.svg" }, 2,
    "--atlas “a.svg”: cannot tell the format from the suffix; supported "
    "suffixes are .pdf" },
  /* checked against the trace */
  { { ED_CROSS, "--head", "mean", "--view", "step", "-o", "a.png" }, 2,
    "this trace has steps 0-4: choose one with --step" },
  { { ED_CROSS, "--head", "mean", "--view", "step", "--step", "9", "-o",
      "a.png" }, 2, "step 9 out of range: this trace has steps 0-4" },
  { { "export", "--trace", "@T@", "--view", "step", "--step", "1", "--kind",
      "encoder-self", "-o", "a.png" }, 2,
    "--view step shades with cross attention: --kind encoder-self does not "
    "apply" },
  { { "export", "--trace", "@G@", "--view", "step", "--step", "1", "-o",
      "a.png" }, 2, "--view step: this trace has no decoding steps" },
  { { ED_CROSS, "--head", "0", "--range", "0:40", "-o", "a.png" }, 2,
    "--range 0:40 out of range: cross layer 1 has 5 query and 6 key tokens "
    "(END at most 6)" },
  { { ED_CROSS, "--head", "3", "-o", "a.svg" }, 2,
    "head 3 out of range: this trace has heads 0-2 (or mean, max)" },
  { { ED_CROSS, "--view", "head", "--head", "5", "-o", "a.svg" }, 2,
    "head 5 out of range: this trace has heads 0-2" },
  { { ED_CROSS, "-o", "a.png" }, 2,
    "this block has heads 0-2: choose one with --head N, mean or max" },
  { { "export", "--trace", "@T@", "--view", "model", "-o", "a.png" }, 2,
    "this trace has encoder-self, decoder-self and cross attention: choose "
    "one with --kind" },
  { { "export", "--trace", "@G@", "--kind", "cross", "--atlas", "a.pdf" }, 2,
    "--kind cross: this trace has no cross attention (it has decoder-self)" },
  /* the parent of the output is a regular file: nothing is written */
  { { ED_CROSS, "--head", "0", "-o", "@D@/blocker/a.png" }, 1,
    "cannot write @D@/blocker/a.png: Not a directory", "blocker" },
  { { ED_CROSS, "--head", "0", "-o", "@D@/blocker/a.svg" }, 1,
    "cannot write @D@/blocker/a.svg: Not a directory", "blocker" },
  { { ED_CROSS, "--head", "0", "-o", "@D@/blocker/a.pdf" }, 1,
    "cannot write @D@/blocker/a.pdf: Not a directory", "blocker" },
  { { "export", "--trace", "@T@", "--atlas", "@D@/blocker/a.pdf" }, 1,
    "cannot write @D@/blocker/a.pdf: Not a directory", "blocker" },
};

static const char setup_contents[] = "a regular file";

static void
test_failure (gconstpointer data)
{
  const FailCase *c = data;
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  if (c->setup != NULL)
    {
      g_autofree char *path = g_build_filename (tmp, c->setup, NULL);
      g_assert_true (g_file_set_contents (path, setup_contents, -1, NULL));
    }
  g_auto (AttnTestCliResult) r = { 0 };
  attn_test_cli_run (c->args, tmp, NULL, &r);
  g_assert_cmpint (r.status, ==, c->status);
  g_assert_cmpstr (r.out, ==, "");
  g_autofree char *message = attn_test_cli_expand (c->message, tmp);
  attn_test_assert_contains ("stderr", r.err, message);
  g_assert_true (g_str_has_prefix (r.err, "attnscope-cli export: "));
  g_auto (GStrv) lines = g_strsplit (r.err, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, c->status == 2 ? 3 : 2);
  /* Nothing written, nothing left behind. */
  g_autofree char *left = attn_test_list_dir (tmp);
  g_assert_cmpstr (left, ==, c->setup != NULL ? c->setup : "");
  attn_test_tmp_dir_remove (tmp);
}

/* ---- reading what was written ------------------------------------------- */

static guint32
be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16)
         | ((guint32) p[2] << 8) | p[3];
}

/* "Key=value" lines of the PNG's text chunks (tEXt converted from
 * Latin-1, iTXt as UTF-8), after its pixel size as "WxH". */
static char *
png_summary (const char *path)
{
  g_autofree char *data = NULL;
  gsize n = 0;
  g_assert_true (g_file_get_contents (path, &data, &n, NULL));
  const guint8 *p = (const guint8 *) data;
  g_assert_cmpuint (n, >, 33);
  g_assert_cmpmem (p, 8, "\x89PNG\r\n\x1a\n", 8);
  g_assert_cmpmem (p + 12, 4, "IHDR", 4);
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "%ux%u\n", be32 (p + 16), be32 (p + 20));
  for (gsize at = 8; at + 12 <= n;)
    {
      guint32 len = be32 (p + at);
      g_assert_cmpuint (len, <=, n - at - 12);
      const char *type = (const char *) p + at + 4;
      const char *d = (const char *) p + at + 8;
      gsize klen = strnlen (d, len);
      if (memcmp (type, "tEXt", 4) == 0)
        {
          g_autofree char *v = g_convert (d + klen + 1, len - klen - 1,
                                          "UTF-8", "ISO-8859-1", NULL, NULL,
                                          NULL);
          g_string_append_printf (s, "%s=%s\n", d, v);
        }
      else if (memcmp (type, "iTXt", 4) == 0)
        g_string_append_printf (s, "%s=%.*s\n", d, (int) (len - klen - 5),
                                d + klen + 5);
      at += 12 + len;
    }
  return g_string_free (s, FALSE);
}

/* Root element attributes and the attnscope:field texts as "key=value"
 * lines, after parsing the whole file as XML. */
typedef struct {
  GString *out;
  gboolean in_field;
  gboolean root_seen;
} SvgState;

static void
svg_start (GMarkupParseContext *ctx, const char *name, const char **names,
           const char **values, gpointer data, GError **error)
{
  SvgState *st = data;
  if (!st->root_seen)
    {
      st->root_seen = TRUE;
      g_string_append_printf (st->out, "root=%s\n", name);
      for (int i = 0; names[i] != NULL; i++)
        if (strcmp (names[i], "width") == 0 || strcmp (names[i], "height") == 0)
          g_string_append_printf (st->out, "%s=%s\n", names[i], values[i]);
    }
  if (strcmp (name, "attnscope:field") == 0)
    {
      st->in_field = TRUE;
      for (int i = 0; names[i] != NULL; i++)
        if (strcmp (names[i], "name") == 0)
          g_string_append_printf (st->out, "%s=", values[i]);
    }
}

static void
svg_end (GMarkupParseContext *ctx, const char *name, gpointer data,
         GError **error)
{
  SvgState *st = data;
  if (strcmp (name, "attnscope:field") == 0)
    {
      st->in_field = FALSE;
      g_string_append_c (st->out, '\n');
    }
}

static void
svg_text (GMarkupParseContext *ctx, const char *text, gsize len,
          gpointer data, GError **error)
{
  SvgState *st = data;
  if (st->in_field)
    g_string_append_len (st->out, text, len);
}

static char *
svg_summary (const char *path)
{
  g_autofree char *data = NULL;
  gsize n = 0;
  g_assert_true (g_file_get_contents (path, &data, &n, NULL));
  SvgState st = { g_string_new (NULL), FALSE, FALSE };
  static const GMarkupParser parser = { svg_start, svg_end, svg_text, NULL,
                                        NULL };
  GMarkupParseContext *ctx = g_markup_parse_context_new (&parser, 0, &st,
                                                         NULL);
  g_autoptr (GError) error = NULL;
  gboolean ok = g_markup_parse_context_parse (ctx, data, n, &error)
                && g_markup_parse_context_end_parse (ctx, &error);
  g_markup_parse_context_free (ctx);
  g_assert_no_error (error);
  g_assert_true (ok);
  return g_string_free (st.out, FALSE);
}

/* pdfinfo's output, or NULL after g_test_skip without poppler-utils. */
static char *
pdf_summary (const char *path)
{
  g_autofree char *prog = g_find_program_in_path ("pdfinfo");
  if (prog == NULL)
    {
      g_test_skip ("pdfinfo not installed (poppler-utils)");
      return NULL;
    }
  const char *argv[] = { prog, "-enc", "UTF-8", path, NULL };
  char *out = NULL;
  int status = 0;
  g_autoptr (GError) error = NULL;
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                NULL, &out, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  return out;
}

/* ---- pictures that work ------------------------------------------------ */

typedef struct {
  const char *name;
  const char *args[32];
  const char *file;   /* what is written, in the scratch folder */
  const char *stdout_line;
  const char *has[8]; /* lines of the file's summary (see above) */
} PictureCase;

static const PictureCase picture_cases[] = {
  { "png-heatmap",
    { ED_CROSS, "--head", "2", "-o", "c.png" }, "c.png",
    "wrote c.png: heatmap of cross layer 1, head 2, 800 x 600 px (96 dpi)\n",
    { "800x600\n", "View=heatmap\n", "Kind=cross\n", "Layer=1\n", "Head=2\n",
      "Colormap=viridis\n", "Software=attnscope-cli " ATTN_VERSION "\n",
      "Source text=He said \"hi\", 你好\n" } },
  { "png-physical",
    { ED_CROSS, "--head", "max", "--width", "4in", "--height", "3in",
      "--dpi", "150", "--colormap", "magma", "--reversed", "--scale", "max",
      "--theme", "dark", "-o", "c.PNG" }, "c.PNG",
    "wrote c.PNG: heatmap of cross layer 1, max over heads, 600 x 450 px "
    "(150 dpi)\n",
    { "600x450\n", "Head=max\n", "Colormap=magma (reversed)\n",
      "Scale=matrix maximum\n" } },
  { "png-width-only",
    { ED_CROSS, "--head", "0", "--width", "1000", "--hide-special",
      "--range", "1:4", "-o", "w.png" }, "w.png",
    "wrote w.png: heatmap of cross layer 1, head 0, 1000 x 750 px (96 dpi)\n",
    { "1000x750\n", "Hidden=special tokens, rows renormalised\n",
      "Range=1:4\n" } },
  { "png-values-gray",
    { "export", "--trace", "@G@", "--layer", "1", "--values", "--colormap",
      "gray", "--hide-sink", "-o", "g.png" }, "g.png",
    "wrote g.png: heatmap of decoder-self layer 1, head 0, 800 x 600 px "
    "(96 dpi)\n",
    { "Kind=decoder-self\n", "Colormap=grey\n",
      "Hidden=the first key, rows renormalised\n" } },
  { "svg-heatmap",
    { ED_CROSS, "--head", "mean", "--width", "10cm", "--height", "7.5cm",
      "-o", "c.svg" }, "c.svg",
    "wrote c.svg: heatmap of cross layer 1, mean over heads, 283.5 x 212.6 "
    "pt (10.0 x 7.5 cm)\n",
    { "root=svg\n", "View=heatmap\n", "Head=mean\n",
      "Target text=Il a dit «salut», 你好\n" } },
  { "svg-px",
    { ED_CROSS, "--head", "1", "-o", "c.svg" }, "c.svg",
    "wrote c.svg: heatmap of cross layer 1, head 1, 800 x 600 px\n",
    { "width=800px\n", "height=600px\n" } },
  { "pdf-heatmap",
    { ED_CROSS, "--head", "0", "--width", "12cm", "--height", "9cm",
      "--scale", "log", "-o", "c.pdf" }, "c.pdf",
    "wrote c.pdf: heatmap of cross layer 1, head 0, 340.2 x 255.1 pt (12.0 x "
    "9.0 cm)\n",
    { "Title:           Heatmap of cross attention, layer 1, head 0 "
      "(cli-demo)\n",
      "Subject:         He said \"hi\", 你好 → Il a dit «salut», 你好\n",
      "Creator:         attnscope-cli " ATTN_VERSION "\n",
      "Scale: logarithmic", "Pages:           1\n",
      "Page size:       340.157 x 255.118 pts" } },
  { "pdf-px-dpi",
    { ED_CROSS, "--head", "0", "--dpi", "200", "-o", "c.pdf" }, "c.pdf",
    "wrote c.pdf: heatmap of cross layer 1, head 0, 288.0 x 216.0 pt (10.2 "
    "x 7.6 cm)\n",
    { "Page size:       288 x 216 pts" } },
  { "step-defaults",
    { "export", "--trace", "@T@", "--view", "step", "--step", "2", "-o",
      "s.png" }, "s.png",
    "wrote s.png: step view of step 2, cross layer 1, mean over heads, 800 "
    "x 600 px (96 dpi)\n",
    { "View=step\n", "Step=2\n", "Kind=cross\n", "Layer=1\n",
      "Head=mean\n" } },
  { "model-view",
    { "export", "--trace", "@T@", "--view", "model", "--kind",
      "decoder-self", "--width", "900", "--height", "900", "-o", "m.png" },
    "m.png",
    "wrote m.png: model view of decoder-self, every layer and head, 900 x "
    "900 px (96 dpi)\n",
    { "900x900\n", "View=model\n", "Layer=all\n", "Head=all\n" } },
  { "head-view-one",
    { ED_CROSS, "--view", "head", "--head", "2", "--threshold", "0.2",
      "-o", "h.svg" }, "h.svg",
    "wrote h.svg: head view of cross layer 1, head 2, 800 x 600 px\n",
    { "View=head\n", "Head=2\n" } },
  { "atlas",
    { "export", "--trace", "@T@", "--atlas", "a.pdf" }, "a.pdf",
    "wrote a.pdf: 18 pages, one per head of 6 blocks, 600.0 x 450.0 pt "
    "(21.2 x 15.9 cm)\n",
    { "Pages:           18\n",
      "Title:           Attention atlas of cli-demo: every head of every "
      "block\n" } },
  { "atlas-kind",
    { "export", "--trace", "@T@", "--kind", "cross", "--atlas", "a.pdf",
      "--width", "16cm", "--height", "12cm", "--colormap", "cividis" },
    "a.pdf",
    "wrote a.pdf: 6 pages, one per head of 2 blocks of cross, 453.5 x 340.2 "
    "pt (16.0 x 12.0 cm)\n",
    { "Pages:           6\n", "Kind: cross", "Colormap: cividis" } },
};

static void
test_picture (gconstpointer data)
{
  const PictureCase *c = data;
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  attn_test_cli_run (c->args, tmp, NULL, &r);
  g_assert_cmpstr (r.err, ==, "");
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, c->stdout_line);
  g_autofree char *left = attn_test_list_dir (tmp);
  g_assert_cmpstr (left, ==, c->file);

  g_autofree char *path = g_build_filename (tmp, c->file, NULL);
  g_autofree char *lower = g_ascii_strdown (c->file, -1);
  g_autofree char *summary = g_str_has_suffix (lower, ".png")
                               ? png_summary (path)
                             : g_str_has_suffix (lower, ".svg")
                               ? svg_summary (path)
                               : pdf_summary (path);
  if (summary != NULL)
    {
      g_test_message ("%s", summary);
      for (guint i = 0; i < G_N_ELEMENTS (c->has) && c->has[i] != NULL; i++)
        attn_test_assert_contains (c->file, summary, c->has[i]);
    }
  attn_test_tmp_dir_remove (tmp);
}

/* Every view reaches its renderer, in every format. */
typedef struct {
  const char *view;
  const char *args[12]; /* the selection the view takes */
} ViewCase;

static const ViewCase view_cases[] = {
  { "heatmap", { "--kind", "encoder-self", "--layer", "0", "--head", "1" } },
  { "alignment", { "--kind", "cross", "--layer", "1", "--head", "mean",
                   "--threshold", "0.05" } },
  { "head", { "--kind", "decoder-self", "--layer", "0" } },
  { "model", { "--kind", "cross" } },
  { "step", { "--kind", "cross", "--layer", "1", "--head", "mean", "--step",
              "2" } },
};

static void
test_view (gconstpointer data)
{
  const ViewCase *c = data;
  static const char *const suffixes[] = { "png", "svg", "pdf" };
  for (guint f = 0; f < G_N_ELEMENTS (suffixes); f++)
    {
      g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
      g_autofree char *file = g_strdup_printf ("%s.%s", c->view, suffixes[f]);
      const char *args[24] = { "export", "--trace", "@T@", "--view",
                               c->view, "-o", file };
      guint n = 7;
      for (guint i = 0; i < G_N_ELEMENTS (c->args) && c->args[i]; i++)
        args[n++] = c->args[i];
      g_auto (AttnTestCliResult) r = { 0 };
      attn_test_cli_run (args, tmp, NULL, &r);
      g_assert_cmpstr (r.err, ==, "");
      g_assert_cmpint (r.status, ==, 0);
      g_autofree char *prefix = g_strdup_printf ("wrote %s: ", file);
      g_assert_true (g_str_has_prefix (r.out, prefix));
      g_autofree char *path = g_build_filename (tmp, file, NULL);
      g_autofree char *summary = f == 0   ? png_summary (path)
                                 : f == 1 ? svg_summary (path)
                                          : pdf_summary (path);
      if (summary != NULL)
        {
          g_autofree char *view_line = g_strdup_printf (
            f == 2 ? "View: %s;" : "View=%s\n", c->view);
          attn_test_assert_contains (file, summary, view_line);
        }
      attn_test_tmp_dir_remove (tmp);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (fail_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/cli-export/error/%u",
                                               i);
      g_test_add_data_func (name, &fail_cases[i], test_failure);
    }
  for (guint i = 0; i < G_N_ELEMENTS (picture_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/cli-export/picture/%s",
                                               picture_cases[i].name);
      g_test_add_data_func (name, &picture_cases[i], test_picture);
    }
  for (guint i = 0; i < G_N_ELEMENTS (view_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/cli-export/view/%s",
                                               view_cases[i].view);
      g_test_add_data_func (name, &view_cases[i], test_view);
    }
  return g_test_run ();
}
