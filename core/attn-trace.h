/* attn-trace.h: AttnTrace, what one model run produces and every view reads.
 *
 * A trace holds the tokens of both sides, one block of attention weights per
 * (kind, layer), the decoding steps and the model facts. Its file formats
 * (JSON, with large blocks in .npy sidecars) are specified in
 * docs/trace-format.md; keep the two in step.
 *
 * The structs are public so views can read them directly. They only grow:
 * new members are appended, and are created through the functions below, so
 * code written against today's fields keeps working. */
#pragma once

#include <glib.h>

#include "core/attn-dims.h"

G_BEGIN_DECLS

typedef enum {
  ATTN_KIND_ENCODER_SELF, /* queries and keys: source tokens */
  ATTN_KIND_DECODER_SELF, /* queries and keys: target tokens */
  ATTN_KIND_CROSS,        /* queries: target tokens; keys: source tokens */
} AttnKind;
#define ATTN_N_KINDS 3

typedef enum {
  ATTN_MECHANISM_SCALED_DOT_PRODUCT,
  ATTN_MECHANISM_ADDITIVE,
  ATTN_MECHANISM_LUONG_DOT,
  ATTN_MECHANISM_LUONG_GENERAL,
  ATTN_MECHANISM_LUONG_CONCAT,
  ATTN_MECHANISM_LUONG_LOCAL_P,
} AttnMechanism;
#define ATTN_N_MECHANISMS 6

typedef enum {
  ATTN_SIDE_SOURCE, /* encoder side */
  ATTN_SIDE_TARGET, /* decoder side, or the stream of a decoder-only model */
} AttnSide;

/* Head selectors for attn_block_head_weights () and the CSV export, beside
 * head indices 0 .. n_heads - 1. */
#define ATTN_HEADS_MEAN (-1)
#define ATTN_HEADS_MAX (-2)

/* Top-k alternatives kept per decoding step. */
#define ATTN_STEP_MAX_TOP 16

/* Blocks of more floats than this are saved to a .npy sidecar. */
#define ATTN_TRACE_INLINE_MAX 65536

typedef struct {
  char *text;   /* display text, UTF-8 */
  int id;       /* vocabulary id, or -1 */
  int start;    /* byte span [start, end) into the side's text; -1, -1 when */
  int end;      /*   the token has no span (special tokens) */
  gboolean special; /* <s>, </s>, <pad>, ...: present in blocks, no span */
} AttnToken;

typedef struct {
  AttnKind kind;
  int layer;       /* from 0 */
  int n_heads;
  int n_queries;   /* Tq: token count of attn_kind_query_side (kind) */
  int n_keys;      /* Tk: token count of attn_kind_key_side (kind) */
  gboolean normalised; /* rows sum to 1; FALSE for Luong local-p */
  float *weights;  /* (NH, Tq, Tk), owned; masked entries exactly 0 */
} AttnBlock;

typedef struct {
  int id;          /* vocabulary id, or -1 */
  char *text;      /* UTF-8 */
  float prob;      /* in [0, 1] */
} AttnCandidate;

/* Step i emits target token i + 1 (target tokens are the decoder inputs,
 * starting with <s>); the last step may emit a token never fed back, such
 * as </s>. */
typedef struct {
  AttnCandidate emitted;
  AttnCandidate top[ATTN_STEP_MAX_TOP]; /* most probable first */
  int n_top;
} AttnStep;

typedef struct {
  char *model_name;    /* e.g. "dates-transformer" */
  char *architecture;  /* e.g. "transformer-encoder-decoder", "gpt2" */
  AttnMechanism mechanism;
  int n_layers;
  int n_heads;
  char *source_text;   /* UTF-8, "" for a decoder-only model */
  char *target_text;   /* UTF-8: decoder output, or the one stream */
  GArray *source_tokens; /* of AttnToken */
  GArray *target_tokens; /* of AttnToken */
  GPtrArray *blocks;   /* of AttnBlock *, in the order added */
  GPtrArray *steps;    /* of AttnStep * */
} AttnTrace;

/* "encoder-self", "decoder-self", "cross": the spelling of files and CLI. */
const char *attn_kind_to_string (AttnKind kind);
/* FALSE (and *kind untouched) for an unknown string. */
gboolean attn_kind_from_string (const char *str, AttnKind *kind);
AttnSide attn_kind_query_side (AttnKind kind);
AttnSide attn_kind_key_side (AttnKind kind);

/* "scaled-dot-product", "additive", "luong-dot", "luong-general",
 * "luong-concat", "luong-local-p". */
const char *attn_mechanism_to_string (AttnMechanism mechanism);
gboolean attn_mechanism_from_string (const char *str,
                                     AttnMechanism *mechanism);

AttnTrace *attn_trace_new (const char *model_name, const char *architecture,
                           AttnMechanism mechanism, int n_layers,
                           int n_heads);
void attn_trace_free (AttnTrace *trace);

/* Replaces the text a side's spans index. */
void attn_trace_set_text (AttnTrace *trace, AttnSide side, const char *text);
const char *attn_trace_get_text (const AttnTrace *trace, AttnSide side);

/* Appends a token; returns its position. Pass start = end = -1 for a token
 * without a span. */
guint attn_trace_add_token (AttnTrace *trace, AttnSide side, const char *text,
                            int id, int start, int end, gboolean special);
guint attn_trace_n_tokens (const AttnTrace *trace, AttnSide side);
const AttnToken *attn_trace_get_token (const AttnTrace *trace, AttnSide side,
                                       guint position);

/* Adds the block (kind, layer) with zeroed weights (NH, Tq, Tk) for the
 * caller to fill, normalised = TRUE. The block belongs to the trace. Adding
 * a (kind, layer) twice is a programming error. */
AttnBlock *attn_trace_add_block (AttnTrace *trace, AttnKind kind, int layer,
                                 int n_heads, int n_queries, int n_keys);
/* Keeps the top-left n_queries x n_keys corner of every head of block
 * (n_queries <= its Tq, n_keys <= its Tk), in place: for a run that ended
 * before the length its blocks were made for. */
void attn_block_crop (AttnBlock *block, int n_queries, int n_keys);
/* NULL when the trace has no such block. */
AttnBlock *attn_trace_lookup_block (const AttnTrace *trace, AttnKind kind,
                                    int layer);

/* Appends a step emitting (id, text) with probability prob; add its
 * alternatives with attn_step_add_top (). */
AttnStep *attn_trace_add_step (AttnTrace *trace, int id, const char *text,
                               float prob);
/* At most ATTN_STEP_MAX_TOP per step, most probable first. */
void attn_step_add_top (AttnStep *step, int id, const char *text, float prob);

/* Checks everything a view relies on; on failure sets ATTN_ERROR_BAD_TRACE
 * with a message naming the block, token or step:
 * - counts >= 1 for layers and heads; all text valid UTF-8;
 * - token spans inside their side's text, start <= end, both on character
 *   boundaries; special tokens have no span, other tokens have one;
 * - each block: kind known, 0 <= layer < n_layers, n_heads of the model,
 *   queries and keys matching the token counts of their sides, no
 *   (kind, layer) twice, every weight finite and in [0, 1], and when
 *   normalised every row summing to 1 within 1e-4;
 * - steps: no more than target tokens, step i emitting target token i + 1
 *   where both ids are known, probabilities finite and in [0, 1]. */
gboolean attn_trace_validate (const AttnTrace *trace, GError **error);

/* Writes the trace as JSON to path, blocks of more than
 * ATTN_TRACE_INLINE_MAX floats as .npy sidecars beside it (written first).
 * Each file is written whole or not at all. Refuses (BAD_TRACE) a trace that
 * does not validate, writing nothing. */
gboolean attn_trace_save_json (const AttnTrace *trace, const char *path,
                               GError **error);
/* The trace as the JSON text attn_trace_save_json () writes, every block
 * inline however large (for a pipe, e.g. `attnscope-cli run --json`);
 * NULL with BAD_TRACE when it does not validate. */
char *attn_trace_to_json (const AttnTrace *trace, GError **error);
/* Reads a trace written by attn_trace_save_json () (or by any writer that
 * follows docs/trace-format.md) and validates it. Unknown members are
 * ignored. ATTN_ERROR_IO when a file cannot be read, ATTN_ERROR_BAD_TRACE
 * (naming the file) when it is malformed. */
AttnTrace *attn_trace_load_json (const char *path, GError **error);
/* The same from the len bytes of a trace's JSON text in memory (need not
 * be NUL-terminated); name is used in messages, sidecars are read from the
 * folder dir, and with dir NULL a block stored in a sidecar is refused
 * (BAD_TRACE). */
AttnTrace *attn_trace_load_json_data (const char *text, gsize len,
                                      const char *name, const char *dir,
                                      GError **error);

/* out (Tq, Tk): head `head` of the block, or with ATTN_HEADS_MEAN /
 * ATTN_HEADS_MAX the mean or the max over its heads. */
void attn_block_head_weights (const AttnBlock *block, int head, float *out);

/* Writes one head (or ATTN_HEADS_MEAN / ATTN_HEADS_MAX) of a block of trace
 * as CSV (RFC 4180, CRLF line ends): a header row of an empty cell and the
 * key tokens' texts, then one row per query token, its text then its
 * weights. Written whole or not at all. */
gboolean attn_block_write_csv (const AttnTrace *trace, const AttnBlock *block,
                               int head, const char *path, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnTrace, attn_trace_free)

G_END_DECLS
