#include "names.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static const char *const adjectives[] = {
    "admiring", "agile",    "amazing",  "brave",     "bright",   "busy",      "calm",
    "careful",  "charming", "clever",   "cool",      "curious",  "daring",    "dazzling",
    "eager",    "elated",   "epic",     "fervent",   "festive",  "focused",   "friendly",
    "gallant",  "gentle",   "happy",    "hopeful",   "jolly",    "keen",      "kind",
    "laughing", "lively",   "lucid",    "merry",     "mighty",   "modest",    "nifty",
    "nimble",   "noble",    "patient",  "peaceful",  "plucky",   "polite",    "proud",
    "quick",    "quiet",    "relaxed",  "serene",    "sharp",    "shiny",     "silly",
    "sleepy",   "snappy",   "steady",   "stoic",     "sunny",    "swift",     "tender",
    "thirsty",  "trusting", "upbeat",   "vibrant",   "vigilant", "wizardly",  "wonderful",
    "zealous",
};

static const char *const nouns[] = {
    "albatross", "anchor",  "barge",    "beacon",   "buoy",    "canoe",    "capstan",
    "clipper",   "compass", "coral",    "cutter",   "dinghy",  "dock",     "dolphin",
    "dory",      "ferry",   "frigate",  "galleon",  "gull",    "harbor",   "heron",
    "hull",      "jetty",   "keel",     "kelp",     "ketch",   "lagoon",   "lantern",
    "lighthouse", "mast",   "mooring",  "narwhal",  "oar",     "orca",     "otter",
    "pelican",   "pier",    "puffin",   "quay",     "raft",    "reef",     "rudder",
    "sail",      "schooner", "seal",    "shell",    "skiff",   "sloop",    "starfish",
    "tide",      "tugboat", "turtle",   "walrus",   "wave",    "whale",    "wharf",
    "yacht",     "yawl",
};

#define N_ADJ (sizeof adjectives / sizeof adjectives[0])
#define N_NOUN (sizeof nouns / sizeof nouns[0])

static bool name_char_ok(char c, bool first) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
    return true;
  return !first && (c == '_' || c == '.' || c == '-');
}

bool name_is_valid(const char *name) {
  if (!name || !name[0])
    return false;
  size_t n = strlen(name);
  if (n > NAME_MAX_LEN)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!name_char_ok(name[i], i == 0))
      return false;
  return true;
}

int name_invalid(berr_t *err, const char *name) {
  return berr_set(err, BERR_INVALID,
                  "invalid container name '%.80s': use 1 to 64 of A-Z a-z 0-9 _ . -, starting "
                  "with a letter or digit",
                  name ? name : "");
}

bool id_prefix_is_hex(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > 64)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return true;
}

bool id_is_valid(const char *id) { return id && strlen(id) == 64 && id_prefix_is_hex(id); }

static int random_bytes(void *buf, size_t n, berr_t *err) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom((char *)buf + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return berr_sys(err, errno, "getrandom");
    }
    got += (size_t)r;
  }
  return 0;
}

int id_generate(char out[65], berr_t *err) {
  unsigned char b[32];
  if (random_bytes(b, sizeof b, err) < 0)
    return -1;
  for (size_t i = 0; i < sizeof b; i++)
    snprintf(out + 2 * i, 3, "%02x", b[i]);
  /* an all-digit short id reads like a number in listings; Docker avoids it too */
  bool digits = true;
  for (int i = 0; i < 12; i++)
    digits = digits && out[i] >= '0' && out[i] <= '9';
  if (digits)
    out[0] = 'a' + (char)(b[0] % 6);
  return 0;
}

int name_generate(char out[65], name_taken_fn taken, void *ctx, berr_t *err) {
  for (int attempt = 0; attempt < 1000; attempt++) {
    uint32_t r[2];
    if (random_bytes(r, sizeof r, err) < 0)
      return -1;
    const char *adj = adjectives[r[0] % N_ADJ], *noun = nouns[r[1] % N_NOUN];
    /* after a few collisions the table is crowded: add a number */
    if (attempt < 10)
      snprintf(out, 65, "%s_%s", adj, noun);
    else
      snprintf(out, 65, "%s_%s_%u", adj, noun, (unsigned)(r[0] % 10000));
    if (!taken || !taken(out, ctx))
      return 0;
  }
  return berr_set(err, BERR_LIMIT, "could not find a free container name; give one with `name`");
}
