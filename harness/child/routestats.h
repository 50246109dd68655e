/*
 * routestats: what the handler did, route by route, during one replay.
 * Child side; every call needs the GIL (workers hold it while they record).
 *
 * The replayer (replay.h) marks the routes the arm replays, and after each
 * call records either the exception it raised (grouped by type, with the
 * first traceback of each) or, when the handler returned an int, its HTTP
 * status class. At the end the counts become the "routes" object of the
 * rep's final report.
 */
#ifndef PYAB_ROUTESTATS_H
#define PYAB_ROUTESTATS_H

#include <Python.h>
#include <jansson.h>
#include <stdint.h>

typedef struct pyab_routestats pyab_routestats;

/* Counters for routes 0..nroutes-1, none marked kept. New; lives until the child exits. */
pyab_routestats *pyab_routestats_create(size_t nroutes);

/* Marks route as one this arm replays (only those are reported). */
void pyab_routestats_keep(pyab_routestats *rs, uint32_t route);
/* Records the pending Python exception (taken and cleared) as an error of route. */
void pyab_routestats_error(pyab_routestats *rs, uint32_t route);
/* Records the handler's result (borrowed): an int counts in its status class. */
void pyab_routestats_result(pyab_routestats *rs, uint32_t route, PyObject *res);
/*
 * Counts res (borrowed), when it is an int, in route's status classes
 * without counting a call: the response an ASGI app sent before it raised.
 */
void pyab_routestats_status(pyab_routestats *rs, uint32_t route, PyObject *res);

/*
 * The kept routes, by name (names[route], borrowed): errors, status
 * classes and exceptions. New reference.
 */
json_t *pyab_routestats_json(const pyab_routestats *rs, const char *const *names);

/*
 * The run's first exception: {"route", "type", "traceback"}, or JSON null
 * when no call raised. New reference.
 */
json_t *pyab_routestats_first_error(const pyab_routestats *rs, const char *const *names);

#endif
