/*
 * report-tool: `pyab report` without the rest of pyab, so the browser test
 * can run while the full binary (which links the embedded interpreter) is
 * being changed. Same arguments, same exit codes.
 */
#include "cmds.h"

int main(int argc, char **argv)
{
    return pyab_cmd_report(argc, argv);
}
