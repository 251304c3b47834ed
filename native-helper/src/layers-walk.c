#include "layers-walk.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "layerfacts.h"
#include "protocol.h"
#include "server.h"
#include "util.h"
#include "worker.h"

/* Walks at once; one more is refused (a client asking for this many big
 * images at the same moment can ask again). */
#define MAX_WALKS 16
/* The answer a walk leaves in its memfd: 'R' and the result's JSON text, or
 * 'E' and the error. */
#define ANSWER_RESULT 'R'
#define ANSWER_ERROR 'E'

struct walk {
  pid_t pid; /* 0: a free slot */
  struct server *srv;
  uint64_t conn_id;
  json_object *id;
  int answer_fd;
};

static struct walk walks[MAX_WALKS];

/* The child: a plain process again, as a worker is, holding the answer's
 * memfd (as fd 3) and nothing else of the daemon's. */
static void walk_child(int answer_fd, const char *root, const char *ref) {
  (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (worker_child_reset(answer_fd) < 0)
    _exit(2);
  json_object *result = NULL;
  berr_t err;
  berr_clear(&err);
  int rc;
  if (facts_image_layers(root, ref, &result, &err) == 0) {
    const char *s = json_object_to_json_string_ext(result, JSON_C_TO_STRING_PLAIN);
    char tag = ANSWER_RESULT;
    rc = write_all(3, &tag, 1) < 0 || write_all(3, s, strlen(s)) < 0;
  } else {
    char tag = ANSWER_ERROR;
    rc = write_all(3, &tag, 1) < 0 || write_all(3, &err, sizeof err) < 0;
  }
  _exit(rc ? 2 : 0);
}

int layers_walk_start(struct server *srv, struct conn *c, json_object *id, const char *root,
                      const char *ref, berr_t *err) {
  struct walk *w = NULL;
  for (int i = 0; i < MAX_WALKS && !w; i++)
    if (!walks[i].pid)
      w = &walks[i];
  if (!w)
    return berr_set(err, BERR_LIMIT, "berthd is walking the layers of %d images already; ask again in a moment",
                    MAX_WALKS);
  int fd = memfd_create("berth-layers-walk", MFD_CLOEXEC);
  if (fd < 0)
    return berr_sys(err, errno, "memfd_create for a layer walk");
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(fd);
    return berr_sys(err, e, "fork a layer walk");
  }
  if (pid == 0)
    walk_child(fd, root, ref);
  *w = (struct walk){.pid = pid, .srv = srv, .conn_id = conn_id(c), .id = json_object_get(id), .answer_fd = fd};
  return 0;
}

/* The walk's reply, from what it left in its memfd. */
static json_object *reply_of(struct walk *w, int status) {
  berr_t err;
  char *buf = NULL;
  off_t size = lseek(w->answer_fd, 0, SEEK_END);
  if (size > 1 && (buf = malloc((size_t)size + 1)) && pread(w->answer_fd, buf, (size_t)size, 0) == size) {
    buf[size] = '\0';
    if (buf[0] == ANSWER_RESULT) {
      json_object *result = json_tokener_parse(buf + 1);
      free(buf);
      if (result)
        return proto_reply_ok(w->id, result);
      berr_set(&err, BERR_INTERNAL, "the layer walk's answer is not JSON");
      return proto_reply_error(w->id, &err);
    }
    if (buf[0] == ANSWER_ERROR && (size_t)size == 1 + sizeof err) {
      memcpy(&err, buf + 1, sizeof err);
      err.msg[sizeof err.msg - 1] = '\0';
      free(buf);
      return proto_reply_error(w->id, &err);
    }
  }
  free(buf);
  if (WIFSIGNALED(status))
    berr_set(&err, BERR_INTERNAL, "the layer walk was killed by signal %d", WTERMSIG(status));
  else
    berr_set(&err, BERR_INTERNAL, "the layer walk ended with status %d and no answer",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return proto_reply_error(w->id, &err);
}

bool layers_walk_reaped(pid_t pid, int status) {
  for (int i = 0; i < MAX_WALKS; i++) {
    struct walk *w = &walks[i];
    if (!w->pid || w->pid != pid)
      continue;
    struct conn *c = server_conn(w->srv, w->conn_id);
    if (c)
      conn_send(c, reply_of(w, status));
    close(w->answer_fd);
    json_object_put(w->id);
    *w = (struct walk){0};
    return true;
  }
  return false;
}
