/*
 * junit: writes the outcome of `pyab check` as JUnit XML, the format CI
 * servers (GitHub Actions reporters, GitLab, Jenkins) read to show tests.
 *
 * The input is a check report (check.json, written by check.c):
 *   {"scenarios": [{"scenario": s, "status": "pass"|"fail"|"error"|"skip",
 *     "error": s|null, "message": s (for "skip"), "duration_s": x, "results_dir": s,
 *     "checks": [{"arm": s, "kind": "budget"|"regression", "name": s,
 *                 "status": "pass"|"fail"|"error"|"skip", "message": s}]}]}
 * Output: <testsuites> with one <testsuite> per scenario and one
 * <testcase classname="SCENARIO.ARM" name="KIND NAME"> per check; a failed
 * check holds <failure message="..." type="KIND">, one that could not be
 * measured <error>, a skipped one <skipped>. A scenario that could not run
 * at all (a bad scenario or trace, an interrupted run) is one testcase
 * named "run" with an <error>; one that was not run because another was
 * bad, or the check was interrupted first, a "run" testcase <skipped>.
 */
#ifndef PYAB_JUNIT_H
#define PYAB_JUNIT_H

#include <jansson.h>

#include "util.h"


/* Renders a check report (borrowed) as a JUnit XML document into b. */
void pyab_junit_render(pyab_buf *b, json_t *report);

/* Renders and writes it atomically to path. 0 or -errno with err set. */
int pyab_junit_write(const char *path, json_t *report, pyab_error *err);

#endif
