/* The per-container monitor (conmon's pattern), the child runtime.c forks
 * for each start: it makes the cgroup and the stdio, clones the init, reports
 * the start, then relays output to the log and an attached client, and
 * records the exit status (monitor.c). Internal to the runtime. */
#ifndef BERTH_MONITOR_H
#define BERTH_MONITOR_H

#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "namespaces.h"
#include "runtime.h"
#include "spec.h"

#define START_RECORDED 'R' /* daemon -> monitor: the start is on disk, go on */

struct monitor_start {
  const struct container_spec *spec;
  const char *dir;                 /* the container's state dir */
  const struct runtime_opts *opts;
  int ctl;                         /* to the daemon: START_RECORDED in, the report out */
  pid_t daemon;
  int64_t t_begin;                 /* mono_us() as the daemon began the start */
  struct ns_premade *premade;      /* namespaces made before the start came, or NULL */
};

/* Waits for START_RECORDED on ctl before it makes anything of the container's;
 * reports {"ok": true, "initPid", ...} or a failure on ctl; never returns. */
_Noreturn void monitor_main(const struct monitor_start *ms);
/* A failed start's report: {"ok": false, "kind", "errno", "message"}. */
void monitor_report_failure(int ctl, const berr_t *err);
/* dir/name into out, or BERR_INVALID when that is too long. */
int monitor_path(char out[4096], const char *dir, const char *name, berr_t *err);

#endif
