/* attn-task-numbers.c: numbers 0-9999 in English words and Chinese numerals.
 *
 * The writers (attn_task_number_text) build a spelling from place values; the
 * reader (attn_task_parse_number) is a separate grammar with its own word
 * lists, so that the tests can check one against the other. */
#include <string.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "core/attn-task-private.h"

static const char *const number_style_names[ATTN_NUMBER_STYLE_COUNT] = {
  [ATTN_NUMBER_EN] = "en",
  [ATTN_NUMBER_EN_AND] = "en-and",
  [ATTN_NUMBER_EN_SPACE] = "en-space",
  [ATTN_NUMBER_EN_AND_SPACE] = "en-and-space",
  [ATTN_NUMBER_ZH] = "zh",
  [ATTN_NUMBER_ZH_ER] = "zh-er",
  [ATTN_NUMBER_ZH_YISHI] = "zh-yishi",
};

const char *
attn_task_number_style_name (AttnNumberStyle style)
{
  attn_check ((guint) style < ATTN_NUMBER_STYLE_COUNT);
  return number_style_names[style];
}

/* ---- writers ---------------------------------------------------------- */

static const char *const en_small[20] = {
  "zero",    "one",     "two",       "three",    "four",
  "five",    "six",     "seven",     "eight",    "nine",
  "ten",     "eleven",  "twelve",    "thirteen", "fourteen",
  "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
};

static const char *const en_tens[10] = {
  NULL,    NULL,    "twenty",  "thirty", "forty",
  "fifty", "sixty", "seventy", "eighty", "ninety",
};

/* 1-99 */
static void
write_en_below_100 (GString *out, guint n, gboolean hyphen)
{
  if (n < 20)
    {
      g_string_append (out, en_small[n]);
      return;
    }
  g_string_append (out, en_tens[n / 10]);
  if (n % 10 != 0)
    {
      g_string_append_c (out, hyphen ? '-' : ' ');
      g_string_append (out, en_small[n % 10]);
    }
}

static char *
write_en (guint n, gboolean with_and, gboolean hyphen)
{
  if (n == 0)
    return g_strdup (en_small[0]);

  GString *out = g_string_new (NULL);
  guint thousands = n / 1000, hundreds = n / 100 % 10, rest = n % 100;
  if (thousands != 0)
    g_string_append_printf (out, "%s thousand", en_small[thousands]);
  if (hundreds != 0)
    g_string_append_printf (out, "%s%s hundred", out->len ? " " : "",
                            en_small[hundreds]);
  if (rest != 0)
    {
      if (out->len != 0)
        g_string_append (out, with_and ? " and " : " ");
      write_en_below_100 (out, rest, hyphen);
    }
  return g_string_free (out, FALSE);
}

static const char *const zh_digits[10] = {
  "零", "一", "二", "三", "四", "五", "六", "七", "八", "九",
};
/* Place names for 1000, 100, 10, 1. */
static const char *const zh_places[4] = { "千", "百", "十", "" };

/* One 零 stands for any run of skipped places between two spoken ones;
 * trailing zeros are not spoken. */
static char *
write_zh (guint n, gboolean liang, gboolean yishi)
{
  if (n == 0)
    return g_strdup (zh_digits[0]);

  const guint digits[4] = { n / 1000, n / 100 % 10, n / 10 % 10, n % 10 };
  GString *out = g_string_new (NULL);
  gboolean started = FALSE, gap = FALSE;
  for (guint i = 0; i < 4; i++)
    {
      guint d = digits[i];
      if (d == 0)
        {
          gap = started;
          continue;
        }
      if (gap)
        g_string_append (out, zh_digits[0]);
      gap = FALSE;
      if (i == 2 && d == 1 && !started && !yishi)
        ; /* 十二, not 一十二, when the tens lead */
      else if (d == 2 && i < 2 && liang)
        g_string_append (out, "两");
      else
        g_string_append (out, zh_digits[d]);
      g_string_append (out, zh_places[i]);
      started = TRUE;
    }
  return g_string_free (out, FALSE);
}

char *
attn_task_number_text (AttnNumberStyle style, guint n)
{
  attn_check (n <= ATTN_TASK_MAX_NUMBER);
  switch (style)
    {
    case ATTN_NUMBER_EN:
      return write_en (n, FALSE, TRUE);
    case ATTN_NUMBER_EN_AND:
      return write_en (n, TRUE, TRUE);
    case ATTN_NUMBER_EN_SPACE:
      return write_en (n, FALSE, FALSE);
    case ATTN_NUMBER_EN_AND_SPACE:
      return write_en (n, TRUE, FALSE);
    case ATTN_NUMBER_ZH:
      return write_zh (n, TRUE, FALSE);
    case ATTN_NUMBER_ZH_ER:
      return write_zh (n, FALSE, FALSE);
    case ATTN_NUMBER_ZH_YISHI:
      return write_zh (n, TRUE, TRUE);
    }
  attn_check (!"unknown AttnNumberStyle");
  return NULL;
}

guint
attn_task_number_draw (AttnSplit split, GRand *rng)
{
  static const guint lo[4] = { 0, 10, 100, 1000 };
  static const guint hi[4] = { 9, 99, 999, 9999 };
  for (;;)
    {
      guint k = g_rand_int_range (rng, 0, 4);
      guint n = g_rand_int_range (rng, lo[k], hi[k] + 1);
      if (attn_split_of_number (n) == split)
        return n;
    }
}

void
attn_task_number_add_chars (GHashTable *set, gboolean all_styles)
{
  attn_task_add_chars (set, "0123456789");
  guint n_styles = all_styles ? ATTN_NUMBER_STYLE_COUNT : 1;
  for (guint n = 0; n <= ATTN_TASK_MAX_NUMBER; n++)
    for (guint s = 0; s < n_styles; s++)
      {
        g_autofree char *text = attn_task_number_text (s, n);
        attn_task_add_chars (set, text);
      }
}

/* ---- reader: English -------------------------------------------------- */

typedef enum {
  EN_ZERO,
  EN_UNIT,     /* 1-9 */
  EN_TEEN,     /* 10-19 */
  EN_TENS,     /* 20, 30, ... 90 */
  EN_HUNDRED,
  EN_THOUSAND,
  EN_AND,
} EnKind;

typedef struct {
  EnKind kind;
  guint value;
  gboolean hyphen_after; /* joined to the next word by '-' */
} EnWord;

static gboolean
en_lookup (const char *word, EnWord *w)
{
  /* The reader's own vocabulary, kept apart from the writer's tables. */
  static const struct {
    const char *word;
    EnKind kind;
    guint value;
  } vocab[] = {
    { "zero", EN_ZERO, 0 },        { "one", EN_UNIT, 1 },
    { "two", EN_UNIT, 2 },         { "three", EN_UNIT, 3 },
    { "four", EN_UNIT, 4 },        { "five", EN_UNIT, 5 },
    { "six", EN_UNIT, 6 },         { "seven", EN_UNIT, 7 },
    { "eight", EN_UNIT, 8 },       { "nine", EN_UNIT, 9 },
    { "ten", EN_TEEN, 10 },        { "eleven", EN_TEEN, 11 },
    { "twelve", EN_TEEN, 12 },     { "thirteen", EN_TEEN, 13 },
    { "fourteen", EN_TEEN, 14 },   { "fifteen", EN_TEEN, 15 },
    { "sixteen", EN_TEEN, 16 },    { "seventeen", EN_TEEN, 17 },
    { "eighteen", EN_TEEN, 18 },   { "nineteen", EN_TEEN, 19 },
    { "twenty", EN_TENS, 20 },     { "thirty", EN_TENS, 30 },
    { "forty", EN_TENS, 40 },      { "fifty", EN_TENS, 50 },
    { "sixty", EN_TENS, 60 },      { "seventy", EN_TENS, 70 },
    { "eighty", EN_TENS, 80 },     { "ninety", EN_TENS, 90 },
    { "hundred", EN_HUNDRED, 100 }, { "thousand", EN_THOUSAND, 1000 },
    { "and", EN_AND, 0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (vocab); i++)
    if (strcmp (word, vocab[i].word) == 0)
      {
        w->kind = vocab[i].kind;
        w->value = vocab[i].value;
        return TRUE;
      }
  return FALSE;
}

static gboolean
en_fail (GError **error, const char *text, const char *why)
{
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT,
               "“%s” is not an English number from zero to 9999: %s", text,
               why);
  return FALSE;
}

/* number   := "zero" | [UNIT "thousand"] [UNIT "hundred"] [["and"] below100]
 *             with at least one part, "and" only after hundred or thousand
 * below100 := UNIT | TEEN | TENS [("-" | " ") UNIT] */
static gboolean
parse_en (const char *text, guint *n, GError **error)
{
  g_autofree char *lower = g_ascii_strdown (text, -1);
  g_autoptr (GArray) words = g_array_new (FALSE, TRUE, sizeof (EnWord));
  const char *p = lower;
  while (*p != '\0')
    {
      const char *start = p;
      while (*p >= 'a' && *p <= 'z')
        p++;
      if (p == start)
        return en_fail (error, text, "expected a word");
      g_autofree char *word = g_strndup (start, p - start);
      EnWord w = { 0 };
      if (!en_lookup (word, &w))
        {
          g_autofree char *why = g_strdup_printf ("unknown word “%s”", word);
          return en_fail (error, text, why);
        }
      if (*p == '-' || *p == ' ')
        {
          w.hyphen_after = *p == '-';
          p++;
          if (*p == '\0')
            return en_fail (error, text, "ends with a separator");
        }
      g_array_append_val (words, w);
    }

  const EnWord *ws = (const EnWord *) words->data;
  guint count = words->len, pos = 0, total = 0;
  if (count == 0)
    return en_fail (error, text, "empty");
  for (guint i = 0; i < count; i++)
    if (ws[i].hyphen_after
        && !(ws[i].kind == EN_TENS && i + 1 < count
             && ws[i + 1].kind == EN_UNIT))
      return en_fail (error, text, "a hyphen only joins tens and units");
  if (ws[0].kind == EN_ZERO)
    {
      if (count != 1)
        return en_fail (error, text, "“zero” stands alone");
      *n = 0;
      return TRUE;
    }

  gboolean have_big = FALSE;
  if (pos + 1 < count && ws[pos].kind == EN_UNIT
      && ws[pos + 1].kind == EN_THOUSAND)
    {
      total += ws[pos].value * 1000;
      pos += 2;
      have_big = TRUE;
    }
  if (pos + 1 < count && ws[pos].kind == EN_UNIT
      && ws[pos + 1].kind == EN_HUNDRED)
    {
      total += ws[pos].value * 100;
      pos += 2;
      have_big = TRUE;
    }
  gboolean need_tail = FALSE;
  if (pos < count && ws[pos].kind == EN_AND)
    {
      if (!have_big)
        return en_fail (error, text, "“and” must follow hundred or thousand");
      pos++;
      need_tail = TRUE;
    }
  if (pos < count)
    {
      const EnWord *w = &ws[pos];
      if (w->kind == EN_UNIT || w->kind == EN_TEEN)
        {
          total += w->value;
          pos++;
        }
      else if (w->kind == EN_TENS)
        {
          total += w->value;
          pos++;
          if (pos < count && ws[pos].kind == EN_UNIT)
            total += ws[pos++].value;
        }
      need_tail = FALSE;
    }
  if (need_tail)
    return en_fail (error, text, "nothing after “and”");
  if (pos < count)
    {
      for (guint i = pos; i < count; i++)
        if (ws[i].kind == EN_THOUSAND)
          return en_fail (error, text, "out of range");
      return en_fail (error, text, "words in the wrong order");
    }
  if (total == 0)
    return en_fail (error, text, "no number");
  *n = total;
  return TRUE;
}

/* ---- reader: Chinese -------------------------------------------------- */

static gboolean
zh_fail (GError **error, const char *text, const char *why)
{
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT,
               "“%s” is not a Chinese numeral from 零 to 九千九百九十九: %s",
               text, why);
  return FALSE;
}

/* -1 when c is no digit; 两 reads 2. */
static int
zh_digit_value (gunichar c)
{
  /* 零 一 二 三 四 五 六 七 八 九 */
  static const gunichar digits[10] = {
    0x96F6, 0x4E00, 0x4E8C, 0x4E09, 0x56DB,
    0x4E94, 0x516D, 0x4E03, 0x516B, 0x4E5D,
  };
  for (int i = 0; i < 10; i++)
    if (c == digits[i])
      return i;
  if (c == 0x4E24 /* 两 */)
    return 2;
  return -1;
}

static guint
zh_place_value (gunichar c)
{
  switch (c)
    {
    case 0x5341: /* 十 */
      return 10;
    case 0x767E: /* 百 */
      return 100;
    case 0x5343: /* 千 */
      return 1000;
    default:
      return 0;
    }
}

/* Walks digit-place pairs from the largest place down. A place is "skipped"
 * when it is more than one step below the previous one; exactly then one 零
 * must stand before it. A final bare digit right after 百 or 千 is the short
 * form (两百五 = 250, 一千五 = 1500). */
static gboolean
parse_zh (const char *text, guint *n, GError **error)
{
  glong len = 0;
  g_autofree gunichar *cs = g_utf8_to_ucs4_fast (text, -1, &len);
  if (len == 1 && cs[0] == 0x96F6)
    {
      *n = 0;
      return TRUE;
    }

  guint total = 0, last_place = 10000;
  int pending = -1;
  gboolean pending_liang = FALSE, zero_seen = FALSE, first = TRUE;
  for (glong i = 0; i < len; i++)
    {
      gunichar c = cs[i];
      int d = zh_digit_value (c);
      guint place = zh_place_value (c);
      if (c == 0x4E07 /* 万 */ || c == 0x4EBF /* 亿 */)
        return zh_fail (error, text, "out of range");
      if (d == 0)
        {
          if (first || pending != -1)
            return zh_fail (error, text, "零 in the wrong place");
          if (zero_seen)
            return zh_fail (error, text, "零 twice");
          zero_seen = TRUE;
        }
      else if (d > 0)
        {
          if (pending != -1)
            return zh_fail (error, text, "two digits in a row");
          pending = d;
          pending_liang = c == 0x4E24;
        }
      else if (place != 0)
        {
          if (place >= last_place)
            return zh_fail (error, text, "places out of order");
          if (pending == -1)
            {
              if (!(place == 10 && first))
                return zh_fail (error, text, "a place without its digit");
              pending = 1;
            }
          if (pending_liang && place == 10)
            return zh_fail (error, text, "两 before 十");
          if (!first && (place * 10 < last_place) != zero_seen)
            return zh_fail (error, text,
                            zero_seen ? "零 where no place is skipped"
                                      : "missing 零 for a skipped place");
          total += (guint) pending * place;
          last_place = place;
          pending = -1;
          pending_liang = FALSE;
          zero_seen = FALSE;
          first = FALSE;
        }
      else
        {
          char buf[8] = { 0 };
          g_unichar_to_utf8 (c, buf);
          g_autofree char *why = g_strdup_printf ("unknown character “%s”",
                                                  buf);
          return zh_fail (error, text, why);
        }
    }

  if (pending != -1)
    {
      if (pending_liang)
        return zh_fail (error, text, "两 as the units digit");
      if (first)
        total = pending;
      else if (zero_seen || last_place == 10)
        {
          if (zero_seen && last_place == 10)
            return zh_fail (error, text, "零 where no place is skipped");
          total += pending;
        }
      else
        total += (guint) pending * (last_place / 10);
    }
  else if (zero_seen)
    return zh_fail (error, text, "ends with 零");
  else if (first)
    return zh_fail (error, text, "empty");
  *n = total;
  return TRUE;
}

gboolean
attn_task_parse_number (const char *text, guint *n, GError **error)
{
  g_return_val_if_fail (text != NULL && n != NULL, FALSE);
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT,
                   "a number is not valid UTF-8");
      return FALSE;
    }
  if (*text == '\0')
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT,
                   "an empty string is not a number");
      return FALSE;
    }
  if ((guchar) *text < 0x80)
    return parse_en (text, n, error);
  return parse_zh (text, n, error);
}
