/* berthd runs from a sealed in-memory copy of its own binary.
 *
 * Every process berthd forks (monitor, container init, exec sessions and the
 * commands they start before their execve) has berthd's binary as
 * /proc/PID/exe. A container that reaches one of those links, by catching
 * such a process in its PID namespace or by exec'ing /proc/self/exe through
 * a `#!/proc/self/exe` script, could open the binary and, once it is not
 * running, overwrite it: the next berthd started as root would be the
 * container's (CVE-2019-5736 in runc). So at start-up berthd copies itself
 * into a memfd, seals it against any write, grow and shrink, and re-execs
 * from it: what /proc/PID/exe leads to is that sealed copy, never the file
 * on disk. (The runtime processes are also non-dumpable until their execve,
 * so the link is not even reachable there: runtime_child_setup.) */
#ifndef BERTH_SELFEXE_H
#define BERTH_SELFEXE_H

#include <stdbool.h>

#include "error.h"

/* True when /proc/self/exe is a memfd with the write seal. */
bool selfexe_is_sealed(void);

/* Unless already running from a sealed copy: makes one and execs it with
 * the same argv and environment (does not return then). Returns -1 with err
 * when the copy could not be made or exec'd; the caller goes on from the
 * file then (and says so). */
int selfexe_reexec_sealed(char **argv, berr_t *err);

#endif
