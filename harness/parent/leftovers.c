#include "leftovers.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LEFTOVER_MAX_SWEEPS 200
#define PIDS_TEXT_MAX 200

/* The parent pid of a process, from /proc/PID/stat; -1 if it is gone. */
static long parent_of(long pid)
{
    char path[64], stat[512], *close_paren;
    long ppid;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if ((f = fopen(path, "re")) == NULL)
        return -1;
    close_paren = fgets(stat, sizeof(stat), f) ? strrchr(stat, ')') : NULL;
    fclose(f);
    /* "pid (comm) state ppid ...": comm may hold spaces, so parse after ')'. */
    if (close_paren == NULL || sscanf(close_paren + 2, "%*c %ld", &ppid) != 1)
        return -1;
    return ppid;
}

/* One sweep over /proc; how many it stopped. */
static int sweep(pid_t child, pid_t keep, pyab_buf *pids, int found)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    long self = (long)getpid();
    int before = found;

    if (child > 0 && kill(-child, 0) == 0) {
        if (found == 0)
            pyab_buf_addf(pids, "group %d", (int)child);
        found++;
        kill(-child, SIGKILL);
    }
    while (d && (e = readdir(d)) != NULL) {
        long pid = strtol(e->d_name, NULL, 10);
        if (pid <= 0 || pid == self || pid == (long)keep || parent_of(pid) != self)
            continue;
        /* A respawning chain could name thousands: keep the message short. */
        if (pids->len < PIDS_TEXT_MAX)
            pyab_buf_addf(pids, "%s%ld", found ? ", " : "", pid);
        else if (pids->data[pids->len - 1] != '.')
            pyab_buf_adds(pids, ", ...");
        found++;
        kill((pid_t)pid, SIGKILL);
        waitpid((pid_t)pid, NULL, 0);
    }
    if (d)
        closedir(d);
    return found - before;
}

int pyab_leftovers_stop(pid_t child, pid_t keep, pyab_buf *pids)
{
    int found = 0, n;

    /* A process may fork again while it is being stopped (a respawning
     * chain): sweep until a sweep finds nothing, within reason. */
    for (int pass = 0; pass < LEFTOVER_MAX_SWEEPS; pass++) {
        if ((n = sweep(child, keep, pids, found)) == 0)
            break;
        found += n;
    }
    return found;
}
