/* attn-bpe.h: GPT-2's byte-level BPE tokenizer, exactly as OpenAI's
 * encoder.py computes it.
 *
 * Text is split into words by GPT-2's pattern
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * each word's UTF-8 bytes become one symbol per byte (the byte-to-unicode
 * alphabet: printable Latin-1 bytes stand for themselves, the others for
 * U+0100 and up, so a space is "Ġ"), and adjacent symbols are merged by
 * rank: the lowest-ranked pair present, every occurrence left to right, until
 * no ranked pair is left. Token ids are the vocabulary's ids of the final
 * symbols. Special tokens (<|endoftext|>) are matched in the text only when
 * asked, before the split: the text between them is split and merged on its
 * own, as Hugging Face's tokenizers do.
 *
 * The split agrees with Python's `regex` module, which encoder.py uses, on
 * every code point of Unicode 14 (the tables of GLib's PCRE2 here): \s is
 * spelled out as [\t\n\v\f\r\x{85}\p{Z}] because PCRE2's own \s also holds
 * U+180E, which `regex` does not. Letters and digits added in Unicode 15
 * are split as punctuation.
 *
 * A tokenizer is read from any of the layouts of a GPT-2 folder:
 * vocab.json + merges.txt (Hugging Face), encoder.json + vocab.bpe (OpenAI),
 * or tokenizer.json (model.vocab, model.merges as "a b" strings or
 * ["a", "b"] pairs, added_tokens as special tokens). In the two-file layouts
 * "<|endoftext|>" is the special token when the vocabulary holds it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Bounds on what a tokenizer file may hold; larger files are refused
 * (ATTN_ERROR_BAD_MODEL_FILE) before they can exhaust memory. GPT-2 has
 * 50,257 tokens, 50,000 merges, a longest token of 128 bytes and a
 * tokenizer.json of 2 MB. */
#define ATTN_BPE_MAX_VOCAB (1 << 20)
#define ATTN_BPE_MAX_MERGES (1 << 20)
#define ATTN_BPE_MAX_TOKEN_BYTES 1024
#define ATTN_BPE_MAX_FILE_BYTES (256u << 20)

/* Longer texts are refused with ATTN_ERROR_TOO_LARGE (spans are int). */
#define ATTN_BPE_MAX_TEXT_BYTES (G_MAXINT / 4)

typedef struct _AttnBpe AttnBpe;

typedef enum
{
  ATTN_BPE_ENCODE_DEFAULT = 0,
  /* Special tokens' text ("<|endoftext|>") becomes the special token; without
   * this flag it is encoded as ordinary text, as encoder.py does. */
  ATTN_BPE_ENCODE_SPECIAL = 1 << 0,
} AttnBpeEncodeFlags;

/* Byte span [start, end) into a text. */
typedef struct
{
  int start;
  int end;
} AttnBpeSpan;

/* How a token is shown (attn_bpe_labels). */
typedef struct
{
  char *text;       /* UTF-8: the text of [start, end) */
  int start;        /* byte span [start, end) into the decoded text, on */
  int end;          /*   character boundaries */
  gboolean partial; /* the token holds only some bytes of a character shown */
  gboolean special; /* a special token (<|endoftext|>) */
} AttnBpeLabel;

/* Each file is read whole (mapped); every problem is
 * ATTN_ERROR_BAD_MODEL_FILE with a message naming the file (or ATTN_ERROR_IO
 * when it cannot be read): not JSON, wrong types, ids out of range (the
 * ids must be exactly 0 .. V-1) or given twice, a token that is empty,
 * longer than ATTN_BPE_MAX_TOKEN_BYTES or outside the byte alphabet, a
 * byte with no token, a merge line that is not two symbols, names a symbol
 * the vocabulary lacks, makes one it lacks, or repeats an earlier line, and
 * sizes beyond the bounds above. */
AttnBpe *attn_bpe_new_from_files (const char *vocab_path,
                                  const char *merges_path, GError **error);
/* Also ATTN_ERROR_UNSUPPORTED for a tokenizer.json whose model is not BPE or
 * whose pre-tokenizer is not GPT-2's byte-level one. */
AttnBpe *attn_bpe_new_from_tokenizer_json (const char *path, GError **error);
/* The same from memory; names are used in messages. */
AttnBpe *attn_bpe_new_from_data (const char *vocab_json, gsize vocab_len,
                                 const char *vocab_name, const char *merges,
                                 gsize merges_len, const char *merges_name,
                                 GError **error);
AttnBpe *attn_bpe_new_from_tokenizer_json_data (const char *json, gsize len,
                                                const char *name,
                                                GError **error);
/* A model folder: vocab.json + merges.txt, else encoder.json + vocab.bpe,
 * else tokenizer.json. The pairs come first because they load several
 * times faster (a plain scan of vocab.json, where tokenizer.json needs a
 * full JSON tree: ~0.1 s against ~0.4 s for GPT-2 here); only
 * tokenizer.json can name special tokens other than <|endoftext|>.
 * ATTN_ERROR_BAD_MODEL_FILE naming the folder when it holds none of them,
 * or one file of a pair without the other. */
AttnBpe *attn_bpe_new_from_dir (const char *dir, GError **error);
void attn_bpe_free (AttnBpe *bpe);

int attn_bpe_n_vocab (const AttnBpe *bpe); /* V, special tokens included */
int attn_bpe_n_merges (const AttnBpe *bpe);
/* A token's vocabulary string in the byte alphabet ("Ġworld"), and back
 * (-1 when absent). Special tokens' strings are their text. */
const char *attn_bpe_token (const AttnBpe *bpe, int id);
int attn_bpe_lookup (const AttnBpe *bpe, const char *token);
/* The bytes a token stands for (not NUL-terminated), *len set. */
const guint8 *attn_bpe_token_bytes (const AttnBpe *bpe, int id, gsize *len);
gboolean attn_bpe_is_special (const AttnBpe *bpe, int id);
/* The id of the special token with this text, or -1. */
int attn_bpe_special_id (const AttnBpe *bpe, const char *text);
/* "<|endoftext|>"'s id (GPT-2's only special token: it begins and ends
 * documents), or -1. */
int attn_bpe_eot_id (const AttnBpe *bpe);

/* Appends the tokens of text (NUL-terminated UTF-8) to ids (GArray of int)
 * and their byte spans into text to spans (GArray of AttnBpeSpan; may be
 * NULL). Spans tile the text in order: each token's span holds exactly the
 * bytes it stands for, so a token holding part of a character has a span
 * ending or starting inside it. Empty text appends nothing. Fails with
 * ATTN_ERROR_BAD_TEXT naming the byte offset on invalid UTF-8, and
 * ATTN_ERROR_TOO_LARGE beyond ATTN_BPE_MAX_TEXT_BYTES; on failure nothing is
 * appended. Safe to call from several threads at once (a word cache is
 * shared under a lock). */
gboolean attn_bpe_encode (const AttnBpe *bpe, const char *text,
                          AttnBpeEncodeFlags flags, GArray *ids, GArray *spans,
                          GError **error);

/* The bytes of ids in order, special tokens as their text: for any text s,
 * decode_bytes (encode (s)) is s exactly, with or without
 * ATTN_BPE_ENCODE_SPECIAL. ATTN_ERROR_INVALID_ARGUMENT for an id outside
 * 0 .. V-1. */
GBytes *attn_bpe_decode_bytes (const AttnBpe *bpe, const int *ids, gsize n,
                               GError **error);
/* The same as UTF-8 text: each byte that does not begin a complete valid
 * character (ids that stop inside one) becomes U+FFFD. */
char *attn_bpe_decode (const AttnBpe *bpe, const int *ids, gsize n,
                       GError **error);

/* Display labels for the tokens ids, one AttnBpeLabel each (the array
 * frees their text), with spans into the decoded text, which is returned
 * in *text when text is non-NULL (the text of attn_bpe_decode: the input
 * text itself for the ids of an encoded text).
 *
 * The rule: a token shows every character any of its bytes belongs to.
 * A token whose bytes are whole characters shows just them; a token that
 * holds some bytes of a character (GPT-2 splits many Chinese characters and
 * most emoji over two or three tokens) shows the whole character, so every
 * token sharing that character shows it, and is marked partial. Its span is
 * that of the characters shown, so spans of neighbours may overlap, as the
 * trace format allows. A byte outside any valid character shows as U+FFFD.
 * ATTN_ERROR_INVALID_ARGUMENT for an id outside 0 .. V-1. */
GArray *attn_bpe_labels (const AttnBpe *bpe, const int *ids, gsize n,
                         char **text, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnBpe, attn_bpe_free)

G_END_DECLS
