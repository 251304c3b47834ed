/* The namespace table (ns_name / ns_clone_flag from spec.h), the user
 * namespace id maps, and joining a running container's namespaces (exec). */
#ifndef BERTH_NAMESPACES_H
#define BERTH_NAMESPACES_H

#include <sys/types.h>

#include "error.h"
#include "spec.h"

/* Container ids 0..65535 map to host ids 100000..165535 in a user namespace. */
#define NS_HOST_ID_BASE 100000
#define NS_ID_COUNT 65536

/* The clone flags for the spec's namespaces, without CLONE_NEWCGROUP (the
 * init unshares that itself once it is in the container's cgroup) and
 * without CLONE_NEWUSER: the init joins the user namespace last (see
 * ns_userns_create), so the mounts are made by host root. */
int ns_clone_flags(const struct container_spec *spec);
/* setgroups deny, uid_map and gid_map of pid (called by the parent). */
int ns_write_id_maps(pid_t pid, berr_t *err);

/* A new user namespace with the id maps above, held by the returned fd (a
 * short-lived child creates it). Its other namespaces stay owned by the
 * host's user namespace, so root in the container cannot reconfigure them. */
int ns_userns_create(int *fd_out, berr_t *err);

/* Namespaces made ahead of a start, while nothing waits (a network namespace
 * takes ~0.5 ms to make): a new network namespace with lo up, a new IPC and a
 * new UTS namespace, each held by an fd (-1: not made), beside the ones the
 * calling thread was in (to go back to). */
struct ns_premade {
  int fd[NS_COUNT];
  int host[NS_COUNT];
};
/* Makes them; the calling thread is back in its own namespaces on return. On
 * failure some or none are made (fd -1): a clone makes those itself. A thread
 * that cannot get back into its own namespaces ends its process (_exit): call
 * it only where that loses nothing (a spare monitor, before its job). */
void ns_premake(struct ns_premade *p);
/* Before the clone: the calling thread enters each premade namespace the spec
 * isolates, and *clone_flags loses its flag. After the clone, ns_premade_leave
 * takes the thread back (-1 with err: it could not, and must not go on). */
int ns_premade_enter(struct ns_premade *p, const struct container_spec *spec, int *clone_flags,
                     berr_t *err);
int ns_premade_leave(struct ns_premade *p, berr_t *err);
void ns_premade_close(struct ns_premade *p);
/* Sets lo up in the calling thread's network namespace. */
int ns_loopback_up(berr_t *err);

/* Opens /proc/<pid>/ns/<name> for every namespace the spec isolates, in the
 * order they must be joined: mnt second to last, user last. fds[] gets -1 for the
 * others. Returns the count. */
int ns_open_all(pid_t pid, const struct container_spec *spec, int fds[NS_COUNT],
                enum ns_kind order[NS_COUNT], berr_t *err);
/* setns into each opened namespace in that order, closing the fds. */
int ns_join_all(int fds[NS_COUNT], const enum ns_kind order[NS_COUNT], int n, berr_t *err);
void ns_close_all(int fds[NS_COUNT]);

#endif
