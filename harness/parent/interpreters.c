#include "interpreters.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build_config.h" /* PYAB_VERSION */
#include "childenv.h"
#include "core_id.h" /* PYAB_CORE_ID */
#include "protocol.h"
#include "rep.h"

/* How long a child may take to print its versions (it initialises an interpreter). */
#define ASK_TIMEOUT_MS 60000

/* Reads fd to its end into out, for at most ASK_TIMEOUT_MS; 0, or -ETIMEDOUT. */
static int read_all(int fd, pyab_buf *out)
{
    double deadline = pyab_now_s() + ASK_TIMEOUT_MS / 1000.0;
    char chunk[4096];

    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int left = (int)((deadline - pyab_now_s()) * 1000), n;
        if (left <= 0 || (n = poll(&p, 1, left)) == 0)
            return -ETIMEDOUT;
        if (n < 0 && errno == EINTR)
            continue;
        ssize_t got = read(fd, chunk, sizeof(chunk));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return 0;
        pyab_buf_add(out, chunk, (size_t)got);
    }
}

/* Runs `exe --versions` with env; its stdout parsed, or NULL with why in `why`. */
static json_t *ask(const char *exe, char **env, char *why, size_t size)
{
    char *argv[] = {(char *)exe, (char *)"--versions", NULL};
    posix_spawn_file_actions_t fa;
    json_t *v = NULL;
    int fds[2], status = 0, rc;
    pyab_buf out;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) < 0) {
        snprintf(why, size, "pipe: %s", strerror(errno));
        return NULL;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    rc = posix_spawn(&pid, exe, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        snprintf(why, size, "cannot start it: %s", strerror(rc));
        return NULL;
    }
    pyab_buf_init(&out);
    rc = read_all(fds[0], &out);
    close(fds[0]);
    if (rc < 0)
        kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    if (rc == 0)
        v = json_loadb(out.data ? out.data : "", out.len, JSON_DISABLE_EOF_CHECK, NULL);
    pyab_buf_finish(&out);
    if (rc < 0) {
        snprintf(why, size, "it did not print its versions within %d s", ASK_TIMEOUT_MS / 1000);
    } else if (v == NULL || !json_is_object(v)) {
        if (WIFSIGNALED(status))
            snprintf(why, size, "it was killed by signal %d (%s) (can it load its libraries?)",
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
            snprintf(why, size, "it exited %d without printing its versions (is it a pyab-child?)",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        json_decref(v);
        return NULL;
    }
    return rc < 0 ? NULL : v;
}

/* The message for a child that will not do for arm a, or NULL when it does. New string. */
static char *refusal(const pyab_config *a, const char *exe, json_t *v)
{
    const char *pyab = json_string_value(json_object_get(v, "pyab"));
    const char *core = json_string_value(json_object_get(v, "core_id"));
    json_int_t proto = json_integer_value(json_object_get(v, "protocol"));
    const char *build = json_string_value(json_object_get(v, "python_build"));
    const char *error = json_string_value(json_object_get(v, "error"));

    if (pyab == NULL || strcmp(pyab, PYAB_VERSION) != 0 || proto != PYAB_PROTOCOL_VERSION ||
        core == NULL || strcmp(core, PYAB_CORE_ID) != 0)
        return xasprintf("%s was built from pyab %s (protocol %lld, core %s), and this is pyab "
                         "%s (protocol %d, core %s): build that child again from this source "
                         "(a runtime: tools/runtime.sh SUITE DIR, a few seconds once made)",
                         exe, pyab ? pyab : "(unknown)", (long long)proto, core ? core : "?",
                         PYAB_VERSION, PYAB_PROTOCOL_VERSION, PYAB_CORE_ID);
    if (error)
        return xasprintf("%s: %s (PYTHONHOME=%s)", exe, error,
                         a->py_home ? a->py_home : "(unset)");
    if (a->py_debug && (build == NULL || strcmp(build, "debug") != 0))
        return xasprintf("python.build is \"debug\", but %s embeds a %s build", exe,
                         build ? build : "(unknown)");
    return NULL;
}

/* Which key of the arm chose its child, for messages. */
static const char *chosen_by(const pyab_config *a)
{
    return a->py_runtime ? "python.runtime" : a->py_child ? "python.child"
           : a->py_debug ? "python.build \"debug\""
                         : "pyab's own child";
}

json_t *pyab_interpreters_probe(const pyab_scenario *sc, pyab_error *err)
{
    json_t *out = json_object(), *seen = json_object();

    for (size_t i = 0; i < sc->narms; i++) {
        const pyab_config *a = &sc->arms[i];
        char *exe = pyab_rep_arm_child(a), *key, *no = NULL, why[512];
        json_t *v;

        key = xasprintf("%s\n%s", exe, a->py_home ? a->py_home : "");
        v = json_incref(json_object_get(seen, key));
        if (v == NULL && access(exe, X_OK) != 0) {
            no = xasprintf("%s: %s%s", exe, strerror(errno),
                           a->py_debug && !a->py_child
                               ? " (pyab builds pyab-child-debug when Debian's debug interpreter "
                                 "is installed: apt-get install python3-dbg, then build again)"
                               : "");
        } else if (v == NULL) {
            char **env = pyab_childenv_create(a);
            v = ask(exe, env, why, sizeof(why));
            pyab_childenv_destroy(env);
            if (v == NULL)
                no = xasprintf("%s: %s", exe, why);
            else
                json_object_set(seen, key, v);
        }
        if (no == NULL)
            no = refusal(a, exe, v);
        if (no) {
            pyab_error_set(err, "%s: arm %s (%s): %s", sc->path, a->arm, chosen_by(a), no);
            free(no);
        } else {
            json_t *facts = json_deep_copy(v);
            json_object_set_new(facts, "child", json_string(exe));
            json_object_set_new(out, a->arm, facts);
        }
        json_decref(v);
        free(key);
        free(exe);
        if (no) {
            json_decref(out);
            json_decref(seen);
            return NULL;
        }
    }
    json_decref(seen);
    return out;
}

/* The distinct values of facts' `key` across arms, "a, b"; how many in *n. New string. */
static char *distinct(json_t *facts, const char *key, size_t *n)
{
    json_t *vals = json_array(), *f, *x;
    const char *arm;
    char *s = xstrdup("");
    size_t i;

    *n = 0;
    json_object_foreach(facts, arm, f) {
        const char *v = json_string_value(json_object_get(f, key));
        int dup = 0;
        json_array_foreach(vals, i, x)
            dup |= v && strcmp(json_string_value(x), v) == 0;
        if (v && !dup) {
            char *t = xasprintf("%s%s%s (%s)", s, *n ? ", " : "", v, arm);
            free(s);
            s = t;
            json_array_append_new(vals, json_string(v));
            (*n)++;
        }
    }
    json_decref(vals);
    return s;
}

char *pyab_interpreters_note(json_t *facts)
{
    size_t npy, nlibc, nbuild;
    char *py = distinct(facts, "python_short", &npy), *libc = distinct(facts, "glibc", &nlibc);
    char *build = distinct(facts, "python_build", &nbuild), *note = NULL;

    if (npy > 1 && nlibc > 1)
        note = xasprintf("the arms run different Pythons, %s, on different glibc versions, %s: "
                         "RSS, the native heap and speed differ for both reasons; only the Python "
                         "heap and GC figures are the interpreter's alone",
                         py, libc);
    else if (npy > 1)
        note = xasprintf("the arms run different Pythons: %s", py);
    else if (nlibc > 1)
        note = xasprintf("the arms run on different glibc versions, %s: RSS and the native heap "
                         "differ for that reason too", libc);
    if (nbuild > 1) {
        char *t = xasprintf("%s%sthe arms mix interpreter builds, %s: a debug build is slower and "
                            "its objects larger, so compare its reference counts, not its speed",
                            note ? note : "", note ? "; " : "", build);
        free(note);
        note = t;
    }
    free(py);
    free(libc);
    free(build);
    return note;
}
