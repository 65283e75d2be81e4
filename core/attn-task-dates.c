/* attn-task-dates.c: dates 1900-2099 in English and Chinese spellings.
 *
 * Each format is a template of % codes (see expand_format); the reader
 * (attn_task_parse_date) does not use the templates: it tokenises the text and
 * applies the conventions, so the tests can check the writer against it. */
#include <string.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "core/attn-task-private.h"

typedef enum {
  CASE_AS_IS,
  CASE_UPPER,
  CASE_LOWER,
} LetterCase;

typedef struct {
  const char *name;
  const char *pattern;
  LetterCase letter_case;
} DateFormat;

/* Codes: %Y 2026, %y 26, %m 1-12, %M 01-12, %d 1-31, %D 01-31, %o 23rd,
 * %b Nov, %p Nov. (no period when the name is not shortened: May), %B
 * November, %a Mon, %A Monday, %C 二〇二六 (digit by digit), %L 二零二六,
 * %n 十一 (month as a Chinese numeral), %j 二十三 (day), %w 一 (weekday:
 * 一 to 六, 日 for Sunday). */
static const DateFormat date_formats[] = {
  { "D Mon YYYY", "%d %b %Y", CASE_AS_IS },
  { "D Month YYYY", "%d %B %Y", CASE_AS_IS },
  { "Dth Month YYYY", "%o %B %Y", CASE_AS_IS },
  { "the Dth of Month YYYY", "the %o of %B %Y", CASE_AS_IS },
  { "Weekday, the Dth of Month YYYY", "%A, the %o of %B %Y", CASE_AS_IS },
  { "Month D, YYYY", "%B %d, %Y", CASE_AS_IS },
  { "Month Dth, YYYY", "%B %o, %Y", CASE_AS_IS },
  { "Mon D, YYYY", "%b %d, %Y", CASE_AS_IS },
  { "Mon. D, YYYY", "%p %d, %Y", CASE_AS_IS },
  { "Mon D YYYY", "%b %d %Y", CASE_AS_IS },
  { "Weekday, Month D, YYYY", "%A, %B %d, %Y", CASE_AS_IS },
  { "Wkd, D Mon YYYY", "%a, %d %b %Y", CASE_AS_IS },
  { "Wkd Mon D YYYY", "%a %b %d %Y", CASE_AS_IS },
  { "Weekday D Month YYYY", "%A %d %B %Y", CASE_AS_IS },
  { "D-Mon-YYYY", "%d-%b-%Y", CASE_AS_IS },
  { "D Month, YYYY", "%d %B, %Y", CASE_AS_IS },
  { "MONTH D, YYYY", "%B %d, %Y", CASE_UPPER },
  { "d mon yyyy", "%d %b %Y", CASE_LOWER },
  { "Mon D, 'YY", "%b %d, '%y", CASE_AS_IS },
  { "YYYY Mon D", "%Y %b %d", CASE_AS_IS },
  { "M/D/YY", "%m/%d/%y", CASE_AS_IS },
  { "MM/DD/YY", "%M/%D/%y", CASE_AS_IS },
  { "M/D/YYYY", "%m/%d/%Y", CASE_AS_IS },
  { "MM/DD/YYYY", "%M/%D/%Y", CASE_AS_IS },
  { "D.M.YYYY", "%d.%m.%Y", CASE_AS_IS },
  { "DD.MM.YYYY", "%D.%M.%Y", CASE_AS_IS },
  { "DD.MM.YY", "%D.%M.%y", CASE_AS_IS },
  { "YYYY-MM-DD", "%Y-%M-%D", CASE_AS_IS },
  { "YYYYMMDD", "%Y%M%D", CASE_AS_IS },
  { "YYYY年M月D日", "%Y年%m月%d日", CASE_AS_IS },
  { "YYYY年MM月DD日", "%Y年%M月%D日", CASE_AS_IS },
  { "YYYY年M月D号", "%Y年%m月%d号", CASE_AS_IS },
  { "YYYY年M月D日星期W", "%Y年%m月%d日星期%w", CASE_AS_IS },
  { "YYYY年M月D日周W", "%Y年%m月%d日周%w", CASE_AS_IS },
  { "公元YYYY年M月D日", "公元%Y年%m月%d日", CASE_AS_IS },
  { "〇年月日", "%C年%n月%j日", CASE_AS_IS },
  { "零年月日", "%L年%n月%j日", CASE_AS_IS },
  { "〇年月日星期W", "%C年%n月%j日星期%w", CASE_AS_IS },
};

static const char *const month_names[12] = {
  "January", "February", "March",     "April",   "May",      "June",
  "July",    "August",   "September", "October", "November", "December",
};

/* Indexed by GDateWeekday - 1 (Monday first). */
static const char *const weekday_names[7] = {
  "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
};
static const char *const weekday_zh[7] = {
  "一", "二", "三", "四", "五", "六", "日",
};

guint
attn_task_date_n_formats (void)
{
  return G_N_ELEMENTS (date_formats);
}

const char *
attn_task_date_format_name (guint format)
{
  attn_check (format < G_N_ELEMENTS (date_formats));
  return date_formats[format].name;
}

static const char *
ordinal_suffix (guint day)
{
  if (day % 100 >= 11 && day % 100 <= 13)
    return "th";
  switch (day % 10)
    {
    case 1:
      return "st";
    case 2:
      return "nd";
    case 3:
      return "rd";
    default:
      return "th";
    }
}

static void
append_year_zh (GString *out, guint year, const char *zero)
{
  char digits[8];
  g_snprintf (digits, sizeof digits, "%04u", year);
  for (const char *p = digits; *p != '\0'; p++)
    {
      if (*p == '0')
        g_string_append (out, zero);
      else
        {
          g_autofree char *d = attn_task_number_text (ATTN_NUMBER_ZH,
                                                      (guint) (*p - '0'));
          g_string_append (out, d);
        }
    }
}

static void
append_numeral_zh (GString *out, guint n)
{
  g_autofree char *text = attn_task_number_text (ATTN_NUMBER_ZH, n);
  g_string_append (out, text);
}

static char *
expand_format (const DateFormat *format, const GDate *date)
{
  guint year = g_date_get_year (date);
  guint month = g_date_get_month (date);
  guint day = g_date_get_day (date);
  guint wday = g_date_get_weekday (date) - 1;
  const char *mname = month_names[month - 1];
  GString *out = g_string_new (NULL);

  for (const char *p = format->pattern; *p != '\0'; p++)
    {
      if (*p != '%')
        {
          g_string_append_c (out, *p);
          continue;
        }
      p++;
      switch (*p)
        {
        case 'Y':
          g_string_append_printf (out, "%04u", year);
          break;
        case 'y':
          g_string_append_printf (out, "%02u", year % 100);
          break;
        case 'm':
          g_string_append_printf (out, "%u", month);
          break;
        case 'M':
          g_string_append_printf (out, "%02u", month);
          break;
        case 'd':
          g_string_append_printf (out, "%u", day);
          break;
        case 'D':
          g_string_append_printf (out, "%02u", day);
          break;
        case 'o':
          g_string_append_printf (out, "%u%s", day, ordinal_suffix (day));
          break;
        case 'b':
          g_string_append_len (out, mname, 3);
          break;
        case 'p':
          g_string_append_len (out, mname, 3);
          if (strlen (mname) > 3)
            g_string_append_c (out, '.');
          break;
        case 'B':
          g_string_append (out, mname);
          break;
        case 'a':
          g_string_append_len (out, weekday_names[wday], 3);
          break;
        case 'A':
          g_string_append (out, weekday_names[wday]);
          break;
        case 'C':
          append_year_zh (out, year, "〇");
          break;
        case 'L':
          append_year_zh (out, year, "零");
          break;
        case 'n':
          append_numeral_zh (out, month);
          break;
        case 'j':
          append_numeral_zh (out, day);
          break;
        case 'w':
          g_string_append (out, weekday_zh[wday]);
          break;
        default:
          attn_check (!"unknown code in a date format");
        }
    }

  char *text = g_string_free (out, FALSE);
  if (format->letter_case != CASE_AS_IS)
    {
      /* ASCII only: Chinese bytes pass through untouched. */
      char *cased = format->letter_case == CASE_UPPER
                      ? g_ascii_strup (text, -1)
                      : g_ascii_strdown (text, -1);
      g_free (text);
      text = cased;
    }
  return text;
}

char *
attn_task_date_text (guint format, const GDate *date)
{
  attn_check (format < G_N_ELEMENTS (date_formats));
  attn_check (g_date_valid (date));
  guint year = g_date_get_year (date);
  attn_check (year >= ATTN_TASK_FIRST_YEAR && year <= ATTN_TASK_LAST_YEAR);
  if (strstr (date_formats[format].pattern, "%y") != NULL
      && (year < 1950 || year > 2049))
    return NULL;
  return expand_format (&date_formats[format], date);
}

static guint32
julian_of (guint year, guint month, guint day)
{
  GDate date;
  g_date_clear (&date, 1);
  g_date_set_dmy (&date, day, month, year);
  return g_date_get_julian (&date);
}

void
attn_task_date_example (AttnSplit split, GRand *rng, char **source,
                        char **target, guint *format)
{
  guint32 first = julian_of (ATTN_TASK_FIRST_YEAR, 1, 1);
  guint32 last = julian_of (ATTN_TASK_LAST_YEAR, 12, 31);
  guint32 julian;
  do
    julian = (guint32) g_rand_int_range (rng, first, last + 1);
  while (attn_split_of_day (julian) != split);

  GDate date;
  g_date_clear (&date, 1);
  g_date_set_julian (&date, julian);
  /* Uniform over the formats that can write this year. */
  guint f;
  char *text;
  do
    {
      f = g_rand_int_range (rng, 0, G_N_ELEMENTS (date_formats));
      text = attn_task_date_text (f, &date);
    }
  while (text == NULL);

  *source = text;
  *target = g_strdup_printf ("%04u-%02u-%02u", g_date_get_year (&date),
                             g_date_get_month (&date),
                             g_date_get_day (&date));
  if (format != NULL)
    *format = f;
}

/* What a format writes depends on the year, the month, the day and the
 * weekday separately, so every day of a leap year (all months, days and
 * weekdays) plus one day of each year (all years) reach every character. */
void
attn_task_date_add_chars (GHashTable *set)
{
  attn_task_add_chars (set, "0123456789-");
  GDate date;
  g_date_clear (&date, 1);
  g_date_set_dmy (&date, 1, 1, 2000);
  for (guint i = 0; i < 366; i++, g_date_add_days (&date, 1))
    for (guint f = 0; f < G_N_ELEMENTS (date_formats); f++)
      {
        g_autofree char *text = attn_task_date_text (f, &date);
        if (text != NULL)
          attn_task_add_chars (set, text);
      }
  for (guint y = ATTN_TASK_FIRST_YEAR; y <= ATTN_TASK_LAST_YEAR; y++)
    {
      g_date_set_dmy (&date, 1, 7, y);
      for (guint f = 0; f < G_N_ELEMENTS (date_formats); f++)
        {
          g_autofree char *text = attn_task_date_text (f, &date);
          if (text != NULL)
            attn_task_add_chars (set, text);
        }
    }
}

/* ---- reader ----------------------------------------------------------- */

typedef struct {
  guint value;
  guint n_digits;
  gboolean ordinal;    /* followed by st / nd / rd / th */
  gboolean apostrophe; /* '26 */
} DateNumber;

static gboolean
date_fail (GError **error, const char *text, const char *why)
{
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT,
               "“%s” is not a date from 1900 to 2099: %s", text, why);
  return FALSE;
}

/* The reader's own name lists (full names; the abbreviations are their
 * first three letters). */
static int
lookup_month (const char *word)
{
  static const char *const names[] = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december",
  };
  for (int i = 0; i < 12; i++)
    if (strcmp (word, names[i]) == 0
        || (strlen (word) == 3 && strncmp (word, names[i], 3) == 0))
      return i + 1;
  return 0;
}

static int
lookup_weekday (const char *word)
{
  static const char *const names[] = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
    "sunday",
  };
  for (int i = 0; i < 7; i++)
    if (strcmp (word, names[i]) == 0
        || (strlen (word) == 3 && strncmp (word, names[i], 3) == 0))
      return i + 1; /* GDateWeekday */
  return 0;
}

static guint
century_rule (guint yy)
{
  return yy < 50 ? 2000 + yy : 1900 + yy;
}

static gboolean
parse_en_date (const char *text, guint *y, guint *m, guint *d, int *wday,
               GError **error)
{
  g_autofree char *lower = g_ascii_strdown (text, -1);
  DateNumber nums[3] = { { 0 } };
  guint n_nums = 0, n_months = 0, n_wdays = 0;
  int month = 0;
  gboolean seps[128] = { FALSE };

  for (const char *p = lower; *p != '\0';)
    {
      if (g_ascii_isalpha (*p))
        {
          const char *start = p;
          while (g_ascii_isalpha (*p))
            p++;
          g_autofree char *word = g_strndup (start, p - start);
          int mo = lookup_month (word), wd = lookup_weekday (word);
          if (mo != 0)
            {
              month = mo;
              n_months++;
            }
          else if (wd != 0)
            {
              *wday = wd;
              n_wdays++;
            }
          else if (strcmp (word, "the") != 0 && strcmp (word, "of") != 0)
            {
              g_autofree char *why = g_strdup_printf ("unknown word “%s”",
                                                      word);
              return date_fail (error, text, why);
            }
        }
      else if (g_ascii_isdigit (*p) || (*p == '\'' && g_ascii_isdigit (p[1])))
        {
          if (n_nums == 3)
            return date_fail (error, text, "more than three numbers");
          DateNumber *num = &nums[n_nums++];
          if (*p == '\'')
            {
              num->apostrophe = TRUE;
              p++;
            }
          while (g_ascii_isdigit (*p))
            {
              if (num->n_digits++ < 9)
                num->value = num->value * 10 + (guint) (*p - '0');
              p++;
            }
          if (g_ascii_isalpha (*p))
            {
              /* A day's ordinal suffix: the right one and nothing else. */
              const char *want = num->value % 100 / 10 == 1 ? "th"
                                 : num->value % 10 == 1     ? "st"
                                 : num->value % 10 == 2     ? "nd"
                                 : num->value % 10 == 3     ? "rd"
                                                            : "th";
              if (strncmp (p, want, 2) != 0 || g_ascii_isalpha (p[2]))
                return date_fail (error, text, "wrong ordinal suffix");
              num->ordinal = TRUE;
              p += 2;
            }
        }
      else if (strchr (" ,./-", *p) != NULL)
        {
          seps[(guchar) *p] = TRUE;
          p++;
        }
      else
        return date_fail (error, text, "unexpected character");
    }

  if (n_wdays > 1 || n_months > 1)
    return date_fail (error, text, "a name given twice");
  for (guint i = 0; i < n_nums; i++)
    if (nums[i].apostrophe && nums[i].n_digits != 2)
      return date_fail (error, text, "an apostrophe year has two digits");

  if (month != 0)
    {
      /* Month by name: the four-digit (or 'YY) number is the year, the
       * other one the day. */
      if (n_nums != 2)
        return date_fail (error, text, "expected a day and a year");
      int yi = -1;
      for (guint i = 0; i < 2; i++)
        if (nums[i].apostrophe || nums[i].n_digits == 4)
          {
            if (yi != -1)
              return date_fail (error, text, "two years");
            yi = (int) i;
          }
      if (yi == -1)
        return date_fail (error, text, "no four-digit year");
      const DateNumber *yn = &nums[yi], *dn = &nums[1 - yi];
      if (yn->ordinal || dn->n_digits > 2)
        return date_fail (error, text, "no day");
      *y = yn->apostrophe ? century_rule (yn->value) : yn->value;
      *m = (guint) month;
      *d = dn->value;
      return TRUE;
    }

  if (n_wdays != 0)
    return date_fail (error, text, "a weekday without a month name");
  for (guint i = 0; i < n_nums; i++)
    if (nums[i].ordinal || nums[i].apostrophe)
      return date_fail (error, text, "an all-digit date with a suffix");
  if (n_nums == 1)
    {
      guint v = nums[0].value;
      if (nums[0].n_digits != 8 || seps['/'] || seps['.'] || seps['-']
          || seps[' '] || seps[','])
        return date_fail (error, text, "expected YYYYMMDD");
      *y = v / 10000;
      *m = v / 100 % 100;
      *d = v % 100;
      return TRUE;
    }
  if (n_nums != 3)
    return date_fail (error, text, "expected a day, a month and a year");
  if (seps[' '] || seps[','] || seps['/'] + seps['.'] + seps['-'] != 1)
    return date_fail (error, text, "mixed separators");

  /* Which number is which, by the separator: M/D/Y, D.M.Y, Y-M-D. */
  guint yi = 2, mi = 0, di = 1;
  if (seps['.'])
    {
      di = 0;
      mi = 1;
    }
  else if (seps['-'])
    {
      yi = 0;
      mi = 1;
      di = 2;
    }
  if (nums[mi].n_digits > 2 || nums[di].n_digits > 2)
    return date_fail (error, text, "a month or day of more than two digits");
  if (nums[yi].n_digits == 4)
    *y = nums[yi].value;
  else if (nums[yi].n_digits == 2 && !seps['-'])
    *y = century_rule (nums[yi].value);
  else
    return date_fail (error, text, "a year of neither two nor four digits");
  *m = nums[mi].value;
  *d = nums[di].value;
  return TRUE;
}

/* Month or day in a Chinese date: ASCII digits or a Chinese numeral. */
static gboolean
read_zh_field (const char *start, const char *end, guint *value)
{
  g_autofree char *s = g_strndup (start, end - start);
  if (*s == '\0')
    return FALSE;
  if (g_ascii_isdigit (*s))
    {
      guint64 v = 0;
      if (strlen (s) > 2
          || !g_ascii_string_to_unsigned (s, 10, 0, 99, &v, NULL))
        return FALSE;
      *value = (guint) v;
      return TRUE;
    }
  if ((guchar) *s < 0x80)
    return FALSE;
  return attn_task_parse_number (s, value, NULL);
}

static gboolean
parse_zh_date (const char *text, guint *y, guint *m, guint *d, int *wday,
               GError **error)
{
  const char *p = text;
  if (g_str_has_prefix (p, "公元"))
    p += strlen ("公元");

  const char *nian = strstr (p, "年");
  const char *yue = nian != NULL ? strstr (nian, "月") : NULL;
  if (nian == NULL || yue == NULL)
    return date_fail (error, text, "expected 年 and 月");

  /* The year: four ASCII digits, or four Chinese digits read one by one. */
  *y = 0;
  guint n_digits = 0;
  for (const char *q = p; q < nian; q = g_utf8_next_char (q), n_digits++)
    {
      gunichar c = g_utf8_get_char (q);
      static const char zh_digits[] = "〇一二三四五六七八九";
      int digit = -1;
      if (c < 0x80 && g_ascii_isdigit (c))
        digit = (int) (c - '0');
      else if (c == 0x96F6 /* 零 */)
        digit = 0;
      else
        for (const char *z = zh_digits; *z != '\0'; z = g_utf8_next_char (z))
          if (g_utf8_get_char (z) == c)
            digit = (int) g_utf8_pointer_to_offset (zh_digits, z);
      if (digit < 0)
        return date_fail (error, text, "a year digit is not a digit");
      *y = *y * 10 + (guint) digit;
    }
  if (n_digits != 4)
    return date_fail (error, text, "the year has not four digits");

  const char *mstart = nian + strlen ("年");
  if (!read_zh_field (mstart, yue, m))
    return date_fail (error, text, "no month before 月");

  const char *dstart = yue + strlen ("月");
  const char *ri = strstr (dstart, "日"), *hao = strstr (dstart, "号");
  const char *dend = ri == NULL ? hao : hao == NULL ? ri : MIN (ri, hao);
  if (dend == NULL || !read_zh_field (dstart, dend, d))
    return date_fail (error, text, "no day before 日 or 号");

  const char *rest = dend + strlen ("日"); /* 号 has the same length */
  if (*rest == '\0')
    return TRUE;
  if (g_str_has_prefix (rest, "星期"))
    rest += strlen ("星期");
  else if (g_str_has_prefix (rest, "周"))
    rest += strlen ("周");
  else
    return date_fail (error, text, "unexpected text after the day");
  static const char *const names[] = { "一", "二", "三", "四",
                                       "五", "六", "日", "天" };
  for (int i = 0; i < 8; i++)
    if (strcmp (rest, names[i]) == 0)
      {
        *wday = MIN (i + 1, 7);
        return TRUE;
      }
  return date_fail (error, text, "unknown weekday");
}

gboolean
attn_task_parse_date (const char *text, GDate *date, GError **error)
{
  g_return_val_if_fail (text != NULL && date != NULL, FALSE);
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT,
                   "a date is not valid UTF-8");
      return FALSE;
    }
  if (*text == '\0')
    return date_fail (error, text, "empty");

  guint y = 0, m = 0, d = 0;
  int wday = 0;
  gboolean ok = strstr (text, "年") != NULL
                  ? parse_zh_date (text, &y, &m, &d, &wday, error)
                  : parse_en_date (text, &y, &m, &d, &wday, error);
  if (!ok)
    return FALSE;
  if (y < ATTN_TASK_FIRST_YEAR || y > ATTN_TASK_LAST_YEAR)
    return date_fail (error, text, "year out of range");
  if (m < 1 || m > 12 || d < 1 || d > 31
      || !g_date_valid_dmy ((GDateDay) d, (GDateMonth) m, (GDateYear) y))
    return date_fail (error, text, "no such day");

  g_date_clear (date, 1);
  g_date_set_dmy (date, (GDateDay) d, (GDateMonth) m, (GDateYear) y);
  if (wday != 0 && (int) g_date_get_weekday (date) != wday)
    return date_fail (error, text, "wrong weekday");
  return TRUE;
}
