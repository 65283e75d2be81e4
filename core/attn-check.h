/* attn-check.h: always-on assertions for shape rules and contracts.
 *
 * Unlike g_assert() these are never compiled out: a wrong shape is a bug in
 * the caller, and silently reading past a buffer is worse than stopping. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

G_NORETURN void attn_check_failed (const char *file, int line,
                                   const char *func, const char *expr);

#define attn_check(expr)                                                   \
  G_STMT_START {                                                           \
    if (G_UNLIKELY (!(expr)))                                              \
      attn_check_failed (__FILE__, __LINE__, G_STRFUNC, #expr);            \
  } G_STMT_END

G_END_DECLS
