#include "wherearm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "util.h"

/* Groups kept per list in summary.json. */
#define KEEP 20

/* The numbers of a child's group record; everything else describes it. */
static const char *const numeric[] = {"bytes", "early", "late", "samples", "early_samples",
                                      "var", "objects"};

static int is_numeric(const char *key)
{
    for (size_t i = 0; i < PYAB_ARRAY_LEN(numeric); i++)
        if (strcmp(key, numeric[i]) == 0)
            return 1;
    return 0;
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : 0;
}

/* P(X <= k) for X ~ Binomial(n, 1/2). */
static double binom_half_cdf(long k, long n)
{
    double sum = 0;

    for (long i = 0; i <= k && i <= n; i++)
        sum += exp(lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) -
                   (double)n * M_LN2);
    return sum > 1 ? 1 : sum;
}

/* One key's figures across reps. */
typedef struct acc {
    json_t *desc;
    double *x; /* bytes per request, per rep */
    double var, early, late, bytes, objects;
    long samples, early_samples;
} acc;

typedef struct rep_dom {
    json_t *dom; /* borrowed */
    double requests;
} rep_dom;

static int by_bpr(const void *a, const void *b)
{
    double x = json_number_value(json_object_get(*(json_t *const *)a, "bytes_per_request"));
    double y = json_number_value(json_object_get(*(json_t *const *)b, "bytes_per_request"));
    return x < y ? 1 : x > y ? -1 : 0;
}

static const char *state_of(const acc *a)
{
    long n = a->samples;
    /* Counts of the halves, from the bytes when a record has no count. */
    long ke = a->early_samples >= 0 ? a->early_samples
                                    : (long)lround((double)n * a->early / fmax(a->early + a->late, 1));

    if (a->early >= 0.5 * a->late)
        return "growing";
    if (binom_half_cdf(ke, n) < 0.01)
        return "bounded";
    return "unsure";
}

/*
 * The list `name` of every rep's domain, merged by key: bytes per request
 * with an interval, share and state, heaviest first, at most KEEP.
 */
static json_t *merge_list(const rep_dom *reps, size_t nreps, const char *name, double total,
                          double conf, int exact)
{
    json_t *index = json_object(), *out = json_array(), *rec, *v;
    acc *accs = NULL;
    size_t nacc = 0, i;
    const char *k;

    for (size_t r = 0; r < nreps; r++) {
        json_array_foreach(json_object_get(reps[r].dom, name), i, rec) {
            const char *key = json_string_value(json_object_get(rec, "key"));
            json_t *ix;
            acc *a;
            if (key == NULL)
                continue;
            if ((ix = json_object_get(index, key)) == NULL) {
                accs = xrealloc(accs, (nacc + 1) * sizeof(*accs));
                a = &accs[nacc];
                memset(a, 0, sizeof(*a));
                a->x = xcalloc(nreps, sizeof(double));
                a->early_samples = 0;
                a->desc = json_object();
                json_object_foreach(rec, k, v)
                    if (!is_numeric(k))
                        json_object_set(a->desc, k, v);
                json_object_set_new(index, key, json_integer((json_int_t)nacc++));
            } else {
                a = &accs[json_integer_value(ix)];
            }
            a->x[r] += num(rec, "bytes") / reps[r].requests;
            a->var += num(rec, "var") / (reps[r].requests * reps[r].requests);
            a->early += num(rec, "early");
            a->late += num(rec, "late");
            a->bytes += num(rec, "bytes");
            a->objects += num(rec, "objects") / reps[r].requests;
            a->samples += (long)num(rec, "samples");
            if (json_object_get(rec, "early_samples") && a->early_samples >= 0)
                a->early_samples += (long)num(rec, "early_samples");
            else
                a->early_samples = -1;
        }
    }
    for (size_t j = 0; j < nacc; j++) {
        acc *a = &accs[j];
        double mean = pyab_stats_mean(a->x, nreps), half;
        /* The sampling error of the mean over reps. */
        double sampling = pyab_stats_z_quantile(0.5 + conf / 2) * sqrt(a->var) / (double)nreps;

        if (nreps >= 2)
            half = fmax(pyab_stats_t_quantile(0.5 + conf / 2, (double)nreps - 1) *
                            pyab_stats_sd(a->x, nreps) / sqrt((double)nreps),
                        sampling);
        else
            half = sampling;
        rec = a->desc;
        json_object_set_new(rec, "bytes_per_request", json_real(mean));
        /* Exact mode measures, it does not estimate: no interval. */
        json_object_set_new(rec, "ci", exact ? json_null()
                                             : json_pack("[f,f]", fmax(mean - half, 0), mean + half));
        json_object_set_new(rec, "share", json_real(total > 0 ? a->bytes / total : 0));
        json_object_set_new(rec, "objects_per_request", json_real(a->objects / (double)nreps));
        json_object_set_new(rec, "samples", json_integer(a->samples));
        json_object_set_new(rec, "state", exact ? json_null() : json_string(state_of(a)));
        json_array_append_new(out, rec);
        free(a->x);
    }
    free(accs);
    json_decref(index);
    /* Heaviest first; jansson has no sort, so through a plain array. */
    size_t n = json_array_size(out);
    json_t **items = xcalloc(n ? n : 1, sizeof(*items)), *sorted = json_array();
    for (i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(out, i));
    qsort(items, n, sizeof(*items), by_bpr);
    for (i = 0; i < n; i++) {
        if (i < KEEP)
            json_array_append(sorted, items[i]);
        json_decref(items[i]);
    }
    free(items);
    json_decref(out);
    return sorted;
}

/* Holders: per site, the chain of the rep that examined the most objects. */
static json_t *merge_holders(const rep_dom *reps, size_t nreps)
{
    json_t *best = json_object(), *out = json_array(), *h, *v;
    const char *key;
    size_t i;

    for (size_t r = 0; r < nreps; r++)
        json_array_foreach(json_object_get(reps[r].dom, "holders"), i, h) {
            const char *site = json_string_value(json_object_get(h, "key"));
            json_t *old = site ? json_object_get(best, site) : NULL;
            if (site && (old == NULL || num(h, "examined") > num(old, "examined")))
                json_object_set(best, site, h);
        }
    json_object_foreach(best, key, v)
        json_array_append_new(out, json_pack("{s:s,s:O,s:O,s:O,s:O}", "key", key, "type",
                                             json_object_get(v, "type"), "chain",
                                             json_object_get(v, "chain"), "reachable",
                                             json_object_get(v, "reachable"), "examined",
                                             json_object_get(v, "examined")));
    json_decref(best);
    return out;
}

/* Refcount leaks: objects per request, the mean over reps (0 where absent). */
static json_t *merge_refcount(const rep_dom *reps, size_t nreps)
{
    json_t *by = json_object(), *out = json_array(), *e, *v;
    const char *key;
    size_t i;

    for (size_t r = 0; r < nreps; r++)
        json_array_foreach(json_object_get(reps[r].dom, "refcount_leaks"), i, e) {
            const char *site = json_string_value(json_object_get(e, "key"));
            json_t *m;
            if (site == NULL)
                continue;
            if ((m = json_object_get(by, site)) == NULL) {
                m = json_pack("{s:s,s:O,s:O,s:O,s:f,s:i,s:i}", "key", site, "site",
                              json_object_get(e, "site"), "function", json_object_get(e, "function"),
                              "type", json_object_get(e, "type"), "objects_per_request", 0.0,
                              "examined", 0, "leaked", 0);
                json_object_set_new(by, site, m);
            }
            json_object_set_new(m, "objects_per_request",
                                json_real(num(m, "objects_per_request") +
                                          num(e, "objects") / reps[r].requests / (double)nreps));
            json_object_set_new(m, "examined", json_integer((json_int_t)(num(m, "examined") + num(e, "examined"))));
            json_object_set_new(m, "leaked", json_integer((json_int_t)(num(m, "leaked") + num(e, "leaked"))));
        }
    json_object_foreach(by, key, v)
        json_array_append(out, v);
    json_decref(by);
    return out;
}

static json_t *merge_uncollectable(const rep_dom *reps, size_t nreps)
{
    double added = 0, requests = 0;
    json_t *types = json_object(), *u, *v;
    const char *k;

    for (size_t r = 0; r < nreps; r++) {
        u = json_object_get(reps[r].dom, "uncollectable");
        added += num(u, "garbage_added");
        /* Counted from when the child could first read gc.garbage. */
        requests += json_object_get(u, "requests") ? num(u, "requests") : reps[r].requests;
        json_object_foreach(json_object_get(u, "types"), k, v)
            json_object_set_new(types, k, json_integer((json_int_t)(num(types, k) + json_number_value(v))));
    }
    return json_pack("{s:f,s:f,s:o}", "garbage_added", added, "per_request",
                     requests > 0 ? added / requests : 0, "types", types);
}

/* One domain ("python" or "native") over the reps that have it. */
static json_t *merge_domain(json_t **docs, size_t ndocs, const char *domain, double conf)
{
    rep_dom *reps = xcalloc(ndocs ? ndocs : 1, sizeof(*reps));
    size_t n = 0;
    double total = 0, requests = 0;
    json_t *out, *first = NULL;
    int exact;

    for (size_t i = 0; i < ndocs; i++) {
        json_t *dom = json_object_get(docs[i], domain);
        double req = num(dom, "requests");
        if (!json_is_object(dom) || req <= 0)
            continue;
        if (first == NULL)
            first = dom;
        reps[n].dom = dom;
        reps[n].requests = req;
        total += num(json_object_get(dom, "total"), "bytes");
        requests += req;
        n++;
    }
    if (n == 0) {
        free(reps);
        json_t *off = ndocs ? json_object_get(docs[0], domain) : NULL;
        return json_is_object(off) && json_object_get(off, "reason")
                   ? json_pack("{s:O,s:O}", "mode", json_object_get(off, "mode"), "reason",
                               json_object_get(off, "reason"))
                   : NULL;
    }
    exact = json_is_string(json_object_get(first, "mode")) &&
            strcmp(json_string_value(json_object_get(first, "mode")), "exact") == 0;
    out = json_pack("{s:O,s:O,s:O,s:i,s:f}", "mode", json_object_get(first, "mode"),
                    "sample_bytes", json_object_get(first, "sample_bytes"), "point",
                    json_object_get(first, "point") ?: json_null(), "reps", (int)n, "requests",
                    requests);
    /* The survivors' total per request, the mean over reps of each rep's. */
    double tpr = 0;
    for (size_t i = 0; i < n; i++)
        tpr += num(json_object_get(reps[i].dom, "total"), "bytes") / reps[i].requests / (double)n;
    json_object_set_new(out, "bytes_per_request", json_real(tpr));
    static const char *const lists[] = {"sites", "own", "packages", "types", "resurrected",
                                        "libraries"};
    for (size_t l = 0; l < PYAB_ARRAY_LEN(lists); l++)
        if (json_object_get(first, lists[l]))
            json_object_set_new(out, lists[l], merge_list(reps, n, lists[l], total, conf, exact));
    if (json_object_get(first, "holders"))
        json_object_set_new(out, "holders", merge_holders(reps, n));
    if (json_object_get(first, "refcount_leaks"))
        json_object_set_new(out, "refcount_leaks", merge_refcount(reps, n));
    if (json_object_get(first, "uncollectable"))
        json_object_set_new(out, "uncollectable", merge_uncollectable(reps, n));
    free(reps);
    return out;
}

json_t *pyab_wherearm(const char *dir, const char *arm, json_t *reps, double conf)
{
    json_t **docs = xcalloc(json_array_size(reps) + 1, sizeof(*docs)), *rep, *out = NULL, *py, *nat;
    size_t ndocs = 0, i;

    json_array_foreach(reps, i, rep) {
        json_t *outcome = json_object_get(rep, "outcome");
        char *path;
        if (!json_is_string(outcome) || strcmp(json_string_value(outcome), "ok") != 0 ||
            json_object_get(rep, "analysis_skipped"))
            continue;
        path = xasprintf("%s/arms/%s/rep-%lld/where.json", dir, arm,
                         (long long)json_integer_value(json_object_get(rep, "rep")));
        if ((docs[ndocs] = json_load_file(path, 0, NULL)) != NULL)
            ndocs++;
        free(path);
    }
    if (ndocs) {
        py = merge_domain(docs, ndocs, "python", conf);
        nat = merge_domain(docs, ndocs, "native", conf);
        out = py ? py : json_object();
        if (nat)
            json_object_set_new(out, "native", nat);
    }
    for (i = 0; i < ndocs; i++)
        json_decref(docs[i]);
    free(docs);
    return out;
}

static void add_bytes(pyab_buf *b, double v)
{
    double a = fabs(v);

    if (a >= 1024.0 * 1024)
        pyab_buf_addf(b, "%.2f MiB", v / (1024.0 * 1024));
    else if (a >= 1024)
        pyab_buf_addf(b, "%.1f KiB", v / 1024);
    else
        pyab_buf_addf(b, "%.0f B", v);
}

static int own_key(json_t *where, const char *key)
{
    json_t *o;
    size_t i;

    json_array_foreach(json_object_get(where, "own"), i, o)
        if (json_is_string(json_object_get(o, "key")) &&
            strcmp(json_string_value(json_object_get(o, "key")), key) == 0)
            return 1;
    return 0;
}

void pyab_wherearm_text(pyab_buf *b, json_t *arm)
{
    json_t *where = json_object_get(arm, "where"), *s, *h, *top = NULL, *own0;
    const char *verdict = json_string_value(json_object_get(arm, "verdict"));
    size_t i, shown = 0;

    if (!json_is_array(json_object_get(where, "sites")) || verdict == NULL ||
        strcmp(verdict, "no-leak") == 0)
        return;
    pyab_buf_addf(b, "    where (%s", json_string_value(json_object_get(where, "mode")) ?: "?");
    if (json_is_number(json_object_get(where, "sample_bytes")) &&
        strcmp(json_string_value(json_object_get(where, "mode")) ?: "", "sampled") == 0) {
        pyab_buf_adds(b, " every ");
        add_bytes(b, num(where, "sample_bytes"));
    }
    pyab_buf_adds(b, "): ");
    add_bytes(b, num(where, "bytes_per_request"));
    pyab_buf_adds(b, "/request made after warm-up survive\n");
    json_array_foreach(json_object_get(where, "sites"), i, s) {
        json_t *ci = json_object_get(s, "ci");
        if (shown == 5 || num(s, "share") < 0.01)
            break;
        if (top == NULL)
            top = s;
        pyab_buf_adds(b, "      ");
        add_bytes(b, num(s, "bytes_per_request"));
        if (json_is_array(ci)) {
            pyab_buf_adds(b, " [");
            add_bytes(b, json_number_value(json_array_get(ci, 0)));
            pyab_buf_adds(b, ", ");
            add_bytes(b, json_number_value(json_array_get(ci, 1)));
            pyab_buf_adds(b, "]");
        }
        pyab_buf_addf(b, " %3.0f%%  %s", 100 * num(s, "share"),
                      json_string_value(json_object_get(s, "site")) ?: "?");
        if (json_is_string(json_object_get(s, "function")))
            pyab_buf_addf(b, " in %s", json_string_value(json_object_get(s, "function")));
        if (json_is_string(json_object_get(s, "state")))
            pyab_buf_addf(b, "  (%s)", json_string_value(json_object_get(s, "state")));
        pyab_buf_adds(b, "\n");
        shown++;
    }
    /* The top site in a library: the service's line that led there. */
    own0 = json_array_get(json_object_get(where, "own"), 0);
    if (top && own0 && json_is_string(json_object_get(top, "key")) &&
        !own_key(where, json_string_value(json_object_get(top, "key"))))
        pyab_buf_addf(b, "      your code: %s in %s (%.0f%% of what survives)\n",
                      json_string_value(json_object_get(own0, "site")) ?: "?",
                      json_string_value(json_object_get(own0, "function")) ?: "?",
                      100 * num(own0, "share"));
    json_array_foreach(json_object_get(where, "holders"), i, h) {
        json_t *c;
        size_t j;
        if (top == NULL || !json_equal(json_object_get(h, "key"), json_object_get(top, "key")) ||
            json_array_size(json_object_get(h, "chain")) == 0)
            continue;
        pyab_buf_adds(b, "      held by: ");
        json_array_foreach(json_object_get(h, "chain"), j, c)
            pyab_buf_addf(b, "%s%s", j ? " -> " : "", json_string_value(c) ?: "?");
        pyab_buf_adds(b, "\n");
    }
    json_array_foreach(json_object_get(where, "refcount_leaks"), i, h)
        pyab_buf_addf(b, "      reference-count leak: %.2f %s objects/request from %s held by no "
                      "object the GC sees (a missing Py_DECREF, or a borrowed reference kept)\n",
                      num(h, "objects_per_request"), json_string_value(json_object_get(h, "type")) ?: "?",
                      json_string_value(json_object_get(h, "site")) ?: "?");
}

static json_t *find_key(json_t *list, json_t *key)
{
    json_t *s;
    size_t i;

    json_array_foreach(list, i, s)
        if (json_equal(json_object_get(s, "key"), key))
            return s;
    return NULL;
}

static int by_abs_diff(const void *a, const void *b)
{
    double x = fabs(num(*(json_t *const *)a, "diff")), y = fabs(num(*(json_t *const *)b, "diff"));
    return x < y ? 1 : x > y ? -1 : 0;
}

json_t *pyab_wherearm_diff(json_t *control, json_t *arm)
{
    json_t *cs = json_object_get(control, "sites"), *as = json_object_get(arm, "sites");
    json_t *keys = json_array(), *out = json_array(), *s, *k;
    json_t *items[2 * KEEP];
    size_t i, n = 0;

    if (!json_is_array(cs) || !json_is_array(as))
        return out;
    json_array_foreach(cs, i, s)
        json_array_append(keys, json_object_get(s, "key"));
    json_array_foreach(as, i, s)
        if (find_key(cs, json_object_get(s, "key")) == NULL)
            json_array_append(keys, json_object_get(s, "key"));
    json_array_foreach(keys, i, k) {
        json_t *c = find_key(cs, k), *a = find_key(as, k);
        /* A site missing from a full list may only be below its cut: unknown, not zero. */
        if ((c == NULL && json_array_size(cs) >= KEEP) || (a == NULL && json_array_size(as) >= KEEP))
            continue;
        double cv = c ? num(c, "bytes_per_request") : 0, av = a ? num(a, "bytes_per_request") : 0;
        double clo = c ? json_number_value(json_array_get(json_object_get(c, "ci"), 0)) : 0;
        double chi = c ? json_number_value(json_array_get(json_object_get(c, "ci"), 1)) : 0;
        double alo = a ? json_number_value(json_array_get(json_object_get(a, "ci"), 0)) : 0;
        double ahi = a ? json_number_value(json_array_get(json_object_get(a, "ci"), 1)) : 0;
        const char *change;
        if (alo <= chi && clo <= ahi)
            continue; /* the intervals overlap: no difference shown */
        if (av < cv)
            change = ahi < 0.1 * cv ? "removed" : "smaller";
        else
            change = chi < 0.1 * av ? "added" : "larger";
        json_t *src = c ? c : a;
        if (n < PYAB_ARRAY_LEN(items))
            items[n++] = json_pack("{s:O,s:O,s:O,s:f,s:f,s:f,s:s}", "key", k, "site",
                                   json_object_get(src, "site") ?: json_null(), "function",
                                   json_object_get(src, "function") ?: json_null(), "control",
                                   cv, "arm", av, "diff", av - cv, "change", change);
    }
    qsort(items, n, sizeof(*items), by_abs_diff);
    for (i = 0; i < n; i++) {
        if (i < 10)
            json_array_append(out, items[i]);
        json_decref(items[i]);
    }
    json_decref(keys);
    return out;
}

void pyab_wherearm_diff_text(pyab_buf *b, json_t *diff)
{
    json_t *d;
    size_t i;

    if (json_array_size(diff) == 0)
        return;
    pyab_buf_adds(b, "  allocation sites that differ (bytes/request surviving, control -> arm):\n");
    json_array_foreach(diff, i, d) {
        pyab_buf_addf(b, "    %s in %s: ", json_string_value(json_object_get(d, "site")) ?: "?",
                      json_string_value(json_object_get(d, "function")) ?: "?");
        add_bytes(b, num(d, "control"));
        pyab_buf_adds(b, " -> ");
        add_bytes(b, num(d, "arm"));
        pyab_buf_addf(b, " (%s)\n", json_string_value(json_object_get(d, "change")) ?: "?");
    }
}
