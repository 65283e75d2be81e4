/* attnscope: the GUI. Everything but main() is in ui/ (attn-ui). */
#include "ui/attn-application.h"

int
main (int argc, char **argv)
{
  g_autoptr (AttnApplication) app = attn_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
