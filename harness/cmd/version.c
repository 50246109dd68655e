/* `pyab version`: the versions of pyab, the embedded Python and the libraries. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "util.h"
#include "version.h"

static const char *get(json_t *v, const char *key)
{
    const char *s = json_string_value(json_object_get(v, key));

    return s ? s : "?";
}

int pyab_cmd_version(int argc, char **argv)
{
    json_t *v, *pieces, *piece;
    const char *key;

    if (argc == 2 && strcmp(argv[1], "--json") == 0) {
        v = pyab_version_json();
        json_dumpf(v, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(v);
        return PYAB_EXIT_OK;
    }
    if (argc != 1) {
        fprintf(stderr, "pyab version: unknown argument '%s'\nusage: pyab version [--json]\n",
                argv[1]);
        return strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ? PYAB_EXIT_OK
                                                                              : PYAB_EXIT_USAGE;
    }
    v = pyab_version_json();
    printf("pyab %s\n", get(v, "pyab"));
    printf("python %s (embedded: %s; %s build)\n", get(v, "python"), get(v, "python_embed"),
           get(v, "python_build"));
    pieces = json_object_get(v, "pieces");
    json_object_foreach(pieces, key, piece)
        printf("  %s: %s\n", key, json_string_value(piece) ? json_string_value(piece) : "?");
    printf("libuv %s\n", get(v, "libuv"));
    printf("jansson %s\n", get(v, "jansson"));
    printf("glibc %s\n", get(v, "glibc"));
    printf("sanitize %s\n", get(v, "sanitize"));
    json_decref(v);
    return PYAB_EXIT_OK;
}
