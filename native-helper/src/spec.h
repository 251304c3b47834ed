/* The container spec: everything needed to start a container, parsed once
 * from the protocol's create request and kept as config.json in the
 * container's state directory. Shared by the daemon, the monitor and the
 * cgroup managers. */
#ifndef BERTH_SPEC_H
#define BERTH_SPEC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

enum ns_kind { NS_PID, NS_MNT, NS_UTS, NS_IPC, NS_NET, NS_CGROUP, NS_USER, NS_COUNT };

/* "pid", "mnt", "uts", "ipc", "net", "cgroup", "user": the names of
 * /proc/PID/ns/ entries. The protocol uses "mount" for NS_MNT too. */
const char *ns_name(enum ns_kind k);
int ns_clone_flag(enum ns_kind k);

struct limits {
  int64_t memory_bytes;   /* 0 = no limit */
  int64_t cpu_quota_us;   /* 0 = no quota; with cpu_period_us: --cpus 0.5 = 50000/100000 */
  int64_t cpu_period_us;  /* 100000 when a quota is set */
  int64_t cpu_weight;     /* 0 = default; 1..10000 (cgroup v2 scale; v1 shares are derived) */
  int64_t pids_max;       /* 0 = no limit */
};

/* A published port (docs/protocol.md ContainerSpec.ports). */
struct port_map {
  char host_ip[16];       /* dotted IPv4, "127.0.0.1" by default */
  uint16_t host_port, container_port;
  bool udp;               /* false = tcp */
};
#define SPEC_MAX_PORTS 64

/* A mount of ContainerSpec.mounts: spec-storage.c parses it, usermounts.c applies it. */
enum mount_kind { MOUNT_BIND, MOUNT_VOLUME, MOUNT_TMPFS };
struct mount_spec {
  enum mount_kind kind;
  char *source;           /* bind: absolute host path; volume: the volume's name; tmpfs: NULL.
                           * An anonymous volume's is NULL until the create names it (anonvol.c). */
  char *target;           /* absolute, normalised path in the container */
  bool read_only;
  bool anonymous;         /* volume: an anonymous one (removed with its container by rm -v, --rm) */
  int64_t tmpfs_size;     /* bytes; 0 = the kernel's default (half of RAM) */
  uint32_t tmpfs_mode;    /* 01777 unless given */
  /* filled by usermounts_prepare when the container starts, never serialised:
   * the host directory or file the init mounts, and its identity as the
   * daemon checked it (the init refuses another inode at that path) */
  char *host_path;
  dev_t host_dev;
  ino_t host_ino;
};
#define SPEC_MAX_MOUNTS 64

/* ContainerSpec.restart, applied by berthd (restart.c). */
enum restart_policy { RESTART_NO, RESTART_ON_FAILURE, RESTART_ALWAYS, RESTART_UNLESS_STOPPED };
struct restart_spec {
  enum restart_policy policy;
  int64_t max_retries;    /* on-failure only; 0 = no limit */
};

struct container_spec {
  char id[65];            /* 64 lowercase hex */
  char name[65];
  char image_ref[256];    /* as the user wrote it, "busybox:latest" */
  char image_id[72];      /* "sha256:<config digest>" */

  char **argv;            /* NULL-terminated; entrypoint + cmd already resolved */
  char **env;             /* NULL-terminated "K=V" */
  char *workdir;          /* absolute, "/" by default */
  char hostname[65];
  uid_t uid;
  gid_t gid;
  /* "name[:group]" when the user was given by name: resolved inside the
   * container from its own /etc/passwd and /etc/group just before execve
   * (uid and gid are 0 until then); "" for numeric ids */
  char user_name[72];

  bool tty;               /* allocate a PTY for the init process */
  bool open_stdin;        /* keep stdin open (-i) */
  bool auto_remove;       /* --rm */

  bool ns[NS_COUNT];      /* true = new namespace, false = share the helper's */
  struct limits limits;

  char **lowerdirs;       /* NULL-terminated absolute layer dirs, topmost first */

  /* "bridge", "none", "host" or a user network's name (network.c parses and checks) */
  char network[65];
  struct port_map ports[SPEC_MAX_PORTS];
  size_t n_ports;

  struct mount_spec *mounts; /* n_mounts entries (spec-storage.c) */
  size_t n_mounts;
  struct restart_spec restart;
};

/* Parses the protocol's create params (docs/protocol.md, container.create)
 * after the daemon has resolved the image; fills defaults. */
int spec_from_json(struct container_spec *s, json_object *o, berr_t *err);
/* Serialises the full spec (used for config.json and inspect). */
json_object *spec_to_json(const struct container_spec *s);
void spec_free(struct container_spec *s);
/* network.c: `network` and `ports` of the spec (after namespaces are parsed). */
int spec_net_from_json(struct container_spec *s, json_object *o, berr_t *err);
void spec_net_to_json(const struct container_spec *s, json_object *o);
/* spec-storage.c: `mounts` and `restart` of the spec (after autoRemove is parsed). */
int spec_storage_from_json(struct container_spec *s, json_object *o, berr_t *err);
void spec_storage_to_json(const struct container_spec *s, json_object *o);
void spec_storage_free(struct container_spec *s);
/* A mount target (what names it, for the message): absolute, `.` and repeated
 * slashes dropped, no `..`, under 4096 bytes, not `/`, nothing in /proc or
 * /sys. *out (malloc'd) gets the normalised path. */
int spec_mount_target(const char *in, const char *what, char **out, berr_t *err);
const char *restart_policy_name(enum restart_policy p); /* "no", "on-failure", ... */

#endif
