/* The processes of a container for `container.top`: every PID in its cgroup
 * with what /proc says about it (host and namespaced PIDs, state, rss). */
#ifndef BERTH_PROCS_H
#define BERTH_PROCS_H

#include <json-c/json.h>
#include <sys/types.h>

#include "cgroup.h"
#include "error.h"

/* One process as the protocol's top entry; NULL when it has gone. proc_root
 * is "/proc" (tests point it elsewhere). */
json_object *procs_describe(const char *proc_root, pid_t pid);
/* {"processes": [...]} for every process in the cgroup, sorted by host PID. */
int procs_list(const struct cgroup *cg, json_object **out, berr_t *err);

#endif
