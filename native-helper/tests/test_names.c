/* Container names and ids: the name rule of docs/protocol.md, generated
 * adjective_noun names that avoid taken ones, random 64-hex ids. */
#include <stdio.h>
#include <string.h>

#include "names.h"
#include "tap.h"

static bool taken_all_plain(const char *name, void *ctx) {
  int *calls = ctx;
  (*calls)++;
  /* every plain adjective_noun is taken: only a numbered one may be picked */
  int underscores = 0;
  for (const char *p = name; *p; p++)
    underscores += *p == '_';
  return underscores < 2;
}

static bool taken_never(const char *name, void *ctx) {
  (void)name;
  (void)ctx;
  return false;
}

static bool taken_always(const char *name, void *ctx) {
  (void)name;
  (void)ctx;
  return true;
}

int main(void) {
  TAP_PLAN(20);
  TAP_OK(name_is_valid("web"), "plain name");
  TAP_OK(name_is_valid("a"), "one character");
  TAP_OK(name_is_valid("Web_1.test-2"), "letters, digits, _ . -");
  TAP_OK(!name_is_valid(""), "empty refused");
  TAP_OK(!name_is_valid("-web"), "leading - refused");
  TAP_OK(!name_is_valid("_web") && !name_is_valid(".web"), "leading _ and . refused");
  TAP_OK(!name_is_valid("we b") && !name_is_valid("we/b") && !name_is_valid("wé"),
         "space, slash, non-ASCII refused");
  char n64[66];
  memset(n64, 'a', 64);
  n64[64] = '\0';
  TAP_OK(name_is_valid(n64), "64 characters allowed");
  n64[64] = 'a';
  n64[65] = '\0';
  TAP_OK(!name_is_valid(n64), "65 characters refused");
  berr_t err;
  TAP_OK(name_invalid(&err, "-x") < 0 && err.kind == BERR_INVALID && strstr(err.msg, "-x"),
         "invalid name error: %s", err.msg);

  char id[65], id2[65];
  TAP_OK(id_generate(id, &err) == 0 && id_is_valid(id), "generated id is 64 lowercase hex: %s", id);
  TAP_OK(id_generate(id2, &err) == 0 && strcmp(id, id2), "two ids differ");
  TAP_OK(!id_is_valid("ABC") && !id_is_valid(n64), "bad ids refused");
  TAP_OK(id_prefix_is_hex("3f7") && !id_prefix_is_hex("3F7") && !id_prefix_is_hex("web"),
         "id prefixes are lowercase hex");

  char name[65];
  TAP_OK(name_generate(name, taken_never, NULL, &err) == 0 && name_is_valid(name) && strchr(name, '_'),
         "generated name is adjective_noun: %s", name);
  bool all_valid = true, some_differ = false;
  char first[65];
  snprintf(first, sizeof first, "%s", name);
  for (int i = 0; i < 200; i++) {
    name_generate(name, taken_never, NULL, &err);
    all_valid = all_valid && name_is_valid(name);
    some_differ = some_differ || strcmp(name, first);
  }
  TAP_OK(all_valid, "200 generated names are valid names");
  TAP_OK(some_differ, "generated names vary");
  int calls = 0;
  TAP_OK(name_generate(name, taken_all_plain, &calls, &err) == 0 && name_is_valid(name),
         "when plain names are taken a numbered one is picked: %s", name);
  TAP_OK(calls > 10, "taken() was asked for each candidate (%d)", calls);
  TAP_OK(name_generate(name, taken_always, NULL, &err) < 0 && err.kind == BERR_LIMIT,
         "gives up with `limit` when everything is taken");
  TAP_DONE();
}
