#include "shard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ablate.h"
#include "results.h"

#define JSON_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(10))

int pyab_shard_parse(const char *s, long *index, long *count)
{
    const char *slash = strchr(s, '/');
    char *a;
    int ok;

    if (slash == NULL)
        return -EINVAL;
    a = xstrndup(s, (size_t)(slash - s));
    ok = pyab_parse_long(a, index) == 0 && pyab_parse_long(slash + 1, count) == 0 &&
         *count >= 1 && *index >= 1 && *index <= *count;
    free(a);
    return ok ? 0 : -EINVAL;
}

void pyab_shard_range(size_t n, long index, long count, size_t *from, size_t *to)
{
    *from = n * (size_t)(index - 1) / (size_t)count;
    *to = n * (size_t)index / (size_t)count;
}

/* FNV-1a over a file's bytes: enough to tell two machines' traces apart. New string or NULL. */
static char *file_digest(const char *path)
{
    uint64_t h = 1469598103934665603ull;
    unsigned char buf[65536];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL)
        return NULL;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        for (size_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 1099511628211ull;
    fclose(f);
    return xasprintf("fnv1a64:%016" PRIx64, h);
}

json_t *pyab_shard_manifest(const pyab_scenario *sc, const size_t *order, size_t from,
                            size_t to, long index, long count)
{
    json_t *pairs = json_array(), *digests = json_object();

    for (size_t k = from; k < to; k++)
        json_array_append_new(pairs, json_pack("[s, i]", sc->arms[order[k] % sc->narms].arm,
                                               (int)(order[k] / sc->narms) + 1));
    for (size_t i = 0; i < sc->narms; i++) {
        char *d = file_digest(sc->arms[i].trace_path);
        json_object_set_new(digests, sc->arms[i].arm, d ? json_string(d) : json_null());
        free(d);
    }
    return json_pack("{s:I, s:I, s:o, s:o}", "index", (json_int_t)index, "count",
                     (json_int_t)count, "pairs", pairs, "trace_digests", digests);
}

static json_t *load(const char *dir, const char *name, pyab_error *err)
{
    char *path = pyab_path_join(dir, name);
    json_t *j = pyab_json_read(path, 0, err);

    free(path);
    return j;
}

int pyab_shard_is_partial(const char *dir)
{
    pyab_error err = {0};
    json_t *m = load(dir, "manifest.json", &err);
    int yes = json_is_object(json_object_get(m, "shard"));

    json_decref(m);
    return yes;
}

/* One shard's folder as merge reads it. */
typedef struct shard_in {
    const char *dir;
    json_t *manifest, *summary, *shard; /* shard: borrowed from manifest */
} shard_in;

/* What must agree between shards: the scenario, each arm's trace, pyab's version. */
static int same_experiment(const shard_in *a, const shard_in *b, pyab_error *err)
{
    const char *va = json_string_value(json_object_get(json_object_get(a->manifest, "versions"),
                                                       "pyab"));
    const char *vb = json_string_value(json_object_get(json_object_get(b->manifest, "versions"),
                                                       "pyab"));

    if (!json_equal(json_object_get(a->manifest, "scenario"),
                    json_object_get(b->manifest, "scenario")))
        return pyab_error_set(err, "%s and %s: shards of different scenarios (their "
                              "manifest.json \"scenario\" differ)", a->dir, b->dir);
    if (!json_equal(json_object_get(a->shard, "trace_digests"),
                    json_object_get(b->shard, "trace_digests")))
        return pyab_error_set(err, "%s and %s: the shards replayed different traces (manifest "
                              "shard.trace_digests differ)", a->dir, b->dir);
    if (va == NULL || vb == NULL || strcmp(va, vb) != 0)
        return pyab_error_set(err, "%s and %s: the shards ran different pyab versions (%s, %s)",
                              a->dir, b->dir, va ? va : "unknown", vb ? vb : "unknown");
    return 0;
}

static int by_index(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(((const shard_in *)a)->shard, "index"));
    json_int_t y = json_integer_value(json_object_get(((const shard_in *)b)->shard, "index"));

    return (x > y) - (x < y);
}

/*
 * Reads every input and checks they are the N distinct shards of one
 * experiment; then sorts them by index, whatever order they were given in.
 */
static int read_shards(shard_in *in, size_t nin, pyab_error *err)
{
    json_int_t count = 0;
    char *seen;

    for (size_t i = 0; i < nin; i++) {
        if ((in[i].manifest = load(in[i].dir, "manifest.json", err)) == NULL ||
            (in[i].summary = load(in[i].dir, "summary.json", err)) == NULL)
            return -EINVAL;
        in[i].shard = json_object_get(in[i].manifest, "shard");
        if (!json_is_object(in[i].shard))
            return pyab_error_set(err, "%s: not a shard's results folder (its manifest.json has "
                                  "no \"shard\"; run with --shard I/N)", in[i].dir);
        json_int_t c = json_integer_value(json_object_get(in[i].shard, "count"));
        if (i == 0)
            count = c;
        else if (c != count)
            return pyab_error_set(err, "%s: shard of %lld, but %s is a shard of %lld", in[i].dir,
                                  (long long)c, in[0].dir, (long long)count);
        if (i > 0 && same_experiment(&in[0], &in[i], err) < 0)
            return -EINVAL;
    }
    seen = xcalloc((size_t)count + 1, 1);
    for (size_t i = 0; i < nin; i++) {
        json_int_t k = json_integer_value(json_object_get(in[i].shard, "index"));
        if (k < 1 || k > count || seen[k]) {
            free(seen);
            return pyab_error_set(err, "%s: shard %lld/%lld given twice (or out of range)",
                                  in[i].dir, (long long)k, (long long)count);
        }
        seen[k] = 1;
    }
    for (json_int_t k = 1; k <= count; k++)
        if (!seen[k]) {
            free(seen);
            return pyab_error_set(err, "shard %lld/%lld is missing: give all %lld shards' "
                                  "folders", (long long)k, (long long)count, (long long)count);
        }
    free(seen);
    qsort(in, nin, sizeof(*in), by_index);
    return 0;
}

/* Copies the regular files of one rep folder. 0 or a negative errno with err set. */
static int copy_rep(const char *from, const char *to, pyab_error *err)
{
    DIR *d = opendir(from);
    struct dirent *e;
    int rc = pyab_mkdirs(to);

    if (d == NULL)
        return pyab_error_set(err, "%s: cannot read: %s", from, strerror(errno));
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char *src = pyab_path_join(from, e->d_name), *dst;
        struct stat st;
        char *data;
        size_t len;
        if (e->d_name[0] == '.' || stat(src, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(src);
            continue;
        }
        dst = pyab_path_join(to, e->d_name);
        if ((rc = pyab_file_read(src, &data, &len)) < 0)
            pyab_error_set(err, "%s: cannot read: %s", src, pyab_file_strerror(rc));
        else if ((rc = pyab_file_write_atomic(dst, data, len)) < 0)
            pyab_error_internal(err, "%s: cannot write: %s", dst, strerror(-rc));
        if (rc >= 0)
            free(data);
        free(src);
        free(dst);
    }
    closedir(d);
    return rc;
}

static int by_rep(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "rep"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "rep"));

    return (x > y) - (x < y);
}

/* The arms' rep records from every shard, copied folders and all, sorted by rep. New object. */
static json_t *gather_reps(const shard_in *in, size_t nin, const char *tmp, pyab_error *err)
{
    json_t *arms = json_object(), *arm, *rec;
    const char *name;
    size_t i, k;

    json_object_foreach(json_object_get(in[0].summary, "arms"), name, arm)
        json_object_set_new(arms, name, json_array());
    for (i = 0; i < nin; i++) {
        json_object_foreach(json_object_get(in[i].summary, "arms"), name, arm) {
            json_t *list = json_object_get(arms, name);
            if (list == NULL)
                goto unknown;
            json_array_foreach(json_object_get(arm, "reps"), k, rec) {
                int rep = (int)json_integer_value(json_object_get(rec, "rep"));
                char *src = xasprintf("%s/arms/%s/rep-%d", in[i].dir, name, rep);
                char *dst = xasprintf("%s/arms/%s/rep-%d", tmp, name, rep);
                int rc = access(dst, F_OK) == 0
                             ? pyab_error_set(err, "%s: arm %s rep %d is in two shards", src,
                                              name, rep)
                             : copy_rep(src, dst, err);
                free(src);
                free(dst);
                if (rc < 0) {
                    json_decref(arms);
                    return NULL;
                }
                rec = json_deep_copy(rec);
                json_object_set(rec, "shard", json_object_get(in[i].shard, "index"));
                json_array_append_new(list, rec);
            }
        }
    }
    json_object_foreach(arms, name, arm) {
        size_t n = json_array_size(arm);
        json_t **v = xcalloc(n + 1, sizeof(*v));
        for (k = 0; k < n; k++)
            v[k] = json_incref(json_array_get(arm, k));
        qsort(v, n, sizeof(*v), by_rep);
        json_array_clear(arm);
        for (k = 0; k < n; k++)
            json_array_append_new(arm, v[k]);
        free(v);
    }
    return arms;
unknown:
    pyab_error_set(err, "%s: arm %s is not in %s", in[i].dir, name, in[0].dir);
    json_decref(arms);
    return NULL;
}

/* The merged manifest: shard 1's, with "shards" (each one's host and pairs) for "shard". */
static json_t *merged_manifest(const shard_in *in, size_t nin)
{
    json_t *m = json_deep_copy(in[0].manifest), *shards = json_array(), *a;
    const char *first = NULL, *name;

    json_object_del(m, "shard");
    for (size_t i = 0; i < nin; i++) {
        const char *started = json_string_value(json_object_get(in[i].manifest, "started_utc"));
        json_t *host = json_object_get(in[i].manifest, "host");
        json_array_append_new(shards, json_pack(
            "{s:O, s:O, s:O?, s:O?, s:O?, s:s, s:O}", "index",
            json_object_get(in[i].shard, "index"), "count", json_object_get(in[i].shard, "count"),
            "hostname", json_object_get(host, "hostname"), "cpus", json_object_get(host, "cpus"),
            "started_utc", json_object_get(in[i].manifest, "started_utc"), "results_dir",
            in[i].dir, "pairs", json_object_get(in[i].shard, "pairs")));
        if (started && (first == NULL || strcmp(started, first) < 0))
            first = started;
        /* An arm's readback comes from a shard that ran it. */
        json_object_foreach(json_object_get(m, "arms"), name, a) {
            json_t *rb = json_object_get(json_object_get(json_object_get(
                in[i].manifest, "arms"), name), "readback");
            if (json_object_get(a, "readback") == NULL && rb)
                json_object_set(a, "readback", rb);
        }
    }
    if (first)
        json_object_set_new(m, "started_utc", json_string(first));
    json_object_set_new(m, "shards", shards);
    return m;
}

/* The merged status: complete when every shard is, else the first other status. */
static const char *merged_status(const shard_in *in, size_t nin, const char **bad_dir)
{
    for (size_t i = 0; i < nin; i++) {
        const char *s = json_string_value(json_object_get(in[i].summary, "status"));
        if (s == NULL || strcmp(s, "complete") != 0) {
            *bad_dir = in[i].dir;
            return s && strcmp(s, "running") != 0 ? s : "failed";
        }
    }
    return "complete";
}

/* Writes the merged folder into tmp. 0 or a negative errno with err set. */
static int write_merged(const shard_in *in, size_t nin, const char *tmp, const char *status,
                        pyab_error *err)
{
    json_t *reps = gather_reps(in, nin, tmp, err), *m, *s, *arms, *list;
    const char *name;
    char *path;
    int rc;

    if (reps == NULL)
        return -EINVAL;
    m = merged_manifest(in, nin);
    path = pyab_path_join(tmp, "manifest.json");
    rc = pyab_json_write_atomic(path, m, JSON_FLAGS, err);
    free(path);
    json_decref(m);
    arms = json_object();
    json_object_foreach(reps, name, list)
        json_object_set_new(arms, name, pyab_results_aggregate(list));
    s = json_pack("{s:O, s:s, s:O, s:o}", "scenario", json_object_get(in[0].summary, "scenario"),
                  "status", status, "control", json_object_get(in[0].summary, "control"),
                  "arms", arms);
    path = pyab_path_join(tmp, "summary.json");
    if (rc == 0)
        rc = pyab_json_write_atomic(path, s, JSON_FLAGS, err);
    free(path);
    json_decref(s);
    json_decref(reps);
    return rc;
}

/* The hook merge analyses with: the ablation ranking when shards ran `pyab ablate`, then the caller's. */
typedef struct merge_hook {
    json_t *ablation; /* manifest "ablation", borrowed, or NULL */
    const pyab_run_opts *caller;
} merge_hook;

static int rank_ablation(const char *dir, json_t *ab, pyab_error *err)
{
    char *path = pyab_path_join(dir, "summary.json");
    json_t *summary = pyab_json_read(path, 0, err), *v;
    size_t n = json_array_size(json_object_get(ab, "suspects")), i;
    const char **sus = xcalloc(n + 1, sizeof(char *)), **arms = xcalloc(n + 1, sizeof(char *));
    int rc = -EIO;

    json_array_foreach(json_object_get(ab, "suspects"), i, v)
        sus[i] = json_string_value(v);
    json_array_foreach(json_object_get(ab, "arms"), i, v)
        arms[i] = json_string_value(v);
    if (summary) {
        json_object_set_new(summary, "ablation", pyab_ablate_rank(
            summary, json_string_value(json_object_get(ab, "control")), sus, arms, n,
            json_string_value(json_object_get(ab, "all_arm")),
            json_string_value(json_object_get(ab, "metric"))));
        rc = pyab_json_write_atomic(path, summary, JSON_INDENT(2), err);
    }
    json_decref(summary);
    free(sus);
    free(arms);
    free(path);
    return rc;
}

static int after_merge_analysis(const char *dir, void *data, pyab_error *err)
{
    merge_hook *mh = data;

    if (mh->ablation && rank_ablation(dir, mh->ablation, err) < 0)
        return -EIO;
    if (mh->caller->after_analysis)
        return mh->caller->after_analysis(dir, mh->caller->data, err);
    return 0;
}

/* Analyses the merged folder as a run's, ranking an ablation's suspects first. 0 or -EIO. */
static int analyse_merged(const char *out, json_t *ablation, const pyab_run_opts *opts)
{
    merge_hook mh = {ablation, opts};
    pyab_run_opts o = *opts;
    pyab_error err = {0};
    int rc;

    o.after_analysis = after_merge_analysis;
    o.data = &mh;
    rc = pyab_experiment_analyse(out, &o);
    if (ablation) { /* as pyab ablate prints it, --quiet or not */
        json_t *s = load(out, "summary.json", &err);
        if (json_object_get(s, "ablation"))
            pyab_ablate_print(stdout, json_object_get(s, "ablation"));
        json_decref(s);
    }
    return rc;
}

static void free_inputs(shard_in *in, size_t nin)
{
    for (size_t i = 0; i < nin; i++) {
        json_decref(in[i].manifest);
        json_decref(in[i].summary);
    }
    free(in);
}

int pyab_shard_merge(const char *out, char *const *ins, size_t nin, const pyab_run_opts *opts)
{
    shard_in *in = xcalloc(nin + 1, sizeof(*in));
    pyab_error err = {0};
    const char *status, *bad_dir = NULL;
    char *tmp = NULL, *cmd;
    int code = PYAB_EXIT_OK, state = pyab_path_state(out);

    for (size_t i = 0; i < nin; i++)
        in[i].dir = ins[i];
    if (state == PYAB_PATH_FULL_DIR || state == PYAB_PATH_NOT_DIR) {
        pyab_error_set(&err, "%s: %s; name a new folder", out,
                       state == PYAB_PATH_FULL_DIR ? "the folder exists and is not empty"
                                                   : "exists and is not a folder");
        goto usage;
    }
    if (read_shards(in, nin, &err) < 0)
        goto usage;
    status = merged_status(in, nin, &bad_dir);
    /* Built beside OUT and renamed into place: a merge that fails leaves no half folder. */
    tmp = xasprintf("%s.merging-%ld", out, (long)getpid());
    if (pyab_mkdirs(tmp) < 0 || write_merged(in, nin, tmp, status, &err) < 0 ||
        (state == PYAB_PATH_EMPTY_DIR && rmdir(out) != 0) || rename(tmp, out) != 0) {
        if (err.text[0] == '\0')
            pyab_error_internal(&err, "%s: cannot write the merged folder: %s", out,
                                strerror(errno));
        cmd = xasprintf("rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "pyab merge: could not remove %s\n", tmp);
        free(cmd);
        fprintf(stderr, "pyab merge: %s\n", err.text);
        code = err.exit_code ? err.exit_code : PYAB_EXIT_INTERNAL;
        goto done;
    }
    if (analyse_merged(out, json_object_get(in[0].manifest, "ablation"), opts) < 0)
        code = PYAB_EXIT_INTERNAL;
    if (bad_dir && code == PYAB_EXIT_OK) {
        fprintf(stderr, "pyab merge: %s did not complete (status %s): the merged run is %s "
                "too\n", bad_dir, status, status);
        code = PYAB_EXIT_USAGE;
    }
    goto done;
usage:
    fprintf(stderr, "pyab merge: %s\n", err.text);
    code = PYAB_EXIT_USAGE;
done:
    free(tmp);
    free_inputs(in, nin);
    return code;
}
