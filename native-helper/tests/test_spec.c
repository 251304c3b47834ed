/* The resolved container spec (spec.c): defaults, validation of every field
 * as hostile input, the cpus → quota conversion, and the round trip
 * spec_from_json(spec_to_json(s)). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spec.h"
#include "tap.h"
#include "util.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A minimal valid spec with extra fields spliced in. */
static int parse_with(const char *extra, struct container_spec *s, berr_t *err) {
  char buf[4096];
  snprintf(buf, sizeof buf,
           "{\"id\":\"" ID "\",\"name\":\"web\",\"image\":\"busybox:latest\",\"imageId\":\"sha256:aa\","
           "\"argv\":[\"sh\"],\"lowerdirs\":[\"/var/lib/berth/layers/sha256/ab\"]%s%s}",
           extra[0] ? "," : "", extra);
  json_object *o = json_tokener_parse(buf);
  if (!o) {
    printf("# bad test JSON: %s\n", buf);
    return -2;
  }
  berr_clear(err);
  int r = spec_from_json(s, o, err);
  json_object_put(o);
  return r;
}

static bool fails(const char *extra, enum berr_kind kind, const char *needle) {
  struct container_spec s;
  berr_t err;
  int r = parse_with(extra, &s, &err);
  if (r == 0) {
    spec_free(&s);
    printf("# accepted: %s\n", extra);
    return false;
  }
  if (err.kind != kind || (needle && !strstr(err.msg, needle))) {
    printf("# %s -> %s: %s\n", extra, berr_kind_name(err.kind), err.msg);
    return false;
  }
  return true;
}

static bool ok(const char *extra, struct container_spec *s) {
  berr_t err;
  if (parse_with(extra, s, &err) != 0) {
    printf("# refused %s: %s\n", extra, err.msg);
    return false;
  }
  return true;
}

int main(void) {
  TAP_PLAN(38);
  struct container_spec s;
  berr_t err;

  TAP_OK(ok("", &s), "minimal spec parses");
  TAP_OK(!strcmp(s.workdir, "/") && !strcmp(s.hostname, "0123456789ab") && s.uid == 0 && s.gid == 0,
         "defaults: workdir /, hostname = short id, user 0:0");
  TAP_OK(s.ns[NS_PID] && s.ns[NS_MNT] && s.ns[NS_UTS] && s.ns[NS_IPC] && s.ns[NS_NET] &&
             s.ns[NS_CGROUP] && !s.ns[NS_USER],
         "namespaces: all on but user");
  TAP_OK(s.limits.memory_bytes == 0 && s.limits.cpu_quota_us == 0 && s.limits.pids_max == 0 &&
             s.env && !s.env[0],
         "no limits, empty env");
  spec_free(&s);

  TAP_OK(ok("\"namespaces\":{\"net\":false,\"user\":true},\"user\":\"1000:50\",\"workdir\":\"/srv\","
            "\"hostname\":\"box.local\",\"tty\":true,\"stdin\":true,\"autoRemove\":true,"
            "\"env\":[\"A=1\",\"B=\"]",
            &s) &&
             !s.ns[NS_NET] && s.ns[NS_USER] && s.ns[NS_PID] && s.uid == 1000 && s.gid == 50 &&
             !strcmp(s.workdir, "/srv") && !strcmp(s.hostname, "box.local") && s.tty &&
             s.open_stdin && s.auto_remove && !strcmp(s.env[1], "B="),
         "every field is read");
  spec_free(&s);
  TAP_OK(ok("\"user\":\"42\"", &s) && s.uid == 42 && s.gid == 0, "user uid alone: gid 0");
  spec_free(&s);

  /* limits */
  TAP_OK(ok("\"limits\":{\"memory\":67108864,\"cpus\":0.5,\"cpuWeight\":100,\"pids\":64}", &s) &&
             s.limits.memory_bytes == 67108864 && s.limits.cpu_quota_us == 50000 &&
             s.limits.cpu_period_us == 100000 && s.limits.cpu_weight == 100 && s.limits.pids_max == 64,
         "limits: cpus 0.5 = 50000/100000");
  spec_free(&s);
  TAP_OK(ok("\"limits\":{\"memory\":null,\"cpus\":null,\"cpuWeight\":null,\"pids\":null}", &s) &&
             s.limits.memory_bytes == 0 && s.limits.cpu_quota_us == 0,
         "null limits mean none");
  spec_free(&s);
  TAP_OK(ok("\"limits\":{\"memory\":4194304}", &s), "4 MiB is the minimum memory");
  spec_free(&s);
  TAP_OK(fails("\"limits\":{\"memory\":4194303}", BERR_INVALID, "minimum"), "below 4 MiB: invalid, says the minimum");
  TAP_OK(fails("\"limits\":{\"memory\":-1}", BERR_INVALID, NULL), "negative memory refused");
  TAP_OK(fails("\"limits\":{\"memory\":\"64m\"}", BERR_BAD_REQUEST, NULL), "memory as a string is bad_request");
  TAP_OK(fails("\"limits\":{\"cpus\":0}", BERR_INVALID, NULL), "cpus 0 refused");
  TAP_OK(fails("\"limits\":{\"cpus\":-0.5}", BERR_INVALID, NULL), "negative cpus refused");
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  char extra[128];
  snprintf(extra, sizeof extra, "\"limits\":{\"cpus\":%ld.5}", ncpu);
  TAP_OK(fails(extra, BERR_INVALID, "CPUs"), "more cpus than the machine has refused");
  snprintf(extra, sizeof extra, "\"limits\":{\"cpus\":%ld}", ncpu);
  TAP_OK(ok(extra, &s) && s.limits.cpu_quota_us == ncpu * 100000, "all the machine's cpus allowed");
  spec_free(&s);
  TAP_OK(fails("\"limits\":{\"cpuWeight\":0}", BERR_INVALID, NULL) &&
             fails("\"limits\":{\"cpuWeight\":10001}", BERR_INVALID, NULL),
         "cpuWeight outside 1..10000 refused");
  TAP_OK(fails("\"limits\":{\"pids\":0}", BERR_INVALID, NULL), "pids 0 refused");
  TAP_OK(fails("\"limits\":{\"swap\":1}", BERR_BAD_REQUEST, "swap"), "unknown limit named");
  TAP_OK(fails("\"limits\":[]", BERR_BAD_REQUEST, NULL), "limits must be an object");

  /* identity and command */
  TAP_OK(fails("\"argv\":[]", BERR_INVALID, "no command: the image has no Cmd/Entrypoint and none was given"),
         "empty argv: the no-command message");
  TAP_OK(fails("\"argv\":[\"\"]", BERR_INVALID, NULL), "empty argv[0] refused");
  TAP_OK(fails("\"argv\":[1]", BERR_BAD_REQUEST, NULL), "non-string argv refused");
  TAP_OK(fails("\"name\":\"-x\"", BERR_INVALID, "name"), "bad name refused");
  TAP_OK(fails("\"id\":\"xyz\"", BERR_INVALID, NULL), "bad id refused");
  TAP_OK(fails("\"env\":[\"NOEQUALS\"]", BERR_INVALID, NULL) && fails("\"env\":[\"=x\"]", BERR_INVALID, NULL),
         "env entries must be KEY=VALUE");
  TAP_OK(ok("\"user\":\"nobody\"", &s) && !strcmp(s.user_name, "nobody") && s.uid == 0,
         "a user name is kept to be resolved in the container");
  spec_free(&s);
  TAP_OK(ok("\"user\":\"app:staff\"", &s) && !strcmp(s.user_name, "app:staff"), "name:group kept");
  spec_free(&s);
  TAP_OK(ok("\"user\":\"1000:staff\"", &s) && !strcmp(s.user_name, "1000:staff"), "uid:group kept");
  spec_free(&s);
  TAP_OK(fails("\"user\":\"bad name\"", BERR_INVALID, "name[:group]") &&
             fails("\"user\":\"app:\"", BERR_INVALID, NULL) && fails("\"user\":\"a/b\"", BERR_INVALID, NULL),
         "malformed user names refused");
  TAP_OK(fails("\"user\":\"1:2:3\"", BERR_INVALID, NULL) && fails("\"user\":\"-1\"", BERR_INVALID, NULL) &&
             fails("\"user\":\"4294967295\"", BERR_INVALID, NULL),
         "malformed users refused");
  TAP_OK(fails("\"workdir\":\"srv\"", BERR_INVALID, "absolute"), "relative workdir refused");
  TAP_OK(fails("\"hostname\":\"-bad\"", BERR_INVALID, NULL) && fails("\"hostname\":\"a b\"", BERR_INVALID, NULL) &&
             fails("\"hostname\":\"a..b\"", BERR_INVALID, NULL),
         "bad hostnames refused");
  TAP_OK(fails("\"hostname\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", BERR_INVALID, NULL),
         "hostname over 64 characters refused");
  TAP_OK(fails("\"namespaces\":{\"time\":true}", BERR_BAD_REQUEST, "time"), "unknown namespace named");
  TAP_OK(fails("\"namespaces\":{\"pid\":1}", BERR_BAD_REQUEST, NULL), "namespace flags are booleans");
  TAP_OK(fails("\"lowerdirs\":[\"/a:b\"]", BERR_INVALID, NULL) && fails("\"lowerdirs\":[\"rel\"]", BERR_INVALID, NULL),
         "layer dirs that would break overlay options refused");
  TAP_OK(fails("\"lowerdirs\":[]", BERR_INVALID, NULL), "no layers refused");
  TAP_OK(fails("\"bogus\":1", BERR_BAD_REQUEST, "bogus"), "unknown top-level field named");

  /* round trip */
  struct container_spec a, b;
  TAP_OK(ok("\"namespaces\":{\"ipc\":false},\"user\":\"7:8\",\"env\":[\"X=1\"],\"hostname\":\"h\","
            "\"limits\":{\"memory\":8388608,\"cpus\":1.25,\"cpuWeight\":5,\"pids\":9},\"tty\":true",
            &a),
         "a full spec parses");
  json_object *j1 = spec_to_json(&a);
  int r = spec_from_json(&b, j1, &err);
  json_object *j2 = r == 0 ? spec_to_json(&b) : NULL;
  TAP_OK(r == 0 && j2 &&
             !strcmp(json_object_to_json_string_ext(j1, JSON_C_TO_STRING_PLAIN),
                     json_object_to_json_string_ext(j2, JSON_C_TO_STRING_PLAIN)) &&
             b.limits.cpu_quota_us == 125000 && b.limits.cpu_period_us == 100000 && !b.ns[NS_IPC] &&
             b.uid == 7 && b.gid == 8,
         "spec_to_json → spec_from_json round-trips: %s",
         json_object_to_json_string_ext(j1, JSON_C_TO_STRING_PLAIN));
  json_object_put(j1);
  json_object_put(j2);
  spec_free(&a);
  if (r == 0)
    spec_free(&b);
  TAP_DONE();
}
