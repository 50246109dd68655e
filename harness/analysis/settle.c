#include "settle.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analyze.h"
#include "series.h"
#include "trend.h"

/* The metrics that decide a leak verdict (native_free only explains RSS). */
static const int decisive[] = {PYAB_METRIC_PYHEAP, PYAB_METRIC_NATIVE, PYAB_METRIC_RSS};

double pyab_settle_confidence(double conf, int looks_planned)
{
    return 1 - (1 - conf) / (looks_planned > 1 ? looks_planned : 1);
}

void pyab_settle_plan(pyab_settle *s, double planned, double cap, json_t *analysis)
{
    memset(s, 0, sizeof(*s));
    s->planned = planned > 1 ? planned : 1;
    s->cap = cap > s->planned ? cap : s->planned;
    s->looks_planned = 1 + (int)floor(log2(s->cap / s->planned) + 1e-9);
    s->next = s->planned;
    if (pyab_analyze_options(analysis, &s->opts, &s->period) < 0) {
        s->opts.conf = PYAB_VERDICT_CONFIDENCE;
        s->opts.rel = PYAB_VERDICT_MATERIAL_REL;
        s->opts.abs = PYAB_VERDICT_MATERIAL_ABS_MB * PYAB_MIB;
    }
    s->conf = pyab_settle_confidence(s->opts.conf, s->looks_planned);
    snprintf(s->why, sizeof(s->why), "no look yet");
}

/* One metric at this look; appends its class to s->why. 1 when decided. */
static int look_metric(pyab_settle *s, const pyab_series *ser, int m, pyab_verdict_opts *o)
{
    const char *col = pyab_verdict_metric_column[m], *cls = "unavailable";
    char why[300];
    pyab_trend tr;
    int decided = 1;

    if (pyab_series_column(ser, col) == NULL && pyab_verdict_metric_fallback[m])
        col = pyab_verdict_metric_fallback[m];
    if (pyab_trend_measure(ser, col, s->period, o->conf, &tr) == 0) {
        decided = pyab_verdict_decided(&tr, o, &cls, why, sizeof(why));
        /*
         * No material growth over the span so far is not yet an answer when
         * the rep may run longer: flat and immaterial are decided only when
         * even the slope's upper end could not make the growth material by
         * the cap. A small certain slope (32 B/request) keeps the rep going
         * until it passes the threshold; a flat curve stops once its
         * interval is tight enough for the whole cap.
         */
        if (decided && (strcmp(cls, "flat") == 0 || strcmp(cls, "immaterial") == 0)) {
            double thr = fmax(o->rel * fabs(tr.level), o->abs);
            double reach = tr.per_request.hi * (s->cap - tr.settled_at);
            if (!(reach < thr)) {
                decided = 0;
                cls = strcmp(cls, "flat") == 0 ? "flat-so-far" : "immaterial-so-far";
            }
        }
    }
    s->cls[m] = cls;
    snprintf(s->why + strlen(s->why), sizeof(s->why) - strlen(s->why), "%s%s %s",
             m == decisive[0] ? "" : ", ", pyab_verdict_metric_key[m], cls);
    return decided;
}

int pyab_settle_look(pyab_settle *s, const char *path, double requests)
{
    pyab_error err;
    pyab_series *ser;
    int decided;

    if (s->decided || requests < s->next || s->looks >= s->looks_planned)
        return s->decided;
    if ((ser = pyab_series_load(path, &err)) == NULL)
        return 0;
    decided = pyab_settle_look_series(s, ser, requests);
    pyab_series_destroy(ser);
    return decided;
}

int pyab_settle_look_series(pyab_settle *s, const pyab_series *ser, double requests)
{
    pyab_verdict_opts o = s->opts;
    int decided = 1;

    if (s->decided || requests < s->next || s->looks >= s->looks_planned)
        return s->decided;
    s->looks++;
    s->next = s->planned * pow(2, s->looks);
    o.conf = s->conf;
    snprintf(s->why, sizeof(s->why), "look %d of %d at %.0f requests: ", s->looks,
             s->looks_planned, requests);
    for (size_t i = 0; i < sizeof(decisive) / sizeof(decisive[0]); i++)
        decided &= look_metric(s, ser, decisive[i], &o);
    s->decided = decided;
    return decided;
}

json_t *pyab_settle_json(const pyab_settle *s)
{
    return json_pack("{sf sf si si sf sb ss}", "planned_requests", s->planned, "max_requests",
                     s->cap, "looks_planned", s->looks_planned, "looks", s->looks,
                     "confidence_per_look", s->conf, "decided", s->decided, "last_look", s->why);
}
