/* The container's seccomp filter (seccomp.h): a short classic-BPF program,
 * one section per system call ABI the CPU runs, each naming the few refused
 * calls by their numbers in that ABI. */
#include "seccomp.h"

#include <endian.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>

struct abi {
  uint32_t arch;
  uint32_t nr_mask; /* x86-64: clears the x32 bit, x32 numbers are the 64-bit ones */
  int clone_flags_arg;
  uint32_t unshare, clone, clone3, setns, keyctl, add_key, request_key;
};

#if defined(__x86_64__) || defined(__aarch64__)
#define HAVE_ABIS 1
static const struct abi abis[] = {
#if defined(__x86_64__)
    {AUDIT_ARCH_X86_64, ~0x40000000U, 0, 272, 56, 435, 308, 250, 248, 249},
    {AUDIT_ARCH_I386, ~0U, 0, 310, 120, 435, 346, 288, 286, 287},
#else
    {AUDIT_ARCH_AARCH64, ~0U, 0, 97, 220, 435, 268, 219, 217, 218},
    {AUDIT_ARCH_ARM, ~0U, 0, 337, 120, 435, 375, 311, 309, 310},
#endif
};
#define NABIS (sizeof abis / sizeof abis[0])
#endif

#ifndef HAVE_ABIS
int seccomp_confine(berr_t *err) {
  (void)err;
  return 0; /* no table of this CPU's system call numbers: no filter (seccomp.h) */
}
#else

#define PROG_MAX 128
#if __BYTE_ORDER == __LITTLE_ENDIAN
#define ARG_LO(i) ((uint32_t)(offsetof(struct seccomp_data, args) + 8 * (i)))
#else
#define ARG_LO(i) ((uint32_t)(offsetof(struct seccomp_data, args) + 8 * (i) + 4))
#endif

struct prog {
  struct sock_filter v[PROG_MAX];
  unsigned n;
};

static void emit(struct prog *p, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k) {
  if (p->n < PROG_MAX)
    p->v[p->n] = (struct sock_filter)BPF_JUMP(code, k, jt, jf);
  p->n++;
}

static void ret(struct prog *p, uint32_t action) { emit(p, BPF_RET | BPF_K, 0, 0, action); }

/* nr == call: refused with errnum */
static void refuse(struct prog *p, uint32_t call, int errnum) {
  emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, call);
  ret(p, SECCOMP_RET_ERRNO | (uint32_t)errnum);
}

/* nr == call and (the flags argument & CLONE_NEWUSER): EPERM */
static void refuse_newuser(struct prog *p, uint32_t call, int arg) {
  emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 4, call);
  emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_LO(arg));
  emit(p, BPF_JMP | BPF_JSET | BPF_K, 0, 1, CLONE_NEWUSER);
  ret(p, SECCOMP_RET_ERRNO | EPERM);
  ret(p, SECCOMP_RET_ALLOW);
}

/* One ABI's section: entered with its arch checked, always ends in a return. */
static void section(struct prog *p, const struct abi *a) {
  emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)offsetof(struct seccomp_data, nr));
  if (a->nr_mask != ~0U)
    emit(p, BPF_ALU | BPF_AND | BPF_K, 0, 0, a->nr_mask);
  refuse_newuser(p, a->unshare, 0);
  refuse_newuser(p, a->clone, a->clone_flags_arg);
  refuse(p, a->clone3, ENOSYS);
  refuse(p, a->setns, EPERM);
  refuse(p, a->keyctl, EPERM);
  refuse(p, a->add_key, EPERM);
  refuse(p, a->request_key, EPERM);
  ret(p, SECCOMP_RET_ALLOW);
}

int seccomp_confine(berr_t *err) {
  struct prog p = {.n = 0};
  emit(&p, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)offsetof(struct seccomp_data, arch));
  for (size_t i = 0; i < NABIS; i++) {
    struct prog s = {.n = 0};
    section(&s, &abis[i]);
    /* not this ABI: jump over its section */
    emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, (uint8_t)s.n, abis[i].arch);
    for (unsigned k = 0; k < s.n && p.n < PROG_MAX; k++)
      p.v[p.n++] = s.v[k];
  }
  ret(&p, SECCOMP_RET_ALLOW); /* an ABI this CPU does not run */
  if (p.n > PROG_MAX)
    return berr_set(err, BERR_INTERNAL, "the seccomp filter has %u instructions, over %d", p.n, PROG_MAX);
  struct sock_fprog fprog = {.len = (unsigned short)p.n, .filter = p.v};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) < 0)
    return berr_sys(err, errno, "install the seccomp filter (prctl PR_SET_SECCOMP)");
  return 0;
}
#endif
