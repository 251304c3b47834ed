/* Real containers through runtime_start / runtime_exec / runtime_logs (root
 * only): a busybox lower layer in a temp dir, a temp state dir, the real
 * cgroup managers beneath this process's own cgroup. Everything made here is
 * removed again, and no mount may remain. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "runtime.h"
#include "stream.h"
#include "tap.h"
#include "util.h"

static char tmp[] = "/tmp/berth-rt-XXXXXX";

/* A TAP description must stay on one line. */
static const char *oneline(const char *s) {
  static char buf[4][160];
  static int i;
  char *b = buf[i++ % 4];
  size_t n = 0;
  for (; s && *s && n < sizeof buf[0] - 1; s++)
    b[n++] = *s == '\n' ? '|' : *s == '\r' ? '~' : *s;
  b[n] = '\0';
  return b;
}
static char layer[256];
static struct cgroup_env env;
static int seq;

struct ctr {
  struct container_spec spec;
  char dir[512];
  struct start_result res;
  int ctl;
};

static void copy_file(const char *from, const char *to) {
  char *buf = NULL;
  size_t len = 0;
  berr_t err;
  if (read_file(from, 64 << 20, &buf, &len, &err) < 0 ||
      write_file_atomic(to, buf, len, 0755, false, &err) < 0) {
    fprintf(stderr, "copy %s: %s\n", from, err.msg);
    exit(1);
  }
  free(buf);
}

static void make_layer(void) {
  berr_t err;
  snprintf(layer, sizeof layer, "%s/layer", tmp);
  char p[512];
  snprintf(p, sizeof p, "%s/bin", layer);
  mkdir_p(p, 0755, &err);
  snprintf(p, sizeof p, "%s/etc", layer);
  mkdir_p(p, 0755, &err);
  snprintf(p, sizeof p, "%s/bin/busybox", layer);
  copy_file("/bin/busybox", p);
  static const char *const applets[] = {"sh", "echo", "cat", "hostname", "ls", "sleep", "id", "ip",
                                        "readlink", "kill"};
  for (size_t i = 0; i < sizeof applets / sizeof applets[0]; i++) {
    snprintf(p, sizeof p, "%s/bin/%s", layer, applets[i]);
    if (symlink("busybox", p) < 0)
      perror("symlink");
  }
}

static void ctr_init(struct ctr *c, const char *const *argv) {
  memset(c, 0, sizeof *c);
  c->ctl = -1;
  snprintf(c->spec.id, sizeof c->spec.id, "%064x", 0xbe00 + ++seq);
  snprintf(c->spec.name, sizeof c->spec.name, "t%d", seq);
  c->spec.argv = strv_dup((char *const *)argv);
  static char *const env0[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                               "HOME=/", NULL};
  c->spec.env = strv_dup(env0);
  c->spec.workdir = strdup("/");
  snprintf(c->spec.hostname, sizeof c->spec.hostname, "box%d", seq);
  for (int k = 0; k < NS_COUNT; k++)
    c->spec.ns[k] = k != NS_USER;
  char *const lowers[] = {layer, NULL};
  c->spec.lowerdirs = strv_dup(lowers);
  snprintf(c->dir, sizeof c->dir, "%s/containers/%s", tmp, c->spec.id);
  berr_t err;
  static const char *const sub[] = {"upper", "work", "merged"};
  for (int i = 0; i < 3; i++) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", c->dir, sub[i]);
    mkdir_p(p, 0755, &err);
  }
}

static void ctr_free(struct ctr *c) {
  strv_free(c->spec.argv);
  strv_free(c->spec.env);
  strv_free(c->spec.lowerdirs);
  free(c->spec.workdir);
  cgroup_free(&c->res.cg);
  berr_t err;
  rm_rf(c->dir, &err);
}

static int start(struct ctr *c, int attach_fd, berr_t *err) {
  struct runtime_opts o = {.cg_env = &env, .log_max_bytes = 1 << 20, .attach_fd = attach_fd};
  return runtime_start(&c->spec, c->dir, &o, &c->res, &c->ctl, err);
}

static int wait_monitor(struct ctr *c) {
  int st = 0;
  while (waitpid(c->res.monitor_pid, &st, 0) < 0 && errno == EINTR)
    ;
  return st;
}

static json_object *read_exit(struct ctr *c) {
  char p[600];
  snprintf(p, sizeof p, "%s/exit.json", c->dir);
  json_object *o = NULL;
  berr_t err;
  if (json_read_file(p, &o, &err) < 0)
    return NULL;
  return o;
}

static int64_t jint(json_object *o, const char *k) {
  json_object *v;
  return o && json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : -999;
}
static const char *jstr(json_object *o, const char *k) {
  json_object *v;
  return o && json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : "";
}

/* The text of the stdout/stderr records of ctr.log, joined (F adds "\n"). */
static char *log_text(struct ctr *c, const char *stream) {
  char p[600];
  snprintf(p, sizeof p, "%s/ctr.log", c->dir);
  char *buf = NULL;
  berr_t err;
  if (read_file(p, 1 << 20, &buf, NULL, &err) < 0)
    return strdup("");
  char *out = calloc(1, strlen(buf) + 1);
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *a = strchr(line, ' ');
    if (!a || strncmp(a + 1, stream, strlen(stream)))
      continue;
    char *tag = a + 1 + strlen(stream) + 1;
    strcat(out, tag + 2);
    if (*tag == 'F')
      strcat(out, "\n");
  }
  free(buf);
  return out;
}

/* Runs a detached container to its end; returns its stdout. */
static char *run(struct ctr *c, json_object **exit_out, berr_t *err) {
  if (start(c, -1, err) < 0)
    return NULL;
  runtime_release(c->ctl);
  wait_monitor(c);
  if (exit_out)
    *exit_out = read_exit(c);
  return log_text(c, "stdout");
}

static bool mounted_under(const char *prefix) {
  char *mi = NULL;
  berr_t err;
  if (read_file("/proc/self/mountinfo", 1 << 22, &mi, NULL, &err) < 0)
    return true;
  bool found = strstr(mi, prefix) != NULL;
  free(mi);
  return found;
}

static bool cgroup_exists(const char *id) {
  for (int k = 0; k < CG_CTL_COUNT; k++) {
    if (!env.parent[k])
      continue;
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", env.parent[k], id);
    if (access(p, F_OK) == 0)
      return true;
  }
  return false;
}

/* Reads frames until EXIT (or EOF); collects stdout/stderr. */
static int read_frames(int fd, char *out, size_t out_cap, char *errb, size_t err_cap, char *exitj,
                       size_t exit_cap) {
  struct frame_reader rd;
  frame_reader_init(&rd);
  size_t on = 0, en = 0;
  out[0] = errb[0] = exitj[0] = '\0';
  int got_exit = 0;
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 10000) <= 0)
      break;
    uint8_t type;
    const uint8_t *pl;
    uint32_t len;
    berr_t err;
    int k = frame_read(&rd, fd, &type, &pl, &len, &err);
    if (k == FRAME_AGAIN)
      continue;
    if (k != FRAME_READY)
      break;
    if (type == FRAME_STDOUT && on + len < out_cap) {
      memcpy(out + on, pl, len);
      out[on += len] = '\0';
    } else if (type == FRAME_STDERR && en + len < err_cap) {
      memcpy(errb + en, pl, len);
      errb[en += len] = '\0';
    } else if (type == FRAME_EXIT || type == FRAME_LOG || type == FRAME_ERROR) {
      size_t n = len < exit_cap - 1 ? len : exit_cap - 1;
      size_t have = strlen(exitj);
      if (have + n < exit_cap) {
        memcpy(exitj + have, pl, n);
        exitj[have + n] = '\0';
      }
      if (type != FRAME_LOG) {
        got_exit = 1;
        break;
      }
    }
  }
  frame_reader_free(&rd);
  return got_exit;
}

static void ns_links(const char *pid, char out[NS_COUNT][64]) {
  for (int k = 0; k < NS_COUNT; k++) {
    char p[128];
    snprintf(p, sizeof p, "/proc/%s/ns/%s", pid, ns_name((enum ns_kind)k));
    ssize_t n = readlink(p, out[k], 63);
    out[k][n > 0 ? n : 0] = '\0';
  }
}

/* Our child that waits for its job (runtime_prefork), or 0. */
static pid_t find_spare(void) {
  pid_t found = 0;
  DIR *d = opendir("/proc");
  for (struct dirent *e; d && !found && (e = readdir(d));) {
    char p[300], comm[32] = "", stat[512] = "";
    snprintf(p, sizeof p, "/proc/%s/comm", e->d_name);
    FILE *f = fopen(p, "r");
    if (!f)
      continue;
    (void)!fgets(comm, sizeof comm, f);
    fclose(f);
    snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
    if ((f = fopen(p, "r"))) {
      (void)!fgets(stat, sizeof stat, f);
      fclose(f);
    }
    const char *rp = strrchr(stat, ')');
    int ppid = 0;
    char state;
    if (!strcmp(comm, "berth-spare\n") && rp && sscanf(rp + 2, "%c %d", &state, &ppid) == 2 && ppid == getpid())
      found = atoi(e->d_name);
  }
  if (d)
    closedir(d);
  return found;
}

int main(void) {
  if (geteuid() != 0) {
    printf("1..0 # SKIP needs root\n");
    return 0;
  }
  TAP_PLAN(55);
  signal(SIGPIPE, SIG_IGN);
  berr_t err;
  TAP_OK(mkdtemp(tmp) != NULL && chmod(tmp, 0755) == 0, "temp dir %s", tmp);
  make_layer();
  TAP_OK(cgroup_env_init(&env, "/", &err) == 0, "cgroup env: %s", err.msg);
  char host_ns[NS_COUNT][64];
  ns_links("self", host_ns);

  /* PID 1, hostname, namespaces */
  {
    struct ctr c;
    const char *argv[] = {"sh", "-c", "echo $$; hostname; ls -l /proc/self/ns/",
                          NULL};
    ctr_init(&c, argv);
    json_object *ex = NULL;
    char *out = run(&c, &ex, &err);
    TAP_OK(out != NULL, "container runs: %s", out ? "" : err.msg);
    char expect[64];
    snprintf(expect, sizeof expect, "1\n%s\n", c.spec.hostname);
    TAP_OK(out && !strncmp(out, expect, strlen(expect)), "PID 1 and its own hostname: %s", oneline(out));
    int differ = 0;
    for (int k = 0; k < NS_USER; k++)
      if (out && strstr(out, host_ns[k]) == NULL)
        differ++;
    TAP_OK(differ == 6, "pid mnt uts ipc net cgroup namespaces differ from the host's (%d)", differ);
    TAP_OK(jint(ex, "exitCode") == 0 && !strcmp(jstr(ex, "reason"), "exited") && jint(ex, "startToExitUs") > 0,
           "exit.json: exited 0 (%s)", ex ? json_object_to_json_string(ex) : "none");
    TAP_OK(c.res.init_pid > 0 && c.res.init_starttime > 0 && c.res.monitor_starttime > 0,
           "start result has pids and start times");
    int steps_ok = 1;
    for (int i = 0; i < TL_COUNT; i++)
      steps_ok &= c.res.step_us[i] >= 0;
    printf("# timeline: cgroup %lld clone %lld mounts %lld pivot_root %lld mask %lld exec %lld us\n",
           (long long)c.res.step_us[0], (long long)c.res.step_us[1], (long long)c.res.step_us[2],
           (long long)c.res.step_us[3], (long long)c.res.step_us[4], (long long)c.res.step_us[5]);
    TAP_OK(steps_ok && c.res.step_us[TL_MOUNTS] > 0, "timeline filled");
    const int64_t *at = c.res.step_at_us;
    printf("# began at: cgroup %lld clone %lld mounts %lld pivot_root %lld mask %lld exec %lld us\n",
           (long long)at[0], (long long)at[1], (long long)at[2], (long long)at[3], (long long)at[4], (long long)at[5]);
    bool in_order = at[TL_CGROUP] >= 0 && at[TL_CLONE] >= 0;
    for (int i = TL_MOUNTS; i <= TL_EXEC; i++) /* each after the one before has ended */
      in_order &= at[i] >= at[i - 1] + c.res.step_us[i - 1];
    TAP_OK(in_order, "steps began in order: clone, mounts, pivot_root, mask, exec (the cgroup beside them)");
    TAP_OK(!cgroup_exists(c.spec.id), "cgroup removed after exit");
    json_object_put(ex);
    free(out);
    ctr_free(&c);
  }

  /* writes land in upper/, capabilities, exit codes */
  {
    struct ctr c;
    const char *argv[] = {"sh", "-c", "echo data > /file; cat /proc/self/status; exit 7", NULL};
    ctr_init(&c, argv);
    json_object *ex = NULL;
    char *out = run(&c, &ex, &err);
    char p[700];
    snprintf(p, sizeof p, "%s/upper/file", c.dir);
    char *data = NULL;
    TAP_OK(read_file(p, 100, &data, NULL, &err) == 0 && !strcmp(data, "data\n"), "write landed in upper/");
    free(data);
    TAP_OK(out && strstr(out, "CapBnd:\t00000000a80425fb"), "bounding set is Docker's default");
    TAP_OK(out && strstr(out, "CapEff:\t00000000a80425fb"), "effective set too");
    TAP_OK(out && strstr(out, "NoNewPrivs:\t1"), "no_new_privs");
    TAP_OK(jint(ex, "exitCode") == 7 && !strcmp(jstr(ex, "reason"), "exited"), "exit code 7 recorded");
    json_object_put(ex);
    free(out);
    ctr_free(&c);
  }
  {
    struct ctr c;
    /* PID 1 of a PID namespace cannot be killed from inside: share the host's */
    const char *argv[] = {"sh", "-c", "kill -9 $$", NULL};
    ctr_init(&c, argv);
    c.spec.ns[NS_PID] = false;
    json_object *ex = NULL;
    free(run(&c, &ex, &err));
    TAP_OK(jint(ex, "exitCode") == 137 && !strcmp(jstr(ex, "reason"), "signaled") &&
               !strcmp(jstr(ex, "signal"), "SIGKILL"),
           "killed by SIGKILL: %s", ex ? json_object_to_json_string(ex) : "none");
    json_object_put(ex);
    ctr_free(&c);
  }

  /* a command that does not exist */
  {
    struct ctr c;
    const char *argv[] = {"nosuchbinary", NULL};
    ctr_init(&c, argv);
    int r = start(&c, -1, &err);
    TAP_OK(r < 0 && strstr(err.msg, "exec") && strstr(err.msg, "nosuchbinary"), "clear error: %s", err.msg);
    TAP_OK(!cgroup_exists(c.spec.id), "no cgroup left behind");
    TAP_OK(!mounted_under(c.dir), "nothing mounted");
    char p[700];
    snprintf(p, sizeof p, "%s/exit.json", c.dir);
    TAP_OK(access(p, F_OK) < 0, "no exit.json for a failed start");
    ctr_free(&c);
    const char *argv2[] = {"sh", NULL};
    ctr_init(&c, argv2);
    free(c.spec.workdir);
    c.spec.workdir = strdup("/no/such/dir");
    r = start(&c, -1, &err);
    TAP_OK(r < 0 && strstr(err.msg, "/no/such/dir"), "missing workdir: %s", err.msg);
    ctr_free(&c);
  }

  /* attached, with stdin, stdout and stderr frames */
  {
    struct ctr c;
    const char *argv[] = {"sh", "-c", "cat; echo oops >&2", NULL};
    ctr_init(&c, argv);
    c.spec.open_stdin = true;
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    int r = start(&c, sv[1], &err);
    close(sv[1]);
    TAP_OK(r == 0, "attached start: %s", r ? err.msg : "");
    runtime_release(c.ctl);
    berr_t e2;
    frame_write(sv[0], FRAME_STDIN, "abc\n", 4, 1000, &e2);
    frame_write(sv[0], FRAME_STDIN_EOF, "", 0, 1000, &e2);
    char out[4096], errb[4096], exitj[4096];
    int got = read_frames(sv[0], out, sizeof out, errb, sizeof errb, exitj, sizeof exitj);
    TAP_OK(!strcmp(out, "abc\n"), "stdin echoed back as STDOUT: %s", oneline(out));
    TAP_OK(!strcmp(errb, "oops\n"), "STDERR frame");
    TAP_OK(got && strstr(exitj, "\"exitCode\":0"), "EXIT frame: %s", exitj);
    close(sv[0]);
    wait_monitor(&c);
    char *logged = log_text(&c, "stderr");
    TAP_OK(!strcmp(logged, "oops\n"), "stderr logged too");
    free(logged);
    ctr_free(&c);
  }

  /* output before the go-ahead is held, not lost */
  {
    struct ctr c;
    const char *argv[] = {"echo", "early", NULL};
    ctr_init(&c, argv);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    int r = start(&c, sv[1], &err);
    close(sv[1]);
    usleep(200000); /* the command has long finished */
    runtime_release(c.ctl);
    char out[4096], errb[4096], exitj[4096];
    int got = read_frames(sv[0], out, sizeof out, errb, sizeof errb, exitj, sizeof exitj);
    TAP_OK(r == 0 && got && !strcmp(out, "early\n"), "held output delivered after the go-ahead");
    close(sv[0]);
    wait_monitor(&c);
    ctr_free(&c);
  }

  /* tty */
  {
    struct ctr c;
    const char *argv[] = {"sh", "-c", "readlink /proc/self/fd/0; ls -l /dev/console >/dev/null && echo console", NULL};
    ctr_init(&c, argv);
    c.spec.tty = true;
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    int r = start(&c, sv[1], &err);
    close(sv[1]);
    TAP_OK(r == 0, "tty start: %s", r ? err.msg : "");
    runtime_release(c.ctl);
    uint8_t rs[4] = {0, 40, 0, 100};
    berr_t e2;
    frame_write(sv[0], FRAME_RESIZE, rs, 4, 1000, &e2);
    char out[4096], errb[4096], exitj[4096];
    int got = read_frames(sv[0], out, sizeof out, errb, sizeof errb, exitj, sizeof exitj);
    TAP_OK(strstr(out, "/dev/pts/") && strstr(out, "\r\n"), "stdin is a PTY, output has CRLF: %s", oneline(out));
    TAP_OK(strstr(out, "console\r\n") != NULL, "/dev/console exists");
    TAP_OK(got && errb[0] == '\0', "tty: only STDOUT frames, then EXIT");
    close(sv[0]);
    wait_monitor(&c);
    ctr_free(&c);
  }

  /* exec joins the same namespaces and cgroup */
  {
    struct ctr c;
    const char *argv[] = {"sleep", "30", NULL};
    ctr_init(&c, argv);
    int r = start(&c, -1, &err);
    TAP_OK(r == 0, "long-running container: %s", r ? err.msg : "");
    runtime_release(c.ctl);
    char init_pid[16];
    snprintf(init_pid, sizeof init_pid, "%d", (int)c.res.init_pid);
    char init_ns[NS_COUNT][64];
    ns_links(init_pid, init_ns);
    char *const ex_argv[] = {"sh", "-c", "echo $$; hostname; ls -l /proc/self/ns/; cat /proc/self/status; exit 3", NULL};
    struct exec_spec es = {.argv = (char **)ex_argv, .env = c.spec.env, .workdir = (char *)"/", .uid = 0, .gid = 0};
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    pid_t pid = 0;
    int ctl = -1;
    r = runtime_exec(&c.spec, c.res.init_pid, &c.res.cg, &es, sv[1], &pid, &ctl, &err);
    close(sv[1]);
    TAP_OK(r == 0 && pid > 0, "exec started: %s", r ? err.msg : "");
    runtime_release(ctl);
    static char out[65536];
    char errb[4096], exitj[4096];
    int got = read_frames(sv[0], out, sizeof out, errb, sizeof errb, exitj, sizeof exitj);
    close(sv[0]);
    int same = 0;
    for (int k = 0; k < NS_USER; k++)
      same += strstr(out, init_ns[k]) != NULL;
    TAP_OK(same == 6, "exec is in the init's namespaces (%d of 6)", same);
    char host_line[64];
    snprintf(host_line, sizeof host_line, "\n%s\n", c.spec.hostname);
    TAP_OK(strstr(out, host_line) && atoi(out) > 1, "exec sees the container's hostname, a PID > 1");
    TAP_OK(strstr(out, "CapBnd:\t00000000a80425fb") != NULL, "exec has the reduced capabilities");
    TAP_OK(got && strstr(exitj, "\"exitCode\":3"), "exec EXIT frame: %s", exitj);
    const char *nope[] = {"nosuchbinary", NULL};
    es.argv = (char **)nope;
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    r = runtime_exec(&c.spec, c.res.init_pid, &c.res.cg, &es, sv[1], &pid, &ctl, &err);
    close(sv[1]);
    close(sv[0]);
    TAP_OK(r < 0 && strstr(err.msg, "nosuchbinary"), "exec of a missing binary fails: %s", err.msg);
    kill(c.res.init_pid, SIGKILL);
    wait_monitor(&c);
    json_object *ex = read_exit(&c);
    TAP_OK(jint(ex, "exitCode") == 137, "killed container recorded");
    json_object_put(ex);
    TAP_OK(!cgroup_exists(c.spec.id), "cgroup removed after the exec'd container ended");
    ctr_free(&c);
  }

  /* the host's mount namespace: chroot, and the mounts go away afterwards */
  {
    struct ctr c;
    const char *argv[] = {"sh", "-c", "echo x > /x; cat /x; ls /proc/1 >/dev/null && echo proc", NULL};
    ctr_init(&c, argv);
    c.spec.ns[NS_MNT] = false;
    json_object *ex = NULL;
    char *out = run(&c, &ex, &err);
    TAP_OK(out && !strcmp(out, "x\nproc\n"), "chroot mode works: %s", out ? oneline(out) : err.msg);
    char merged[700];
    snprintf(merged, sizeof merged, "%s/merged", c.dir);
    TAP_OK(!mounted_under(merged), "no mount left under merged");
    json_object_put(ex);
    free(out);
    ctr_free(&c);
  }

  /* user namespace */
  /* Through a monitor forked ahead (runtime_prefork), as berthd starts them:
   * the namespaces it made before its job are the container's alone, and a
   * namespace the spec shares is the host's, not a premade one. */
  {
    char nets[2][64] = {"", ""};
    bool own = true;
    for (int round = 0; round < 2; round++) {
      struct ctr c;
      const char *argv[] = {"sh", "-c", "for n in net ipc uts; do readlink /proc/self/ns/$n; done", NULL};
      ctr_init(&c, argv);
      int pre = runtime_prefork(&err);
      char *out = run(&c, NULL, &err);
      own &= pre == 0 && out && !strstr(out, host_ns[NS_NET]) && !strstr(out, host_ns[NS_IPC]) &&
             !strstr(out, host_ns[NS_UTS]) && !strncmp(out, "net:[", 5);
      if (out)
        snprintf(nets[round], sizeof nets[round], "%.*s", (int)strcspn(out, "\n"), out);
      free(out);
      ctr_free(&c);
    }
    TAP_OK(own && strcmp(nets[0], nets[1]), "monitors forked ahead: net, ipc and uts namespaces new, one each (%s, %s)",
           nets[0], nets[1]);
    struct ctr c;
    const char *argv[] = {"sh", "-c", "for n in net ipc uts; do readlink /proc/self/ns/$n; done", NULL};
    ctr_init(&c, argv);
    c.spec.ns[NS_NET] = c.spec.ns[NS_IPC] = c.spec.ns[NS_UTS] = false;
    runtime_prefork(&err);
    char *out = run(&c, NULL, &err);
    TAP_OK(out && strstr(out, host_ns[NS_NET]) && strstr(out, host_ns[NS_IPC]) && strstr(out, host_ns[NS_UTS]),
           "shared namespaces through one forked ahead are the host's: %s", out ? oneline(out) : err.msg);
    free(out);
    ctr_free(&c);
  }
  /* a spare killed before its job: the start forks one of its own */
  {
    berr_clear(&err);
    TAP_OK(runtime_prefork(&err) == 0, "a monitor forked ahead %s", err.msg);
    pid_t spare = 0;
    for (int i = 0; i < 200 && !(spare = find_spare()); i++)
      usleep(10000); /* until it has named itself */
    TAP_OK(spare > 0 && kill(spare, SIGKILL) == 0 && waitpid(spare, NULL, 0) == spare, "killed it (pid %d)", (int)spare);
    struct ctr c;
    const char *argv[] = {"echo", "after", NULL};
    ctr_init(&c, argv);
    char *out = run(&c, NULL, &err);
    TAP_OK(out && !strcmp(out, "after\n") && c.res.monitor_pid != spare, "the start went on in a monitor of its own: %s",
           out ? oneline(out) : err.msg);
    free(out);
    ctr_free(&c);
  }
  {
    struct ctr c;
    const char *argv[] = {"sh", "-c", "id; cat /proc/self/uid_map; echo hi > /owned", NULL};
    ctr_init(&c, argv);
    c.spec.ns[NS_USER] = true;
    json_object *ex = NULL;
    char *out = run(&c, &ex, &err);
    TAP_OK(out && !strncmp(out, "uid=0", 5),
           "root inside: %s", out ? oneline(out) : err.msg);
    TAP_OK(out && strstr(out, "100000"), "mapped to host 100000");
    char p[700];
    snprintf(p, sizeof p, "%s/upper/owned", c.dir);
    struct stat st;
    TAP_OK(stat(p, &st) == 0 && st.st_uid == 100000, "file written as host uid 100000");
    json_object_put(ex);
    free(out);
    ctr_free(&c);
  }

  /* logs */
  {
    struct ctr c;
    const char *argv[] = {"sh", "-c", "echo one; echo two; echo three", NULL};
    ctr_init(&c, argv);
    free(run(&c, NULL, &err));
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    int ctl = -1;
    int r = runtime_logs(c.dir, sv[1], false, 2, &ctl, &err);
    close(sv[1]);
    runtime_release(ctl);
    char out[4096], errb[4096], logs[8192];
    read_frames(sv[0], out, sizeof out, errb, sizeof errb, logs, sizeof logs);
    close(sv[0]);
    TAP_OK(r == 0 && !strstr(logs, " one\n") && strstr(logs, "stdout F two\n") && strstr(logs, "stdout F three\n"),
           "logs --tail 2: %s", oneline(logs));
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    r = runtime_logs(c.dir, sv[1], true, -1, &ctl, &err);
    close(sv[1]);
    runtime_release(ctl);
    read_frames(sv[0], out, sizeof out, errb, sizeof errb, logs, sizeof logs);
    close(sv[0]);
    TAP_OK(r == 0 && strstr(logs, " one\n") && strstr(logs, "\"exitCode\":0"), "logs --follow ends with EXIT");
    while (waitpid(-1, NULL, WNOHANG) > 0)
      ;
    ctr_free(&c);
  }

  runtime_prefork_drop();
  while (waitpid(-1, NULL, 0) > 0)
    ;
  TAP_OK(!mounted_under(tmp), "no mount remains under %s", tmp);
  TAP_OK(rm_rf(tmp, &err) == 0, "temp dir removed");
  /* the <own>/berth parents cgroup_env_init made: empty now, so they go too (on v2 all
   * entries name one dir; the first rmdir removes it, the others find it gone) */
  bool parents_gone = true;
  for (int i = 0; i < CG_CTL_COUNT; i++)
    if (env.parent[i] && rmdir(env.parent[i]) < 0 && errno != ENOENT) {
      parents_gone = false;
      printf("# rmdir %s: %s\n", env.parent[i], strerror(errno));
    }
  TAP_OK(parents_gone, "the berth/ parent cgroups removed");
  cgroup_env_free(&env);
  TAP_DONE();
}
