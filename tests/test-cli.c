/* test-cli.c: attnscope-cli as a user meets it. Spawns the built program
 * (its path in $ATTN_CLI, set by tests/meson.build) and checks exit codes,
 * stdout and stderr against docs/cli.md; reads what export wrote back with
 * core and compares it with the fixture traces of tests/data/
 * (make-cli-traces.py). Also checks the parsing helpers of app/attn-cli.h
 * directly. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "app/attn-cli.h"
#include "core/attn-model.h"
#include "core/attn-npy.h"
#include "core/attn-trace.h"
#include "tests/attn-test-util.h"

#define TRACE_ED "cli-trace.json"      /* 2 layers x 3 heads, all kinds */
#define TRACE_GPT "cli-trace-gpt.json" /* 2 layers x 1 head, decoder-self */
#define SCRATCH "attn-cli-XXXXXX"      /* a folder per test, removed after */

/* ---- help and version ----------------------------------------------- */

typedef struct {
  const char *args[4];
  const char *usage;     /* first two lines of the help */
  const char *has[8];    /* options listed */
  const char *lacks[4];  /* options that do not belong to the command */
} HelpCase;

static const HelpCase help_cases[] = {
  { { "--help" }, "Usage:\n  attnscope-cli COMMAND [OPTION…]\n",
    { "  run ", "  export ", "  train ", "  info ", "  bench ", "--version",
      "Exit codes: 0 success, 1 failure" } },
  { { "help" }, "Usage:\n  attnscope-cli COMMAND [OPTION…]\n",
    { "  bench " } },
  { { "run", "--help" }, "Usage:\n  attnscope-cli run --model MODEL",
    { "--model=MODEL", "--text=TEXT", "--kind=KIND", "--layer=N",
      "--head=N|mean|max", "--output=FILE", "--atlas=FILE" },
    { "--trace=", "--seq=" } },
  { { "export", "-h" },
    "Usage:\n  attnscope-cli export --trace FILE.json (-o FILE",
    { "--trace=FILE.json", "--model=MODEL", "--kind=KIND", "--layer=N",
      "--head=N|mean|max", "--output=FILE", "--atlas=FILE", ".npy" },
    { "--seq=", "--reps=" } },
  { { "help", "export" }, "Usage:\n  attnscope-cli export --trace FILE.json",
    { "--trace=FILE.json" } },
  { { "train", "--help" }, "Usage:\n  attnscope-cli train --task TASK",
    { "--task=TASK", "--arch=ARCH", "--attention=NAME", "--text=TEXT",
      "--output=FILE", ".safetensors", "--resume", "--steps=N" },
    { "--layer=", "--atlas=", "--model=" } },
  { { "info", "--help" }, "Usage:\n  attnscope-cli info [--trace",
    { "--trace=FILE.json", "--model=MODEL" },
    { "--text=", "--layer=", "--output=" } },
  { { "bench", "--help" }, "Usage:\n  attnscope-cli bench [OPTION…]",
    { "--seq=T,T,…", "--dim=C", "--heads=NH", "--reps=N", "--threads=N",
      "--sgemm=N", "--model=MODEL", "--train" },
    { "--text=", "--output=", "--layer=" } },
};

static void
test_help (gconstpointer data)
{
  const HelpCase *c = data;
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  attn_test_cli_run (c->args, tmp, NULL, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");
  g_assert_true (g_str_has_prefix (r.out, c->usage));
  for (guint i = 0; i < G_N_ELEMENTS (c->has) && c->has[i]; i++)
    attn_test_assert_contains ("help", r.out, c->has[i]);
  for (guint i = 0; i < G_N_ELEMENTS (c->lacks) && c->lacks[i]; i++)
    g_assert_null (strstr (r.out, c->lacks[i]));
  attn_test_tmp_dir_remove (tmp);
}

static void
test_version (void)
{
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "--version", NULL };
  attn_test_cli_run (args, tmp, NULL, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "attnscope-cli " ATTN_VERSION "\n");
  g_assert_cmpstr (r.err, ==, "");
  attn_test_tmp_dir_remove (tmp);
}

/* ---- failures ---------------------------------------------------------- */

typedef struct {
  const char *args[14];
  int status;
  const char *message; /* on stderr */
  const char *setup;   /* a file created in the scratch folder first */
} FailCase;

/* Usage errors (exit 2): the command line is wrong, whatever the files. */
static const FailCase usage_cases[] = {
  { { "frobnicate" }, 2, "attnscope-cli: unknown command “frobnicate”: "
                         "expected run, export, train, info or bench" },
  { { "--frob" }, 2, "unknown option --frob before the COMMAND" },
  { { "export", "--bogus" }, 2,
    "attnscope-cli export: Unknown option --bogus" },
  { { "export", "--trace" }, 2, "Missing argument for --trace" },
  { { "run", "--model", "m", "--text" }, 2, "Missing argument for --text" },
  { { "export", "--trace", "@T@", "--layer", "x", "-o", "a.npy" }, 2,
    "--layer “x” is not a whole number" },
  { { "export", "--trace", "@T@", "--layer=-1", "-o", "a.npy" }, 2,
    "--layer -1 out of range: expected 0 to" },
  { { "export", "--trace", "@T@", "--layer", "0", "--head", "avg", "-o",
      "a.csv" }, 2,
    "--head “avg”: expected a head number (from 0), “mean” or “max”" },
  { { "export", "--trace", "@T@", "--kind", "self", "-o", "a.npy" }, 2,
    "unknown --kind “self”: expected encoder-self, decoder-self or cross" },
  { { "run", "--model", "m", "--text", "a", "b" }, 2,
    "give the text either with --text or as the TEXT argument, not both" },
  { { "run", "--model", "m", "a", "b" }, 2,
    "expected one TEXT argument, got 2 (quote the text to keep it whole)" },
  { { "run", "--model", "m", "--text", "" }, 2, "the text is empty" },
  { { "run", "--model", "m", "--text", "ab\xff" }, 2,
    "the text is not valid UTF-8 (bad byte at offset 2)" },
  { { "export", "--trace", "@T@", "-o", "out.xyz" }, 2,
    "-o “out.xyz”: cannot tell the format from the suffix; supported "
    "suffixes are .json, .npy, .csv, .png, .svg and .pdf" },
  { { "export", "--trace", "@T@", "-o", ".npy" }, 2,
    "supported suffixes are .json" },
  { { "export", "--trace", "@T@", "--atlas", "atlas.npy" }, 2,
    "--atlas “atlas.npy”: cannot tell the format from the suffix; "
    "supported suffixes are .pdf" },
  { { "train", "--task", "reverse", "--arch", "rnn", "-o", "m.json" }, 2,
    "supported suffixes are .safetensors" },
  { { "run", "--text", "hi" }, 2, "run needs --model MODEL" },
  { { "run", "--model", "m" }, 2, "run needs the input text" },
  { { "train", "--task", "reverse", "--arch", "rnn" }, 2,
    "train needs -o FILE.safetensors" },
  { { "train", "--arch", "rnn", "-o", "m.safetensors" }, 2,
    "train needs --task (dates, numbers-to-digits, digits-to-words, reverse "
    "or sort)" },
  { { "train", "--task", "dates", "-o", "m.safetensors" }, 2,
    "train needs --arch (transformer or rnn)" },
  { { "train", "--model", "m", "-o", "m.safetensors" }, 2,
    "Unknown option --model" },
  { { "train", "--task", "days", "--arch", "rnn", "-o", "m.safetensors" }, 2,
    "unknown --task “days”: expected dates, numbers-to-digits, "
    "digits-to-words, reverse or sort" },
  { { "train", "--task", "dates", "--arch", "lstm", "-o", "m.safetensors" },
    2, "unknown --arch “lstm”: expected transformer or rnn" },
  { { "train", "--task", "dates", "--arch", "rnn", "--attention", "luong",
      "-o", "m.safetensors" }, 2,
    "unknown --attention “luong”: expected bahdanau, luong-dot, "
    "luong-general, luong-concat or local-p" },
  { { "train", "--task", "dates", "--arch", "rnn", "--heads", "2", "-o",
      "m.safetensors" }, 2, "--heads is an option of --arch transformer" },
  { { "train", "--task", "dates", "--arch", "transformer", "--attention",
      "bahdanau", "-o", "m.safetensors" }, 2,
    "--attention is an option of --arch rnn" },
  { { "train", "--task", "dates", "--arch", "rnn", "--window", "3", "-o",
      "m.safetensors" }, 2, "--window is the window of --attention local-p" },
  { { "train", "--task", "dates", "--arch", "transformer", "--d-model", "30",
      "-o", "m.safetensors" }, 2,
    "--d-model 30 is not a multiple of --heads 4" },
  { { "train", "--task", "sort", "--arch", "rnn", "--lr", "fast", "-o",
      "m.safetensors" }, 2, "--lr “fast” is not a number" },
  { { "train", "--task", "sort", "--arch", "rnn", "--lr", "20", "-o",
      "m.safetensors" }, 2, "--lr 20 out of range: expected 1e-08 to 10" },
  { { "train", "--task", "sort", "--arch", "rnn", "--steps", "100",
      "--warmup", "500", "-o", "m.safetensors" }, 2,
    "--warmup 500 is longer than --steps 100" },
  { { "train", "--task", "sort", "--arch", "rnn", "--schedule", "linear",
      "-o", "m.safetensors" }, 2,
    "unknown --schedule “linear”: expected cosine, inv-sqrt or constant" },
  { { "train", "--task", "sort", "--arch", "rnn", "--adamw", "-o",
      "m.safetensors" }, 2, "--adamw decouples the weight decay: give "
                            "--weight-decay too" },
  { { "train", "--resume", "--task", "sort", "-o", "m.safetensors" }, 2,
    "--resume continues the checkpoint with the settings it was made with: "
    "--task cannot be given with it" },
  { { "run", "--model", "m", "--beam", "0", "hi" }, 2,
    "--beam 0 out of range: expected 1 to 64" },
  { { "run", "--model", "m", "--json", "-o", "a.json", "hi" }, 2,
    "--json prints the trace on standard output: -o and --atlas do not "
    "apply" },
  { { "export", "--trace", "@T@" }, 2,
    "export needs -o FILE or --atlas FILE" },
  { { "export", "-o", "a.npy" }, 2, "export needs --trace FILE.json, or "
                                    "--model MODEL and a text" },
  { { "export", "--model", "m", "-o", "a.npy" }, 2,
    "export --model needs the input text" },
  { { "export", "--trace", "@T@", "--model", "m", "-o", "a.json" }, 2,
    "give --trace (a saved trace) or --model (a model to run), not both" },
  { { "export", "--trace", "@T@", "some text", "-o", "a.json" }, 2,
    "--trace exports a saved trace: a text does not apply" },
  { { "export", "--trace", "@T@", "-o", "a.npy", "--atlas", "b.pdf" }, 2,
    "-o and --atlas are separate output modes" },
  { { "export", "--trace", "@T@", "--layer", "0", "-o", "a.json" }, 2,
    "-o FILE.json writes the whole trace: --kind, --layer and --head do not "
    "apply" },
  { { "export", "--trace", "@T@", "--head", "0", "-o", "a.npy" }, 2,
    "-o FILE.npy holds every head of the block: --head does not apply" },
  { { "export", "--trace", "@T@", "--layer", "1", "--atlas", "a.pdf" }, 2,
    "--atlas draws every layer and head" },
  { { "run", "--model", "m", "--text", "hi", "--layer", "1" }, 2,
    "--kind, --layer and --head choose what -o or --atlas writes" },
  { { "info", "hello" }, 2, "info takes no TEXT argument (got “hello”)" },
  { { "info", "--layer", "1" }, 2, "Unknown option --layer" },
  { { "info", "--trace", "@T@", "--model", "m" }, 2,
    "give --trace or --model, not both" },
  { { "bench", "--dim", "770" }, 2, "--dim 770 is not a multiple of "
                                    "--heads 12" },
  { { "bench", "--seq", "16,,32" }, 2, "--seq “” is not a whole number" },
  { { "bench", "--seq", "0" }, 2, "--seq 0 out of range: expected 1 to 8192" },
  { { "bench", "--seq", "8192", "--heads", "64", "--dim", "64" }, 2,
    "needs 16.0 GiB for the attention weights alone" },
  { { "bench", "--reps", "many" }, 2, "--reps “many” is not a whole number" },
  { { "bench", "--train" }, 2, "--train, --steps, --warmup, --batch and "
                               "--sentences time a model: give --model" },
  { { "bench", "--sentences", "5" }, 2, "time a model: give --model" },
  { { "bench", "--model", "m", "--steps", "5" }, 2,
    "--steps, --warmup and --batch set up training: add --train" },
  { { "bench", "--model", "m", "--train", "--steps", "1" }, 2,
    "--steps 1 out of range: expected 2 to 100000" },
  { { "bench", "--model", "m", "--train", "--batch", "0" }, 2,
    "--batch 0 out of range: expected 1 to 4096" },
  { { "bench", "--model", "m", "--seq", "16" }, 2,
    "--seq, --dim, --heads and --sgemm set up the attention table, which "
    "--model replaces" },
  { { "bench", "--model", "" }, 2,
    "--model needs a model file, folder or name" },
  { { "help", "nothing" }, 2, "unknown command “nothing”" },
  /* Checked against the trace: what --kind, --layer and --head name must
   * exist, and may only be left out when there is one choice. */
  { { "export", "--trace", "@T@", "--kind", "encoder-self", "--layer", "7",
      "-o", "a.npy" }, 2,
    "attnscope-cli export: layer 7 out of range: this trace has layers 0-1 "
    "(encoder-self)" },
  { { "export", "--trace", "@T@", "--kind", "cross", "--layer", "1",
      "--head", "3", "-o", "a.csv" }, 2,
    "head 3 out of range: this trace has heads 0-2 (or mean, max)" },
  { { "export", "--trace", "@G@", "--layer", "0", "--head", "1", "-o",
      "a.csv" }, 2, "head 1 out of range: this trace has head 0 only" },
  { { "export", "--trace", "@G@", "--kind", "cross", "--layer", "0", "-o",
      "a.npy" }, 2,
    "--kind cross: this trace has no cross attention (it has decoder-self)" },
  { { "export", "--trace", "@T@", "--layer", "0", "-o", "a.npy" }, 2,
    "this trace has encoder-self, decoder-self and cross attention: choose "
    "one with --kind" },
  { { "export", "--trace", "@G@", "-o", "a.npy" }, 2,
    "this trace has layers 0-1 (decoder-self): choose one with --layer" },
  { { "export", "--trace", "@T@", "--kind", "cross", "--layer", "1", "-o",
      "a.csv" }, 2,
    "this block has heads 0-2: choose one with --head N, mean or max" },
};

/* Runtime failures (exit 1): a valid request that cannot be done. */
static const FailCase failure_cases[] = {
  { { "run", "--model", "no-such-model", "--text", "hi" }, 1,
    "attnscope-cli run: cannot open model “no-such-model”: no such file or "
    "folder, and no bundled model of that name (searched @D@;" },
  { { "info", "--model", "./nope/x.safetensors" }, 1,
    "cannot open model “./nope/x.safetensors”: no such file or folder" },
  { { "bench", "--model", "./nope/x.safetensors" }, 1,
    "cannot open model “./nope/x.safetensors”: no such file or folder" },
  { { "run", "--model", "@D@/m.safetensors", "hi" }, 1,
    "cannot open model “@D@/m.safetensors” (file @D@/m.safetensors): header "
    "length", "m.safetensors" },
  { { "train", "--resume", "-o", "@D@/m.safetensors" }, 1,
    "m.safetensors: header length", "m.safetensors" },
  { { "info", "--model", "@D@" }, 1,
    "cannot open model “@D@” (folder @D@): not a model folder: it has no "
    "config.json of a GPT-2 model" },
  { { "info", "--model", "tiny" }, 1,
    "cannot open model “tiny” (bundled model @D@/tiny.safetensors): header "
    "length", "tiny.safetensors" },
  { { "export", "--model", "tiny", "--text", "hi", "-o", "a.json" }, 1,
    "cannot open model “tiny” (bundled model", "tiny.safetensors" },
  { { "run", "--model", "m", "hi", "-o", "a.svg" }, 1,
    "cannot open model “m”: no such file or folder" },
  { { "export", "--trace", "@D@/missing.json", "-o", "a.json" }, 1,
    "missing.json" },
  { { "info", "--trace", "@D@/bad.json" }, 1, "bad.json", "bad.json" },
  /* The parent of the output is a regular file: nothing can be written,
   * and nothing is left behind. */
  { { "export", "--trace", "@T@", "--kind", "cross", "--layer", "0", "-o",
      "@D@/blocker/a.npy" }, 1, "a.npy", "blocker" },
  { { "export", "--trace", "@T@", "--kind", "cross", "--layer", "0", "--head",
      "mean", "-o", "@D@/blocker/a.csv" }, 1, "a.csv", "blocker" },
  { { "export", "--trace", "@T@", "-o", "@D@/blocker/a.json" }, 1, "a.json",
    "blocker" },
};

static const char setup_contents[] = "not a model, not a trace";

static void
test_failure (gconstpointer data)
{
  const FailCase *c = data;
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  if (c->setup != NULL)
    {
      g_autofree char *path = g_build_filename (tmp, c->setup, NULL);
      g_assert_true (g_file_set_contents (path, setup_contents, -1, NULL));
    }
  g_auto (AttnTestCliResult) r = { 0 };
  /* Bundled models are looked up in the scratch folder only. */
  attn_test_cli_run (c->args, tmp, tmp, &r);

  g_assert_cmpint (r.status, ==, c->status);
  g_assert_cmpstr (r.out, ==, "");
  g_autofree char *message = attn_test_cli_expand (c->message, tmp);
  attn_test_assert_contains ("stderr", r.err, message);
  g_assert_true (g_str_has_prefix (r.err, "attnscope-cli"));
  /* One line for a failure; a usage error adds where to find the help. */
  g_auto (GStrv) lines = g_strsplit (r.err, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, c->status == 2 ? 3 : 2);
  if (c->status == 2)
    g_assert_true (g_str_has_prefix (lines[1], "Try “attnscope-cli"));

  /* Nothing written: the scratch folder holds what the case put there. */
  g_autofree char *left = attn_test_list_dir (tmp);
  g_assert_cmpstr (left, ==, c->setup != NULL ? c->setup : "");
  if (c->setup != NULL)
    {
      g_autofree char *path = g_build_filename (tmp, c->setup, NULL);
      g_autofree char *contents = NULL;
      g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
      g_assert_cmpstr (contents, ==, setup_contents);
    }
  attn_test_tmp_dir_remove (tmp);
}

static void
test_no_arguments (void)
{
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { NULL };
  attn_test_cli_run (args, tmp, NULL, &r);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_cmpstr (r.out, ==, "");
  g_assert_true (g_str_has_prefix (r.err, "Usage:\n  attnscope-cli COMMAND"));
  attn_test_tmp_dir_remove (tmp);
}

/* ---- info ------------------------------------------------------------ */

static const char info_ed[] =
  "model: cli-demo\n"
  "architecture: transformer-encoder-decoder\n"
  "attention: scaled-dot-product\n"
  "layers: 2\n"
  "heads: 3\n"
  "source text: \"He said \\\"hi\\\", 你好\"\n"
  "source tokens (6): \"He\" \" said\" \" \\\"hi\\\"\" \",\" \" 你好\" </s>\n"
  "target text: \"Il a dit «salut», 你好\"\n"
  "target tokens (5): <s> \"Il\" \" a dit\" \" «salut»,\" \" 你好\"\n"
  "blocks (6):\n"
  "  encoder-self layer 0: 3 heads x 6 queries x 6 keys\n"
  "  encoder-self layer 1: 3 heads x 6 queries x 6 keys\n"
  "  decoder-self layer 0: 3 heads x 5 queries x 5 keys\n"
  "  cross layer 0: 3 heads x 5 queries x 6 keys\n"
  "  decoder-self layer 1: 3 heads x 5 queries x 5 keys\n"
  "  cross layer 1: 3 heads x 5 queries x 6 keys\n"
  "steps (5):\n"
  "  0: \"Il\" p=0.9; top: \"Il\" 0.9, \"alt0\" 0.05\n"
  "  1: \" a dit\" p=0.8; top: \" a dit\" 0.8, \"alt1\" 0.05\n"
  "  2: \" «salut»,\" p=0.7; top: \" «salut»,\" 0.7, \"alt2\" 0.05\n"
  "  3: \" 你好\" p=0.6; top: \" 你好\" 0.6, \"alt3\" 0.05\n"
  "  4: \"</s>\" p=0.5; top: \"</s>\" 0.5, \"alt4\" 0.05\n";

static const char info_gpt[] =
  "model: tiny-gpt\n"
  "architecture: gpt2\n"
  "attention: scaled-dot-product\n"
  "layers: 2\n"
  "heads: 1\n"
  "target text: \"The cat sat\"\n"
  "target tokens (3): \"The\" \" cat\" \" sat\"\n"
  "blocks (2):\n"
  "  decoder-self layer 0: 1 heads x 3 queries x 3 keys\n"
  "  decoder-self layer 1: 1 heads x 3 queries x 3 keys\n";

static void
check_info (const char *fixture, const char *expected)
{
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_autofree char *path = attn_test_data_path (fixture);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "info", "--trace", path, NULL };
  attn_test_cli_run (args, tmp, NULL, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");
  g_autofree char *want = g_strdup_printf ("trace: %s\n%s", path, expected);
  g_assert_cmpstr (r.out, ==, want);
  attn_test_tmp_dir_remove (tmp);
}

static void
test_info_trace (void)
{
  check_info (TRACE_ED, info_ed);
}

static void
test_info_trace_decoder_only (void)
{
  check_info (TRACE_GPT, info_gpt);
}

static void
test_info_bundled (void)
{
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_autofree char *models = g_build_filename (tmp, "models", NULL);
  g_autofree char *more = g_build_filename (tmp, "more", NULL);
  g_assert_cmpint (g_mkdir (models, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (more, 0755), ==, 0);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "info", NULL };

  /* None found: said so, with where it looked. */
  attn_test_cli_run (args, tmp, models, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_autofree char *want_none =
    g_strdup_printf ("attnscope-cli %s\nbundled models: none found\n"
                     "searched:\n  %s\n", ATTN_VERSION, models);
  g_assert_cmpstr (r.out, ==, want_none);
  attn_test_cli_result_clear (&r);

  /* Only *.safetensors, not hidden, each name once, sorted. */
  const char *files[] = { "models/b-rnn.safetensors",
                          "models/a-transformer.safetensors",
                          "models/notes.txt", "models/.hidden.safetensors",
                          "more/b-rnn.safetensors", "more/c.safetensors" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (tmp, files[i], NULL);
      g_assert_true (g_file_set_contents (path, "x", 1, NULL));
    }
  g_autofree char *search = g_strjoin (":", models, more, NULL);
  attn_test_cli_run (args, tmp, search, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");
  g_autofree char *want =
    g_strdup_printf ("attnscope-cli %s\nbundled models:\n  a-transformer\n"
                     "  b-rnn\n  c\nsearched:\n  %s\n  %s\n", ATTN_VERSION,
                     models, more);
  g_assert_cmpstr (r.out, ==, want);
  attn_test_tmp_dir_remove (tmp);
}

/* ---- export --------------------------------------------------------- */

static AttnTrace *
load_fixture (const char *name)
{
  g_autofree char *path = attn_test_data_path (name);
  g_autoptr (GError) error = NULL;
  AttnTrace *trace = attn_trace_load_json (path, &error);
  g_assert_no_error (error);
  return trace;
}

/* Runs export with args into a fresh scratch folder; returns the folder. */
static char *
export_ok (const char *const *args, const char *expect_out)
{
  char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  attn_test_cli_run (args, tmp, NULL, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");
  g_autofree char *want = attn_test_cli_expand (expect_out, tmp);
  g_assert_cmpstr (r.out, ==, want);
  return tmp;
}

typedef struct {
  const char *fixture;
  const char *kind_option; /* NULL: leave --kind out */
  AttnKind kind;
  const char *layer_option; /* NULL: leave --layer out */
  int layer;
} NpyCase;

static const NpyCase npy_cases[] = {
  { TRACE_ED, "cross", ATTN_KIND_CROSS, "1", 1 },
  { TRACE_ED, "encoder-self", ATTN_KIND_ENCODER_SELF, "0", 0 },
  { TRACE_ED, "decoder-self", ATTN_KIND_DECODER_SELF, "1", 1 },
  /* The only kind is the default. */
  { TRACE_GPT, NULL, ATTN_KIND_DECODER_SELF, "1", 1 },
};

static void
test_export_npy (gconstpointer data)
{
  const NpyCase *c = data;
  g_autoptr (AttnTrace) trace = load_fixture (c->fixture);
  const AttnBlock *want = attn_trace_lookup_block (trace, c->kind, c->layer);
  g_assert_nonnull (want);

  g_autofree char *fixture = attn_test_data_path (c->fixture);
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, "export");
  g_ptr_array_add (args, "--trace");
  g_ptr_array_add (args, fixture);
  if (c->kind_option)
    {
      g_ptr_array_add (args, "--kind");
      g_ptr_array_add (args, (gpointer) c->kind_option);
    }
  g_ptr_array_add (args, "--layer");
  g_ptr_array_add (args, (gpointer) c->layer_option);
  g_ptr_array_add (args, "-o");
  g_ptr_array_add (args, "@D@/w.npy");
  g_ptr_array_add (args, NULL);
  g_autofree char *expect_out =
    g_strdup_printf ("wrote @D@/w.npy: %s layer %d, shape (%d, %d, %d)\n",
                     attn_kind_to_string (c->kind), c->layer, want->n_heads,
                     want->n_queries, want->n_keys);
  g_autofree char *tmp = export_ok ((const char *const *) args->pdata,
                                    expect_out);

  g_autofree char *path = g_build_filename (tmp, "w.npy", NULL);
  g_autoptr (GError) error = NULL;
  int ndim = 0;
  gsize shape[ATTN_NPY_MAX_DIMS] = { 0 };
  g_autofree float *got = attn_npy_read (path, &ndim, shape, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ndim, ==, 3);
  g_assert_cmpuint (shape[0], ==, want->n_heads);
  g_assert_cmpuint (shape[1], ==, want->n_queries);
  g_assert_cmpuint (shape[2], ==, want->n_keys);
  /* The fixture's floats round-trip exactly: no difference at all. */
  attn_test_assert_close ("npy weights", got, want->weights,
                          shape[0] * shape[1] * shape[2], 0.0);
  g_autofree char *left = attn_test_list_dir (tmp);
  g_assert_cmpstr (left, ==, "w.npy");
  attn_test_tmp_dir_remove (tmp);
}

/* Splits RFC 4180 CSV (CRLF line ends) into rows of fields. */
static GPtrArray *
parse_csv (const char *text)
{
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify)
                                                      g_strfreev);
  GPtrArray *row = g_ptr_array_new ();
  GString *field = g_string_new (NULL);
  const char *p = text;
  while (*p)
    {
      if (*p == '"')
        {
          for (p++; *p && !(*p == '"' && p[1] != '"'); p++)
            {
              g_string_append_c (field, *p);
              if (*p == '"')
                p++; /* a doubled quote */
            }
          g_assert_true (*p == '"');
          p++;
        }
      else if (*p == ',')
        {
          g_ptr_array_add (row, g_string_free (field, FALSE));
          field = g_string_new (NULL);
          p++;
        }
      else if (*p == '\r')
        {
          g_assert_true (p[1] == '\n');
          g_ptr_array_add (row, g_string_free (field, FALSE));
          field = g_string_new (NULL);
          g_ptr_array_add (row, NULL);
          g_ptr_array_add (rows, g_ptr_array_free (row, FALSE));
          row = g_ptr_array_new ();
          p += 2;
        }
      else
        g_string_append_c (field, *p++);
    }
  g_assert_cmpuint (row->len, ==, 0); /* the last row ends with CRLF */
  g_assert_cmpuint (field->len, ==, 0);
  g_ptr_array_free (row, TRUE);
  g_string_free (field, TRUE);
  return rows;
}

typedef struct {
  const char *fixture;
  AttnKind kind;
  int layer;
  const char *head_option; /* NULL: leave --head out */
  int head;                /* index, ATTN_HEADS_MEAN or ATTN_HEADS_MAX */
  const char *which;       /* as the report line says it */
} CsvCase;

static const CsvCase csv_cases[] = {
  { TRACE_ED, ATTN_KIND_CROSS, 0, "2", 2, "head 2" },
  { TRACE_ED, ATTN_KIND_ENCODER_SELF, 1, "mean", ATTN_HEADS_MEAN,
    "mean over heads" },
  { TRACE_ED, ATTN_KIND_DECODER_SELF, 0, "max", ATTN_HEADS_MAX,
    "max over heads" },
  /* One head: --head may be left out. */
  { TRACE_GPT, ATTN_KIND_DECODER_SELF, 0, NULL, 0, "head 0" },
};

static void
test_export_csv (gconstpointer data)
{
  const CsvCase *c = data;
  g_autoptr (AttnTrace) trace = load_fixture (c->fixture);
  const AttnBlock *block = attn_trace_lookup_block (trace, c->kind, c->layer);
  g_assert_nonnull (block);
  int nq = block->n_queries, nk = block->n_keys;

  g_autofree char *fixture = attn_test_data_path (c->fixture);
  g_autofree char *layer = g_strdup_printf ("%d", c->layer);
  const char *args[] = { "export",      "--trace",
                         fixture,       "--kind",
                         attn_kind_to_string (c->kind),
                         "--layer",     layer,
                         "-o",          "@D@/w.csv",
                         c->head_option ? "--head" : NULL,
                         c->head_option, NULL };
  g_autofree char *expect_out = g_strdup_printf (
    "wrote @D@/w.csv: %s layer %d, %s, %d x %d\n",
    attn_kind_to_string (c->kind), c->layer, c->which, nq, nk);
  g_autofree char *tmp = export_ok (args, expect_out);

  g_autofree char *path = g_build_filename (tmp, "w.csv", NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_autoptr (GPtrArray) rows = parse_csv (text);
  g_assert_cmpuint (rows->len, ==, nq + 1);

  /* Header: an empty cell, then the key tokens; each row starts with its
   * query token. */
  AttnSide qs = attn_kind_query_side (c->kind);
  AttnSide ks = attn_kind_key_side (c->kind);
  char **header = rows->pdata[0];
  g_assert_cmpuint (g_strv_length (header), ==, nk + 1);
  g_assert_cmpstr (header[0], ==, "");
  for (int k = 0; k < nk; k++)
    g_assert_cmpstr (header[k + 1], ==,
                     attn_trace_get_token (trace, ks, k)->text);

  /* The values: the head itself, or mean/max over heads computed here in
   * double. A head is bit-exact (%.9g round-trips); the mean of 3 float32
   * values may differ from ours by float rounding: 1e-6 absolute. */
  g_autofree float *want = g_new (float, nq * nk);
  g_autofree float *got = g_new (float, nq * nk);
  for (int q = 0; q < nq; q++)
    for (int k = 0; k < nk; k++)
      {
        double acc = 0.0;
        for (int h = 0; h < block->n_heads; h++)
          {
            double w = block->weights[((gsize) h * nq + q) * nk + k];
            if (c->head == ATTN_HEADS_MEAN)
              acc += w / block->n_heads;
            else if (c->head == ATTN_HEADS_MAX)
              acc = MAX (acc, w);
            else if (h == c->head)
              acc = w;
          }
        want[q * nk + k] = (float) acc;
      }
  for (int q = 0; q < nq; q++)
    {
      char **row = rows->pdata[q + 1];
      g_assert_cmpuint (g_strv_length (row), ==, nk + 1);
      g_assert_cmpstr (row[0], ==, attn_trace_get_token (trace, qs, q)->text);
      for (int k = 0; k < nk; k++)
        {
          char *end = NULL;
          got[q * nk + k] = (float) g_ascii_strtod (row[k + 1], &end);
          g_assert_true (end != row[k + 1] && *end == '\0');
        }
    }
  attn_test_assert_close ("csv weights", got, want, nq * nk,
                          c->head == ATTN_HEADS_MEAN ? 1e-6 : 0.0);
  attn_test_tmp_dir_remove (tmp);
}

static void
test_export_json (gconstpointer data)
{
  const char *fixture_name = data;
  g_autoptr (AttnTrace) want = load_fixture (fixture_name);
  g_autofree char *fixture = attn_test_data_path (fixture_name);
  const char *args[] = { "export", "--trace", fixture, "-o", "@D@/all.json",
                         NULL };
  g_autofree char *expect_out = g_strdup_printf (
    "wrote @D@/all.json: the whole trace (%u blocks)\n", want->blocks->len);
  g_autofree char *tmp = export_ok (args, expect_out);
  g_autofree char *path = g_build_filename (tmp, "all.json", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrace) got = attn_trace_load_json (path, &error);
  g_assert_no_error (error);
  attn_test_assert_traces_equal (got, want);
  attn_test_tmp_dir_remove (tmp);
}

/* ---- bench ------------------------------------------------------------ */

static double
parse_number (const char *s)
{
  char *end = NULL;
  double v = g_ascii_strtod (s, &end);
  g_assert_true (end != s);
  return v;
}

static void
test_bench_table (void)
{
  const int C = 32, seq[] = { 16, 40 };
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "bench", "--seq", "16,40", "--reps", "1", "--dim",
                         "32", "--heads", "4", "--sgemm", "64", "--threads",
                         "1", NULL };
  attn_test_cli_run (args, tmp, NULL, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");

  g_auto (GStrv) lines = g_strsplit (r.out, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3 + G_N_ELEMENTS (seq) + 1);
  g_assert_cmpstr (lines[3 + G_N_ELEMENTS (seq)], ==, "");

  const char *prefix = "sgemm ceiling: ";
  g_assert_true (g_str_has_prefix (lines[0], prefix));
  double ceiling = parse_number (lines[0] + strlen (prefix));
  g_assert_cmpfloat (ceiling, >, 0.0);
  g_assert_true (g_str_has_suffix (lines[0],
                                   " GFLOP/s (n = 64, 1 thread, best of 1)"));
  g_assert_cmpstr (lines[1], ==,
                   "multi-head attention forward: C = 32, NH = 4, B = 1, "
                   "weights kept, best of 1");
  g_auto (GStrv) header = g_strsplit_set (g_strstrip (lines[2]), " ", -1);
  g_autofree char *joined = NULL;
  {
    g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
    for (guint i = 0; header[i]; i++)
      if (*header[i])
        g_strv_builder_add (b, header[i]);
    g_auto (GStrv) fields = g_strv_builder_end (b);
    joined = g_strjoinv ("|", fields);
  }
  g_assert_cmpstr (joined, ==, "T|seconds|GFLOP|GFLOP/s|ceiling");

  for (guint i = 0; i < G_N_ELEMENTS (seq); i++)
    {
      g_auto (GStrv) raw = g_strsplit (lines[3 + i], " ", -1);
      g_autoptr (GPtrArray) f = g_ptr_array_new ();
      for (guint j = 0; raw[j]; j++)
        if (*raw[j])
          g_ptr_array_add (f, raw[j]);
      g_assert_cmpuint (f->len, ==, 5);
      const char *const *v = (const char *const *) f->pdata;
      int T = seq[i];
      g_assert_cmpint ((int) parse_number (v[0]), ==, T);
      double seconds = parse_number (v[1]);
      double gflop = parse_number (v[2]);
      double gflops = parse_number (v[3]);
      g_assert_true (g_str_has_suffix (v[4], "%"));
      double percent = parse_number (v[4]);
      g_assert_cmpfloat (seconds, >, 0.0);
      /* docs/cli.md: projections 4 * 2 T C^2, scores and weighted sum
       * 2 * 2 T^2 C. Printed with 6 significant digits. */
      double want_gflop = (8.0 * T * C * C + 4.0 * T * T * (double) C) * 1e-9;
      g_assert_cmpfloat (fabs (gflop - want_gflop), <=, 1e-5 * want_gflop);
      /* GFLOP/s is printed with 2 decimals, seconds with 6 digits. */
      g_assert_cmpfloat (fabs (gflops - gflop / seconds), <=,
                         0.0051 + 1e-5 * gflops);
      /* The fraction of the ceiling, printed with 1 decimal, computed
       * from the unrounded figures, which lie within half a unit of the
       * printed ones (2 and 1 decimals): the percent lies in the interval
       * those bounds give, whatever the machine's load made of them. */
      double g_lo = MAX (gflops - 0.005, 0.0), g_hi = gflops + 0.005;
      double c_lo = ceiling - 0.05, c_hi = ceiling + 0.05;
      if (c_lo > 0.0)
        {
          g_assert_cmpfloat (percent, >=, 100.0 * g_lo / c_hi - 0.051);
          g_assert_cmpfloat (percent, <=, 100.0 * g_hi / c_lo + 0.051);
        }
    }
  attn_test_tmp_dir_remove (tmp);
}

/* ---- the parsing helpers, in process ---------------------------------- */

typedef struct {
  const char *path;
  AttnCliFormat want;
} SuffixCase;

static const SuffixCase suffix_cases[] = {
  { "a.npy", ATTN_CLI_FORMAT_NPY },
  { "dir/A.NPY", ATTN_CLI_FORMAT_NPY },
  { "x.csv", ATTN_CLI_FORMAT_CSV },
  { "t.json", ATTN_CLI_FORMAT_JSON },
  { "f.Svg", ATTN_CLI_FORMAT_SVG },
  { "m.safetensors", ATTN_CLI_FORMAT_NONE }, /* not a data format */
  { ".csv", ATTN_CLI_FORMAT_NONE },          /* a suffix, no name */
  { "dir/.csv", ATTN_CLI_FORMAT_NONE },
  { "x.csv.bak", ATTN_CLI_FORMAT_NONE },
  { "npy", ATTN_CLI_FORMAT_NONE },
  { "", ATTN_CLI_FORMAT_NONE },
};

static void
test_suffix (gconstpointer data)
{
  const SuffixCase *c = data;
  static const AttnCliFormat allowed[] = {
    ATTN_CLI_FORMAT_JSON, ATTN_CLI_FORMAT_NPY, ATTN_CLI_FORMAT_CSV,
    ATTN_CLI_FORMAT_PNG,  ATTN_CLI_FORMAT_SVG, ATTN_CLI_FORMAT_PDF,
    ATTN_CLI_FORMAT_NONE,
  };
  g_assert_cmpint (attn_cli_format_from_path (c->path, allowed), ==, c->want);
}

static void
test_parse_values (void)
{
  g_autoptr (GError) error = NULL;
  AttnCliHeadMode mode;
  int head = 0;
  g_assert_true (attn_cli_parse_head ("mean", &mode, &head, &error));
  g_assert_cmpint (mode, ==, ATTN_CLI_HEAD_MEAN);
  g_assert_true (attn_cli_parse_head ("max", &mode, &head, &error));
  g_assert_cmpint (mode, ==, ATTN_CLI_HEAD_MAX);
  g_assert_true (attn_cli_parse_head ("11", &mode, &head, &error));
  g_assert_cmpint (mode, ==, ATTN_CLI_HEAD_INDEX);
  g_assert_cmpint (head, ==, 11);
  const char *bad_heads[] = { "-1", "1.5", "", "MEAN", " 2", "99999999999" };
  for (guint i = 0; i < G_N_ELEMENTS (bad_heads); i++)
    {
      g_assert_false (attn_cli_parse_head (bad_heads[i], &mode, &head,
                                           &error));
      g_assert_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_VALUE);
      g_assert_cmpint (attn_cli_exit_code (error), ==, ATTN_CLI_EXIT_USAGE);
      g_clear_error (&error);
    }

  guint n = 0;
  g_autofree int *seq = attn_cli_parse_int_list ("--seq", "128, 512,1024", 1,
                                                 8192, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpint (seq[0], ==, 128);
  g_assert_cmpint (seq[1], ==, 512);
  g_assert_cmpint (seq[2], ==, 1024);
  g_assert_null (attn_cli_parse_int_list ("--seq", "", 1, 8192, &n, &error));
  g_assert_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_VALUE);
  g_clear_error (&error);
  g_assert_null (attn_cli_parse_int_list ("--seq", "8193", 1, 8192, &n,
                                          &error));
  g_assert_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_VALUE);
  g_clear_error (&error);

  /* Errors of core and of files are failures, not usage errors. */
  g_autoptr (GError) io = g_error_new (G_FILE_ERROR, G_FILE_ERROR_NOENT, "x");
  g_assert_cmpint (attn_cli_exit_code (io), ==, ATTN_CLI_EXIT_FAILURE);
  g_autoptr (GError) opt = g_error_new (G_OPTION_ERROR,
                                        G_OPTION_ERROR_UNKNOWN_OPTION, "x");
  g_assert_cmpint (attn_cli_exit_code (opt), ==, ATTN_CLI_EXIT_USAGE);
}

static void
test_parse_defaults (void)
{
  /* Parsing leaves argv as it was and fills in the documented defaults. */
  char *argv[] = { "bench", "--reps", "2", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnCliOptions) o =
    attn_cli_options_parse (ATTN_CLI_COMMAND_BENCH, 3, argv, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (argv[1], ==, "--reps");
  g_assert_cmpint (o->reps, ==, 2);
  g_assert_cmpint (o->dim, ==, 768);
  g_assert_cmpint (o->heads, ==, 12);
  g_assert_cmpint (o->sgemm_n, ==, 1024);
  g_assert_cmpint (o->threads, ==, 0);
  g_assert_cmpuint (o->n_seq, ==, 3);
  g_assert_cmpint (o->seq[2], ==, 1024);

  char *argv2[] = { "export", "--trace", "t.json", "--layer", "3",
                    "--head", "max", "-o", "x.CSV", NULL };
  g_autoptr (AttnCliOptions) e =
    attn_cli_options_parse (ATTN_CLI_COMMAND_EXPORT, 9, argv2, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (e->trace, ==, "t.json");
  g_assert_null (e->kind);
  g_assert_cmpint (e->layer, ==, 3);
  g_assert_cmpint (e->head_mode, ==, ATTN_CLI_HEAD_MAX);
  g_assert_cmpint (e->output_format, ==, ATTN_CLI_FORMAT_CSV);
  g_assert_null (e->text);
}

/* ---- train, and run on a model it made -------------------------------- */

/* A tiny model trained once by the CLI for every test below (and removed
 * by main): reverse, 1 + 1 layers, C 16, 2 heads, 30 steps. Its outputs are
 * far from right, which is beside the point: the format is checked, and
 * every number printed is checked against the trace. */
static char *trained_dir;
static char *trained_path;
static char *trained_stdout;

#define TRAIN_ARGS                                                             \
  "train", "--task", "reverse", "--arch", "transformer", "--layers", "1",      \
    "--d-model", "16", "--heads", "2", "--steps", "30", "--batch", "8",        \
    "--eval-every", "10", "--eval-examples", "12", "--test-examples", "14",    \
    "--checkpoint-every", "20", "--threads", "1"

static const char *
trained_model (void)
{
  if (trained_path != NULL)
    return trained_path;
  trained_dir = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { TRAIN_ARGS, "-o", "model.safetensors", "ab1", NULL };
  attn_test_cli_run (args, trained_dir, trained_dir, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");
  trained_stdout = g_steal_pointer (&r.out);
  trained_path = g_build_filename (trained_dir, "model.safetensors", NULL);
  return trained_path;
}

/* bench --model --train: one line naming the model (its parameter count
 * as the file has it, the task from its card), one training line and one
 * inference line with the counts asked for; every time positive and the
 * rates consistent with them. The tiny untrained-ish model is not judged
 * on its accuracy, only on the layout. */
static void
test_bench_model (void)
{
  const char *model = trained_model ();
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnModel) m = attn_model_load (model, &error);
  g_assert_no_error (error);
  gsize n = 0;
  for (guint i = 0; i < m->params->n_tensors; i++)
    n += m->params->tensors[i].numel;

  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "bench", "--model", model, "--train", "--steps",
                         "3", "--warmup", "1", "--batch", "4",
                         "--sentences", "5", "--threads", "1", NULL };
  attn_test_cli_run (args, tmp, NULL, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");
  g_auto (GStrv) lines = g_strsplit (r.out, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 4);
  g_assert_cmpstr (lines[3], ==, "");

  g_autofree char *want0 = g_strdup_printf (
    "model reverse-transformer: transformer, scaled-dot-product, "
    "%" G_GSIZE_FORMAT " parameters, task reverse", n);
  g_assert_cmpstr (lines[0], ==, want0);

  g_autoptr (GRegex) train = g_regex_new (
    "^  training: batch 4, 1 worker: ([0-9.]+) ms/step, ([0-9.]+) steps/s, "
    "[0-9]+ examples/s \\(2 steps timed after 1; padded S [0-9.]+, T "
    "[0-9.]+\\)$", 0, 0, NULL);
  g_autoptr (GMatchInfo) tm = NULL;
  g_assert_true (g_regex_match (train, lines[1], 0, &tm));
  g_autofree char *ms_text = g_match_info_fetch (tm, 1);
  g_autofree char *rate_text = g_match_info_fetch (tm, 2);
  double ms = parse_number (ms_text), rate = parse_number (rate_text);
  g_assert_cmpfloat (ms, >, 0.0051);
  /* Both printed with 2 decimals from one time: ms is off by up to 0.005,
   * which moves 1000 / ms by up to 1000 * 0.005 / (ms (ms - 0.005)). */
  g_assert_cmpfloat (fabs (rate - 1e3 / ms), <=,
                     0.006 + 1e3 * 0.0051 / (ms * (ms - 0.0051)));

  g_autoptr (GRegex) infer = g_regex_new (
    "^  inference: 1 OpenBLAS thread, 5 test sentences, [0-9.]+ characters "
    "in, [0-9.]+ out: greedy ([0-9.]+) ms/sentence \\(exact match "
    "([01]\\.[0-9]{3})\\), with the whole trace ([0-9.]+) ms/sentence$", 0,
    0, NULL);
  g_autoptr (GMatchInfo) im = NULL;
  g_assert_true (g_regex_match (infer, lines[2], 0, &im));
  for (int i = 1; i <= 3; i += 2)
    {
      g_autofree char *v = g_match_info_fetch (im, i);
      g_assert_cmpfloat (parse_number (v), >, 0.0);
    }
  attn_test_tmp_dir_remove (tmp);
}

static void
test_train_tiny (void)
{
  const char *path = trained_model ();
  const char *out = trained_stdout;
  /* Not a terminal: plain lines (docs/cli.md, "train"). */
  g_assert_true (g_str_has_prefix (
    out, "model reverse-transformer: transformer, 1 + 1 layers, d-model 16, "
         "2 heads, d-ff 64, post-norm; "));
  attn_test_assert_contains (
      "stdout", out,
      "training on reverse: 30 steps of 8 examples, lr 0.001 "
      "(cosine), seed 1, 1 thread\n");
  attn_test_assert_contains ("stdout", out, "\nstep 1/30 loss ");
  attn_test_assert_contains ("stdout", out, "\nstep 30/30 loss ");
  attn_test_assert_contains ("stdout", out,
                             "\nstep 10 validation: exact match ");
  attn_test_assert_contains ("stdout", out,
                             "(12 examples)\nstep 10 probe: \"ab1\" -> ");
  attn_test_assert_contains ("stdout", out,
                             "\nstep 20 checkpoint: model.safetensors\n");
  attn_test_assert_contains ("stdout", out, "\ntest: exact match ");
  attn_test_assert_contains ("stdout", out,
                             " (14 examples)\nwrote model.safetensors");
  attn_test_assert_contains (
      "stdout", out,
      "\nwrote model.safetensors: reverse-transformer after 30 "
      "steps (optimiser state for --resume: "
      "model.optim.safetensors)\n");
  g_assert_null (strstr (out, "\r")); /* no progress bar in a pipe */

  g_autoptr (GError) error = NULL;
  g_autoptr (AttnModel) model = attn_model_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (model->name, ==, "reverse-transformer");
  g_assert_cmpint (model->config.C, ==, 16);
  g_assert_nonnull (strstr (model->card_json,
                            "\"command\":\"attnscope-cli train --task reverse "
                            "--arch transformer --layers 1"));
  g_assert_nonnull (strstr (model->card_json, "-o model.safetensors ab1\""));
  g_assert_nonnull (strstr (model->card_json, "\"steps\":30"));
  g_assert_nonnull (strstr (model->card_json, "\"test_examples\":14"));
  g_autofree char *optim = g_build_filename (trained_dir,
                                             "model.optim.safetensors", NULL);
  g_assert_true (g_file_test (optim, G_FILE_TEST_IS_REGULAR));
  /* The optimiser state is no bundled model. */
  g_auto (AttnTestCliResult) r = { 0 };
  const char *info[] = { "info", NULL };
  attn_test_cli_run (info, trained_dir, trained_dir, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_autofree char *want = g_strdup_printf ("bundled models:\n  model\n"
                                           "searched:\n  %s\n", trained_dir);
  attn_test_assert_contains ("stdout", r.out, want);
}

/* --resume continues the checkpoint; --steps may extend it. */
static void
test_train_resume (void)
{
  const char *model_path = trained_model ();
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_autofree char *copy = g_build_filename (tmp, "m.safetensors", NULL);
  g_autofree char *copy_optim = g_build_filename (tmp, "m.optim.safetensors",
                                                  NULL);
  g_autofree char *optim = g_build_filename (trained_dir,
                                             "model.optim.safetensors", NULL);
  g_autofree char *a = NULL, *b = NULL;
  gsize na = 0, nb = 0;
  g_assert_true (g_file_get_contents (model_path, &a, &na, NULL));
  g_assert_true (g_file_get_contents (optim, &b, &nb, NULL));
  g_assert_true (g_file_set_contents (copy, a, na, NULL));
  g_assert_true (g_file_set_contents (copy_optim, b, nb, NULL));

  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "train", "--resume", "-o", "m.safetensors",
                         "--steps", "35", NULL };
  attn_test_cli_run (args, tmp, tmp, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_prefix (r.out, "resuming reverse-transformer at "
                                          "step 30\n"));
  attn_test_assert_contains ("stdout", r.out, "\nstep 35/35 loss ");
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnModel) model = attn_model_load (copy, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (model->card_json, "\"steps\":35"));
  attn_test_tmp_dir_remove (tmp);
}

/* Ctrl-C: training stops after the step in progress, a checkpoint of it is
 * written, and the message says how to go on. */
static void
test_train_interrupt (void)
{
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
    G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_cwd (launcher, tmp);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_launcher_spawn (
    launcher, &error, g_getenv ("ATTN_CLI"), TRAIN_ARGS, "--steps",
    "1000000", "-o", "stop.safetensors", NULL);
  g_assert_no_error (error);
  /* The first progress line means training has begun. */
  g_autoptr (GDataInputStream) lines = g_data_input_stream_new (
    g_subprocess_get_stdout_pipe (p));
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line_utf8 (
        lines, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (g_str_has_prefix (line, "step 1/1000000 "))
        break;
    }
  g_subprocess_send_signal (p, SIGINT);
  g_autofree char *err = NULL;
  g_assert_true (g_subprocess_communicate_utf8 (p, NULL, NULL, NULL, &err,
                                                &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (p));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 1);
  attn_test_assert_contains (
      "stderr", err,
      "attnscope-cli train: interrupted: stopping after this "
      "step and writing a checkpoint");
  attn_test_assert_contains ("stderr", err,
                             "attnscope-cli train: training stopped at "
                             "step ");
  attn_test_assert_contains ("stderr", err,
                             "; continue with: attnscope-cli train "
                             "--resume -o stop.safetensors\n");

  g_autofree char *path = g_build_filename (tmp, "stop.safetensors", NULL);
  g_autoptr (AttnModel) model = attn_model_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (model->card_json, "\"status\":\"checkpoint\""));
  attn_test_tmp_dir_remove (tmp);
}

/* The summary: input, output, then for each output token its three
 * strongest source tokens, checked against the trace of the same run. */
static void
test_run_summary (void)
{
  const char *model = trained_model ();
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "run", "--model", model, "a2c", NULL };
  attn_test_cli_run (args, tmp, tmp, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");

  g_auto (AttnTestCliResult) j = { 0 };
  const char *json_args[] = { "run", "--model", model, "--json", "a2c",
                              NULL };
  attn_test_cli_run (json_args, tmp, tmp, &j);
  g_assert_cmpint (j.status, ==, 0);
  g_autofree char *trace_path = g_build_filename (tmp, "run.json", NULL);
  g_assert_true (g_file_set_contents (trace_path, j.out, -1, NULL));
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrace) trace = attn_trace_load_json (trace_path, &error);
  g_assert_no_error (error);

  g_auto (GStrv) lines = g_strsplit (r.out, "\n", -1);
  g_assert_cmpstr (lines[0], ==, "input: \"a2c\"");
  g_autofree char *output = g_strdup_printf ("output: \"%s\"",
                                             trace->target_text);
  g_assert_cmpstr (lines[1], ==, output);
  g_assert_cmpstr (lines[2], ==,
                   "attention: cross layer 0, mean over 2 heads; for each "
                   "output token the 3 source tokens weighted most, "
                   "\"token\"@position weight");
  const AttnBlock *cross = attn_trace_lookup_block (trace, ATTN_KIND_CROSS,
                                                    0);
  g_assert_nonnull (cross);
  g_autofree float *mean = g_new (float, cross->n_queries * cross->n_keys);
  attn_block_head_weights (cross, ATTN_HEADS_MEAN, mean);
  g_autoptr (GRegex) entry = g_regex_new (
    "  (\"[^\"]*\"|</s>|<unk>)@([0-9]+) ([01]\\.[0-9]{3})", 0, 0, NULL);
  guint n_steps = trace->steps->len;
  g_assert_cmpuint (g_strv_length (lines), ==, 3 + n_steps + 1);
  for (guint i = 0; i < n_steps; i++)
    {
      const char *line = lines[3 + i];
      const AttnStep *step = g_ptr_array_index (trace->steps, i);
      g_autofree char *head = step->emitted.id == 2
                                ? g_strdup ("  </s>  ")
                                : g_strdup_printf ("  \"%s\"  ",
                                                   step->emitted.text);
      g_assert_true (g_str_has_prefix (line, head));
      /* Three "token"@position weight entries, strongest first, equal to
       * the trace's mean over heads to the 3 decimals printed. */
      g_autoptr (GMatchInfo) match = NULL;
      g_regex_match (entry, line + strlen (head) - 2, 0, &match);
      float previous = 2.0f;
      int n = 0;
      while (g_match_info_matches (match))
        {
          g_autofree char *pos = g_match_info_fetch (match, 2);
          g_autofree char *weight = g_match_info_fetch (match, 3);
          int k = atoi (pos);
          g_assert_cmpint (k, <, cross->n_keys);
          float w = mean[i * cross->n_keys + k];
          g_assert_cmpfloat_with_epsilon (g_ascii_strtod (weight, NULL), w,
                                          5e-4);
          g_assert_cmpfloat (w, <=, previous);
          /* Nothing left out is stronger than the weakest shown. */
          previous = w;
          n++;
          g_match_info_next (match, NULL);
        }
      g_assert_cmpint (n, ==, 3);
      int stronger = 0;
      for (int k = 0; k < cross->n_keys; k++)
        stronger += mean[i * cross->n_keys + k] > previous;
      g_assert_cmpint (stronger, <=, 2);
    }
  attn_test_tmp_dir_remove (tmp);
}

/* --json prints a whole, valid trace of the run. */
static void
test_run_json (void)
{
  const char *model = trained_model ();
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "run", "--model", model, "--json", "--text", "1x9",
                         NULL };
  attn_test_cli_run (args, tmp, tmp, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_prefix (r.out, "{\n  \"format\": "));
  g_autofree char *path = g_build_filename (tmp, "t.json", NULL);
  g_assert_true (g_file_set_contents (path, r.out, -1, NULL));
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrace) trace = attn_trace_load_json (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (trace->model_name, ==, "reverse-transformer");
  g_assert_cmpstr (trace->source_text, ==, "1x9");
  /* 3 characters and </s>; encoder-self, decoder-self and cross. */
  g_assert_cmpuint (attn_trace_n_tokens (trace, ATTN_SIDE_SOURCE), ==, 4);
  g_assert_cmpuint (trace->blocks->len, ==, 3);
  g_assert_cmpuint (trace->steps->len, >=, 1);
  attn_test_tmp_dir_remove (tmp);
}

typedef struct {
  const char *name;
  const char *text;
  int status;
  const char *out; /* stdout starts with this ("" for nothing) */
  const char *err; /* stderr contains this ("" for nothing) */
} RunTextCase;

static const RunTextCase run_text_cases[] = {
  /* A character outside the vocabulary: named, read as <unk>, the run goes
   * on. */
  { "unknown", "a#b", 0, "input: \"a#b\"\n",
    "attnscope-cli run: warning: a character is not in the vocabulary of "
    "reverse-transformer, read as <unk>: “#”\n" },
  { "unknown-two", "É1é", 0, "input: \"É1é\"\n",
    "characters are not in the vocabulary of reverse-transformer, read as "
    "<unk>: “É”, “é”\n" },
  { "empty", "", 2, "", "attnscope-cli run: the text is empty\n" },
  { "invalid-utf8", "ab\xc3", 2, "",
    "attnscope-cli run: the text is not valid UTF-8 (bad byte at offset "
    "2)\n" },
  { "white-space", " \t ", 1, "",
    "attnscope-cli run: the text is only white space\n" },
  /* Longer than the model reads: cut to what it reads, with a notice. */
  { "too-long", "abcdefghijklm", 0, "input: \"abcdefghijkl\"\n",
    "attnscope-cli run: warning: the text is 13 characters long; model "
    "“reverse-transformer” reads at most 12: using the first 12\n" },
  /* Control characters: read as <unk> like any other, named by code point
   * in the notice (which must not carry an escape sequence to the
   * terminal), escaped in the summary. */
  { "control", "a\x01" "b\x1b[1m\x7f", 0,
    "input: \"a\\x01b\\x1b[1m\\x7f\"\n",
    "attnscope-cli run: warning: characters are not in the vocabulary of "
    "reverse-transformer, read as <unk>: U+0001, U+001B, “[”, U+007F\n" },
};

static void
test_run_text (gconstpointer data)
{
  const RunTextCase *c = data;
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "run", "--model", trained_model (), "--text",
                         c->text, NULL };
  attn_test_cli_run (args, tmp, tmp, &r);
  g_assert_cmpint (r.status, ==, c->status);
  g_assert_true (g_str_has_prefix (r.out, c->out));
  if (c->status != 0)
    g_assert_cmpstr (r.out, ==, "");
  attn_test_assert_contains ("stderr", r.err, c->err);
  attn_test_tmp_dir_remove (tmp);
}

/* A 100,000-character paste: cut to the 12 characters the model reads,
 * said on stderr, and run. */
static void
test_run_long_text (void)
{
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_autoptr (GString) text = g_string_new (NULL);
  for (int i = 0; i < 100000; i++)
    g_string_append_c (text, "abc1"[i % 4]);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "run", "--model", trained_model (), "--json",
                         text->str, NULL };
  attn_test_cli_run (args, tmp, tmp, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "attnscope-cli run: warning: the text is "
                   "100000 characters long; model “reverse-transformer” "
                   "reads at most 12: using the first 12\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrace) trace =
    attn_trace_load_json_data (r.out, strlen (r.out), "stdout", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (trace->source_text, ==, "abc1abc1abc1");
  /* 12 characters and </s> */
  g_assert_cmpuint (attn_trace_n_tokens (trace, ATTN_SIDE_SOURCE), ==, 13);
  attn_test_tmp_dir_remove (tmp);
}

/* ---- bad model files ------------------------------------------------- */

/* Each case is the trained model's file with one thing broken, run as
 * `run --model @D@/m.safetensors hi`: exit 1, one line on stderr naming the
 * file and the fault, nothing on stdout. */

typedef enum {
  EDIT_EMPTY,           /* zero bytes */
  EDIT_TRUNCATED,       /* the first half of the file */
  EDIT_HEADER_PAST_END, /* header length = the file's whole size */
  EDIT_OVERLAP,         /* 2nd tensor (in data order) at the 1st's offsets */
  EDIT_PAST_END,        /* last tensor shifted 8 bytes past the end */
  EDIT_DTYPE,           /* 1st tensor I32 (same size as F32) */
  EDIT_MISSING,         /* 1st tensor left out of the header */
  EDIT_SHAPE,           /* a (r, c) weight, r != c, declared (c, r) */
  EDIT_CONFIG,          /* attnscope.config not JSON */
  EDIT_HUGE,            /* a 10^12-float tensor with a 4 TB range */
  EDIT_HUGER,           /* 2 x 10^12 elements: beyond 2^40 */
} ModelEdit;

typedef struct {
  const char *name;
  ModelEdit edit;
  /* in stderr, after "cannot open model “@D@/m.safetensors” (file
   * @D@/m.safetensors): "; @1@ / @2@: the tensor(s) the edit touched */
  const char *message;
} BadModelCase;

static const BadModelCase bad_model_cases[] = {
  { "empty", EDIT_EMPTY, "the file is empty (0 bytes)" },
  { "truncated", EDIT_TRUNCATED, "past the data buffer of " },
  { "header-past-end", EDIT_HEADER_PAST_END, "header length " },
  { "overlap", EDIT_OVERLAP,
    "tensors “@1@” and “@2@” overlap in the data buffer" },
  { "past-end", EDIT_PAST_END, "tensor “@2@”: data ends at byte " },
  { "dtype", EDIT_DTYPE, "tensor “@1@” has dtype I32; only F32, F16 and "
                         "BF16 can be read as float32" },
  { "missing", EDIT_MISSING,
    "tensor “@1@” of the transformer model is missing" },
  { "shape", EDIT_SHAPE, "tensor “@1@” has shape " },
  { "config-not-json", EDIT_CONFIG, "“attnscope.config”: not JSON: " },
  { "huge", EDIT_HUGE, "tensor “huge”: data ends at byte 4000000" },
  { "huger", EDIT_HUGER, "tensor “huge”: shape has more than 2^40 elements" },
};

static gint
by_begin (gconstpointer a, gconstpointer b, gpointer header)
{
  JsonObject *h = header;
  const char *na = *(const char *const *) a, *nb = *(const char *const *) b;
  gint64 ba = json_array_get_int_element (
    json_object_get_array_member (json_object_get_object_member (h, na),
                                  "data_offsets"), 0);
  gint64 bb = json_array_get_int_element (
    json_object_get_array_member (json_object_get_object_member (h, nb),
                                  "data_offsets"), 0);
  return ba < bb ? -1 : ba > bb;
}

static void
set_offsets (JsonObject *entry, gint64 begin, gint64 end)
{
  JsonArray *offsets = json_array_new ();
  json_array_add_int_element (offsets, begin);
  json_array_add_int_element (offsets, end);
  json_object_set_array_member (entry, "data_offsets", offsets);
}

/* Writes path: the file src with c's fault; *first / *second name the
 * tensors it touched (freed by the caller). */
static void
write_bad_model (const BadModelCase *c, const char *src, const char *path,
                 char **first, char **second)
{
  g_autofree char *bytes = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (src, &bytes, &len, NULL));
  guint64 n = 0;
  memcpy (&n, bytes, 8);
  n = GUINT64_FROM_LE (n);
  g_assert_cmpuint (8 + n, <=, len);
  const char *data = bytes + 8 + n;
  gsize data_len = len - 8 - n;
  *first = *second = NULL;
  switch (c->edit)
    {
    case EDIT_EMPTY:
      g_assert_true (g_file_set_contents (path, "", 0, NULL));
      return;
    case EDIT_TRUNCATED:
      g_assert_true (g_file_set_contents (path, bytes, len / 2, NULL));
      return;
    case EDIT_HEADER_PAST_END:
      {
        guint64 claim = GUINT64_TO_LE ((guint64) len);
        memcpy (bytes, &claim, 8);
        g_assert_true (g_file_set_contents (path, bytes, len, NULL));
        return;
      }
    default:
      break;
    }

  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, bytes + 8, n, NULL));
  JsonObject *h = json_node_get_object (json_parser_get_root (parser));
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  g_autoptr (GList) members = json_object_get_members (h);
  for (GList *l = members; l != NULL; l = l->next)
    if (strcmp (l->data, "__metadata__") != 0)
      g_ptr_array_add (names, l->data);
  g_ptr_array_sort_with_data (names, by_begin, h);
  g_assert_cmpuint (names->len, >=, 2);
  const char *a = names->pdata[0], *b = names->pdata[1];
  const char *last = names->pdata[names->len - 1];
  JsonObject *ea = json_object_get_object_member (h, a);
  switch (c->edit)
    {
    case EDIT_OVERLAP:
      {
        JsonArray *oa = json_object_get_array_member (ea, "data_offsets");
        set_offsets (json_object_get_object_member (h, b),
                     json_array_get_int_element (oa, 0),
                     json_array_get_int_element (oa, 1));
        *first = g_strdup (a);
        *second = g_strdup (b);
        break;
      }
    case EDIT_PAST_END:
      {
        JsonObject *el = json_object_get_object_member (h, last);
        JsonArray *ol = json_object_get_array_member (el, "data_offsets");
        set_offsets (el, json_array_get_int_element (ol, 0) + 8,
                     json_array_get_int_element (ol, 1) + 8);
        *second = g_strdup (last);
        break;
      }
    case EDIT_DTYPE:
      json_object_set_string_member (ea, "dtype", "I32");
      *first = g_strdup (a);
      break;
    case EDIT_MISSING:
      *first = g_strdup (a);
      json_object_remove_member (h, a);
      break;
    case EDIT_SHAPE:
      for (guint i = 0; i < names->len && *first == NULL; i++)
        {
          JsonArray *shape = json_object_get_array_member (
            json_object_get_object_member (h, names->pdata[i]), "shape");
          if (json_array_get_length (shape) != 2
              || json_array_get_int_element (shape, 0)
                   == json_array_get_int_element (shape, 1))
            continue;
          JsonArray *swapped = json_array_new ();
          json_array_add_int_element (swapped,
                                      json_array_get_int_element (shape, 1));
          json_array_add_int_element (swapped,
                                      json_array_get_int_element (shape, 0));
          json_object_set_array_member (
            json_object_get_object_member (h, names->pdata[i]), "shape",
            swapped);
          *first = g_strdup (names->pdata[i]);
        }
      g_assert_nonnull (*first);
      break;
    case EDIT_CONFIG:
      json_object_set_string_member (
        json_object_get_object_member (h, "__metadata__"),
        "attnscope.config", "{not json");
      break;
    case EDIT_HUGE:
    case EDIT_HUGER:
      {
        gint64 rows = c->edit == EDIT_HUGE ? 1000000 : 2000000;
        JsonObject *huge = json_object_new ();
        json_object_set_string_member (huge, "dtype", "F32");
        JsonArray *shape = json_array_new ();
        json_array_add_int_element (shape, rows);
        json_array_add_int_element (shape, 1000000);
        json_object_set_array_member (huge, "shape", shape);
        set_offsets (huge, data_len, data_len + rows * 1000000 * 4);
        json_object_set_object_member (h, "huge", huge);
        break;
      }
    default:
      g_assert_not_reached ();
    }
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_node_init_object (json_node_alloc (), h);
  json_generator_set_root (gen, root);
  gsize header_len = 0;
  g_autofree char *header = json_generator_to_data (gen, &header_len);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  guint64 le = GUINT64_TO_LE ((guint64) header_len);
  g_byte_array_append (out, (const guint8 *) &le, 8);
  g_byte_array_append (out, (const guint8 *) header, header_len);
  g_byte_array_append (out, (const guint8 *) data, data_len);
  g_assert_true (g_file_set_contents (path, (const char *) out->data,
                                      out->len, NULL));
}

static void
test_bad_model (gconstpointer data)
{
  const BadModelCase *c = data;
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_autofree char *path = g_build_filename (tmp, "m.safetensors", NULL);
  g_autofree char *first = NULL, *second = NULL;
  write_bad_model (c, trained_model (), path, &first, &second);

  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "run", "--model", "@D@/m.safetensors", "hi", NULL };
  attn_test_cli_run (args, tmp, tmp, &r);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_cmpstr (r.out, ==, "");
  g_autofree char *head = attn_test_cli_expand (
    "attnscope-cli run: cannot open model “@D@/m.safetensors” (file "
    "@D@/m.safetensors): ", tmp);
  g_assert_true (g_str_has_prefix (r.err, head));
  g_auto (GStrv) parts1 = g_strsplit (c->message, "@1@", -1);
  g_autofree char *with1 = g_strjoinv (first ? first : "", parts1);
  g_auto (GStrv) parts2 = g_strsplit (with1, "@2@", -1);
  g_autofree char *want = g_strjoinv (second ? second : "", parts2);
  attn_test_assert_contains ("stderr", r.err + strlen (head), want);
  /* One line. */
  g_assert_nonnull (strchr (r.err, '\n'));
  g_assert_cmpstr (strchr (r.err, '\n'), ==, "\n");
  attn_test_tmp_dir_remove (tmp);
}

/* ---- exports onto files that exist, and onto a full disk ------------- */

/* An existing file is replaced whole by a successful export (nothing of
 * the old bytes left, nothing beside it) and left exactly as it was by a
 * refused one. */
static void
test_export_overwrite (void)
{
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_autofree char *path = g_build_filename (tmp, "w.npy", NULL);
  g_autofree char *junk = g_strnfill (100000, 'x');
  g_assert_true (g_file_set_contents (path, junk, -1, NULL));

  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "export", "--trace", "@T@", "--kind", "cross",
                         "--layer", "1", "-o", "@D@/w.npy", NULL };
  attn_test_cli_run (args, tmp, NULL, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");
  g_autofree char *left = attn_test_list_dir (tmp);
  g_assert_cmpstr (left, ==, "w.npy");
  /* 2 x 3 heads x 5 x 6 floats after a 128-byte header: the file is the
   * new array and nothing else. */
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_assert_cmpuint (len, ==, 128 + 3 * 5 * 6 * sizeof (float));
  int ndim = 0;
  gsize shape[ATTN_NPY_MAX_DIMS] = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree float *w = attn_npy_read (path, &ndim, shape, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ndim, ==, 3);

  /* Refused (layer 7 does not exist): the file stays byte for byte. */
  attn_test_cli_result_clear (&r);
  const char *bad[] = { "export", "--trace", "@T@", "--kind", "cross",
                        "--layer", "7", "-o", "@D@/w.npy", NULL };
  attn_test_cli_run (bad, tmp, NULL, &r);
  g_assert_cmpint (r.status, ==, 2);
  attn_test_assert_contains ("stderr", r.err, "layer 7 out of range");
  g_autofree char *after = NULL;
  gsize after_len = 0;
  g_assert_true (g_file_get_contents (path, &after, &after_len, NULL));
  g_assert_cmpmem (after, after_len, contents, len);
  attn_test_tmp_dir_remove (tmp);
}

/* A full disk: a 16 KB tmpfs holding a 5-byte keep.png, and a 2000 x 2000
 * PNG (about 32 KB) exported over it. The export fails with the system's
 * reason, exit 1, and keep.png is as it was, with nothing beside it. Needs
 * root and a kernel that lets it mount tmpfs (skipped otherwise); the
 * mount is made and removed here, the CLI runs in a subprocess so an
 * assertion that fails cannot leave it mounted. */
static void
test_export_full_disk (void)
{
  if (g_test_subprocess ())
    {
      const char *disk = g_getenv ("ATTN_TEST_FULL_DISK");
      g_assert_nonnull (disk);
      g_auto (AttnTestCliResult) r = { 0 };
      const char *args[] = { "export", "--trace", "@T@", "--kind", "cross",
                             "--layer", "0", "--head", "0", "--width",
                             "2000", "--height", "2000", "-o",
                             "@D@/keep.png", NULL };
      attn_test_cli_run (args, disk, NULL, &r);
      g_assert_cmpint (r.status, ==, 1);
      g_assert_cmpstr (r.out, ==, "");
      g_autofree char *want = attn_test_cli_expand (
        "attnscope-cli export: cannot write @D@/keep.png: No space left on "
        "device\n", disk);
      g_assert_cmpstr (r.err, ==, want);
      g_autofree char *keep = g_build_filename (disk, "keep.png", NULL);
      g_autofree char *contents = NULL;
      g_assert_true (g_file_get_contents (keep, &contents, NULL, NULL));
      g_assert_cmpstr (contents, ==, "keep\n");
      g_autofree char *left = attn_test_list_dir (disk);
      g_assert_cmpstr (left, ==, "keep.png");
      return;
    }

  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  const char *mount[] = { "mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs",
                          tmp, NULL };
  int wait_status = 0;
  g_autofree char *mount_err = NULL;
  if (geteuid () != 0
      || !g_spawn_sync (NULL, (char **) mount, NULL, G_SPAWN_SEARCH_PATH,
                        NULL, NULL, NULL, &mount_err, &wait_status, NULL)
      || !g_spawn_check_wait_status (wait_status, NULL))
    {
      g_test_skip ("cannot mount a tmpfs here (needs root)");
      attn_test_tmp_dir_remove (tmp);
      return;
    }
  g_autofree char *keep = g_build_filename (tmp, "keep.png", NULL);
  gboolean made = g_file_set_contents (keep, "keep\n", -1, NULL);
  g_setenv ("ATTN_TEST_FULL_DISK", tmp, TRUE);
  if (made)
    g_test_trap_subprocess (NULL, 120 * G_USEC_PER_SEC,
                            G_TEST_SUBPROCESS_INHERIT_STDERR);
  const char *umount[] = { "umount", tmp, NULL };
  g_assert_true (g_spawn_sync (NULL, (char **) umount, NULL,
                               G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                               &wait_status, NULL));
  g_assert_true (g_spawn_check_wait_status (wait_status, NULL));
  g_assert_true (made);
  g_test_trap_assert_passed ();
  attn_test_tmp_dir_remove (tmp);
}

/* Beam search: a wider beam gives a valid run too (its output may differ). */
static void
test_run_beam (void)
{
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "run", "--model", trained_model (), "--beam", "4",
                         "-o", "beam.json", "xy", NULL };
  attn_test_cli_run (args, tmp, tmp, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "wrote beam.json: the whole trace (3 blocks)\n");
  g_autofree char *path = g_build_filename (tmp, "beam.json", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrace) trace = attn_trace_load_json (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (trace->source_text, ==, "xy");
  attn_test_tmp_dir_remove (tmp);
}

static void
test_info_model (void)
{
  const char *model_path = trained_model ();
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  /* By bundled name: the scratch folder of the trained model is the model
   * path. */
  const char *args[] = { "info", "--model", "model", NULL };
  attn_test_cli_run (args, tmp, trained_dir, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_autofree char *head = g_strdup_printf (
    "model: reverse-transformer\nfile: %s (bundled model)\n"
    "architecture: transformer\nattention: scaled-dot-product\n",
    model_path);
  g_assert_true (g_str_has_prefix (r.out, head));
  attn_test_assert_contains ("stdout", r.out,
                             "\nvocabulary: 40 tokens (4 special)\n");
  attn_test_assert_contains ("stdout", r.out,
                             "\nconfig:\n  arch: transformer\n");
  attn_test_assert_contains ("stdout", r.out, "\n  d_model: 16\n");
  attn_test_assert_contains ("stdout", r.out,
                             "\ncard:\n  name: reverse-transformer\n"
                             "  task: reverse\n");
  attn_test_assert_contains ("stdout", r.out, "\n  seed: 1\n  steps: 30\n");
  attn_test_assert_contains ("stdout", r.out, "\n  test_examples: 14\n");
  attn_test_assert_contains ("stdout", r.out,
                             "\n  training:\n    task: reverse\n");
  attn_test_tmp_dir_remove (tmp);
}

static void
test_export_model (void)
{
  g_autofree char *tmp = attn_test_tmp_dir_new (SCRATCH);
  g_auto (AttnTestCliResult) r = { 0 };
  const char *args[] = { "export", "--model", trained_model (), "--text",
                         "abc", "--kind", "cross", "-o", "cross.npy", NULL };
  attn_test_cli_run (args, tmp, tmp, &r);
  g_assert_cmpint (r.status, ==, 0);
  attn_test_assert_contains ("stdout", r.out,
                             "wrote cross.npy: cross layer 0, shape "
                             "(2, ");
  g_autofree char *path = g_build_filename (tmp, "cross.npy", NULL);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  attn_test_tmp_dir_remove (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (help_cases); i++)
    {
      g_autofree char *joined = g_strjoinv ("-", (char **) help_cases[i].args);
      g_autofree char *name = g_strdup_printf ("/attn/cli/help/%u-%s", i,
                                               joined);
      g_test_add_data_func (name, &help_cases[i], test_help);
    }
  g_test_add_func ("/attn/cli/version", test_version);
  g_test_add_func ("/attn/cli/no-arguments", test_no_arguments);
  for (guint i = 0; i < G_N_ELEMENTS (usage_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/cli/usage-error/%u-%s",
                                               i, usage_cases[i].args[0]);
      g_test_add_data_func (name, &usage_cases[i], test_failure);
    }
  for (guint i = 0; i < G_N_ELEMENTS (failure_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/cli/failure/%u-%s", i,
                                               failure_cases[i].args[0]);
      g_test_add_data_func (name, &failure_cases[i], test_failure);
    }
  g_test_add_func ("/attn/cli/info/trace", test_info_trace);
  g_test_add_func ("/attn/cli/info/trace-decoder-only",
                   test_info_trace_decoder_only);
  g_test_add_func ("/attn/cli/info/bundled", test_info_bundled);
  for (guint i = 0; i < G_N_ELEMENTS (npy_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/cli/export/npy/%u", i);
      g_test_add_data_func (name, &npy_cases[i], test_export_npy);
    }
  for (guint i = 0; i < G_N_ELEMENTS (csv_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/cli/export/csv/%u", i);
      g_test_add_data_func (name, &csv_cases[i], test_export_csv);
    }
  g_test_add_data_func ("/attn/cli/export/json/encoder-decoder", TRACE_ED,
                        test_export_json);
  g_test_add_data_func ("/attn/cli/export/json/decoder-only", TRACE_GPT,
                        test_export_json);
  g_test_add_func ("/attn/cli/bench/table", test_bench_table);
  g_test_add_func ("/attn/cli/bench/model", test_bench_model);
  for (guint i = 0; i < G_N_ELEMENTS (suffix_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/cli/parse/suffix/%u",
                                               i);
      g_test_add_data_func (name, &suffix_cases[i], test_suffix);
    }
  g_test_add_func ("/attn/cli/parse/values", test_parse_values);
  g_test_add_func ("/attn/cli/parse/defaults", test_parse_defaults);
  g_test_add_func ("/attn/cli/train/tiny", test_train_tiny);
  g_test_add_func ("/attn/cli/train/resume", test_train_resume);
  g_test_add_func ("/attn/cli/train/interrupt", test_train_interrupt);
  g_test_add_func ("/attn/cli/run/summary", test_run_summary);
  g_test_add_func ("/attn/cli/run/json", test_run_json);
  g_test_add_func ("/attn/cli/run/beam", test_run_beam);
  for (guint i = 0; i < G_N_ELEMENTS (run_text_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/cli/run/text/%s",
                                               run_text_cases[i].name);
      g_test_add_data_func (name, &run_text_cases[i], test_run_text);
    }
  g_test_add_func ("/attn/cli/run/long-text", test_run_long_text);
  g_test_add_func ("/attn/cli/export/overwrite", test_export_overwrite);
  g_test_add_func ("/attn/cli/export/full-disk", test_export_full_disk);
  for (guint i = 0; i < G_N_ELEMENTS (bad_model_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/cli/bad-model/%s",
                                               bad_model_cases[i].name);
      g_test_add_data_func (name, &bad_model_cases[i], test_bad_model);
    }
  g_test_add_func ("/attn/cli/info/model", test_info_model);
  g_test_add_func ("/attn/cli/export/model", test_export_model);
  int status = g_test_run ();
  if (trained_dir != NULL)
    attn_test_tmp_dir_remove (trained_dir);
  return status;
}
