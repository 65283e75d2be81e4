/* attn-json.c: the nesting bound of attn-json.h. */
#include "core/attn-json.h"

#include <string.h>

gboolean
attn_json_check_depth (const char *text, gssize len, int max_depth)
{
  gsize n = len < 0 ? strlen (text) : (gsize) len;
  return attn_json_prescan (text, n, max_depth, G_MAXINT) == NULL;
}

const char *
attn_json_prescan (const char *text, gsize len, int max_depth, int max_digits)
{
  int depth = 0, digits = 0;
  gboolean in_string = FALSE, escaped = FALSE;
  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];
      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (g_ascii_isdigit (c))
        {
          if (++digits > max_digits)
            return "holds a number with too many digits";
          continue;
        }
      digits = 0;
      if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        {
          if (++depth > max_depth)
            return "nests too deeply";
        }
      else if (c == '}' || c == ']')
        depth--;
    }
  return NULL;
}
