#include "leftovers.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

int pyab_leftovers_stop(pid_t child, pid_t keep, pyab_buf *pids)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    long self = (long)getpid();
    int found = 0;

    if (child > 0 && kill(-child, 0) == 0) {
        pyab_buf_addf(pids, "group %d", (int)child);
        found++;
        kill(-child, SIGKILL);
    }
    while (d && (e = readdir(d)) != NULL) {
        long pid = strtol(e->d_name, NULL, 10);
        if (pid <= 0 || pid == self || pid == (long)keep || parent_of(pid) != self)
            continue;
        pyab_buf_addf(pids, "%s%ld", found ? ", " : "", pid);
        found++;
        kill((pid_t)pid, SIGKILL);
        waitpid((pid_t)pid, NULL, 0);
    }
    if (d)
        closedir(d);
    return found;
}
