#include "tests/attn-test-util.h"

#include <string.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

#include "core/attn-safetensors.h"
#include "core/attn-tensor.h"

static GHashTable *fixture_parsers; /* name -> JsonParser */

char *
attn_test_data_path (const char *name)
{
  const char *srcdir = g_getenv ("G_TEST_SRCDIR");
  if (srcdir != NULL)
    return g_build_filename (srcdir, "data", name, NULL);
  return g_test_build_filename (G_TEST_DIST, "data", name, NULL);
}

JsonObject *
attn_test_fixture (const char *name)
{
  if (fixture_parsers == NULL)
    fixture_parsers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                             g_object_unref);
  JsonParser *parser = g_hash_table_lookup (fixture_parsers, name);
  if (parser == NULL)
    {
      g_autofree char *path = attn_test_data_path (name);
      g_autoptr (GError) error = NULL;
      parser = json_parser_new_immutable ();
      if (!json_parser_load_from_file (parser, path, &error))
        g_error ("fixture %s: %s", path, error->message);
      g_hash_table_insert (fixture_parsers, g_strdup (name), parser);
    }
  JsonNode *root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    g_error ("fixture %s: top level is not an object", name);
  return json_node_get_object (root);
}

static JsonArray *
member_array (JsonObject *obj, const char *key, gsize expect_n)
{
  JsonNode *node = json_object_get_member (obj, key);
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    g_error ("fixture member “%s” missing or not an array", key);
  JsonArray *arr = json_node_get_array (node);
  gsize n = json_array_get_length (arr);
  if (expect_n > 0 && n != expect_n)
    g_error ("fixture member “%s” has %" G_GSIZE_FORMAT
             " elements, expected %" G_GSIZE_FORMAT, key, n, expect_n);
  return arr;
}

float *
attn_test_floats (JsonObject *obj, const char *key, gsize expect_n)
{
  JsonArray *arr = member_array (obj, key, expect_n);
  gsize n = json_array_get_length (arr);
  float *x = g_new (float, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    x[i] = (float) json_array_get_double_element (arr, i);
  return x;
}

int *
attn_test_ints (JsonObject *obj, const char *key, gsize expect_n)
{
  JsonArray *arr = member_array (obj, key, expect_n);
  gsize n = json_array_get_length (arr);
  int *x = g_new (int, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    x[i] = (int) json_array_get_int_element (arr, i);
  return x;
}

double
attn_test_number (JsonObject *obj, const char *key)
{
  JsonNode *node = json_object_get_member (obj, key);
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    g_error ("fixture member “%s” missing or not a number", key);
  return json_node_get_double (node);
}

void
attn_test_assert_close (const char *what, const float *got, const float *want,
                        gsize n, double tol)
{
  double err = attn_max_abs_diff (got, want, n);
  if (!(err <= tol))
    g_error ("%s: max abs error %.3g exceeds %.3g", what, err, tol);
  g_test_message ("%s: max abs error %.3g (tolerance %.3g)", what, err, tol);
}

void
attn_test_assert_rel_close (const char *what, const float *got,
                            const float *want, gsize n, double tol,
                            double floor)
{
  double err = attn_max_rel_diff (got, want, n, floor);
  if (!(err <= tol))
    g_error ("%s: max rel error %.3g exceeds %.3g", what, err, tol);
  g_test_message ("%s: max rel error %.3g (tolerance %.3g)", what, err, tol);
}

void
attn_test_fill_uniform (float *x, gsize n, float lo, float hi, guint32 seed)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (seed);
  for (gsize i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (rng, lo, hi);
}

char *
attn_test_shared_model (const char *name)
{
  const char *dir = g_getenv ("ATTN_SHARED_MODELS");
  g_autofree char *path = g_build_filename (dir ? dir : "../shared/models",
                                            name, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *msg = g_strdup_printf ("%s is absent", path);
      g_test_skip (msg);
      return NULL;
    }
  return g_steal_pointer (&path);
}

char *
attn_test_tmp_dir_new (const char *tmpl)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp (tmpl, &error);
  g_assert_no_error (error);
  return dir;
}

void
attn_test_tmp_dir_remove (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR)
      && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      g_assert_nonnull (dir);
      const char *name;
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          attn_test_tmp_dir_remove (child);
        }
      g_assert_cmpint (g_rmdir (path), ==, 0);
    }
  else
    g_assert_cmpint (g_unlink (path), ==, 0);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

char *
attn_test_list_dir (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

static void
assert_tokens_equal (GArray *a, GArray *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++)
    {
      const AttnToken *x = &g_array_index (a, AttnToken, i);
      const AttnToken *y = &g_array_index (b, AttnToken, i);
      g_assert_cmpstr (x->text, ==, y->text);
      g_assert_cmpint (x->id, ==, y->id);
      g_assert_cmpint (x->start, ==, y->start);
      g_assert_cmpint (x->end, ==, y->end);
      g_assert_cmpint (x->special, ==, y->special);
    }
}

static void
assert_candidates_equal (const AttnCandidate *x, const AttnCandidate *y)
{
  g_assert_cmpint (x->id, ==, y->id);
  g_assert_cmpstr (x->text, ==, y->text);
  g_assert_cmpmem (&x->prob, sizeof x->prob, &y->prob, sizeof y->prob);
}

void
attn_test_assert_traces_equal (const AttnTrace *a, const AttnTrace *b)
{
  g_assert_cmpstr (a->model_name, ==, b->model_name);
  g_assert_cmpstr (a->architecture, ==, b->architecture);
  g_assert_cmpint (a->mechanism, ==, b->mechanism);
  g_assert_cmpint (a->n_layers, ==, b->n_layers);
  g_assert_cmpint (a->n_heads, ==, b->n_heads);
  g_assert_cmpstr (a->source_text, ==, b->source_text);
  g_assert_cmpstr (a->target_text, ==, b->target_text);
  assert_tokens_equal (a->source_tokens, b->source_tokens);
  assert_tokens_equal (a->target_tokens, b->target_tokens);
  g_assert_cmpuint (a->blocks->len, ==, b->blocks->len);
  for (guint i = 0; i < a->blocks->len; i++)
    {
      const AttnBlock *x = g_ptr_array_index (a->blocks, i);
      const AttnBlock *y = g_ptr_array_index (b->blocks, i);
      g_assert_cmpint (x->kind, ==, y->kind);
      g_assert_cmpint (x->layer, ==, y->layer);
      g_assert_cmpint (x->n_heads, ==, y->n_heads);
      g_assert_cmpint (x->n_queries, ==, y->n_queries);
      g_assert_cmpint (x->n_keys, ==, y->n_keys);
      g_assert_cmpint (x->normalised, ==, y->normalised);
      g_assert_cmpmem (x->weights,
                       sizeof (float) * x->n_heads * x->n_queries * x->n_keys,
                       y->weights,
                       sizeof (float) * y->n_heads * y->n_queries * y->n_keys);
    }
  g_assert_cmpuint (a->steps->len, ==, b->steps->len);
  for (guint i = 0; i < a->steps->len; i++)
    {
      const AttnStep *x = g_ptr_array_index (a->steps, i);
      const AttnStep *y = g_ptr_array_index (b->steps, i);
      assert_candidates_equal (&x->emitted, &y->emitted);
      g_assert_cmpint (x->n_top, ==, y->n_top);
      for (int k = 0; k < x->n_top; k++)
        assert_candidates_equal (&x->top[k], &y->top[k]);
    }
}

void
attn_test_assert_contains (const char *what, const char *haystack,
                           const char *needle)
{
  if (strstr (haystack, needle) == NULL)
    g_error ("%s “%s” does not contain “%s”", what, haystack, needle);
}

void
attn_test_cli_result_clear (AttnTestCliResult *r)
{
  g_free (r->out);
  g_free (r->err);
}

char *
attn_test_cli_expand (const char *arg, const char *dir)
{
  g_autofree char *ed = attn_test_data_path ("cli-trace.json");
  g_autofree char *gpt = attn_test_data_path ("cli-trace-gpt.json");
  GString *s = g_string_new (arg);
  g_string_replace (s, "@T@", ed, 0);
  g_string_replace (s, "@G@", gpt, 0);
  g_string_replace (s, "@D@", dir, 0);
  return g_string_free (s, FALSE);
}

void
attn_test_cli_run (const char *const *args, const char *dir,
                   const char *model_path, AttnTestCliResult *r)
{
  const char *cli = g_getenv ("ATTN_CLI");
  if (cli == NULL)
    g_error ("ATTN_CLI must hold the path of attnscope-cli");
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_strdup (cli));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, attn_test_cli_expand (args[i], dir));
  g_ptr_array_add (argv, NULL);

  g_auto (GStrv) env = g_get_environ ();
  env = g_environ_unsetenv (env, "ATTNSCOPE_MODEL_PATH");
  if (model_path != NULL)
    env = g_environ_setenv (env, "ATTNSCOPE_MODEL_PATH", model_path, TRUE);

  g_autoptr (GError) error = NULL;
  int wait_status = 0;
  g_spawn_sync (dir, (char **) argv->pdata, env, G_SPAWN_DEFAULT, NULL, NULL,
                &r->out, &r->err, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  r->status = WEXITSTATUS (wait_status);
  g_test_message ("exit %d\nstdout: %s\nstderr: %s", r->status, r->out,
                  r->err);
}

/* ---- scratch GPT-2 folders ---- */

/* GPT-2's byte-to-unicode alphabet: printable Latin-1 bytes stand for
 * themselves, the others for U+0100 on, in byte order. */
static gunichar
byte_char (int b)
{
  if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174))
    return b;
  int n = 0;
  for (int c = 0; c < b; c++)
    if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174)))
      n++;
  return 256 + n;
}

static void
write_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

/* Tensors to write, with their names and data. */
typedef struct
{
  AttnSafetensorsWriteSpec *ws;
  guint n;
  GPtrArray *keep; /* the names and data */
  guint32 seed;
} TensorList;

/* Adds a (d0, d1) tensor, or (d0) when d1 is 0, of random weights (taking
 * name); returns its data for the caller to change. */
static float *
add_tensor (TensorList *list, char *name, gsize d0, gsize d1)
{
  AttnSafetensorsWriteSpec *w = &list->ws[list->n];
  g_ptr_array_add (list->keep, name);
  w->name = name;
  w->ndim = d1 > 0 ? 2 : 1;
  w->shape[0] = d0;
  w->shape[1] = d1;
  gsize numel = d0 * (d1 > 0 ? d1 : 1);
  float *data = g_new (float, numel);
  gboolean gain = strstr (name, "ln_") != NULL
                  && g_str_has_suffix (name, ".weight");
  /* Gains near 1, the rest small enough for a residual stream that stays
   * finite through any number of layers. */
  attn_test_fill_uniform (data, numel, gain ? 0.8f : -0.1f, gain ? 1.2f : 0.1f,
                          list->seed + list->n);
  g_ptr_array_add (list->keep, data);
  w->data = data;
  list->n++;
  return data;
}

void
attn_test_write_gpt2 (const char *dir, int L, int NH, int C,
                         int n_positions, int favour, guint32 seed)
{
  const gsize V = ATTN_TEST_GPT2_EOT + 1, F = 4 * (gsize)C;
  g_assert_true (favour < (int)V);

  g_autoptr (GString) vocab = g_string_new ("{");
  for (int b = 0; b < 256; b++)
    {
      char utf8[8] = { 0 };
      g_unichar_to_utf8 (byte_char (b), utf8);
      g_string_append_printf (vocab, "%s\"%s%s\": %d", b > 0 ? ", " : "",
                              b == '"' || b == '\\' ? "\\" : "", utf8, b);
    }
  g_string_append_printf (vocab, ", \"<|endoftext|>\": %d}",
                          ATTN_TEST_GPT2_EOT);
  write_file (dir, "vocab.json", vocab->str);
  write_file (dir, "merges.txt", "#version: 0.2\n");
  g_autofree char *config = g_strdup_printf (
      "{\"model_type\": \"gpt2\", \"activation_function\": \"gelu_new\", "
      "\"n_layer\": %d, \"n_head\": %d, \"n_embd\": %d, "
      "\"n_positions\": %d, \"vocab_size\": %" G_GSIZE_FORMAT ", "
      "\"eos_token_id\": %d, \"layer_norm_epsilon\": 1e-05, "
      "\"n_inner\": null}",
      L, NH, C, n_positions, V, ATTN_TEST_GPT2_EOT);
  write_file (dir, "config.json", config);

  static const struct
  {
    const char *name;
    int rows, cols; /* in units: 1 = C, 3 = 3 C, 4 = F; cols 0: (rows) */
  } per_layer[] = {
    { "ln_1.weight", 1, 0 },        { "ln_1.bias", 1, 0 },
    { "attn.c_attn.weight", 1, 3 }, { "attn.c_attn.bias", 3, 0 },
    { "attn.c_proj.weight", 1, 1 }, { "attn.c_proj.bias", 1, 0 },
    { "ln_2.weight", 1, 0 },        { "ln_2.bias", 1, 0 },
    { "mlp.c_fc.weight", 1, 4 },    { "mlp.c_fc.bias", 4, 0 },
    { "mlp.c_proj.weight", 4, 1 },  { "mlp.c_proj.bias", 1, 0 },
  };
  const gsize units[5] = { 0, (gsize)C, 0, 3 * (gsize)C, F };
  TensorList list = {
    .ws = g_new0 (AttnSafetensorsWriteSpec, 4 + L * G_N_ELEMENTS (per_layer)),
    .keep = g_ptr_array_new_with_free_func (g_free),
    .seed = seed,
  };
  float *wte = add_tensor (&list, g_strdup ("wte.weight"), V, C); /* (V, C) */
  add_tensor (&list, g_strdup ("wpe.weight"), n_positions, C);
  for (int l = 0; l < L; l++)
    for (guint k = 0; k < G_N_ELEMENTS (per_layer); k++)
      add_tensor (&list, g_strdup_printf ("h.%d.%s", l, per_layer[k].name),
                  units[per_layer[k].rows], units[per_layer[k].cols]);
  float *ln_f_w = add_tensor (&list, g_strdup ("ln_f.weight"), C, 0); /* (C) */
  float *ln_f_b = add_tensor (&list, g_strdup ("ln_f.bias"), C, 0);   /* (C) */
  if (favour >= 0)
    {
      /* logits[v] = wte[v] . wte[favour]: a row's dot product with itself
       * (C times the weights' mean square) is far above its dot product
       * with any other random row. */
      memset (ln_f_w, 0, (gsize)C * sizeof (float));
      memcpy (ln_f_b, wte + (gsize)favour * C, (gsize)C * sizeof (float));
    }
  g_autofree char *path = g_build_filename (dir, "model.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (
      attn_safetensors_write (path, list.ws, list.n, NULL, &error));
  g_assert_no_error (error);
  g_free (list.ws);
  g_ptr_array_unref (list.keep);
}
