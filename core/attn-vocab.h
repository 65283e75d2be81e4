/* attn-vocab.h: the character-level vocabulary of the built-in models.
 *
 * One vocabulary serves both sides of an encoder-decoder (the tasks share
 * digits and letters between source and target). Ids 0-3 are the special
 * tokens; every other id is one Unicode character (code point), so a
 * Chinese character is one token. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

enum {
  ATTN_VOCAB_PAD = 0, /* "<pad>": fills batches, never attended */
  ATTN_VOCAB_BOS = 1, /* "<s>": first decoder input */
  ATTN_VOCAB_EOS = 2, /* "</s>": ends source and target */
  ATTN_VOCAB_UNK = 3, /* "<unk>": a character outside the vocabulary */
  ATTN_VOCAB_N_SPECIAL = 4,
};

typedef struct _AttnVocab AttnVocab;

/* symbols: the ordinary characters (each one UTF-8 character, no
 * duplicates); they get ids 4, 5, ... in the order given. Anything else is
 * ATTN_ERROR_INVALID_ARGUMENT naming the symbol. */
AttnVocab *attn_vocab_new (const char *const *symbols, guint n_symbols,
                           GError **error);
/* From a task's character set (attn_task_charset), sorted by code point. */
AttnVocab *attn_vocab_new_from_chars (const gunichar *chars, guint n_chars);
void attn_vocab_free (AttnVocab *vocab);

int attn_vocab_size (const AttnVocab *vocab); /* V, specials included */
/* The id of one UTF-8 character or special token text, or -1. */
int attn_vocab_lookup (const AttnVocab *vocab, const char *symbol);
const char *attn_vocab_symbol (const AttnVocab *vocab, int id);
gboolean attn_vocab_is_special (int id);

/* Splits text into characters: ids (int) and byte spans (pairs of int,
 * [start, end)) appended to the arrays; characters outside the vocabulary
 * become ATTN_VOCAB_UNK and are appended (as new UTF-8 strings, once each;
 * create the array with g_free as its free function) to unknown when
 * non-NULL. Fails with ATTN_ERROR_BAD_TEXT on invalid UTF-8 or empty /
 * whitespace-only text. No <s> or </s> is added. */
gboolean attn_vocab_encode (const AttnVocab *vocab, const char *text,
                            GArray *ids, GArray *spans, GPtrArray *unknown,
                            GError **error);
/* The text of ids, specials left out. */
char *attn_vocab_decode (const AttnVocab *vocab, const int *ids, int n);

/* The vocabulary as a JSON array of its symbols in id order (specials
 * included), for the `attnscope.vocab` metadata key, and back (which fails
 * with ATTN_ERROR_BAD_MODEL_FILE unless the specials come first, in order,
 * and every other entry is one character, none twice). */
char *attn_vocab_to_json (const AttnVocab *vocab);
AttnVocab *attn_vocab_from_json (const char *json, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnVocab, attn_vocab_free)

G_END_DECLS
