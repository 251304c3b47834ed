/* Capabilities (Docker's default set), no_new_privs and the switch to the
 * container's user: the last steps before execve, shared by the init and
 * exec sessions. */
#ifndef BERTH_CAPS_H
#define BERTH_CAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP
 * NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE = 0xa80425fb */
uint64_t caps_default_set(void);

/* Reduces the bounding set to the default set, sets effective, permitted and
 * inheritable to it, clears the ambient set, sets no_new_privs, then switches
 * to gid/uid (no supplementary groups; setgroups is skipped in a user
 * namespace, where it is denied). A non-root uid ends with no effective caps.
 * host_mounts (the container shares the host's mount namespace and is only
 * chrooted): CAP_SYS_CHROOT is dropped too, since it is the way out of a chroot
 * (a chrooted process cannot make a user namespace to get it back). */
int caps_apply(uid_t uid, gid_t gid, bool in_userns, bool host_mounts, berr_t *err);

#endif
