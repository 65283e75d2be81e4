/* test-trace.c: AttnTrace, its validation, JSON and sidecar formats, CSV. */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "core/attn-error.h"
#include "core/attn-npy.h"
#include "core/attn-trace.h"
#include "tests/attn-test-util.h"

/* --- helpers --- */

/* Adds the pieces as consecutive tokens of side, each with the byte span
 * where it occurs in the side's text (searching from the previous end). */
static void
add_text_tokens (AttnTrace *trace, AttnSide side, const char *const *pieces,
                 int first_id)
{
  const char *text = attn_trace_get_text (trace, side);
  const char *cursor = text;
  for (int i = 0; pieces[i] != NULL; i++)
    {
      const char *at = strstr (cursor, pieces[i]);
      g_assert_nonnull (at);
      int start = at - text;
      int end = start + strlen (pieces[i]);
      attn_trace_add_token (trace, side, pieces[i], first_id + i, start, end,
                            FALSE);
      cursor = text + end;
    }
}

/* Rows of weights (NH, Tq, Tk): softmax of seeded scores, with keys k > q
 * masked to exactly 0 when causal. */
static void
fill_softmax (AttnBlock *b, guint32 seed, gboolean causal)
{
  gsize n = (gsize) b->n_heads * b->n_queries * b->n_keys;
  g_autofree float *scores = g_new (float, MAX (n, 1));
  attn_test_fill_uniform (scores, n, -3.0f, 3.0f, seed);
  for (int h = 0; h < b->n_heads; h++)
    for (int q = 0; q < b->n_queries; q++)
      {
        gsize row = ((gsize) h * b->n_queries + q) * b->n_keys;
        int visible = causal ? q + 1 : b->n_keys;
        double sum = 0;
        for (int k = 0; k < visible; k++)
          sum += exp (scores[row + k]);
        for (int k = 0; k < b->n_keys; k++)
          b->weights[row + k] = k < visible
                                ? (float) (exp (scores[row + k]) / sum) : 0.0f;
      }
}

/* A two-layer, two-head encoder-decoder run with tokens holding commas,
 * quotes and Chinese, all three kinds of blocks, one of them not
 * normalised (as a Luong local-p block is), and decoding steps. */
static AttnTrace *
make_trace (void)
{
  AttnTrace *trace =
    attn_trace_new ("test \"model\"", "transformer-encoder-decoder",
                    ATTN_MECHANISM_SCALED_DOT_PRODUCT, 2, 2);
  attn_trace_set_text (trace, ATTN_SIDE_SOURCE, "Le chat, \"noir\" 猫");
  attn_trace_set_text (trace, ATTN_SIDE_TARGET, "The \"black\" cat, 猫");
  const char *const source[] = { "Le", " chat", ",", " \"noir\"", " 猫",
                                 NULL };
  add_text_tokens (trace, ATTN_SIDE_SOURCE, source, 10);
  attn_trace_add_token (trace, ATTN_SIDE_SOURCE, "</s>", 2, -1, -1, TRUE);
  attn_trace_add_token (trace, ATTN_SIDE_TARGET, "<s>", 1, -1, -1, TRUE);
  const char *const target[] = { "The", " \"black\"", " cat,", " 猫", NULL };
  add_text_tokens (trace, ATTN_SIDE_TARGET, target, 20);

  guint32 seed = 1;
  for (int layer = 0; layer < 2; layer++)
    {
      fill_softmax (attn_trace_add_block (trace, ATTN_KIND_ENCODER_SELF,
                                          layer, 2, 6, 6), seed++, FALSE);
      fill_softmax (attn_trace_add_block (trace, ATTN_KIND_DECODER_SELF,
                                          layer, 2, 5, 5), seed++, TRUE);
      AttnBlock *cross = attn_trace_add_block (trace, ATTN_KIND_CROSS, layer,
                                               2, 5, 6);
      fill_softmax (cross, seed++, FALSE);
      if (layer == 1)
        {
          cross->normalised = FALSE;
          for (int i = 0; i < 2 * 5 * 6; i++)
            cross->weights[i] *= 0.375f + 0.125f * (i % 4);
        }
    }

  for (int i = 0; i < 5; i++)
    {
      const AttnToken *next = i + 1 < 5
        ? attn_trace_get_token (trace, ATTN_SIDE_TARGET, i + 1) : NULL;
      AttnStep *step = attn_trace_add_step (trace, next ? next->id : 2,
                                            next ? next->text : "</s>",
                                            0.9f - 0.1f * i);
      attn_step_add_top (step, step->emitted.id, step->emitted.text,
                         step->emitted.prob);
      for (int k = 0; k < i; k++)
        attn_step_add_top (step, 30 + k, k % 2 ? "猫" : "\"x\",\n", 0.01f * k);
    }
  return trace;
}

static void
assert_message_has (const GError *error, const char *fragment)
{
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  if (strstr (error->message, fragment) == NULL)
    g_error ("message “%s” lacks “%s”", error->message, fragment);
}

/* --- names --- */

static void
test_strings (void)
{
  const char *kinds[] = { "encoder-self", "decoder-self", "cross" };
  for (int i = 0; i < ATTN_N_KINDS; i++)
    {
      AttnKind kind = 99;
      g_assert_cmpstr (attn_kind_to_string (i), ==, kinds[i]);
      g_assert_true (attn_kind_from_string (kinds[i], &kind));
      g_assert_cmpint (kind, ==, i);
    }
  AttnKind kind = ATTN_KIND_CROSS;
  g_assert_false (attn_kind_from_string ("Cross", &kind));
  g_assert_false (attn_kind_from_string (NULL, &kind));
  g_assert_cmpint (kind, ==, ATTN_KIND_CROSS);

  const char *mechanisms[] = { "scaled-dot-product", "additive", "luong-dot",
                               "luong-general", "luong-concat",
                               "luong-local-p" };
  for (int i = 0; i < ATTN_N_MECHANISMS; i++)
    {
      AttnMechanism m = 99;
      g_assert_cmpstr (attn_mechanism_to_string (i), ==, mechanisms[i]);
      g_assert_true (attn_mechanism_from_string (mechanisms[i], &m));
      g_assert_cmpint (m, ==, i);
    }
  AttnMechanism m;
  g_assert_false (attn_mechanism_from_string ("luong-local", &m));

  g_assert_cmpint (attn_kind_query_side (ATTN_KIND_ENCODER_SELF), ==,
                   ATTN_SIDE_SOURCE);
  g_assert_cmpint (attn_kind_key_side (ATTN_KIND_ENCODER_SELF), ==,
                   ATTN_SIDE_SOURCE);
  g_assert_cmpint (attn_kind_query_side (ATTN_KIND_DECODER_SELF), ==,
                   ATTN_SIDE_TARGET);
  g_assert_cmpint (attn_kind_key_side (ATTN_KIND_DECODER_SELF), ==,
                   ATTN_SIDE_TARGET);
  g_assert_cmpint (attn_kind_query_side (ATTN_KIND_CROSS), ==,
                   ATTN_SIDE_TARGET);
  g_assert_cmpint (attn_kind_key_side (ATTN_KIND_CROSS), ==,
                   ATTN_SIDE_SOURCE);
}

/* --- building, saving, loading --- */

static void
test_build (void)
{
  g_autoptr (AttnTrace) trace = make_trace ();
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_trace_validate (trace, &error));
  g_assert_no_error (error);

  g_assert_cmpuint (attn_trace_n_tokens (trace, ATTN_SIDE_SOURCE), ==, 6);
  g_assert_cmpuint (attn_trace_n_tokens (trace, ATTN_SIDE_TARGET), ==, 5);
  /* " 猫" is a space and a 3-byte character at the end of the source. */
  const AttnToken *cat = attn_trace_get_token (trace, ATTN_SIDE_SOURCE, 4);
  g_assert_cmpstr (cat->text, ==, " 猫");
  g_assert_cmpint (cat->start, ==, 15);
  g_assert_cmpint (cat->end, ==, 19);
  g_assert_cmpint (strlen (trace->source_text), ==, 19);

  AttnBlock *cross = attn_trace_lookup_block (trace, ATTN_KIND_CROSS, 1);
  g_assert_nonnull (cross);
  g_assert_cmpint (cross->n_queries, ==, 5);
  g_assert_cmpint (cross->n_keys, ==, 6);
  g_assert_false (cross->normalised);
  g_assert_null (attn_trace_lookup_block (trace, ATTN_KIND_CROSS, 2));
  AttnBlock *dec = attn_trace_lookup_block (trace, ATTN_KIND_DECODER_SELF, 0);
  /* Query 1 of head 0 sees keys 0 and 1 only. */
  g_assert_cmpfloat (dec->weights[1 * 5 + 2], ==, 0.0f);
  g_assert_cmpfloat (dec->weights[1 * 5 + 1], >, 0.0f);
}

static void
test_round_trip (void)
{
  g_autoptr (AttnTrace) trace = make_trace ();
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-trace-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "run.json", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_trace_save_json (trace, path, &error));
  g_assert_no_error (error);
  /* Every block is small: no sidecar. */
  g_autofree char *files = attn_test_list_dir (dir);
  g_assert_cmpstr (files, ==, "run.json");

  g_autoptr (AttnTrace) loaded = attn_trace_load_json (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loaded);
  attn_test_assert_traces_equal (trace, loaded);

  /* Saving what was loaded reproduces the file byte for byte. */
  g_autofree char *again = g_build_filename (dir, "again.json", NULL);
  g_assert_true (attn_trace_save_json (loaded, again, &error));
  g_autofree char *a = NULL, *b = NULL;
  gsize a_len, b_len;
  g_assert_true (g_file_get_contents (path, &a, &a_len, NULL));
  g_assert_true (g_file_get_contents (again, &b, &b_len, NULL));
  g_assert_cmpmem (a, a_len, b, b_len);
  attn_test_tmp_dir_remove (dir);
}

/* tests/data/trace-example.json is the example of docs/trace-format.md: it
 * loads, says what the document says, and is exactly what the writer
 * prints. */
static void
test_doc_example (void)
{
  g_autofree char *path = attn_test_data_path ("trace-example.json");
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrace) trace = attn_trace_load_json (path, &error);
  g_assert_no_error (error);

  g_assert_cmpstr (trace->model_name, ==, "dates-tiny");
  g_assert_cmpstr (trace->architecture, ==, "transformer-encoder-decoder");
  g_assert_cmpint (trace->mechanism, ==, ATTN_MECHANISM_SCALED_DOT_PRODUCT);
  g_assert_cmpint (trace->n_layers, ==, 1);
  g_assert_cmpint (trace->n_heads, ==, 2);
  const AttnToken *eos = attn_trace_get_token (trace, ATTN_SIDE_SOURCE, 2);
  g_assert_cmpstr (eos->text, ==, "</s>");
  g_assert_true (eos->special);
  g_assert_cmpint (eos->start, ==, -1);
  const AttnToken *dash = attn_trace_get_token (trace, ATTN_SIDE_TARGET, 2);
  g_assert_cmpstr (dash->text, ==, "-");
  g_assert_cmpint (dash->id, ==, 3);
  g_assert_cmpint (dash->start, ==, 2);
  g_assert_cmpint (dash->end, ==, 3);

  AttnBlock *cross = attn_trace_lookup_block (trace, ATTN_KIND_CROSS, 0);
  g_assert_nonnull (cross);
  /* Head 1, query 3 ("05"), key 2 (</s>). */
  g_assert_cmpfloat (cross->weights[(1 * 4 + 3) * 3 + 2], ==, 0.75f);
  g_assert_cmpuint (trace->steps->len, ==, 4);
  const AttnStep *last = g_ptr_array_index (trace->steps, 3);
  g_assert_cmpstr (last->emitted.text, ==, "</s>");
  g_assert_cmpfloat (last->emitted.prob, ==, 0.99f);
  g_assert_cmpint (last->n_top, ==, 2);
  g_assert_cmpfloat (last->top[1].prob, ==, 0.005f);

  g_autofree char *dir = attn_test_tmp_dir_new ("attn-trace-XXXXXX");
  g_autofree char *out = g_build_filename (dir, "example.json", NULL);
  g_assert_true (attn_trace_save_json (trace, out, &error));
  g_assert_no_error (error);
  g_autofree char *a = NULL, *b = NULL;
  gsize a_len, b_len;
  g_assert_true (g_file_get_contents (out, &a, &a_len, NULL));
  g_assert_true (g_file_get_contents (path, &b, &b_len, NULL));
  g_assert_cmpstr (a, ==, b);
  attn_test_tmp_dir_remove (dir);
}

/* A decoder-only trace of T tokens, 1 head, 2 layers: T * T weights per
 * block. */
static AttnTrace *
make_long_trace (int n)
{
  AttnTrace *trace = attn_trace_new ("long", "gpt2",
                                     ATTN_MECHANISM_SCALED_DOT_PRODUCT, 2, 1);
  g_autoptr (GString) text = g_string_new (NULL);
  for (int i = 0; i < n; i++)
    g_string_append (text, i % 3 == 2 ? "注" : "ab");
  attn_trace_set_text (trace, ATTN_SIDE_TARGET, text->str);
  int at = 0;
  for (int i = 0; i < n; i++)
    {
      int len = i % 3 == 2 ? 3 : 2;
      attn_trace_add_token (trace, ATTN_SIDE_TARGET, i % 3 == 2 ? "注" : "ab",
                            i % 3, at, at + len, FALSE);
      at += len;
    }
  for (int layer = 0; layer < 2; layer++)
    fill_softmax (attn_trace_add_block (trace, ATTN_KIND_DECODER_SELF, layer,
                                        1, n, n), 40 + layer, TRUE);
  return trace;
}

typedef struct {
  int n_tokens;
  gboolean sidecar;
} SidecarCase;

static const SidecarCase sidecar_cases[] = {
  { 256, FALSE }, /* 65,536 floats: the largest inline block */
  { 257, TRUE },  /* 66,049 floats: a sidecar */
};

static void
test_sidecar (gconstpointer data)
{
  const SidecarCase *c = data;
  g_autoptr (AttnTrace) trace = make_long_trace (c->n_tokens);
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-trace-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "long.json", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_trace_save_json (trace, path, &error));
  g_assert_no_error (error);

  g_autofree char *files = attn_test_list_dir (dir);
  g_autofree char *json = NULL;
  g_assert_true (g_file_get_contents (path, &json, NULL, NULL));
  if (c->sidecar)
    {
      g_assert_cmpstr (files, ==, "long.decoder-self.L0.npy "
                                  "long.decoder-self.L1.npy long.json");
      g_assert_nonnull (strstr (json, "\"weights_npy\": "
                                      "\"long.decoder-self.L1.npy\""));
      g_assert_null (strstr (json, "\"weights\""));
      /* The sidecar is a plain (NH, Tq, Tk) array of the block. */
      g_autofree char *npy = g_build_filename (dir, "long.decoder-self.L1.npy",
                                               NULL);
      int ndim;
      gsize shape[ATTN_NPY_MAX_DIMS];
      g_autofree float *w = attn_npy_read (npy, &ndim, shape, &error);
      g_assert_no_error (error);
      g_assert_cmpint (ndim, ==, 3);
      g_assert_cmpuint (shape[0], ==, 1);
      g_assert_cmpuint (shape[1], ==, c->n_tokens);
      g_assert_cmpuint (shape[2], ==, c->n_tokens);
      AttnBlock *b = attn_trace_lookup_block (trace, ATTN_KIND_DECODER_SELF, 1);
      g_assert_cmpmem (w, 4 * c->n_tokens * c->n_tokens, b->weights,
                       4 * c->n_tokens * c->n_tokens);
    }
  else
    {
      g_assert_cmpstr (files, ==, "long.json");
      g_assert_null (strstr (json, "weights_npy"));
    }

  g_autoptr (AttnTrace) loaded = attn_trace_load_json (path, &error);
  g_assert_no_error (error);
  attn_test_assert_traces_equal (trace, loaded);
  attn_test_tmp_dir_remove (dir);
}

/* When the JSON cannot be written, the sidecars written before it are
 * removed: here the JSON's path is a folder. */
static void
test_save_failure_leaves_nothing (void)
{
  g_autoptr (AttnTrace) trace = make_long_trace (300);
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-trace-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "run.json", NULL);
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  g_autoptr (GError) error = NULL;
  g_assert_false (attn_trace_save_json (trace, path, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_IO);
  assert_message_has (error, path);
  g_autofree char *files = attn_test_list_dir (dir);
  g_assert_cmpstr (files, ==, "run.json");
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_DIR));

  /* A folder that cannot exist: its parent is a file. */
  g_autofree char *file = g_build_filename (dir, "file", NULL);
  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  g_autofree char *inside = g_build_filename (file, "run.json", NULL);
  g_clear_error (&error);
  g_assert_false (attn_trace_save_json (trace, inside, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_IO);
  attn_test_tmp_dir_remove (dir);
}

/* --- validation --- */

typedef struct {
  const char *name;
  void (*spoil) (AttnTrace *trace);
  const char *fragment;
} InvalidCase;

static void
spoil_row_sum (AttnTrace *t)
{
  AttnBlock *b = attn_trace_lookup_block (t, ATTN_KIND_ENCODER_SELF, 1);
  /* Row 3 of head 1 loses 0.001 of its mass from its largest weight. */
  float *row = b->weights + (1 * 6 + 3) * 6; /* (Tk) */
  int top = 0;
  for (int k = 1; k < 6; k++)
    if (row[k] > row[top])
      top = k;
  row[top] -= 0.001f;
}

static void
spoil_row_sum_small (AttnTrace *t)
{
  /* 5e-5 off is within the 1e-4 tolerance: still valid (checked below). */
  AttnBlock *b = attn_trace_lookup_block (t, ATTN_KIND_ENCODER_SELF, 0);
  b->weights[0] = b->weights[0] > 0.5f ? b->weights[0] - 5e-5f
                                       : b->weights[0] + 5e-5f;
}

static void
spoil_span_out_of_range (AttnTrace *t)
{
  g_array_index (t->target_tokens, AttnToken, 4).end = 100;
}

static void
spoil_span_mid_character (AttnTrace *t)
{
  /* " 猫" is [15, 19): 17 is inside the 3-byte 猫. */
  g_array_index (t->source_tokens, AttnToken, 4).end = 17;
}

static void
spoil_span_reversed (AttnTrace *t)
{
  AttnToken *tok = &g_array_index (t->source_tokens, AttnToken, 1);
  tok->start = 5;
  tok->end = 4;
}

static void
spoil_special_with_span (AttnTrace *t)
{
  AttnToken *tok = &g_array_index (t->source_tokens, AttnToken, 5);
  tok->start = 0;
  tok->end = 0;
}

static void
spoil_plain_without_span (AttnTrace *t)
{
  AttnToken *tok = &g_array_index (t->target_tokens, AttnToken, 1);
  tok->start = -1;
  tok->end = -1;
}

static void
spoil_dims (AttnTrace *t)
{
  /* One more target token: the decoder blocks no longer fit. */
  attn_trace_add_token (t, ATTN_SIDE_TARGET, "<pad>", 0, -1, -1, TRUE);
}

static void
spoil_keys (AttnTrace *t)
{
  AttnBlock *b = attn_trace_lookup_block (t, ATTN_KIND_CROSS, 0);
  b->n_keys = 5;
  b->n_queries = 6;
}

static void
spoil_nan (AttnTrace *t)
{
  attn_trace_lookup_block (t, ATTN_KIND_CROSS, 1)->weights[7] = NAN;
}

static void
spoil_negative (AttnTrace *t)
{
  /* Not normalised, so no row sum check: the range check must catch it. */
  attn_trace_lookup_block (t, ATTN_KIND_CROSS, 1)->weights[3] = -0.25f;
}

static void
spoil_above_one (AttnTrace *t)
{
  attn_trace_lookup_block (t, ATTN_KIND_CROSS, 1)->weights[3] = 1.5f;
}

static void
spoil_layer (AttnTrace *t)
{
  attn_trace_lookup_block (t, ATTN_KIND_CROSS, 1)->layer = 2;
}

static void
spoil_duplicate (AttnTrace *t)
{
  attn_trace_lookup_block (t, ATTN_KIND_ENCODER_SELF, 1)->layer = 0;
}

static void
spoil_heads (AttnTrace *t)
{
  t->n_heads = 4;
}

static void
spoil_no_layers (AttnTrace *t)
{
  t->n_layers = 0;
}

static void
spoil_step_id (AttnTrace *t)
{
  ((AttnStep *) g_ptr_array_index (t->steps, 2))->emitted.id = 99;
}

static void
spoil_too_many_steps (AttnTrace *t)
{
  attn_trace_add_step (t, 5, "x", 0.5f);
}

static void
spoil_step_prob (AttnTrace *t)
{
  ((AttnStep *) g_ptr_array_index (t->steps, 1))->top[0].prob = 1.25f;
}

static void
spoil_utf8 (AttnTrace *t)
{
  AttnToken *tok = &g_array_index (t->target_tokens, AttnToken, 2);
  g_free (tok->text);
  tok->text = g_strdup ("bad \xe6\xb3");
}

static void
spoil_text_utf8 (AttnTrace *t)
{
  attn_trace_set_text (t, ATTN_SIDE_SOURCE,
                       "Le chat, \"noir\" \xff\xfe\xfd\xfc");
}

static const InvalidCase invalid_cases[] = {
  { "row-sum", spoil_row_sum, "block encoder-self L1: row 3 of head 1 sums "
                              "to 0.99" },
  { "row-sum-within-tolerance", spoil_row_sum_small, NULL },
  { "span-out-of-range", spoil_span_out_of_range,
    "target token 4 (“ 猫”): span [16, 100) is not inside the 20-byte "
    "target text" },
  { "span-mid-character", spoil_span_mid_character,
    "source token 4 (“ 猫”): span [15, 17) splits a UTF-8 character" },
  { "span-reversed", spoil_span_reversed, "span [5, 4) is not inside" },
  { "special-with-span", spoil_special_with_span,
    "source token 5 (“</s>”): special tokens have no span" },
  { "plain-without-span", spoil_plain_without_span,
    "target token 1 (“The”): span [-1, -1) is not inside" },
  { "dims-queries", spoil_dims,
    "block decoder-self L0: 5 queries, but the query side has 6 tokens" },
  { "dims-swapped", spoil_keys,
    "block cross L0: 6 queries, but the query side has 5 tokens" },
  { "nan", spoil_nan, "block cross L1: weight [0][1][1] = nan is not in "
                      "[0, 1]" },
  { "negative", spoil_negative, "weight [0][0][3] = -0.25 is not in [0, 1]" },
  { "above-one", spoil_above_one, "weight [0][0][3] = 1.5 is not in [0, 1]" },
  { "layer", spoil_layer, "block cross L2: layer outside 0 .. 1" },
  { "duplicate", spoil_duplicate, "block encoder-self L0 appears twice" },
  { "heads", spoil_heads, "block encoder-self L0: n_heads 2, but the "
                          "model's n_heads is 4" },
  { "no-layers", spoil_no_layers, "0 layers and 2 heads" },
  { "step-id", spoil_step_id, "step 2 emits id 99, but target token 3 has "
                              "id 22" },
  { "too-many-steps", spoil_too_many_steps, "6 decoding steps for 5 target "
                                            "tokens" },
  { "step-prob", spoil_step_prob, "step 1: alternative probability 1.25 is "
                                  "not in [0, 1]" },
  { "token-utf8", spoil_utf8, "target token 2: text is not valid UTF-8" },
  { "text-utf8", spoil_text_utf8, "the source text is not valid UTF-8" },
};

static void
test_invalid (gconstpointer data)
{
  const InvalidCase *c = data;
  g_autoptr (AttnTrace) trace = make_trace ();
  c->spoil (trace);
  g_autoptr (GError) error = NULL;
  gboolean valid = attn_trace_validate (trace, &error);

  g_autofree char *dir = attn_test_tmp_dir_new ("attn-trace-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "run.json", NULL);
  g_autoptr (GError) save_error = NULL;
  gboolean saved = attn_trace_save_json (trace, path, &save_error);
  if (c->fragment == NULL)
    {
      g_assert_no_error (error);
      g_assert_true (valid);
      g_assert_no_error (save_error);
      g_assert_true (saved);
    }
  else
    {
      g_assert_false (valid);
      g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TRACE);
      assert_message_has (error, c->fragment);
      /* Saving refuses it and writes nothing. */
      g_assert_false (saved);
      g_assert_error (save_error, ATTN_ERROR, ATTN_ERROR_BAD_TRACE);
      assert_message_has (save_error, c->fragment);
      g_autofree char *files = attn_test_list_dir (dir);
      g_assert_cmpstr (files, ==, "");
    }
  attn_test_tmp_dir_remove (dir);
}

/* --- malformed files --- */

#define BASE_MODEL                                                          \
  "\"model\": {\"name\": \"m\", \"architecture\": \"gpt2\", \"attention\": " \
  "\"scaled-dot-product\", \"n_layers\": 1, \"n_heads\": 1}"
#define BASE_TOKENS                                                         \
  "\"target_tokens\": [{\"text\": \"a\", \"id\": 0, \"span\": [0, 1], "     \
  "\"special\": false}, {\"text\": \"b\", \"id\": 1, \"span\": [1, 2], "    \
  "\"special\": false}]"
#define BASE_BLOCK                                                          \
  "{\"kind\": \"decoder-self\", \"layer\": 0, \"n_heads\": 1, "             \
  "\"n_queries\": 2, \"n_keys\": 2, \"normalised\": true, "                 \
  "\"weights\": [1, 0, 0.5, 0.5]}"
#define BASE_STEPS                                                          \
  "\"steps\": [{\"id\": 1, \"text\": \"b\", \"prob\": 0.5, \"top\": "       \
  "[{\"id\": 1, \"text\": \"b\", \"prob\": 0.5}]}]"

/* A valid decoder-only trace of two tokens; each case edits it. */
static const char base_json[] =
  "{\"format\": \"attnscope-trace\", \"version\": 1, " BASE_MODEL ", "
  "\"source_text\": \"\", \"target_text\": \"ab\", \"source_tokens\": [], "
  BASE_TOKENS ", \"blocks\": [" BASE_BLOCK "], " BASE_STEPS "}";

/* 16 brackets, for a model name holding 272 of them, and an escaped quote. */
#define B16 "[[[[[[[[[[[[[[[["
#define ALT "{\"id\": 1, \"text\": \"b\", \"prob\": 0.01}, "

typedef struct {
  const char *name;
  /* The file is base_json with its first `from` replaced by `to`, or `to`
   * alone when from is NULL. */
  const char *from;
  const char *to;
  /* Optionally a sidecar written beside it: npy_name holding npy_bytes
   * bytes as given, or else an array of shape npy_shape. */
  const char *npy_name;
  gsize npy_shape[3];
  const char *npy_bytes;
  gsize npy_len;
  int code; /* -1: loads */
  const char *fragment;
} MalformedCase;

static const MalformedCase malformed_cases[] = {
  { "base", "", "", NULL, { 0 }, NULL, 0, -1, NULL },
  { "unknown-members", "\"version\": 1, ",
    "\"version\": 1, \"head_mask\": [[1]], \"beams\": {\"k\": 4}, ",
    NULL, { 0 }, NULL, 0, -1, NULL },
  { "unknown-block-member", "\"normalised\": true,",
    "\"normalised\": true, \"entropy\": [0.1, 0.2],", NULL, { 0 }, NULL, 0, -1,
    NULL },
  { "sidecar", "\"weights\": [1, 0, 0.5, 0.5]", "\"weights_npy\": \"w.npy\"",
    "w.npy", { 1, 2, 2 }, NULL, 0, -1, NULL },
  { "empty", NULL, "", NULL, { 0 }, NULL, 0, ATTN_ERROR_BAD_TRACE,
    "top level: not a JSON object" },
  { "not-json", NULL, "{\"format\": \"attnscope-trace\",", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "not valid JSON" },
  { "top-array", NULL, "[1, 2]", NULL, { 0 }, NULL, 0, ATTN_ERROR_BAD_TRACE,
    "top level: not a JSON object" },
  { "wrong-format", "\"attnscope-trace\"", "\"attnscope-run\"", NULL, { 0 },
    NULL, 0, ATTN_ERROR_BAD_TRACE, "format is “attnscope-run”" },
  { "missing-format", "\"format\": \"attnscope-trace\", ", "", NULL, { 0 },
    NULL, 0, ATTN_ERROR_BAD_TRACE, "top level: member “format” is missing" },
  { "version-2", "\"version\": 1", "\"version\": 2", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "version 2 is not supported" },
  { "version-string", "\"version\": 1", "\"version\": \"1\"", NULL, { 0 },
    NULL, 0, ATTN_ERROR_BAD_TRACE, "member “version” is not an integer" },
  { "missing-model", BASE_MODEL ", ", "", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "member “model” is missing" },
  { "model-not-object", BASE_MODEL, "\"model\": 3", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "member “model” is not an object" },
  { "unknown-attention", "scaled-dot-product", "flash", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "unknown attention type “flash”" },
  { "negative-layers", "\"n_layers\": 1", "\"n_layers\": -3", NULL, { 0 },
    NULL, 0, ATTN_ERROR_BAD_TRACE, "model: member “n_layers” = -3 is out of "
                                "range" },
  { "huge-heads", "\"n_heads\": 1}", "\"n_heads\": 1000000000000}", NULL,
    { 0 }, NULL, 0, ATTN_ERROR_BAD_TRACE, "“n_heads” = 1000000000000 is out of "
                                       "range" },
  { "float-heads", "\"n_heads\": 1}", "\"n_heads\": 1.0}", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "member “n_heads” is not an integer" },
  { "missing-text", "\"target_text\": \"ab\", ", "", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "member “target_text” is missing" },
  { "token-text-number", "\"text\": \"a\"", "\"text\": 7", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "target_tokens[0]: member “text” is not a string" },
  { "token-not-object", "{\"text\": \"b\", \"id\": 1, \"span\": [1, 2], "
                        "\"special\": false}", "5", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "target_tokens[1]: is not an object" },
  { "token-special-string", "\"special\": false", "\"special\": \"no\"",
    NULL, { 0 }, NULL, 0, ATTN_ERROR_BAD_TRACE,
    "member “special” is not true or false" },
  { "span-one-number", "[0, 1]", "[0]", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "member “span” is neither null nor [start, end]" },
  { "span-negative", "[0, 1]", "[-1, 1]", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "span start = -1 is out of range" },
  { "span-past-text", "[1, 2]", "[1, 3]", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "span [1, 3) is not inside the 2-byte target "
                          "text" },
  { "unknown-kind", "decoder-self", "encoder-cross", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "blocks[0]: unknown kind “encoder-cross”" },
  { "negative-layer", "\"layer\": 0", "\"layer\": -1", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "blocks[0]: member “layer” = -1 is out of range" },
  { "layer-beyond-model", "\"layer\": 0", "\"layer\": 4", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "block decoder-self L4: layer outside 0 .. 0" },
  { "block-heads", "\"n_heads\": 1, \"n_queries\"",
    "\"n_heads\": 2, \"n_queries\"", NULL, { 0 }, NULL, 0, ATTN_ERROR_BAD_TRACE,
    "blocks[0] (decoder-self L0): n_heads = 2, but the model's n_heads is 1" },
  { "huge-queries", "\"n_queries\": 2", "\"n_queries\": 1000000000", NULL,
    { 0 }, NULL, 0, ATTN_ERROR_BAD_TRACE,
    "1000000000 queries x 2 keys, but the token lists give 2 x 2" },
  { "weights-count", "[1, 0, 0.5, 0.5]", "[1, 0, 0.5]", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "“weights” holds 3 numbers, but 1 x 2 x 2 = 4 are "
                          "needed" },
  { "weights-string", "[1, 0, 0.5, 0.5]", "[1, 0, \"0.5\", 0.5]", NULL,
    { 0 }, NULL, 0, ATTN_ERROR_BAD_TRACE, "weights[2] is not a number" },
  { "weights-not-array", "[1, 0, 0.5, 0.5]", "{}", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "member “weights” is not an array" },
  { "both-weights", "\"normalised\": true,",
    "\"normalised\": true, \"weights_npy\": \"w.npy\",", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "needs exactly one of “weights” and “weights_npy”" },
  { "no-weights", ", \"weights\": [1, 0, 0.5, 0.5]", "", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "needs exactly one of “weights” and “weights_npy”" },
  { "row-sum", "[1, 0, 0.5, 0.5]", "[1, 0, 0.5, 0.25]", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "row 1 of head 0 sums to 0.75" },
  { "weight-above-one", "[1, 0, 0.5, 0.5]", "[1, 0, 1.5, -0.5]", NULL, { 0 },
    NULL, 0, ATTN_ERROR_BAD_TRACE, "weight [0][1][0] = 1.5 is not in [0, 1]" },
  { "duplicate-block", BASE_BLOCK, BASE_BLOCK ", " BASE_BLOCK, NULL, { 0 },
    NULL, 0, ATTN_ERROR_BAD_TRACE,
    "blocks[1] (decoder-self L0): appears twice" },
  { "block-not-object", BASE_BLOCK, "[]", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "blocks[0]: is not an object" },
  { "sidecar-path", "\"weights\": [1, 0, 0.5, 0.5]",
    "\"weights_npy\": \"../w.npy\"", NULL, { 0 }, NULL, 0, ATTN_ERROR_BAD_TRACE,
    "weights_npy “../w.npy” is not a bare file name" },
  { "sidecar-missing", "\"weights\": [1, 0, 0.5, 0.5]",
    "\"weights_npy\": \"gone.npy\"", NULL, { 0 }, NULL, 0, ATTN_ERROR_BAD_TRACE,
    "sidecar gone.npy is missing or unreadable" },
  { "sidecar-wrong-shape", "\"weights\": [1, 0, 0.5, 0.5]",
    "\"weights_npy\": \"w.npy\"", "w.npy", { 1, 2, 3 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "sidecar w.npy has shape (1, 2, 3), expected "
                          "(1, 2, 2)" },
  { "sidecar-not-npy", "\"weights\": [1, 0, 0.5, 0.5]",
    "\"weights_npy\": \"w.npy\"", "w.npy", { 0 }, "hello", 5,
    ATTN_ERROR_BAD_TRACE, "sidecar w.npy: " },
  { "sidecar-claims-10^12", "\"weights\": [1, 0, 0.5, 0.5]",
    "\"weights_npy\": \"w.npy\"", "w.npy", { 0 },
    "\x93NUMPY\x01\x00\x48\x00{'descr': '<f4', 'fortran_order': False, "
    "'shape': (1000000, 1000000), }\n", 10 + 72,
    ATTN_ERROR_BAD_TRACE, "header claims 1000000000000 floats" },
  { "sidecar-name-number", "\"weights\": [1, 0, 0.5, 0.5]",
    "\"weights_npy\": 5", NULL, { 0 }, NULL, 0, ATTN_ERROR_BAD_TRACE,
    "member “weights_npy” is not a string" },
  { "step-prob-string", "\"prob\": 0.5, \"top\"", "\"prob\": \"high\", "
                                                  "\"top\"", NULL, { 0 },
    NULL, 0, ATTN_ERROR_BAD_TRACE, "steps[0]: member “prob” is not a number" },
  { "step-id", "{\"id\": 1, \"text\": \"b\", \"prob\": 0.5, \"top\"",
    "{\"id\": 7, \"text\": \"b\", \"prob\": 0.5, \"top\"", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "step 0 emits id 7, but target token 1 has id 1" },
  { "step-no-top", ", \"top\": [{\"id\": 1, \"text\": \"b\", \"prob\": 0.5}]",
    "", NULL, { 0 }, NULL, 0, ATTN_ERROR_BAD_TRACE,
    "steps[0]: member “top” is missing" },
  { "step-top-17", "\"top\": [", "\"top\": [" ALT ALT ALT ALT ALT ALT ALT ALT
    ALT ALT ALT ALT ALT ALT ALT ALT, NULL, { 0 }, NULL, 0, ATTN_ERROR_BAD_TRACE,
    "17 alternatives in “top”, at most 16 allowed" },
  { "step-top-text", "\"text\": \"b\", \"prob\": 0.5}]",
    "\"text\": null, \"prob\": 0.5}]", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "steps[0].top[0]: member “text” is not a string" },
  { "missing-steps", ", " BASE_STEPS, "", NULL, { 0 }, NULL, 0,
    ATTN_ERROR_BAD_TRACE, "member “steps” is missing" },
  { "text-bad-utf8", "\"target_text\": \"ab\"", "\"target_text\": \"a\xff\"",
    NULL, { 0 }, NULL, 0, ATTN_ERROR_BAD_TRACE, "must be UTF-8" },
  /* 100,000 nested arrays crash json-glib 1.6's recursive parser. */
  { "deep-nesting", NULL, NULL, NULL, { 0 }, NULL, 0, ATTN_ERROR_BAD_TRACE,
    "nested deeper than 256 levels" },
  /* Brackets inside strings do not count. */
  { "brackets-in-strings", "\"name\": \"m\"",
    "\"name\": \"" B16 B16 B16 B16 B16 B16 B16 B16 B16 B16 B16 B16 B16 B16
    B16 B16 "\\\"" B16 "\"",
    NULL, { 0 }, NULL, 0, -1, NULL },
};

static char *
replace_first (const char *text, const char *from, const char *to)
{
  const char *at = strstr (text, from);
  g_assert_nonnull (at);
  return g_strdup_printf ("%.*s%s%s", (int) (at - text), text, to,
                          at + strlen (from));
}

static void
test_malformed (gconstpointer data)
{
  const MalformedCase *c = data;
  g_autofree char *json = NULL;
  if (c->from != NULL)
    json = replace_first (base_json, c->from, c->to);
  else if (c->to != NULL)
    json = g_strdup (c->to);
  else
    {
      json = g_malloc (200001);
      memset (json, '[', 100000);
      memset (json + 100000, ']', 100000);
      json[200000] = '\0';
    }
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-trace-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "t.json", NULL);
  g_assert_true (g_file_set_contents (path, json, -1, NULL));
  if (c->npy_name != NULL)
    {
      g_autofree char *npy = g_build_filename (dir, c->npy_name, NULL);
      if (c->npy_bytes != NULL)
        g_assert_true (g_file_set_contents (npy, c->npy_bytes, c->npy_len,
                                            NULL));
      else
        {
          gsize n = c->npy_shape[0] * c->npy_shape[1] * c->npy_shape[2];
          g_autofree float *w = g_new0 (float, n);
          /* Rows [1, 0], [0.5, 0.5], ... */
          for (gsize r = 0; r < n / c->npy_shape[2]; r++)
            for (gsize k = 0; k < c->npy_shape[2]; k++)
              w[r * c->npy_shape[2] + k] = r % 2 ? 1.0f / c->npy_shape[2]
                                                 : k == 0;
          g_assert_true (attn_npy_write (npy, w, 3, c->npy_shape, NULL));
        }
    }

  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrace) trace = attn_trace_load_json (path, &error);
  if (c->code < 0)
    {
      g_assert_no_error (error);
      g_assert_nonnull (trace);
      AttnBlock *b = attn_trace_lookup_block (trace, ATTN_KIND_DECODER_SELF,
                                              0);
      const float want[] = { 1, 0, 0.5f, 0.5f };
      g_assert_cmpmem (b->weights, sizeof want, want, sizeof want);
      g_assert_cmpstr (attn_trace_get_token (trace, ATTN_SIDE_TARGET, 1)->text,
                       ==, "b");
    }
  else
    {
      g_assert_null (trace);
      g_assert_error (error, ATTN_ERROR, c->code);
      assert_message_has (error, path);
      assert_message_has (error, c->fragment);
    }
  attn_test_tmp_dir_remove (dir);
}

static void
test_missing_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrace) trace = attn_trace_load_json ("/nonexistent/t.json",
                                                      &error);
  g_assert_null (trace);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_IO);
  assert_message_has (error, "/nonexistent/t.json");
}

/* --- heads and CSV --- */

/* A cross block of 2 heads over target ("<s>", "猫") x source ("a,b",
 * "say "hi"", " 猫", "2\n3", "</s>"): exact binary fractions, so the
 * printed numbers are short and exact. */
static AttnTrace *
make_csv_trace (void)
{
  AttnTrace *trace = attn_trace_new ("csv", "rnn-encoder-decoder",
                                     ATTN_MECHANISM_ADDITIVE, 1, 2);
  attn_trace_set_text (trace, ATTN_SIDE_SOURCE, "a,b say \"hi\" 猫 2\n3");
  attn_trace_set_text (trace, ATTN_SIDE_TARGET, "猫");
  const char *const source[] = { "a,b", " say \"hi\"", " 猫", " 2\n3", NULL };
  add_text_tokens (trace, ATTN_SIDE_SOURCE, source, 5);
  attn_trace_add_token (trace, ATTN_SIDE_SOURCE, "</s>", 2, -1, -1, TRUE);
  attn_trace_add_token (trace, ATTN_SIDE_TARGET, "<s>", 1, -1, -1, TRUE);
  attn_trace_add_token (trace, ATTN_SIDE_TARGET, "猫", 7, 0, 3, FALSE);
  AttnBlock *b = attn_trace_add_block (trace, ATTN_KIND_CROSS, 0, 2, 2, 5);
  const float w[] = {
    0.5f, 0.25f, 0.25f, 0.0f, 0.0f,            /* head 0 */
    0.125f, 0.125f, 0.25f, 0.0f, 0.5f,
    0.25f, 0.25f, 0.25f, 0.25f, 0.0f,          /* head 1 */
    0.375f, 0.125f, 0.25f, 0.0625f, 0.1875f,
  };
  memcpy (b->weights, w, sizeof w);
  return trace;
}

typedef struct {
  int head;
  const char *csv;
} CsvCase;

#define CSV_HEADER ",\"a,b\",\" say \"\"hi\"\"\",\" 猫\",\" 2\n3\",</s>\r\n"

static const CsvCase csv_cases[] = {
  { 0, CSV_HEADER "<s>,0.5,0.25,0.25,0,0\r\n"
                  "猫,0.125,0.125,0.25,0,0.5\r\n" },
  { 1, CSV_HEADER "<s>,0.25,0.25,0.25,0.25,0\r\n"
                  "猫,0.375,0.125,0.25,0.0625,0.1875\r\n" },
  { ATTN_HEADS_MEAN, CSV_HEADER "<s>,0.375,0.25,0.25,0.125,0\r\n"
                                "猫,0.25,0.125,0.25,0.03125,0.34375\r\n" },
  { ATTN_HEADS_MAX, CSV_HEADER "<s>,0.5,0.25,0.25,0.25,0\r\n"
                               "猫,0.375,0.125,0.25,0.0625,0.5\r\n" },
};

static void
test_csv (gconstpointer data)
{
  const CsvCase *c = data;
  g_autoptr (AttnTrace) trace = make_csv_trace ();
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_trace_validate (trace, &error));
  g_assert_no_error (error);
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-trace-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "cross.csv", NULL);
  AttnBlock *b = attn_trace_lookup_block (trace, ATTN_KIND_CROSS, 0);
  g_assert_true (attn_block_write_csv (trace, b, c->head, path, &error));
  g_assert_no_error (error);
  g_autofree char *csv = NULL;
  g_assert_true (g_file_get_contents (path, &csv, NULL, NULL));
  g_assert_cmpstr (csv, ==, c->csv);
  attn_test_tmp_dir_remove (dir);
}

static void
test_csv_errors (void)
{
  g_autoptr (AttnTrace) trace = make_csv_trace ();
  AttnBlock *b = attn_trace_lookup_block (trace, ATTN_KIND_CROSS, 0);
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-trace-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "x.csv", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_false (attn_block_write_csv (trace, b, 2, path, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_autofree char *bad = g_build_filename (dir, "no", "such", "x.csv", NULL);
  g_assert_false (attn_block_write_csv (trace, b, 0, bad, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_IO);
  assert_message_has (error, bad);
  g_autofree char *files = attn_test_list_dir (dir);
  g_assert_cmpstr (files, ==, "");
  attn_test_tmp_dir_remove (dir);
}

static void
test_head_weights (void)
{
  /* 3 heads of a 1 x 2 block: mean 1/3 of a sum is not a binary fraction,
   * so it checks the rounding too. */
  g_autoptr (AttnTrace) trace =
    attn_trace_new ("h", "gpt2", ATTN_MECHANISM_SCALED_DOT_PRODUCT, 1, 3);
  AttnBlock *b = attn_trace_add_block (trace, ATTN_KIND_DECODER_SELF, 0, 3, 1,
                                       2);
  const float w[] = { 0.1f, 0.9f, 0.7f, 0.3f, 0.4f, 0.6f }; /* (NH, 1, 2) */
  memcpy (b->weights, w, sizeof w);
  float out[2];
  attn_block_head_weights (b, 1, out);
  g_assert_cmpfloat (out[0], ==, 0.7f);
  g_assert_cmpfloat (out[1], ==, 0.3f);
  attn_block_head_weights (b, ATTN_HEADS_MAX, out);
  g_assert_cmpfloat (out[0], ==, 0.7f);
  g_assert_cmpfloat (out[1], ==, 0.9f);
  attn_block_head_weights (b, ATTN_HEADS_MEAN, out);
  g_assert_cmpfloat (out[0], ==, (float) (((double) 0.1f + 0.7f + 0.4f) / 3));
  g_assert_cmpfloat (out[1], ==, (float) (((double) 0.9f + 0.3f + 0.6f) / 3));
  g_assert_cmpfloat_with_epsilon (out[0], 0.4f, 1e-7);
  g_assert_cmpfloat_with_epsilon (out[1], 0.6f, 1e-7);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/attn/trace/strings", test_strings);
  g_test_add_func ("/attn/trace/build", test_build);
  g_test_add_func ("/attn/trace/round-trip", test_round_trip);
  g_test_add_func ("/attn/trace/doc-example", test_doc_example);
  for (guint i = 0; i < G_N_ELEMENTS (sidecar_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/trace/sidecar/T%d",
                                               sidecar_cases[i].n_tokens);
      g_test_add_data_func (name, &sidecar_cases[i], test_sidecar);
    }
  g_test_add_func ("/attn/trace/save-failure-leaves-nothing",
                   test_save_failure_leaves_nothing);
  for (guint i = 0; i < G_N_ELEMENTS (invalid_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/trace/invalid/%s",
                                               invalid_cases[i].name);
      g_test_add_data_func (name, &invalid_cases[i], test_invalid);
    }
  for (guint i = 0; i < G_N_ELEMENTS (malformed_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/trace/malformed/%s",
                                               malformed_cases[i].name);
      g_test_add_data_func (name, &malformed_cases[i], test_malformed);
    }
  g_test_add_func ("/attn/trace/missing-file", test_missing_file);
  for (guint i = 0; i < G_N_ELEMENTS (csv_cases); i++)
    {
      int head = csv_cases[i].head;
      g_autofree char *name =
        head >= 0 ? g_strdup_printf ("/attn/trace/csv/head-%d", head)
                  : g_strdup_printf ("/attn/trace/csv/%s",
                                     head == ATTN_HEADS_MEAN ? "mean" : "max");
      g_test_add_data_func (name, &csv_cases[i], test_csv);
    }
  g_test_add_func ("/attn/trace/csv-errors", test_csv_errors);
  g_test_add_func ("/attn/trace/head-weights", test_head_weights);
  return g_test_run ();
}
