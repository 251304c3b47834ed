/* The container's seccomp filter: the few system calls that would give a
 * process without CAP_SYS_ADMIN new powers in the host's kernel objects. */
#ifndef BERTH_SECCOMP_H
#define BERTH_SECCOMP_H

#include "error.h"

/* Installs the filter on the calling thread (inherited across fork and
 * execve). Needs no_new_privs set first (caps_apply does). Refused:
 *   - unshare and clone with CLONE_NEWUSER, setns: EPERM. A user namespace
 *     of its own gives root inside full capabilities there, and with a cgroup
 *     namespace made in it the container could mount cgroup v1 hierarchies
 *     and write its own limits (pids.max, memory.*) or, in a hierarchy
 *     without a controller (name=systemd), the host's cgroups.
 *   - clone3: ENOSYS (its flags are in memory a filter cannot read; libcs
 *     fall back to clone).
 *   - keyctl, add_key, request_key: EPERM (the kernel keyrings are not
 *     namespaced: root inside would share the host root's keys).
 * Everything else is allowed. Architectures other than x86-64 (with its
 * i386 and x32 ABIs) and aarch64 (with arm32): no filter, returns 0. */
int seccomp_confine(berr_t *err);

#endif
