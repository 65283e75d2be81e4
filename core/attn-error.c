#include "core/attn-error.h"

G_DEFINE_QUARK (attn-error-quark, attn_error)
