/* Shared bits of the libFuzzer targets: a failed invariant aborts (libFuzzer
 * then keeps the input as a crash reproducer). */
#ifndef BERTH_FUZZ_UTIL_H
#define BERTH_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_ASSERT(cond, ...)                                                   \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "fuzz invariant failed at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                              \
      fputc('\n', stderr);                                                       \
      abort();                                                                   \
    }                                                                            \
  } while (0)

#endif
