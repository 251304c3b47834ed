/* Who is on the other end of a connection: its credentials as the kernel
 * recorded them at connect() (SO_PEERCRED, SO_PEERGROUPS), and whether it
 * runs inside one of berthd's containers. */
#ifndef BERTH_PEER_H
#define BERTH_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cgroup.h"
#include "error.h"

#define PEER_MAX_GROUPS 256

struct peer_id {
  bool known;
  pid_t pid;
  uid_t uid;
  gid_t gid;
  int ngroups; /* supplementary groups; only the primary gid when there were more than PEER_MAX_GROUPS */
  gid_t groups[PEER_MAX_GROUPS];
};

/* The credentials of the process that connected to sockfd. */
int peer_id_from_socket(int sockfd, struct peer_id *out, berr_t *err);

/* True when pid is in a cgroup below the containers' parent (<own>/berth):
 * a container's process, or one exec'd into a container. what gets
 * "client pid N runs inside container <12 hex>". */
bool peer_in_container(const struct cgroup_env *env, pid_t pid, char *what, size_t size);

/* Moves the calling process into the network namespace of the process that
 * connected to sockfd (through SO_PEERPIDFD; before Linux 6.5 through the
 * SO_PEERCRED pid), so that what it connects to is what that client would
 * reach: its loopback, its routes. A peer whose pid berthd cannot see (0)
 * leaves the caller where it is. */
int peer_join_netns(int sockfd, berr_t *err);

#endif
