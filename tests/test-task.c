/* test-task.c: the task generators against hand-written spellings, against
 * the independent readers (attn_task_parse_date / _number), and the split
 * rule's promises (disjoint, 80/10/10, deterministic per seed). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/attn-error.h"
#include "core/attn-task.h"

/* ---- helpers ---------------------------------------------------------- */

static guint
find_date_format (const char *name)
{
  for (guint f = 0; f < attn_task_n_variants (ATTN_TASK_DATES); f++)
    if (strcmp (attn_task_variant_name (ATTN_TASK_DATES, f), name) == 0)
      return f;
  g_test_fail_printf ("no date format named “%s”", name);
  return G_MAXUINT;
}

static void
set_date (GDate *date, guint y, guint m, guint d)
{
  g_date_clear (date, 1);
  g_date_set_dmy (date, (GDateDay) d, (GDateMonth) m, (GDateYear) y);
}

static char *
iso_of (const GDate *date)
{
  return g_strdup_printf ("%04u-%02u-%02u", g_date_get_year (date),
                          g_date_get_month (date), g_date_get_day (date));
}

/* Reads the digits of a number task's side, failing the test on anything
 * but a canonical decimal (no sign, no leading zero). */
static guint
read_digits (const char *s)
{
  guint64 v = 0;
  g_assert_true (g_ascii_string_to_unsigned (s, 10, 0, 9999, &v, NULL));
  g_assert_true (s[0] != '0' || s[1] == '\0');
  return (guint) v;
}

static gboolean
charset_has (GArray *charset, gunichar c)
{
  gunichar *chars = (gunichar *) charset->data;
  guint lo = 0, hi = charset->len;
  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;
      if (chars[mid] == c)
        return TRUE;
      if (chars[mid] < c)
        lo = mid + 1;
      else
        hi = mid;
    }
  return FALSE;
}

static void
assert_in_charset (GArray *charset, const char *s)
{
  for (const char *p = s; *p != '\0'; p = g_utf8_next_char (p))
    if (!charset_has (charset, g_utf8_get_char (p)))
      g_test_fail_printf ("“%s”: character U+%04X not in the charset", s,
                          g_utf8_get_char (p));
}

/* ---- names ------------------------------------------------------------ */

static void
test_names (void)
{
  for (guint t = 0; t < ATTN_TASK_COUNT; t++)
    {
      AttnTask task = 99;
      g_assert_true (attn_task_from_name (attn_task_name (t), &task, NULL));
      g_assert_cmpuint (task, ==, t);
    }
  g_assert_cmpstr (attn_task_name (ATTN_TASK_DATES), ==, "dates");
  g_assert_cmpstr (attn_task_name (ATTN_TASK_DIGITS_TO_WORDS), ==,
                   "digits-to-words");
  for (guint s = 0; s < ATTN_SPLIT_COUNT; s++)
    {
      AttnSplit split = 99;
      g_assert_true (attn_split_from_name (attn_split_name (s), &split, NULL));
      g_assert_cmpuint (split, ==, s);
    }

  g_autoptr (GError) error = NULL;
  AttnTask task;
  g_assert_false (attn_task_from_name ("translate", &task, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "translate"));
  g_assert_nonnull (strstr (error->message, "numbers-to-digits"));
  g_clear_error (&error);
  AttnSplit split;
  g_assert_false (attn_split_from_name ("dev", &split, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
}

/* Published FNV-1a 64 test vectors (the split hash must never change). */
static void
test_fnv1a (void)
{
  g_assert_cmphex (attn_fnv1a64 ("", 0), ==, 0xcbf29ce484222325ull);
  g_assert_cmphex (attn_fnv1a64 ("a", 1), ==, 0xaf63dc4c8601ec8cull);
  g_assert_cmphex (attn_fnv1a64 ("foobar", 6), ==, 0x85944171f73967e8ull);
}

/* ---- dates: one day in every format, by hand -------------------------- */

typedef struct {
  const char *format;
  const char *text;
} FormatCase;

/* 2026-11-23, a Monday. */
static const FormatCase nov23_cases[] = {
  { "D Mon YYYY", "23 Nov 2026" },
  { "D Month YYYY", "23 November 2026" },
  { "Dth Month YYYY", "23rd November 2026" },
  { "the Dth of Month YYYY", "the 23rd of November 2026" },
  { "Weekday, the Dth of Month YYYY", "Monday, the 23rd of November 2026" },
  { "Month D, YYYY", "November 23, 2026" },
  { "Month Dth, YYYY", "November 23rd, 2026" },
  { "Mon D, YYYY", "Nov 23, 2026" },
  { "Mon. D, YYYY", "Nov. 23, 2026" },
  { "Mon D YYYY", "Nov 23 2026" },
  { "Weekday, Month D, YYYY", "Monday, November 23, 2026" },
  { "Wkd, D Mon YYYY", "Mon, 23 Nov 2026" },
  { "Wkd Mon D YYYY", "Mon Nov 23 2026" },
  { "Weekday D Month YYYY", "Monday 23 November 2026" },
  { "D-Mon-YYYY", "23-Nov-2026" },
  { "D Month, YYYY", "23 November, 2026" },
  { "MONTH D, YYYY", "NOVEMBER 23, 2026" },
  { "d mon yyyy", "23 nov 2026" },
  { "Mon D, 'YY", "Nov 23, '26" },
  { "YYYY Mon D", "2026 Nov 23" },
  { "M/D/YY", "11/23/26" },
  { "MM/DD/YY", "11/23/26" },
  { "M/D/YYYY", "11/23/2026" },
  { "MM/DD/YYYY", "11/23/2026" },
  { "D.M.YYYY", "23.11.2026" },
  { "DD.MM.YYYY", "23.11.2026" },
  { "DD.MM.YY", "23.11.26" },
  { "YYYY-MM-DD", "2026-11-23" },
  { "YYYYMMDD", "20261123" },
  { "YYYY年M月D日", "2026年11月23日" },
  { "YYYY年MM月DD日", "2026年11月23日" },
  { "YYYY年M月D号", "2026年11月23号" },
  { "YYYY年M月D日星期W", "2026年11月23日星期一" },
  { "YYYY年M月D日周W", "2026年11月23日周一" },
  { "公元YYYY年M月D日", "公元2026年11月23日" },
  { "〇年月日", "二〇二六年十一月二十三日" },
  { "零年月日", "二零二六年十一月二十三日" },
  { "〇年月日星期W", "二〇二六年十一月二十三日星期一" },
};

static void
test_date_nov23 (gconstpointer data)
{
  const FormatCase *c = data;
  GDate date;
  set_date (&date, 2026, 11, 23);
  guint f = find_date_format (c->format);
  if (f == G_MAXUINT)
    return;
  g_autofree char *text = attn_task_date_text (f, &date);
  g_assert_cmpstr (text, ==, c->text);

  GDate back;
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_task_parse_date (c->text, &back, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_date_compare (&back, &date), ==, 0);
}

/* Adding a format must add a hand-written line above. */
static void
test_date_formats_tabled (void)
{
  guint n = attn_task_n_variants (ATTN_TASK_DATES);
  g_assert_cmpuint (n, ==, G_N_ELEMENTS (nov23_cases));
  guint n_zh = 0;
  for (guint f = 0; f < n; f++)
    {
      const char *name = attn_task_variant_name (ATTN_TASK_DATES, f);
      gboolean found = FALSE;
      for (guint i = 0; i < G_N_ELEMENTS (nov23_cases); i++)
        found = found || strcmp (nov23_cases[i].format, name) == 0;
      g_assert_true (found);
      if (strstr (nov23_cases[f].text, "年") != NULL)
        n_zh++;
    }
  g_assert_cmpuint (n - n_zh, >=, 20);
  g_assert_cmpuint (n_zh, >=, 5);
}

typedef struct {
  const char *format;
  guint y, m, d;
  const char *text; /* NULL: the format cannot write that date */
} DateCase;

static const DateCase date_cases[] = {
  /* padding */
  { "M/D/YYYY", 2026, 1, 5, "1/5/2026" },
  { "MM/DD/YYYY", 2026, 1, 5, "01/05/2026" },
  { "M/D/YY", 2026, 1, 5, "1/5/26" },
  { "D.M.YYYY", 2026, 1, 5, "5.1.2026" },
  { "DD.MM.YYYY", 2026, 1, 5, "05.01.2026" },
  { "YYYY年MM月DD日", 2026, 1, 5, "2026年01月05日" },
  { "YYYY年M月D号", 2026, 1, 5, "2026年1月5号" },
  { "YYYY-MM-DD", 1900, 1, 1, "1900-01-01" },
  { "YYYYMMDD", 2099, 12, 31, "20991231" },
  /* two-digit years: 00-49 are 20xx, 50-99 are 19xx */
  { "MM/DD/YY", 2049, 1, 2, "01/02/49" },
  { "MM/DD/YY", 1950, 1, 2, "01/02/50" },
  { "M/D/YY", 2000, 2, 29, "2/29/00" },
  { "DD.MM.YY", 1999, 12, 31, "31.12.99" },
  { "Mon D, 'YY", 2049, 12, 31, "Dec 31, '49" },
  { "M/D/YY", 2050, 1, 1, NULL },
  { "MM/DD/YY", 2099, 12, 31, NULL },
  { "DD.MM.YY", 1949, 12, 31, NULL },
  { "Mon D, 'YY", 1900, 1, 1, NULL },
  /* ordinals */
  { "Dth Month YYYY", 2026, 1, 1, "1st January 2026" },
  { "Dth Month YYYY", 2026, 2, 2, "2nd February 2026" },
  { "Dth Month YYYY", 2026, 3, 3, "3rd March 2026" },
  { "Dth Month YYYY", 2026, 4, 4, "4th April 2026" },
  { "Dth Month YYYY", 2026, 5, 11, "11th May 2026" },
  { "Dth Month YYYY", 2026, 6, 12, "12th June 2026" },
  { "Dth Month YYYY", 2026, 7, 13, "13th July 2026" },
  { "Dth Month YYYY", 2026, 8, 21, "21st August 2026" },
  { "Dth Month YYYY", 2026, 9, 22, "22nd September 2026" },
  { "Month Dth, YYYY", 2026, 10, 31, "October 31st, 2026" },
  /* abbreviations: a period only where the name was shortened */
  { "Mon. D, YYYY", 2026, 5, 1, "May 1, 2026" },
  { "Mon. D, YYYY", 2026, 6, 1, "Jun. 1, 2026" },
  { "Mon. D, YYYY", 2026, 9, 30, "Sep. 30, 2026" },
  { "d mon yyyy", 2026, 3, 5, "5 mar 2026" },
  { "MONTH D, YYYY", 2026, 3, 5, "MARCH 5, 2026" },
  /* true weekdays */
  { "Wkd, D Mon YYYY", 2026, 11, 29, "Sun, 29 Nov 2026" },
  { "Weekday, Month D, YYYY", 2000, 1, 1, "Saturday, January 1, 2000" },
  { "Weekday D Month YYYY", 1900, 1, 1, "Monday 1 January 1900" },
  { "Weekday, the Dth of Month YYYY", 2024, 2, 29,
    "Thursday, the 29th of February 2024" },
  { "Wkd Mon D YYYY", 1969, 7, 20, "Sun Jul 20 1969" },
  { "YYYY年M月D日星期W", 2026, 11, 29, "2026年11月29日星期日" },
  { "YYYY年M月D日周W", 2000, 1, 1, "2000年1月1日周六" },
  { "公元YYYY年M月D日", 1949, 10, 1, "公元1949年10月1日" },
  /* Chinese numerals: 十 (not 一十) for 10-19, 〇 or 零 digit by digit */
  { "〇年月日", 1900, 1, 1, "一九〇〇年一月一日" },
  { "〇年月日", 2000, 10, 10, "二〇〇〇年十月十日" },
  { "〇年月日", 2026, 1, 20, "二〇二六年一月二十日" },
  { "〇年月日", 2099, 12, 31, "二〇九九年十二月三十一日" },
  { "零年月日", 2008, 8, 8, "二零零八年八月八日" },
  { "〇年月日星期W", 2026, 11, 29, "二〇二六年十一月二十九日星期日" },
};

static void
test_date_case (gconstpointer data)
{
  const DateCase *c = data;
  GDate date;
  set_date (&date, c->y, c->m, c->d);
  guint f = find_date_format (c->format);
  if (f == G_MAXUINT)
    return;
  g_autofree char *text = attn_task_date_text (f, &date);
  g_assert_cmpstr (text, ==, c->text);
  if (c->text == NULL)
    return;

  GDate back;
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_task_parse_date (c->text, &back, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_date_compare (&back, &date), ==, 0);
}

/* The reader alone: conventions and spellings the writer never makes. */
typedef struct {
  const char *text;
  const char *iso;
} ReadCase;

static const ReadCase read_cases[] = {
  { "01/02/49", "2049-01-02" },
  { "01/02/50", "1950-01-02" },
  { "1/2/00", "2000-01-02" },
  { "12/31/99", "1999-12-31" },
  { "31.12.49", "2049-12-31" },
  { "5.1.50", "1950-01-05" },
  { "3/4/2026", "2026-03-04" },
  { "3.4.2026", "2026-04-03" },
  { "tue, 24 nov 2026", "2026-11-24" },
  { "SUNDAY, THE 1ST OF MARCH 2026", "2026-03-01" },
  { "2026年11月22日星期天", "2026-11-22" },
  { "2026年十一月二十三日", "2026-11-23" },
  { "二〇二六年十一月一十日", "2026-11-10" },
};

static void
test_date_read (gconstpointer data)
{
  const ReadCase *c = data;
  GDate date;
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_task_parse_date (c->text, &date, &error));
  g_assert_no_error (error);
  g_autofree char *iso = iso_of (&date);
  g_assert_cmpstr (iso, ==, c->iso);
}

typedef struct {
  const char *text;
  const char *why; /* part of the message */
} BadCase;

static const BadCase bad_dates[] = {
  { "", "empty" },
  { "02/30/2026", "no such day" },
  { "13/01/2026", "no such day" },
  { "2026-02-29", "no such day" },
  { "二〇二六年十三月一日", "no such day" },
  { "Tuesday, November 23, 2026", "wrong weekday" },
  { "2026年11月23日星期二", "wrong weekday" },
  { "23th November 2026", "ordinal" },
  { "22st November 2026", "ordinal" },
  { "2100-01-01", "out of range" },
  { "1899-12-31", "out of range" },
  { "11/23/2026.", "mixed separators" },
  { "23 11 2026", "mixed separators" },
  { "11-23-26", "neither two nor four" },
  { "23 Smarch 2026", "unknown word" },
  { "23 Nov 26", "no four-digit year" },
  { "26年11月23日", "four digits" },
  { "\xff", "UTF-8" },
};

static void
test_date_bad (gconstpointer data)
{
  const BadCase *c = data;
  GDate date;
  g_autoptr (GError) error = NULL;
  g_assert_false (attn_task_parse_date (c->text, &date, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT);
  if (strstr (error->message, c->why) == NULL)
    g_test_fail_printf ("“%s”: message “%s” lacks “%s”", c->text,
                        error->message, c->why);
}

/* Random examples: the target is a valid ISO date in range, the source reads
 * back (independently) as that date, the split is the one asked for, and
 * every format is used. */
static void
test_date_random (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (20261123);
  guint n_formats = attn_task_n_variants (ATTN_TASK_DATES);
  g_autofree guint *seen = g_new0 (guint, n_formats);
  for (guint i = 0; i < 6000; i++)
    {
      AttnSplit split = i % ATTN_SPLIT_COUNT;
      g_autofree char *source = NULL, *target = NULL;
      guint f = G_MAXUINT;
      attn_task_example (ATTN_TASK_DATES, split, rng, &source, &target, &f);
      g_assert_cmpuint (f, <, n_formats);
      seen[f]++;

      guint y = 0, m = 0, d = 0;
      g_assert_cmpuint (strlen (target), ==, 10);
      g_assert_cmpint (sscanf (target, "%4u-%2u-%2u", &y, &m, &d), ==, 3);
      g_assert_true (g_date_valid_dmy (d, m, y));
      g_assert_cmpuint (y, >=, 1900);
      g_assert_cmpuint (y, <=, 2099);

      GDate date;
      g_autoptr (GError) error = NULL;
      if (!attn_task_parse_date (source, &date, &error))
        g_test_fail_printf ("%s (format %s): %s", source,
                            attn_task_variant_name (ATTN_TASK_DATES, f),
                            error->message);
      else
        {
          g_autofree char *iso = iso_of (&date);
          g_assert_cmpstr (iso, ==, target);
        }
      g_assert_cmpuint (attn_task_split_of (ATTN_TASK_DATES, source, target),
                        ==, split);
    }
  for (guint f = 0; f < n_formats; f++)
    if (seen[f] == 0)
      g_test_fail_printf ("format %s never drawn",
                          attn_task_variant_name (ATTN_TASK_DATES, f));
}

/* The same day in every format reads back as that day (so it has one
 * split), across the whole range. */
static void
test_date_all_formats_read_back (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (7);
  GDate first, date;
  set_date (&first, 1900, 1, 1);
  guint n_formats = attn_task_n_variants (ATTN_TASK_DATES);
  guint n_written = 0;
  for (guint i = 0; i < 1500; i++)
    {
      g_date_clear (&date, 1);
      g_date_set_julian (&date, g_date_get_julian (&first)
                                  + g_rand_int_range (rng, 0, 73049));
      g_autofree char *iso = iso_of (&date);
      for (guint f = 0; f < n_formats; f++)
        {
          g_autofree char *text = attn_task_date_text (f, &date);
          if (text == NULL)
            {
              guint y = g_date_get_year (&date);
              g_assert_true (y < 1950 || y > 2049);
              continue;
            }
          n_written++;
          GDate back;
          g_autoptr (GError) error = NULL;
          if (!attn_task_parse_date (text, &back, &error))
            g_test_fail_printf ("%s: %s", text, error->message);
          else
            g_assert_cmpuint (g_date_get_julian (&back), ==,
                              g_date_get_julian (&date));
          g_assert_cmpuint (attn_task_split_of (ATTN_TASK_DATES, text, iso),
                            ==, attn_split_of_day (g_date_get_julian (&date)));
        }
    }
  g_assert_cmpuint (n_written, >, 1500 * 30);
}

/* ---- numbers ---------------------------------------------------------- */

typedef struct {
  guint n;
  const char *en;       /* canonical: the digits-to-words target */
  const char *en_and;
  const char *zh;       /* 两 before 千 and 百, 十 for 10-19 */
  const char *zh_er;    /* NULL: same as zh */
  const char *zh_yishi; /* NULL: same as zh */
} NumberCase;

static const NumberCase number_cases[] = {
  { 0, "zero", "zero", "零", NULL, NULL },
  { 7, "seven", "seven", "七", NULL, NULL },
  { 10, "ten", "ten", "十", NULL, "一十" },
  { 12, "twelve", "twelve", "十二", NULL, "一十二" },
  { 15, "fifteen", "fifteen", "十五", NULL, "一十五" },
  { 20, "twenty", "twenty", "二十", NULL, NULL },
  { 42, "forty-two", "forty-two", "四十二", NULL, NULL },
  { 100, "one hundred", "one hundred", "一百", NULL, NULL },
  { 101, "one hundred one", "one hundred and one", "一百零一", NULL, NULL },
  { 110, "one hundred ten", "one hundred and ten", "一百一十", NULL, NULL },
  { 200, "two hundred", "two hundred", "两百", "二百", NULL },
  { 312, "three hundred twelve", "three hundred and twelve", "三百一十二",
    NULL, NULL },
  { 1000, "one thousand", "one thousand", "一千", NULL, NULL },
  { 1005, "one thousand five", "one thousand and five", "一千零五", NULL,
    NULL },
  { 1010, "one thousand ten", "one thousand and ten", "一千零一十", NULL,
    NULL },
  { 1050, "one thousand fifty", "one thousand and fifty", "一千零五十", NULL,
    NULL },
  { 1100, "one thousand one hundred", "one thousand one hundred", "一千一百",
    NULL, NULL },
  { 2005, "two thousand five", "two thousand and five", "两千零五",
    "二千零五", NULL },
  { 2222, "two thousand two hundred twenty-two",
    "two thousand two hundred and twenty-two", "两千两百二十二",
    "二千二百二十二", NULL },
  { 2301, "two thousand three hundred one",
    "two thousand three hundred and one", "两千三百零一", "二千三百零一",
    NULL },
  { 9999, "nine thousand nine hundred ninety-nine",
    "nine thousand nine hundred and ninety-nine", "九千九百九十九", NULL,
    NULL },
};

static void
check_reads_as (const char *text, guint want)
{
  guint n = G_MAXUINT;
  g_autoptr (GError) error = NULL;
  if (!attn_task_parse_number (text, &n, &error))
    g_test_fail_printf ("“%s”: %s", text, error->message);
  else
    g_assert_cmpuint (n, ==, want);
}

static void
test_number_case (gconstpointer data)
{
  const NumberCase *c = data;
  g_autofree char *en_space = g_strdelimit (g_strdup (c->en), "-", ' ');
  g_autofree char *en_and_space =
    g_strdelimit (g_strdup (c->en_and), "-", ' ');
  const char *want[ATTN_NUMBER_STYLE_COUNT] = {
    [ATTN_NUMBER_EN] = c->en,
    [ATTN_NUMBER_EN_AND] = c->en_and,
    [ATTN_NUMBER_EN_SPACE] = en_space,
    [ATTN_NUMBER_EN_AND_SPACE] = en_and_space,
    [ATTN_NUMBER_ZH] = c->zh,
    [ATTN_NUMBER_ZH_ER] = c->zh_er ? c->zh_er : c->zh,
    [ATTN_NUMBER_ZH_YISHI] = c->zh_yishi ? c->zh_yishi : c->zh,
  };
  for (guint s = 0; s < ATTN_NUMBER_STYLE_COUNT; s++)
    {
      g_autofree char *text = attn_task_number_text (s, c->n);
      g_assert_cmpstr (text, ==, want[s]);
      check_reads_as (want[s], c->n);
    }
}

typedef struct {
  const char *text;
  guint n;
} NumberReadCase;

static const NumberReadCase number_reads[] = {
  { "一千五", 1500 },
  { "两百五", 250 },
  { "一千二百五", 1250 },
  { "Forty Two", 42 },
  { "ONE THOUSAND AND FIVE", 1005 },
  { "two thousand and twelve", 2012 },
  { "一百零一", 101 },
};

static void
test_number_read (gconstpointer data)
{
  const NumberReadCase *c = data;
  check_reads_as (c->text, c->n);
}

static const BadCase bad_numbers[] = {
  { "", "empty" },
  { "一万", "out of range" },
  { "ten thousand", "out of range" },
  { "一千零零五", "零 twice" },
  { "一千五十", "missing 零" },
  { "一千零五百", "零 where no place is skipped" },
  { "二十零五", "零 where no place is skipped" },
  { "二十零", "ends with 零" },
  { "两十", "两 before 十" },
  { "十两", "两 as the units digit" },
  { "一百十五", "a place without its digit" },
  { "百", "a place without its digit" },
  { "五五", "two digits in a row" },
  { "十百", "places out of order" },
  { "〇", "unknown character" },
  { "forty-", "ends with a separator" },
  { "and five", "“and” must follow" },
  { "one hundred and", "nothing after" },
  { "forty-two-one", "hyphen" },
  { "two-hundred", "hyphen" },
  { "hundred", "wrong order" },
  { "five five", "wrong order" },
  { "zero one", "zero" },
  { "fourty", "unknown word" },
  { "42", "expected a word" },
};

static void
test_number_bad (gconstpointer data)
{
  const BadCase *c = data;
  guint n = 0;
  g_autoptr (GError) error = NULL;
  g_assert_false (attn_task_parse_number (c->text, &n, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT);
  if (strstr (error->message, c->why) == NULL)
    g_test_fail_printf ("“%s”: message “%s” lacks “%s”", c->text,
                        error->message, c->why);
}

/* 10,000 draws of each number task read back through the parser. */
static void
test_number_random (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (312);
  guint seen[ATTN_NUMBER_STYLE_COUNT] = { 0 };
  guint n_small = 0;
  for (guint i = 0; i < 10000; i++)
    {
      AttnSplit split = i % ATTN_SPLIT_COUNT;
      g_autofree char *source = NULL, *target = NULL;
      guint style = G_MAXUINT;
      attn_task_example (ATTN_TASK_NUMBERS_TO_DIGITS, split, rng, &source,
                         &target, &style);
      g_assert_cmpuint (style, <, ATTN_NUMBER_STYLE_COUNT);
      seen[style]++;
      guint n = read_digits (target);
      n_small += n < 10;
      check_reads_as (source, n);
      g_assert_cmpuint (
        attn_task_split_of (ATTN_TASK_NUMBERS_TO_DIGITS, source, target), ==,
        split);

      g_autofree char *digits = NULL, *words = NULL;
      attn_task_example (ATTN_TASK_DIGITS_TO_WORDS, split, rng, &digits,
                         &words, NULL);
      check_reads_as (words, read_digits (digits));
      /* The one canonical form: no "and", no double spaces. */
      g_assert_null (strstr (words, " and "));
      g_assert_null (strstr (words, "  "));
      g_assert_cmpuint (
        attn_task_split_of (ATTN_TASK_DIGITS_TO_WORDS, digits, words), ==,
        split);
    }
  for (guint s = 0; s < ATTN_NUMBER_STYLE_COUNT; s++)
    g_assert_cmpuint (seen[s], >, 1000);

  /* The digit count is drawn uniformly, then the number, and the draw is
   * redrawn until it lands in the split; so a split holding the fraction
   * f_k of the k-digit numbers gives one-digit numbers the share
   * f_1 / (f_1 + f_2 + f_3 + f_4) of its draws. Expected count over the
   * draws above (a third per split) within 5 standard deviations. */
  static const guint lo[4] = { 0, 10, 100, 1000 }, hi[4] = { 9, 99, 999, 9999 };
  double expect = 0.0;
  for (guint s = 0; s < ATTN_SPLIT_COUNT; s++)
    {
      double f[4], sum = 0.0;
      for (guint k = 0; k < 4; k++)
        {
          guint in = 0;
          for (guint n = lo[k]; n <= hi[k]; n++)
            in += attn_split_of_number (n) == s;
          f[k] = (double) in / (hi[k] - lo[k] + 1);
          sum += f[k];
        }
      expect += 10000.0 / ATTN_SPLIT_COUNT * f[0] / sum;
    }
  g_assert_cmpfloat (fabs (n_small - expect), <, 5.0 * sqrt (expect));
}

/* Every number in every style reads back. */
static void
test_number_exhaustive (void)
{
  for (guint n = 0; n <= ATTN_TASK_MAX_NUMBER; n++)
    for (guint s = 0; s < ATTN_NUMBER_STYLE_COUNT; s++)
      {
        g_autofree char *text = attn_task_number_text (s, n);
        guint back = G_MAXUINT;
        g_autoptr (GError) error = NULL;
        if (!attn_task_parse_number (text, &back, &error))
          {
            g_test_fail_printf ("%u as “%s”: %s", n, text, error->message);
            return;
          }
        g_assert_cmpuint (back, ==, n);
      }
}

/* ---- strings ---------------------------------------------------------- */

static void
test_strings (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (12);
  guint lengths[ATTN_TASK_MAX_STRING + 1] = { 0 };
  for (guint i = 0; i < 4000; i++)
    {
      AttnTask task = i % 2 ? ATTN_TASK_SORT : ATTN_TASK_REVERSE;
      g_autofree char *source = NULL, *target = NULL;
      attn_task_example (task, i % ATTN_SPLIT_COUNT, rng, &source, &target,
                         NULL);
      gsize len = strlen (source);
      g_assert_cmpuint (len, >=, 1);
      g_assert_cmpuint (len, <=, ATTN_TASK_MAX_STRING);
      lengths[len]++;
      g_assert_cmpuint (strlen (target), ==, len);
      g_assert_cmpuint (strspn (source, "0123456789abcdefghijklmnopqrstuvwxyz"),
                        ==, len);
      if (task == ATTN_TASK_REVERSE)
        for (gsize k = 0; k < len; k++)
          g_assert_cmpint (target[k], ==, source[len - 1 - k]);
      else
        {
          /* Non-decreasing and the same letters. */
          guint counts[256] = { 0 };
          for (gsize k = 0; k < len; k++)
            {
              counts[(guchar) source[k]]++;
              counts[(guchar) target[k]]--;
              if (k > 0)
                g_assert_cmpint (target[k - 1], <=, target[k]);
            }
          for (guint c = 0; c < 256; c++)
            g_assert_cmpuint (counts[c], ==, 0);
        }
    }
  for (guint len = 1; len <= ATTN_TASK_MAX_STRING; len++)
    g_assert_cmpuint (lengths[len], >, 150);
}

/* ---- determinism ------------------------------------------------------ */

static void
test_determinism (gconstpointer data)
{
  AttnTask task = GPOINTER_TO_UINT (data);
  g_autoptr (GRand) a = g_rand_new_with_seed (5);
  g_autoptr (GRand) b = g_rand_new_with_seed (5);
  g_autoptr (GRand) c = g_rand_new_with_seed (6);
  guint n_differ = 0;
  for (guint i = 0; i < 300; i++)
    {
      AttnSplit split = i % ATTN_SPLIT_COUNT;
      g_autofree char *sa = NULL, *ta = NULL, *sb = NULL, *tb = NULL;
      g_autofree char *sc = NULL, *tc = NULL;
      guint va, vb, vc;
      attn_task_example (task, split, a, &sa, &ta, &va);
      attn_task_example (task, split, b, &sb, &tb, &vb);
      attn_task_example (task, split, c, &sc, &tc, &vc);
      g_assert_cmpstr (sa, ==, sb);
      g_assert_cmpstr (ta, ==, tb);
      g_assert_cmpuint (va, ==, vb);
      n_differ += strcmp (sa, sc) != 0;
    }
  /* Equal draws from different seeds happen (short strings, small
   * numbers), but not for most. */
  g_assert_cmpuint (n_differ, >, 250);
}

/* ---- splits ----------------------------------------------------------- */

/* 20,000 draws per split: each lands in its split, no underlying value is in
 * two splits, and every character is in the charset. */
static void
test_splits (gconstpointer data)
{
  AttnTask task = GPOINTER_TO_UINT (data);
  g_autoptr (GArray) charset = attn_task_charset (task);
  g_autoptr (GRand) rng = g_rand_new_with_seed (2026 + task);
  GHashTable *values[ATTN_SPLIT_COUNT];
  for (guint s = 0; s < ATTN_SPLIT_COUNT; s++)
    values[s] = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint s = 0; s < ATTN_SPLIT_COUNT; s++)
    for (guint i = 0; i < 20000; i++)
      {
        g_autofree char *source = NULL, *target = NULL;
        attn_task_example (task, s, rng, &source, &target, NULL);
        g_assert_cmpuint (attn_task_split_of (task, source, target), ==, s);
        assert_in_charset (charset, source);
        assert_in_charset (charset, target);
        /* The underlying value, written one way for all spellings. */
        const char *value = task == ATTN_TASK_DATES               ? target
                            : task == ATTN_TASK_NUMBERS_TO_DIGITS ? target
                                                                  : source;
        g_hash_table_add (values[s], g_strdup (value));
      }

  for (guint s = 0; s < ATTN_SPLIT_COUNT; s++)
    {
      g_assert_cmpuint (g_hash_table_size (values[s]), >, 0);
      GHashTableIter iter;
      gpointer key;
      g_hash_table_iter_init (&iter, values[s]);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        for (guint o = 0; o < ATTN_SPLIT_COUNT; o++)
          if (o != s && g_hash_table_contains (values[o], key))
            g_test_fail_printf ("%s: “%s” in %s and %s", attn_task_name (task),
                                (char *) key, attn_split_name (s),
                                attn_split_name (o));
    }
  for (guint s = 0; s < ATTN_SPLIT_COUNT; s++)
    g_hash_table_unref (values[s]);
}

static void
assert_proportions (const char *what, const guint counts[ATTN_SPLIT_COUNT])
{
  static const double target[ATTN_SPLIT_COUNT] = { 0.8, 0.1, 0.1 };
  guint total = counts[0] + counts[1] + counts[2];
  for (guint s = 0; s < ATTN_SPLIT_COUNT; s++)
    {
      double share = (double) counts[s] / total;
      if (fabs (share - target[s]) > 0.02)
        g_test_fail_printf ("%s: %s has %.3f of the values, want %.2f", what,
                            attn_split_name (s), share, target[s]);
    }
}

/* Shares of the value space in each split: every day, every number, and
 * 20,000 strings drawn independently of the generator. */
static void
test_split_proportions (void)
{
  guint days[ATTN_SPLIT_COUNT] = { 0 };
  GDate date;
  set_date (&date, 1900, 1, 1);
  guint32 first = g_date_get_julian (&date);
  set_date (&date, 2099, 12, 31);
  guint32 last = g_date_get_julian (&date);
  g_assert_cmpuint (last - first + 1, ==, 73049);
  for (guint32 j = first; j <= last; j++)
    days[attn_split_of_day (j)]++;
  assert_proportions ("days", days);

  guint numbers[ATTN_SPLIT_COUNT] = { 0 };
  for (guint n = 0; n <= 9999; n++)
    numbers[attn_split_of_number (n)]++;
  assert_proportions ("numbers", numbers);

  guint strings[ATTN_SPLIT_COUNT] = { 0 };
  g_autoptr (GRand) rng = g_rand_new_with_seed (99);
  for (guint i = 0; i < 20000; i++)
    {
      char buf[13];
      guint len = g_rand_int_range (rng, 1, 13);
      for (guint k = 0; k < len; k++)
        buf[k] = "abcdefghijklmnopqrstuvwxyz0123456789"[g_rand_int_range (
          rng, 0, 36)];
      buf[len] = '\0';
      strings[attn_split_of_string (buf)]++;
    }
  assert_proportions ("strings", strings);

  /* Neighbouring values are not correlated: of the 9999 pairs (n, n + 1),
   * about 0.8^2 + 2 * 0.1^2 = 66 % share a split. */
  guint same = 0;
  for (guint n = 0; n < 9999; n++)
    same += attn_split_of_number (n) == attn_split_of_number (n + 1);
  g_assert_cmpfloat (fabs (same / 9999.0 - 0.66), <, 0.03);
}

/* ---- charsets --------------------------------------------------------- */

typedef struct {
  AttnTask task;
  const char *must;     /* characters it must hold */
  const char *must_not; /* characters it must not hold */
} CharsetCase;

static const CharsetCase charset_cases[] = {
  { ATTN_TASK_DATES,
    "0123456789-/.,' 年月日号星期周公元〇零一二三四五六七八九十"
    "JFMASONDjfmasondTWthe",
    "两百千" },
  { ATTN_TASK_NUMBERS_TO_DIGITS,
    "0123456789 -零一二两三四五六七八九十百千adefghilnorstuvwxyz", "〇万" },
  { ATTN_TASK_DIGITS_TO_WORDS, "0123456789 -", "零,A" },
  { ATTN_TASK_REVERSE, ATTN_TASK_ALPHABET, " -A" },
  { ATTN_TASK_SORT, ATTN_TASK_ALPHABET, " -A" },
};

static void
test_charset (gconstpointer data)
{
  const CharsetCase *c = data;
  g_autoptr (GArray) charset = attn_task_charset (c->task);
  gunichar *chars = (gunichar *) charset->data;
  for (guint i = 1; i < charset->len; i++)
    g_assert_cmpuint (chars[i - 1], <, chars[i]);
  assert_in_charset (charset, c->must);
  for (const char *p = c->must_not; *p != '\0'; p = g_utf8_next_char (p))
    g_assert_false (charset_has (charset, g_utf8_get_char (p)));
  if (c->task == ATTN_TASK_REVERSE || c->task == ATTN_TASK_SORT)
    g_assert_cmpuint (charset->len, ==, 36);
}

/* digits-to-words: exactly the digits and the letters of the words, which
 * are written out here once more. */
static void
test_charset_words_exact (void)
{
  const char *words = "zero one two three four five six seven eight nine ten "
                      "eleven twelve thirteen fourteen fifteen sixteen "
                      "seventeen eighteen nineteen twenty thirty forty fifty "
                      "sixty seventy eighty ninety hundred thousand-";
  gboolean want[128] = { FALSE };
  for (const char *p = words; *p != '\0'; p++)
    want[(guchar) *p] = TRUE;
  for (const char *p = "0123456789"; *p != '\0'; p++)
    want[(guchar) *p] = TRUE;
  guint n_want = 0;
  for (guint i = 0; i < 128; i++)
    n_want += want[i];

  g_autoptr (GArray) charset = attn_task_charset (ATTN_TASK_DIGITS_TO_WORDS);
  g_assert_cmpuint (charset->len, ==, n_want);
  for (guint i = 0; i < charset->len; i++)
    {
      gunichar c = g_array_index (charset, gunichar, i);
      g_assert_true (c < 128 && want[c]);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/attn/task/names", test_names);
  g_test_add_func ("/attn/task/fnv1a", test_fnv1a);

  g_test_add_func ("/attn/task/dates/formats-tabled", test_date_formats_tabled);
  for (guint i = 0; i < G_N_ELEMENTS (nov23_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/task/dates/2026-11-23/%u",
                                               i);
      g_test_add_data_func (path, &nov23_cases[i], test_date_nov23);
    }
  for (guint i = 0; i < G_N_ELEMENTS (date_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/task/dates/write/%u", i);
      g_test_add_data_func (path, &date_cases[i], test_date_case);
    }
  for (guint i = 0; i < G_N_ELEMENTS (read_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/task/dates/read/%u", i);
      g_test_add_data_func (path, &read_cases[i], test_date_read);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_dates); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/task/dates/bad/%u", i);
      g_test_add_data_func (path, &bad_dates[i], test_date_bad);
    }
  g_test_add_func ("/attn/task/dates/random", test_date_random);
  g_test_add_func ("/attn/task/dates/all-formats-read-back",
                   test_date_all_formats_read_back);

  for (guint i = 0; i < G_N_ELEMENTS (number_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/task/numbers/write/%u",
                                               number_cases[i].n);
      g_test_add_data_func (path, &number_cases[i], test_number_case);
    }
  for (guint i = 0; i < G_N_ELEMENTS (number_reads); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/task/numbers/read/%u",
                                               i);
      g_test_add_data_func (path, &number_reads[i], test_number_read);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_numbers); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/task/numbers/bad/%u", i);
      g_test_add_data_func (path, &bad_numbers[i], test_number_bad);
    }
  g_test_add_func ("/attn/task/numbers/random", test_number_random);
  g_test_add_func ("/attn/task/numbers/exhaustive", test_number_exhaustive);

  g_test_add_func ("/attn/task/strings", test_strings);

  for (guint t = 0; t < ATTN_TASK_COUNT; t++)
    {
      g_autofree char *det = g_strdup_printf ("/attn/task/determinism/%s",
                                              attn_task_name (t));
      g_test_add_data_func (det, GUINT_TO_POINTER (t), test_determinism);
      g_autofree char *split = g_strdup_printf ("/attn/task/splits/%s",
                                                attn_task_name (t));
      g_test_add_data_func (split, GUINT_TO_POINTER (t), test_splits);
    }
  g_test_add_func ("/attn/task/split-proportions", test_split_proportions);

  for (guint i = 0; i < G_N_ELEMENTS (charset_cases); i++)
    {
      g_autofree char *path = g_strdup_printf (
        "/attn/task/charset/%s", attn_task_name (charset_cases[i].task));
      g_test_add_data_func (path, &charset_cases[i], test_charset);
    }
  g_test_add_func ("/attn/task/charset/digits-to-words-exact",
                   test_charset_words_exact);

  return g_test_run ();
}
