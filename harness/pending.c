#include "cmds.h"
int pyab_cmd_run(int argc, char **argv) { return 3; }
int pyab_cmd_child(int argc, char **argv) { return 3; }
