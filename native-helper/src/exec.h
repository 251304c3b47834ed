/* Exec sessions (container.exec): runtime_exec in runtime.h forks a session
 * process that joins the container's cgroup and namespaces, forks the command
 * inside them and relays its stdio as frames, like the monitor does.
 * Also the small helpers the forked runtime processes share. */
#ifndef BERTH_EXEC_H
#define BERTH_EXEC_H

#include <stddef.h>

/* Closes every fd above 2 except those in keep (runtime.c). */
void runtime_close_fds_except(const int *keep, size_t n);
/* setsid, stdio on /dev/null, default signals, SIGPIPE/SIGHUP ignored, a name (runtime.c). */
void runtime_child_setup(const char *name);

#endif
