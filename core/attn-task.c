/* attn-task.c: task names, the split rule, vocabularies, and the string
 * tasks (reverse, sort). Dates and numbers live in attn-task-dates.c and
 * attn-task-numbers.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "core/attn-task-private.h"

static const char *const task_names[ATTN_TASK_COUNT] = {
  [ATTN_TASK_DATES] = "dates",
  [ATTN_TASK_NUMBERS_TO_DIGITS] = "numbers-to-digits",
  [ATTN_TASK_DIGITS_TO_WORDS] = "digits-to-words",
  [ATTN_TASK_REVERSE] = "reverse",
  [ATTN_TASK_SORT] = "sort",
};

static const char *const split_names[ATTN_SPLIT_COUNT] = {
  [ATTN_SPLIT_TRAIN] = "train",
  [ATTN_SPLIT_VALIDATION] = "validation",
  [ATTN_SPLIT_TEST] = "test",
};

const char *
attn_task_name (AttnTask task)
{
  attn_check ((guint) task < ATTN_TASK_COUNT);
  return task_names[task];
}

gboolean
attn_task_from_name (const char *name, AttnTask *task, GError **error)
{
  for (guint i = 0; i < ATTN_TASK_COUNT; i++)
    if (g_strcmp0 (name, task_names[i]) == 0)
      {
        *task = (AttnTask) i;
        return TRUE;
      }
  g_autofree char *known = g_strjoinv (", ", (char **) task_names);
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
               "unknown task “%s” (known: %s)", name ? name : "(null)",
               known);
  return FALSE;
}

const char *
attn_split_name (AttnSplit split)
{
  attn_check ((guint) split < ATTN_SPLIT_COUNT);
  return split_names[split];
}

gboolean
attn_split_from_name (const char *name, AttnSplit *split, GError **error)
{
  for (guint i = 0; i < ATTN_SPLIT_COUNT; i++)
    if (g_strcmp0 (name, split_names[i]) == 0)
      {
        *split = (AttnSplit) i;
        return TRUE;
      }
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
               "unknown split “%s” (known: train, validation, test)",
               name ? name : "(null)");
  return FALSE;
}

/* ---- splits ----------------------------------------------------------- */

guint64
attn_fnv1a64 (const void *data, gsize len)
{
  const guint8 *bytes = data;
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);
  for (gsize i = 0; i < len; i++)
    {
      h ^= bytes[i];
      h *= G_GUINT64_CONSTANT (0x100000001b3);
    }
  return h;
}

/* FNV-1a's low bits depend mostly on the low bits of the last bytes, and
 * neighbouring numbers differ only there; the SplitMix64 finaliser spreads
 * every input bit over the bits that mod 100 reads. */
static guint64
mix64 (guint64 z)
{
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static AttnSplit
split_of_bytes (const guint8 *bytes, gsize len)
{
  guint percent = (guint) (mix64 (attn_fnv1a64 (bytes, len)) % 100);
  if (percent < 80)
    return ATTN_SPLIT_TRAIN;
  if (percent < 90)
    return ATTN_SPLIT_VALIDATION;
  return ATTN_SPLIT_TEST;
}

/* kind byte + 8 bytes little-endian, the same on every host. */
static AttnSplit
split_of_integer (char kind, guint64 value)
{
  guint8 bytes[9];
  bytes[0] = (guint8) kind;
  for (guint i = 0; i < 8; i++)
    bytes[1 + i] = (guint8) (value >> (8 * i));
  return split_of_bytes (bytes, sizeof bytes);
}

AttnSplit
attn_split_of_day (guint32 julian_day)
{
  return split_of_integer ('d', julian_day);
}

AttnSplit
attn_split_of_number (guint n)
{
  /* 0-99 are the lexicon of number words ("six", "twelve", "forty-two",
   * 十二): every bigger number is spelled from them, so a model can only be
   * asked to generalise to unseen numbers it has the words for. They all
   * train; 100-9999 are split by the hash. */
  if (n < 100)
    return ATTN_SPLIT_TRAIN;
  return split_of_integer ('n', n);
}

AttnSplit
attn_split_of_string (const char *s)
{
  gsize len = strlen (s);
  g_autofree guint8 *bytes = g_malloc (len + 1);
  bytes[0] = 's';
  memcpy (bytes + 1, s, len);
  return split_of_bytes (bytes, len + 1);
}

static guint
digits_value (const char *digits)
{
  guint64 v = 0;
  gboolean ok = g_ascii_string_to_unsigned (digits, 10, 0,
                                            ATTN_TASK_MAX_NUMBER, &v, NULL);
  attn_check (ok);
  return (guint) v;
}

AttnSplit
attn_task_split_of (AttnTask task, const char *source, const char *target)
{
  switch (task)
    {
    case ATTN_TASK_DATES:
      {
        guint y = 0, m = 0, d = 0;
        int end = 0;
        attn_check (sscanf (target, "%4u-%2u-%2u%n", &y, &m, &d, &end) == 3
                    && end == 10 && target[end] == '\0');
        attn_check (g_date_valid_dmy (d, m, y));
        GDate date;
        g_date_clear (&date, 1);
        g_date_set_dmy (&date, d, m, y);
        return attn_split_of_day (g_date_get_julian (&date));
      }
    case ATTN_TASK_NUMBERS_TO_DIGITS:
      return attn_split_of_number (digits_value (target));
    case ATTN_TASK_DIGITS_TO_WORDS:
      return attn_split_of_number (digits_value (source));
    case ATTN_TASK_REVERSE:
    case ATTN_TASK_SORT:
      return attn_split_of_string (source);
    }
  attn_check (!"unknown AttnTask");
  return ATTN_SPLIT_TRAIN;
}

/* ---- examples --------------------------------------------------------- */

static int
compare_chars (const void *a, const void *b)
{
  return *(const char *) a - *(const char *) b;
}

/* A string of `split`: the length 1-12 uniformly, then each character. The
 * whole string is redrawn on a miss, as short lengths have few values and
 * may have none in a small split. */
static char *
draw_string (AttnSplit split, GRand *rng)
{
  const char *alphabet = ATTN_TASK_ALPHABET;
  int n_letters = (int) strlen (alphabet);
  char buf[ATTN_TASK_MAX_STRING + 1];
  for (;;)
    {
      guint len = g_rand_int_range (rng, 1, ATTN_TASK_MAX_STRING + 1);
      for (guint i = 0; i < len; i++)
        buf[i] = alphabet[g_rand_int_range (rng, 0, n_letters)];
      buf[len] = '\0';
      if (attn_split_of_string (buf) == split)
        return g_strdup (buf);
    }
}

void
attn_task_example (AttnTask task, AttnSplit split, GRand *rng,
                   char **source, char **target, guint *variant)
{
  attn_check ((guint) split < ATTN_SPLIT_COUNT);
  attn_check (rng != NULL && source != NULL && target != NULL);
  guint v = 0;
  switch (task)
    {
    case ATTN_TASK_DATES:
      attn_task_date_example (split, rng, source, target, &v);
      break;
    case ATTN_TASK_NUMBERS_TO_DIGITS:
      {
        guint n = attn_task_number_draw (split, rng);
        v = g_rand_int_range (rng, 0, ATTN_NUMBER_STYLE_COUNT);
        *source = attn_task_number_text ((AttnNumberStyle) v, n);
        *target = g_strdup_printf ("%u", n);
        break;
      }
    case ATTN_TASK_DIGITS_TO_WORDS:
      {
        guint n = attn_task_number_draw (split, rng);
        *source = g_strdup_printf ("%u", n);
        *target = attn_task_number_text (ATTN_NUMBER_EN, n);
        break;
      }
    case ATTN_TASK_REVERSE:
      *source = draw_string (split, rng);
      *target = g_strreverse (g_strdup (*source));
      break;
    case ATTN_TASK_SORT:
      *source = draw_string (split, rng);
      *target = g_strdup (*source);
      qsort (*target, strlen (*target), 1, compare_chars);
      break;
    default:
      attn_check (!"unknown AttnTask");
    }
  if (variant != NULL)
    *variant = v;
}

guint
attn_task_n_variants (AttnTask task)
{
  attn_check ((guint) task < ATTN_TASK_COUNT);
  switch (task)
    {
    case ATTN_TASK_DATES:
      return attn_task_date_n_formats ();
    case ATTN_TASK_NUMBERS_TO_DIGITS:
      return ATTN_NUMBER_STYLE_COUNT;
    default:
      return 1;
    }
}

const char *
attn_task_variant_name (AttnTask task, guint variant)
{
  attn_check (variant < attn_task_n_variants (task));
  switch (task)
    {
    case ATTN_TASK_DATES:
      return attn_task_date_format_name (variant);
    case ATTN_TASK_NUMBERS_TO_DIGITS:
      return attn_task_number_style_name ((AttnNumberStyle) variant);
    case ATTN_TASK_DIGITS_TO_WORDS:
      return "digits";
    default:
      return "string";
    }
}

/* ---- vocabulary ------------------------------------------------------- */

void
attn_task_add_chars (GHashTable *set, const char *s)
{
  for (const char *p = s; *p != '\0'; p = g_utf8_next_char (p))
    g_hash_table_add (set, GUINT_TO_POINTER (g_utf8_get_char (p)));
}

static int
compare_gunichar (const void *a, const void *b)
{
  gunichar x = *(const gunichar *) a, y = *(const gunichar *) b;
  return x < y ? -1 : x > y;
}

GArray *
attn_task_charset (AttnTask task)
{
  attn_check ((guint) task < ATTN_TASK_COUNT);
  g_autoptr (GHashTable) set = g_hash_table_new (NULL, NULL);
  switch (task)
    {
    case ATTN_TASK_DATES:
      attn_task_date_add_chars (set);
      break;
    case ATTN_TASK_NUMBERS_TO_DIGITS:
      attn_task_number_add_chars (set, TRUE);
      break;
    case ATTN_TASK_DIGITS_TO_WORDS:
      attn_task_number_add_chars (set, FALSE);
      break;
    case ATTN_TASK_REVERSE:
    case ATTN_TASK_SORT:
      attn_task_add_chars (set, ATTN_TASK_ALPHABET);
      break;
    }

  GArray *chars = g_array_sized_new (FALSE, FALSE, sizeof (gunichar),
                                     g_hash_table_size (set));
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init (&iter, set);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      gunichar c = GPOINTER_TO_UINT (key);
      g_array_append_val (chars, c);
    }
  g_array_sort (chars, compare_gunichar);
  return chars;
}
