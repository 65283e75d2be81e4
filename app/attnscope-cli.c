/* attnscope-cli: the headless program. main() picks the subcommand and
 * dispatches; everything else lives in app/attn-cli.{h,c} (docs/cli.md). */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "app/attn-cli.h"

typedef gboolean (*CommandFunc) (const AttnCliOptions *options, FILE *out,
                                 GError **error);

static const CommandFunc dispatch[ATTN_CLI_N_COMMANDS] = {
  [ATTN_CLI_COMMAND_RUN] = attn_cli_run,
  [ATTN_CLI_COMMAND_EXPORT] = attn_cli_export,
  [ATTN_CLI_COMMAND_TRAIN] = attn_cli_train,
  [ATTN_CLI_COMMAND_INFO] = attn_cli_info,
  [ATTN_CLI_COMMAND_BENCH] = attn_cli_bench,
};

/* Prints "attnscope-cli[ COMMAND]: message" on stderr, plus a pointer to
 * the help after a usage error, and returns the exit code. */
static int
fail (const char *command, const GError *error)
{
  fprintf (stderr, "attnscope-cli%s%s: %s\n", command ? " " : "",
           command ? command : "", error->message);
  int code = attn_cli_exit_code (error);
  if (code == ATTN_CLI_EXIT_USAGE)
    fprintf (stderr, "Try “attnscope-cli%s%s --help”.\n", command ? " " : "",
             command ? command : "");
  return code;
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  g_set_prgname ("attnscope-cli");

  if (argc < 2)
    {
      g_autofree char *help = attn_cli_program_help ();
      fputs (help, stderr);
      return ATTN_CLI_EXIT_USAGE;
    }

  const char *first = argv[1];
  if (strcmp (first, "--version") == 0)
    {
      printf ("attnscope-cli %s\n", ATTN_VERSION);
      return ATTN_CLI_EXIT_OK;
    }
  if (strcmp (first, "--help") == 0 || strcmp (first, "-h") == 0
      || (strcmp (first, "help") == 0 && argc == 2))
    {
      g_autofree char *help = attn_cli_program_help ();
      fputs (help, stdout);
      return ATTN_CLI_EXIT_OK;
    }

  g_autoptr (GError) error = NULL;
  AttnCliCommand command;
  if (strcmp (first, "help") == 0)
    {
      /* "help COMMAND" */
      if (argc > 3 || !attn_cli_command_from_name (argv[2], &command, &error))
        {
          if (error == NULL)
            g_set_error (&error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_VALUE,
                         "help takes at most one COMMAND");
          return fail (NULL, error);
        }
      g_autofree char *help = attn_cli_command_help (command);
      fputs (help, stdout);
      return ATTN_CLI_EXIT_OK;
    }
  if (first[0] == '-')
    {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
                   "unknown option %s before the COMMAND (run, export, "
                   "train, info or bench)", first);
      return fail (NULL, error);
    }
  if (!attn_cli_command_from_name (first, &command, &error))
    return fail (NULL, error);

  const char *name = attn_cli_command_name (command);
  g_autoptr (AttnCliOptions) options =
    attn_cli_options_parse (command, argc - 1, argv + 1, &error);
  if (options == NULL)
    return fail (name, error);
  if (options->help)
    {
      g_autofree char *help = attn_cli_command_help (command);
      fputs (help, stdout);
      return ATTN_CLI_EXIT_OK;
    }

  gboolean ok = dispatch[command](options, stdout, &error);
  /* A full disk or closed pipe on stdout is a failure too. */
  if (fflush (stdout) != 0 && ok)
    {
      g_set_error (&error, G_FILE_ERROR, G_FILE_ERROR_IO,
                   "could not write to standard output");
      ok = FALSE;
    }
  return ok ? ATTN_CLI_EXIT_OK : fail (name, error);
}
