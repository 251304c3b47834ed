/* Minimal TAP producer for the C unit tests: `1..N`, `ok N - name`. */
#ifndef BERTH_TAP_H
#define BERTH_TAP_H
#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;
#define TAP_PLAN(n) printf("1..%d\n", (n))
#define TAP_OK(cond, ...)                                                    \
  do {                                                                       \
    int _ok = !!(cond);                                                      \
    tap_n++;                                                                 \
    if (!_ok)                                                                \
      tap_failed++;                                                          \
    printf("%sok %d - ", _ok ? "" : "not ", tap_n);                          \
    printf(__VA_ARGS__);                                                     \
    printf("\n");                                                            \
    if (!_ok)                                                                \
      printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
  } while (0)
#define TAP_DONE() return tap_failed ? 1 : 0
#endif
