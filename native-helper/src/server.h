/* The Unix socket server: one listening socket, SO_PEERCRED checks, and a
 * single-threaded non-blocking epoll loop that also carries signals
 * (signalfd) and any fd the daemon asks it to watch (pidfds, timerfds). */
#ifndef BERTH_SERVER_H
#define BERTH_SERVER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct server;
struct conn;

/* One complete request line (without the newline), at most PROTO_MAX_LINE. */
typedef void (*server_line_fn)(void *ctx, struct conn *c, const char *line, size_t len);
typedef void (*server_fd_fn)(void *ctx, int fd, uint32_t events);

struct server_config {
  const char *socket_path;
  bool has_serve_uid;
  uid_t serve_uid;
  bool has_serve_gid;
  gid_t serve_gid;
  server_line_fn on_line;
  /* Optional: true (and a description in what) when pid runs inside one of
   * the daemon's containers; such a peer is refused whoever it is. */
  bool (*peer_in_container)(void *ctx, pid_t pid, char *what, size_t size);
  void *ctx;
};

/* Blocks SIGCHLD/SIGTERM/SIGINT/SIGHUP into a signalfd, ignores SIGPIPE,
 * creates the epoll set and binds the socket (refusing when another berthd
 * answers on it). */
int server_open(struct server **out, const struct server_config *cfg, berr_t *err);
/* Serves until SIGTERM or SIGINT; returns 0 then. Children are reaped here. */
int server_run(struct server *s, berr_t *err);
/* Closes every connection and the socket, and unlinks it if it is still ours. */
void server_close(struct server *s);

/* Called for every child reaped on SIGCHLD with its wait status (monitors
 * reaped through their pidfds first do not come here). */
typedef void (*server_child_fn)(void *ctx, pid_t pid, int status);
void server_on_child(struct server *s, server_child_fn fn, void *ctx);

/* Called before the loop waits for events: work that is best done while
 * nobody waits for a reply (the daemon forks the next monitor there). */
typedef void (*server_idle_fn)(void *ctx);
void server_on_idle(struct server *s, server_idle_fn fn, void *ctx);

/* Extra fds in the loop (EPOLLIN). fn is not called again after unwatch,
 * even for events already collected in the same round. */
int server_watch(struct server *s, int fd, server_fd_fn fn, void *ctx, berr_t *err);
void server_unwatch(struct server *s, int fd);

/* One line on stderr with a timestamp (the launcher sends it to a file). */
void berthd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

uint64_t conn_id(const struct conn *c);
int conn_fd(const struct conn *c);
/* The connection with that id, NULL once it has closed. */
struct conn *server_conn(struct server *s, uint64_t id);
/* Queues a reply (consumes it); never blocks. A client that stops reading
 * is cut off once too much output waits for it. */
void conn_send(struct conn *c, json_object *reply);
/* Writes everything queued and then the reply (consumed), waiting at most a
 * few seconds: for the reply that precedes a stream. */
int conn_send_sync(struct conn *c, json_object *reply, berr_t *err);
/* Forgets the connection after its fd was handed to a child process: removes
 * it from the loop, closes this process's copy, discards unread input. */
void conn_release(struct conn *c);

#endif
