/* attn-task-private.h: what attn-task.c needs from the per-task files. */
#pragma once

#include "core/attn-task.h"

G_BEGIN_DECLS

/* attn-task-dates.c */
guint attn_task_date_n_formats (void);
const char *attn_task_date_format_name (guint format);
/* A date of `split` in a format that can write it. */
void attn_task_date_example (AttnSplit split, GRand *rng, char **source,
                             char **target, guint *format);
/* Adds every character dates can produce to `set` (keys: gunichar). */
void attn_task_date_add_chars (GHashTable *set);

/* attn-task-numbers.c */
const char *attn_task_number_style_name (AttnNumberStyle style);
/* A number of `split`: 1-4 digits uniformly, then uniform among those. */
guint attn_task_number_draw (AttnSplit split, GRand *rng);
/* Digits and the words of every style (all_styles) or of ATTN_NUMBER_EN. */
void attn_task_number_add_chars (GHashTable *set, gboolean all_styles);

/* attn-task.c */
/* Adds every character of the UTF-8 string s to `set`. */
void attn_task_add_chars (GHashTable *set, const char *s);

G_END_DECLS
