/* test-regressions.c: every input a fuzzer (tests/fuzz, tools/fuzz) made
 * crash is kept in tests/fuzz/regressions/<target>/ and read here by the
 * reader that crashed on it, the way the fuzz target feeds it, with the
 * outcome the fixed reader gives: the error code and message a user sees,
 * or success. (The `fuzz` suite also replays these files through the
 * targets themselves, sanitizers watching under build-asan.) */
#include <string.h>

#include "core/attn-bpe.h"
#include "core/attn-error.h"
#include "core/attn-gpt2.h"
#include "core/attn-model.h"
#include "core/attn-npy.h"
#include "core/attn-safetensors.h"
#include "core/attn-trace.h"
#include "core/attn-train.h"
#include "core/attn-vocab.h"
#include "tests/attn-test-util.h"

typedef struct {
  const char *target;  /* the fuzz target whose reader is used */
  const char *file;    /* in tests/fuzz/regressions/<target>/ */
  int code;            /* the ATTN_ERROR code expected; -1: read fine */
  const char *message; /* in the error's message */
} RegressionCase;

static const RegressionCase cases[] = {
  /* attn-bpe.c scan_int: a vocab.json id of 20 digits overflowed a gint64
   * while being read (UBSan: signed integer overflow) before its length
   * was checked. Now refused like any number past 18 digits. */
  { "bpe", "vocab-id-20-digits", ATTN_ERROR_BAD_MODEL_FILE,
    "vocab.json: is not a tokenizer file: it holds a number with too many "
    "digits" },
  /* attn-attention.c attn_local_window: a local-p model (fuzz-model's
   * mutation of the tiny local-p seed) whose weights, each finite,
   * overflow together made the predicted position p NaN, converted to int
   * (UBSan: nan is outside the range of int). An empty window now; the
   * run reports the NaN it leads to. */
  { "model", "local-p-nan-position", ATTN_ERROR_FAILED,
    "model “tiny-local-p” produced a non-finite logit at step 2" },
  /* json-glib 1.6 recurses once per nesting level: 100,000 nested brackets
   * overflowed the stack (SIGSEGV) in every reader that handed outside
   * JSON to it unbounded. Found by review after fuzz-trace's bound, not by
   * a fuzzer (inputs that deep are past libFuzzer's -max_len); now each
   * reader checks attn_json_check_depth first (core/attn-json.h). */
  { "model-json", "config-nested-100000", ATTN_ERROR_INVALID_ARGUMENT,
    "not a config: arrays and objects nested deeper than 64 levels" },
  { "model-json", "vocab-nested-100000", ATTN_ERROR_BAD_MODEL_FILE,
    "vocabulary: arrays and objects nested deeper than 64 levels" },
  { "model", "card-nested-100000", ATTN_ERROR_BAD_MODEL_FILE,
    "fuzz.safetensors: “attnscope.card”: arrays and objects nested deeper "
    "than 64 levels" },
  { "gpt2-config", "nested-100000", ATTN_ERROR_BAD_MODEL_FILE,
    "config.json: not a config: arrays and objects nested deeper than 64 "
    "levels" },
};

/* Reads data as fuzz-<target> does (the selector bytes of fuzz-bpe and
 * fuzz-model-json included); FALSE with the reader's error. */
static gboolean
read_as (const char *target, const char *data, gsize len, GError **error)
{
  if (strcmp (target, "safetensors") == 0)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (data, len);
      g_autoptr (AttnSafetensors) st =
        attn_safetensors_new_from_bytes (bytes, "fuzz.safetensors", error);
      return st != NULL;
    }
  if (strcmp (target, "model") == 0)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (data, len);
      g_autoptr (AttnModel) model =
        attn_model_load_from_bytes (bytes, "fuzz.safetensors", error);
      if (model == NULL)
        return FALSE;
      /* Then run as fuzz-model.c does: the first ordinary symbols, 3 at
       * most, 3 steps. */
      g_autoptr (GString) text = g_string_new (NULL);
      int n = MIN (model->config.max_len - 1, 3);
      for (int i = 0; i < n; i++)
        g_string_append (text, attn_vocab_symbol (
                                 model->vocab,
                                 ATTN_VOCAB_N_SPECIAL
                                   + i % (model->config.V
                                          - ATTN_VOCAB_N_SPECIAL)));
      AttnRunOptions options = ATTN_RUN_OPTIONS_INIT;
      options.max_steps = 3;
      g_autoptr (AttnTrace) trace = attn_model_run (model, text->str,
                                                    &options, NULL, error);
      return trace != NULL;
    }
  if (strcmp (target, "trace") == 0)
    {
      g_autoptr (AttnTrace) trace =
        attn_trace_load_json_data (data, len, "fuzz.json", NULL, error);
      return trace != NULL;
    }
  if (strcmp (target, "npy") == 0)
    {
      int ndim;
      gsize shape[ATTN_NPY_MAX_DIMS];
      g_autofree float *values = attn_npy_read_data (data, len, "fuzz.npy",
                                                     &ndim, shape, error);
      return values != NULL;
    }
  if (strcmp (target, "gpt2-config") == 0)
    {
      AttnGpt2Config config;
      return attn_gpt2_config_from_data (data, len, "config.json", &config,
                                         error);
    }
  g_assert_cmpuint (len, >=, 1);
  if (strcmp (target, "model-json") == 0)
    {
      g_autofree char *json = g_strndup (data + 1, len - 1);
      if (data[0] % 2 == 0)
        {
          AttnModelConfig config;
          return attn_model_config_from_json (json, &config, error);
        }
      g_autoptr (AttnVocab) vocab = attn_vocab_from_json (json, error);
      return vocab != NULL;
    }
  if (strcmp (target, "bpe") == 0)
    {
      const char *rest = data + 1;
      gsize n = len - 1;
      g_autoptr (AttnBpe) bpe = NULL;
      if (data[0] % 2 == 0)
        {
          const char *nul = memchr (rest, '\0', n);
          gsize vocab_len = nul != NULL ? (gsize) (nul - rest) : n;
          const char *merges = nul != NULL ? nul + 1 : rest + n;
          bpe = attn_bpe_new_from_data (rest, vocab_len, "vocab.json", merges,
                                        n - vocab_len - (nul != NULL),
                                        "merges.txt", error);
        }
      else
        bpe = attn_bpe_new_from_tokenizer_json_data (rest, n,
                                                     "tokenizer.json", error);
      return bpe != NULL;
    }
  g_error ("test-regressions: no reader for fuzz target “%s”", target);
  return FALSE;
}

static void
test_regression (gconstpointer data)
{
  const RegressionCase *c = data;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "fuzz",
                                                 "regressions", c->target,
                                                 c->file, NULL);
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents (path, &contents, &len, &error));
  g_assert_no_error (error);
  /* Exactly the file's bytes, as the fuzzer had them. */
  g_autofree char *input = g_memdup2 (contents, MAX (len, 1));
  gboolean ok = read_as (c->target, input, len, &error);
  if (c->code < 0)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      return;
    }
  g_assert_false (ok);
  g_assert_error (error, ATTN_ERROR, c->code);
  attn_test_assert_contains ("error", error->message, c->message);
}

/* The training state of a checkpoint (--resume) is JSON read the same
 * way; its bound, with no fuzz target of its own. */
static void
test_train_config_nested (void)
{
  g_autofree char *deep = g_strnfill (100000, '[');
  AttnTrainConfig config;
  g_autoptr (GError) error = NULL;
  g_assert_false (attn_train_config_from_json (deep, &config, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, "training configuration: arrays and "
                   "objects nested deeper than 64 levels");
  /* Depth counts brackets outside strings only. */
  g_autoptr (GString) json = g_string_new ("{\"task\": \"");
  for (int i = 0; i < 1000; i++)
    g_string_append (json, "[{");
  g_string_append (json, "\"}");
  g_clear_error (&error);
  g_assert_false (attn_train_config_from_json (json->str, &config, &error));
  g_assert_null (strstr (error->message, "nested deeper"));
}

/* A paste of 100,000 characters, 20,000 of them distinct and unknown to
 * the vocabulary: each unknown one is listed once, in order of first
 * appearance, after what the caller's list already held. (attn-vocab.c
 * searched the list linearly for every character: 10 s for this text.) */
static void
test_vocab_many_unknown (void)
{
  const char *const symbols[] = { "a", "b" };
  g_autoptr (AttnVocab) vocab = attn_vocab_new (symbols, 2, NULL);
  g_autoptr (GString) text = g_string_new (NULL);
  for (int i = 0; i < 100000; i++)
    g_string_append_unichar (text, i % 5 == 0 ? 'a' : 0x4E00 + i % 20000);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GPtrArray) unknown = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (unknown, g_strdup ("\xe4\xb8\x81")); /* U+4E01 */
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_vocab_encode (vocab, text->str, ids, NULL, unknown,
                                    &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 100000);
  for (int i = 0; i < 100000; i++)
    g_assert_cmpint (g_array_index (ids, int, i), ==,
                     i % 5 == 0 ? ATTN_VOCAB_N_SPECIAL : ATTN_VOCAB_UNK);
  /* U+4E00 + k for k not a multiple of 5 (those are 'a'), U+4E01 first. */
  g_assert_cmpuint (unknown->len, ==, 16000);
  g_assert_cmpstr (unknown->pdata[0], ==, "\xe4\xb8\x81");
  guint at = 1;
  for (int k = 2; k < 20000; k++)
    if (k % 5 != 0)
      {
        char want[8] = { 0 };
        g_unichar_to_utf8 (0x4E00 + k, want);
        g_assert_cmpstr (unknown->pdata[at], ==, want);
        at++;
      }
  g_assert_cmpuint (at, ==, unknown->len);
}

/* The fuzzers feed the in-memory entry points; these show they read what
 * the file readers read, so the figures apply to both. */
static void
test_npy_data_agrees (void)
{
  const char *files[] = { "numpy-ref-3d.npy", "numpy-ref-0d.npy",
                          "numpy-ref-empty.npy", "numpy-fortran.npy" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = attn_test_data_path (files[i]);
      g_autofree char *contents = NULL;
      gsize len = 0;
      g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
      int nd_file = -1, nd_data = -1;
      gsize shape_file[ATTN_NPY_MAX_DIMS] = { 0 };
      gsize shape_data[ATTN_NPY_MAX_DIMS] = { 0 };
      g_autoptr (GError) error_file = NULL;
      g_autoptr (GError) error_data = NULL;
      g_autofree float *a = attn_npy_read (path, &nd_file, shape_file,
                                           &error_file);
      g_autofree float *b = attn_npy_read_data (contents, len, path, &nd_data,
                                                shape_data, &error_data);
      g_assert_true ((a == NULL) == (b == NULL));
      if (a == NULL)
        {
          /* The Fortran-ordered file: the same refusal, word for word. */
          g_assert_error (error_data, ATTN_ERROR, error_file->code);
          g_assert_cmpstr (error_data->message, ==, error_file->message);
          continue;
        }
      g_assert_cmpint (nd_data, ==, nd_file);
      gsize numel = 1;
      for (int d = 0; d < nd_file; d++)
        {
          g_assert_cmpuint (shape_data[d], ==, shape_file[d]);
          numel *= shape_file[d];
        }
      g_assert_cmpmem (a, numel * sizeof (float), b, numel * sizeof (float));
    }
}

static void
test_trace_data_agrees (void)
{
  g_autofree char *path = attn_test_data_path ("cli-trace.json");
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrace) a = attn_trace_load_json (path, &error);
  g_assert_no_error (error);
  /* Not NUL-terminated: the length bounds the read. */
  g_autofree char *exact = g_memdup2 (contents, len);
  g_autoptr (AttnTrace) b = attn_trace_load_json_data (exact, len, path, NULL,
                                                       &error);
  g_assert_no_error (error);
  attn_test_assert_traces_equal (a, b);

  /* A block in a sidecar needs a folder to read it from. */
  const char *sidecar = strstr (contents, "\"weights\": [");
  g_assert_nonnull (sidecar);
  g_autoptr (GString) edited = g_string_new_len (contents, sidecar - contents);
  g_string_append (edited, "\"weights_npy\": \"w.npy\", \"unused\": [");
  g_string_append (edited, sidecar + strlen ("\"weights\": ["));
  g_autoptr (AttnTrace) c = attn_trace_load_json_data (edited->str,
                                                       edited->len, "t.json",
                                                       NULL, &error);
  g_assert_null (c);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TRACE);
  attn_test_assert_contains ("error", error->message,
                             "weights_npy “w.npy”: a trace read from memory "
                             "has no folder to read sidecars from");
}

static void
test_model_data_agrees (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "assets",
                                                 "models",
                                                 "reverse-transformer"
                                                 ".safetensors", NULL);
  g_autofree char *contents = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &contents, &len, NULL))
    {
      g_test_skip ("assets/models/reverse-transformer.safetensors is absent");
      return;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnModel) a = attn_model_load (path, &error);
  g_assert_no_error (error);
  g_autoptr (GBytes) bytes = g_bytes_new_take (g_steal_pointer (&contents),
                                               len);
  g_autoptr (AttnModel) b = attn_model_load_from_bytes (
    bytes, "somewhere/reverse-transformer.safetensors", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (b->name, ==, a->name);
  g_assert_cmpmem (&b->config, sizeof b->config, &a->config,
                   sizeof a->config);
  g_assert_cmpuint (b->params->n_tensors, ==, a->params->n_tensors);
  for (guint i = 0; i < a->params->n_tensors; i++)
    {
      const AttnTensor *ta = &a->params->tensors[i];
      const AttnTensor *tb = &b->params->tensors[i];
      g_assert_cmpstr (tb->name, ==, ta->name);
      g_assert_cmpmem (tb->data, tb->numel * sizeof (float), ta->data,
                       ta->numel * sizeof (float));
    }

  /* Cut short: refused, naming the name given. */
  g_autoptr (GBytes) cut = g_bytes_new_from_bytes (bytes, 0, len / 2);
  g_autoptr (AttnModel) c = attn_model_load_from_bytes (cut, "cut.safetensors",
                                                        &error);
  g_assert_null (c);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE);
  g_assert_true (g_str_has_prefix (error->message, "cut.safetensors: "));
}

/* Every file under tests/fuzz/regressions/ has its case above. */
static void
test_all_listed (void)
{
  g_autofree char *top = g_test_build_filename (G_TEST_DIST, "fuzz",
                                                "regressions", NULL);
  g_autoptr (GDir) targets = g_dir_open (top, 0, NULL);
  g_assert_nonnull (targets);
  guint n = 0;
  const char *target;
  while ((target = g_dir_read_name (targets)) != NULL)
    {
      g_autofree char *sub = g_build_filename (top, target, NULL);
      g_autoptr (GDir) files = g_dir_open (sub, 0, NULL);
      if (files == NULL)
        continue;
      const char *file;
      while ((file = g_dir_read_name (files)) != NULL)
        {
          gboolean listed = FALSE;
          for (guint i = 0; i < G_N_ELEMENTS (cases) && !listed; i++)
            listed = strcmp (cases[i].target, target) == 0
                     && strcmp (cases[i].file, file) == 0;
          if (!listed)
            g_error ("tests/fuzz/regressions/%s/%s has no case in "
                     "test-regressions.c", target, file);
          n++;
        }
    }
  g_assert_cmpuint (n, ==, G_N_ELEMENTS (cases));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/regressions/%s/%s",
                                               cases[i].target,
                                               cases[i].file);
      g_test_add_data_func (name, &cases[i], test_regression);
    }
  g_test_add_func ("/attn/regressions/all-listed", test_all_listed);
  g_test_add_func ("/attn/regressions/train-config-nested",
                   test_train_config_nested);
  g_test_add_func ("/attn/regressions/vocab-many-unknown",
                   test_vocab_many_unknown);
  g_test_add_func ("/attn/regressions/from-data/npy", test_npy_data_agrees);
  g_test_add_func ("/attn/regressions/from-data/trace",
                   test_trace_data_agrees);
  g_test_add_func ("/attn/regressions/from-data/model",
                   test_model_data_agrees);
  return g_test_run ();
}
