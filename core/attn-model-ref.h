/* attn-model-ref.h: what a --model argument names.
 *
 * A model reference is, in this order: an existing file (a model file), an
 * existing folder (e.g. a Hugging Face GPT-2 folder), or the name of a
 * bundled model, found as <name>.safetensors in the first folder of the
 * model search path that has it:
 *
 *   - when $ATTNSCOPE_MODEL_PATH is set, its folders (separated by ':')
 *     and nothing else;
 *   - otherwise the source tree's assets/models/ when the running program
 *     lives in its build tree (an uninstalled build), then the installed
 *     <datadir>/attnscope/models/.
 *
 * Shared by the CLI and the GUI (model chooser, --model). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  ATTN_MODEL_REF_FILE,
  ATTN_MODEL_REF_FOLDER,
  ATTN_MODEL_REF_BUNDLED,
} AttnModelRefKind;

typedef struct {
  AttnModelRefKind kind;
  char *name; /* as the user gave it */
  char *path; /* the file or folder it resolved to */
} AttnModelRef;

/* The folders searched for bundled models, in order (a new NULL-terminated
 * vector, folders that do not exist included). */
char **attn_model_search_path (void);

/* Bundled model names found on the search path, sorted, each once (the
 * first folder holding a name wins); *.optim.safetensors files (a
 * trainer's optimiser state beside its model) are not models. */
char **attn_model_list_bundled (void);

/* Resolves `ref`. NULL with ATTN_ERROR_IO when it is neither an existing
 * file or folder nor a bundled model's name; the message names what was
 * tried. */
AttnModelRef *attn_model_ref_resolve (const char *ref, GError **error);
void attn_model_ref_free (AttnModelRef *ref);

const char *attn_model_ref_kind_name (AttnModelRefKind kind);

/* Opens the resolved model. No model format is readable in this build (the
 * built-in models and the GPT-2 loader arrive with later issues), so this
 * reports ATTN_ERROR_UNSUPPORTED naming the path; it is the one place the
 * loaders plug into. */
gboolean attn_model_ref_open (const AttnModelRef *ref, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnModelRef, attn_model_ref_free)

G_END_DECLS
