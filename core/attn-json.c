/* attn-json.c: the nesting bound of attn-json.h. */
#include "core/attn-json.h"

#include <string.h>

gboolean
attn_json_check_depth (const char *text, gssize len, int max_depth)
{
  gsize n = len < 0 ? strlen (text) : (gsize) len;
  int depth = 0;
  gboolean in_string = FALSE;
  for (gsize i = 0; i < n; i++)
    {
      char c = text[i];
      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > max_depth)
            return FALSE;
        }
      else if (c == ']' || c == '}')
        depth--;
    }
  return TRUE;
}
