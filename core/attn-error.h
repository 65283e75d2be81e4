/* attn-error.h: the ATTN_ERROR domain shared by every layer. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ATTN_ERROR (attn_error_quark ())

typedef enum {
  ATTN_ERROR_FAILED,            /* nothing more specific applies */
  ATTN_ERROR_INVALID_ARGUMENT,  /* a caller passed a value out of range */
  ATTN_ERROR_IO,                /* a file could not be read or written */
  ATTN_ERROR_BAD_MODEL_FILE,    /* a model file is malformed or mismatched */
  ATTN_ERROR_BAD_TRACE,         /* a trace file (JSON or .npy) is malformed */
  ATTN_ERROR_BAD_TEXT,          /* input text: empty, invalid UTF-8, ... */
  ATTN_ERROR_UNKNOWN_TOKEN,     /* a character outside the model's vocabulary */
  ATTN_ERROR_UNSUPPORTED,       /* a valid request this build cannot serve */
  ATTN_ERROR_TOO_LARGE,         /* refused before allocation: would not fit */
  ATTN_ERROR_CANCELLED,         /* the caller cancelled a long run */
} AttnErrorCode;

GQuark attn_error_quark (void);

G_END_DECLS
