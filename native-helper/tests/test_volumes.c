/* The volume store: create (named, generated, twice), info, the sorted
 * list, delete; names follow the container name rule. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"
#include "volumes.h"

int main(void) {
  TAP_PLAN(14);
  char root[] = "/tmp/berth-test-volumes-XXXXXX";
  if (!mkdtemp(root))
    return 1;
  berr_t err;
  char name[65];
  bool created = false;
  TAP_OK(volume_create(root, "data", false, name, &created, &err) == 0 && created && !strcmp(name, "data"),
         "create a named volume");
  char data[4096];
  struct stat st;
  TAP_OK(volume_data_path(root, "data", data, &err) == 0 && stat(data, &st) == 0 && S_ISDIR(st.st_mode) &&
             (st.st_mode & 0777) == 0755,
         "its _data directory is there, 0755: %s", data);
  TAP_OK(volume_exists(root, "data") && !volume_exists(root, "other"), "exists");
  TAP_OK(volume_create(root, "data", false, NULL, NULL, &err) < 0 && err.kind == BERR_CONFLICT,
         "the same name twice is a conflict: %s", err.msg);
  TAP_OK(volume_create(root, "data", true, NULL, &created, &err) == 0 && !created, "exists_ok takes it as it is");
  TAP_OK(volume_create(root, "../x", false, NULL, NULL, &err) < 0 && err.kind == BERR_INVALID &&
             volume_create(root, "", false, NULL, NULL, &err) < 0,
         "bad names refused");
  char gen[65];
  TAP_OK(volume_create(root, NULL, false, gen, &created, &err) == 0 && created && strlen(gen) == 64,
         "no name: 64 hex characters (%s)", gen);
  int fd = -1;
  char file[4200];
  snprintf(file, sizeof file, "%s/f", data);
  if ((fd = open(file, O_WRONLY | O_CREAT, 0644)) >= 0) {
    (void)!write(fd, "0123456789", 10);
    close(fd);
  }
  json_object *info = NULL;
  TAP_OK(volume_info(root, "data", true, &info, &err) == 0 &&
             !strcmp(json_object_get_string(json_object_object_get(info, "mountpoint")), data) &&
             json_object_get_int64(json_object_object_get(info, "sizeBytes")) > 0 &&
             json_object_object_get(info, "created") != NULL,
         "info with size");
  json_object_put(info);
  info = NULL;
  TAP_OK(volume_info(root, "data", false, &info, &err) == 0 && !json_object_object_get(info, "sizeBytes"),
         "info without size: null");
  json_object_put(info);
  TAP_OK(volume_info(root, "nope", false, &info, &err) < 0 && err.kind == BERR_NOT_FOUND, "missing is not_found");
  char **names = NULL;
  TAP_OK(volume_names(root, &names, &err) == 0 && strv_len(names) == 2 && strcmp(names[0], names[1]) < 0,
         "two volumes, sorted");
  strv_free(names);
  int64_t bytes = -1;
  TAP_OK(volume_delete(root, "data", &bytes, &err) == 0 && bytes > 0 && !volume_exists(root, "data") &&
             access(data, F_OK) < 0,
         "delete takes the data too (%lld bytes)", (long long)bytes);
  TAP_OK(volume_delete(root, "data", NULL, &err) < 0 && err.kind == BERR_NOT_FOUND, "deleting twice: not_found");
  TAP_OK(volume_delete(root, gen, NULL, &err) == 0 && volume_names(root, &names, &err) == 0 && !names[0],
         "none left");
  strv_free(names);
  rm_rf(root, &err);
  TAP_DONE();
}
