/* attn-model-config.c: AttnModelConfig's validation and its JSON form, the
 * `attnscope.config` metadata key (docs/model-format.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "core/attn-json.h"
#include "core/attn-model.h"
#include "core/attn-vocab.h"

/* Limits far beyond any model this program trains, low enough that no
 * product of them overflows an int and a malformed file cannot ask for an
 * absurd allocation before the parameter total is checked. */
#define MAX_VOCAB (1 << 20)
#define MAX_LEN 4096
#define MAX_WIDTH 8192
#define MAX_FF 65536
#define MAX_LAYERS 64
#define MAX_WINDOW 1024

/* Longer digit runs could wrap silently in json-glib 1.6 (see
 * attn-safetensors.c), turning garbage into an in-range value. */
#define MAX_JSON_DIGITS 18

static const char *const arch_names[] = {
  [ATTN_ARCH_TRANSFORMER] = "transformer",
  [ATTN_ARCH_RNN] = "rnn",
};

const char *
attn_arch_to_string (AttnArch arch)
{
  attn_check ((guint) arch < G_N_ELEMENTS (arch_names));
  return arch_names[arch];
}

gboolean
attn_arch_from_string (const char *str, AttnArch *arch)
{
  for (guint i = 0; str != NULL && i < G_N_ELEMENTS (arch_names); i++)
    if (strcmp (str, arch_names[i]) == 0)
      {
        *arch = (AttnArch) i;
        return TRUE;
      }
  return FALSE;
}

/* ---- validation -------------------------------------------------------- */

static gboolean
uses_attention_hidden (AttnMechanism m)
{
  return m == ATTN_MECHANISM_ADDITIVE || m == ATTN_MECHANISM_LUONG_CONCAT
         || m == ATTN_MECHANISM_LUONG_LOCAL_P;
}

/* Each check names the member by its JSON name and its struct name, so the
 * message serves both a file's reader and a caller filling the struct. */
static gboolean
check_range (const char *json_name, const char *member, int value, int min,
             int max, GError **error)
{
  if (value >= min && value <= max)
    return TRUE;
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
               "“%s” (%s) = %d is out of range (%d .. %d)", json_name, member,
               value, min, max);
  return FALSE;
}

static gboolean
check_unused (AttnArch arch, const char *json_name, const char *member,
              int value, GError **error)
{
  if (value == 0)
    return TRUE;
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
               "“%s” (%s) = %d does not apply to %s models (must be 0)",
               json_name, member, value, attn_arch_to_string (arch));
  return FALSE;
}

gboolean
attn_model_config_validate (const AttnModelConfig *c, GError **error)
{
  if ((guint) c->arch >= G_N_ELEMENTS (arch_names))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "“arch” = %d is not a known architecture", (int) c->arch);
      return FALSE;
    }
  if (!check_range ("vocab_size", "V", c->V, ATTN_VOCAB_N_SPECIAL + 1,
                    MAX_VOCAB, error)
      || !check_range ("max_len", "max_len", c->max_len, 2, MAX_LEN, error))
    return FALSE;
  if (!isfinite (c->dropout) || c->dropout < 0.0f || c->dropout >= 1.0f)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "“dropout” = %g is out of range [0, 1)",
                   (double) c->dropout);
      return FALSE;
    }

  if (c->arch == ATTN_ARCH_TRANSFORMER)
    {
      if (!check_range ("d_model", "C", c->C, 1, MAX_WIDTH, error)
          || !check_range ("n_heads", "NH", c->NH, 1, c->C, error)
          || !check_range ("n_encoder_layers", "L_enc", c->L_enc, 1,
                           MAX_LAYERS, error)
          || !check_range ("n_decoder_layers", "L_dec", c->L_dec, 1,
                           MAX_LAYERS, error)
          || !check_range ("d_ff", "F", c->F, 1, MAX_FF, error))
        return FALSE;
      if (c->C % c->NH != 0)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                       "“n_heads” (NH) = %d does not divide “d_model” (C) = %d",
                       c->NH, c->C);
          return FALSE;
        }
      if (c->pre_norm != FALSE && c->pre_norm != TRUE)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                       "“norm” (pre_norm) = %d is neither TRUE nor FALSE",
                       c->pre_norm);
          return FALSE;
        }
      if (c->attention != ATTN_MECHANISM_SCALED_DOT_PRODUCT)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                       "“attention” (attention) = %d does not apply to "
                       "transformer models (must be 0, scaled dot-product)",
                       (int) c->attention);
          return FALSE;
        }
      return check_unused (c->arch, "embed", "E", c->E, error)
             && check_unused (c->arch, "hidden", "H", c->H, error)
             && check_unused (c->arch, "attention_hidden", "A", c->A, error)
             && check_unused (c->arch, "window", "D", c->D, error);
    }

  if (!check_range ("embed", "E", c->E, 1, MAX_WIDTH, error)
      || !check_range ("hidden", "H", c->H, 1, MAX_WIDTH, error))
    return FALSE;
  if ((guint) c->attention >= ATTN_N_MECHANISMS
      || c->attention == ATTN_MECHANISM_SCALED_DOT_PRODUCT)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "“attention” (attention) = %d is not an RNN attention "
                   "(additive, luong-dot, luong-general, luong-concat, "
                   "luong-local-p)", (int) c->attention);
      return FALSE;
    }
  if (uses_attention_hidden (c->attention))
    {
      if (!check_range ("attention_hidden", "A", c->A, 1, MAX_WIDTH, error))
        return FALSE;
    }
  else if (c->A != 0)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "“attention_hidden” (A) = %d does not apply to %s "
                   "attention (must be 0)", c->A,
                   attn_mechanism_to_string (c->attention));
      return FALSE;
    }
  if (c->attention == ATTN_MECHANISM_LUONG_LOCAL_P)
    {
      if (!check_range ("window", "D", c->D, 1, MAX_WINDOW, error))
        return FALSE;
    }
  else if (c->D != 0)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "“window” (D) = %d does not apply to %s attention "
                   "(must be 0)", c->D,
                   attn_mechanism_to_string (c->attention));
      return FALSE;
    }
  if (c->pre_norm != FALSE)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "“norm” (pre_norm) does not apply to rnn models (must be "
                   "FALSE)");
      return FALSE;
    }
  return check_unused (c->arch, "d_model", "C", c->C, error)
         && check_unused (c->arch, "n_heads", "NH", c->NH, error)
         && check_unused (c->arch, "n_encoder_layers", "L_enc", c->L_enc,
                          error)
         && check_unused (c->arch, "n_decoder_layers", "L_dec", c->L_dec,
                          error)
         && check_unused (c->arch, "d_ff", "F", c->F, error);
}

/* ---- writing ----------------------------------------------------------- */

/* The shortest decimal that reads back as the same float. */
static void
append_float (GString *out, float v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  for (int digits = 1; digits <= 9; digits++)
    {
      char format[8];
      g_snprintf (format, sizeof format, "%%.%dg", digits);
      g_ascii_formatd (buf, sizeof buf, format, (double) v);
      if ((float) g_ascii_strtod (buf, NULL) == v)
        break;
    }
  g_string_append (out, buf);
}

char *
attn_model_config_to_json (const AttnModelConfig *c)
{
  /* Written by hand rather than with JsonGenerator, which prints floats
   * with 17 digits (0.1f as 0.10000000149011612). Every string written is
   * one of our fixed names, so nothing needs escaping. */
  attn_check (attn_model_config_validate (c, NULL));
  GString *out = g_string_new (NULL);
  g_string_append_printf (out, "{\"arch\":\"%s\",\"vocab_size\":%d,"
                          "\"max_len\":%d,", attn_arch_to_string (c->arch),
                          c->V, c->max_len);
  if (c->arch == ATTN_ARCH_TRANSFORMER)
    g_string_append_printf (out, "\"d_model\":%d,\"n_heads\":%d,"
                            "\"n_encoder_layers\":%d,\"n_decoder_layers\":%d,"
                            "\"d_ff\":%d,\"norm\":\"%s\",", c->C, c->NH,
                            c->L_enc, c->L_dec, c->F,
                            c->pre_norm ? "pre" : "post");
  else
    {
      g_string_append_printf (out, "\"embed\":%d,\"hidden\":%d,"
                              "\"attention\":\"%s\",", c->E, c->H,
                              attn_mechanism_to_string (c->attention));
      if (uses_attention_hidden (c->attention))
        g_string_append_printf (out, "\"attention_hidden\":%d,", c->A);
      if (c->attention == ATTN_MECHANISM_LUONG_LOCAL_P)
        g_string_append_printf (out, "\"window\":%d,", c->D);
    }
  g_string_append (out, "\"dropout\":");
  append_float (out, c->dropout);
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

/* ---- reading ----------------------------------------------------------- */

typedef struct {
  JsonObject *obj;
  GHashTable *seen; /* member names read, to find unknown ones */
  GError **error;
} Reader;

static JsonNode *
get_member (Reader *r, const char *name)
{
  JsonNode *node = json_object_get_member (r->obj, name);
  if (node == NULL)
    g_set_error (r->error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                 "member “%s” is missing", name);
  else
    g_hash_table_add (r->seen, (gpointer) name);
  return node;
}

static gboolean
holds (JsonNode *node, GType type)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

/* Range checks are left to attn_model_config_validate, once every member
 * is read, except for values no int can hold. */
static gboolean
read_int (Reader *r, const char *name, int *out)
{
  JsonNode *node = get_member (r, name);
  if (node == NULL)
    return FALSE;
  if (!holds (node, G_TYPE_INT64))
    {
      g_set_error (r->error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "member “%s” is not an integer", name);
      return FALSE;
    }
  gint64 v = json_node_get_int (node);
  if (v < G_MININT || v > G_MAXINT)
    {
      g_set_error (r->error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "member “%s” = %" G_GINT64_FORMAT " is out of range", name,
                   v);
      return FALSE;
    }
  *out = (int) v;
  return TRUE;
}

static const char *
read_string (Reader *r, const char *name)
{
  JsonNode *node = get_member (r, name);
  if (node == NULL)
    return NULL;
  if (!holds (node, G_TYPE_STRING))
    {
      g_set_error (r->error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "member “%s” is not a string", name);
      return NULL;
    }
  return json_node_get_string (node);
}

static gboolean
read_number (Reader *r, const char *name, float *out)
{
  JsonNode *node = get_member (r, name);
  if (node == NULL)
    return FALSE;
  if (holds (node, G_TYPE_DOUBLE))
    *out = (float) json_node_get_double (node);
  else if (holds (node, G_TYPE_INT64))
    *out = (float) json_node_get_int (node);
  else
    {
      g_set_error (r->error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "member “%s” is not a number", name);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_members (Reader *r, AttnModelConfig *c)
{
  const char *arch = read_string (r, "arch");
  if (arch == NULL)
    return FALSE;
  if (!attn_arch_from_string (arch, &c->arch))
    {
      g_set_error (r->error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "member “arch” is “%s”, not “transformer” or “rnn”", arch);
      return FALSE;
    }
  if (!read_int (r, "vocab_size", &c->V) || !read_int (r, "max_len", &c->max_len)
      || !read_number (r, "dropout", &c->dropout))
    return FALSE;

  if (c->arch == ATTN_ARCH_TRANSFORMER)
    {
      if (!read_int (r, "d_model", &c->C) || !read_int (r, "n_heads", &c->NH)
          || !read_int (r, "n_encoder_layers", &c->L_enc)
          || !read_int (r, "n_decoder_layers", &c->L_dec)
          || !read_int (r, "d_ff", &c->F))
        return FALSE;
      const char *norm = read_string (r, "norm");
      if (norm == NULL)
        return FALSE;
      if (strcmp (norm, "pre") != 0 && strcmp (norm, "post") != 0)
        {
          g_set_error (r->error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                       "member “norm” is “%s”, not “pre” or “post”", norm);
          return FALSE;
        }
      c->pre_norm = strcmp (norm, "pre") == 0;
      c->attention = ATTN_MECHANISM_SCALED_DOT_PRODUCT;
      return TRUE;
    }

  if (!read_int (r, "embed", &c->E) || !read_int (r, "hidden", &c->H))
    return FALSE;
  const char *attention = read_string (r, "attention");
  if (attention == NULL)
    return FALSE;
  if (!attn_mechanism_from_string (attention, &c->attention)
      || c->attention == ATTN_MECHANISM_SCALED_DOT_PRODUCT)
    {
      g_set_error (r->error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "member “attention” is “%s”, not one of “additive”, "
                   "“luong-dot”, “luong-general”, “luong-concat”, "
                   "“luong-local-p”", attention);
      return FALSE;
    }
  if (uses_attention_hidden (c->attention)
      && !read_int (r, "attention_hidden", &c->A))
    return FALSE;
  if (c->attention == ATTN_MECHANISM_LUONG_LOCAL_P
      && !read_int (r, "window", &c->D))
    return FALSE;
  return TRUE;
}

static gboolean
has_long_digit_run (const char *json)
{
  int run = 0;
  for (const char *p = json; *p != '\0'; p++)
    {
      run = g_ascii_isdigit (*p) ? run + 1 : 0;
      if (run > MAX_JSON_DIGITS)
        return TRUE;
    }
  return FALSE;
}

gboolean
attn_model_config_from_json (const char *json, AttnModelConfig *config,
                             GError **error)
{
  if (has_long_digit_run (json))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "a number of more than %d digits", MAX_JSON_DIGITS);
      return FALSE;
    }
  if (!attn_json_check_depth (json, -1, ATTN_JSON_MAX_DEPTH))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "not a config: arrays and objects nested deeper than %d "
                   "levels", ATTN_JSON_MAX_DEPTH);
      return FALSE;
    }
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local = NULL;
  if (!json_parser_load_from_data (parser, json, -1, &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "not JSON: %s", local->message);
      return FALSE;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "not a JSON object");
      return FALSE;
    }

  AttnModelConfig c = { 0 };
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  Reader r = { json_node_get_object (root), seen, error };
  if (!read_members (&r, &c))
    return FALSE;

  g_autoptr (GList) names = json_object_get_members (r.obj);
  for (GList *l = names; l != NULL; l = l->next)
    if (!g_hash_table_contains (seen, l->data))
      {
        g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                     "member “%s” is not part of a%s %s config",
                     (const char *) l->data,
                     c.arch == ATTN_ARCH_RNN ? "n" : "",
                     attn_arch_to_string (c.arch));
        return FALSE;
      }
  if (!attn_model_config_validate (&c, error))
    return FALSE;
  *config = c;
  return TRUE;
}
