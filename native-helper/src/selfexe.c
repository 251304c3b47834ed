/* berthd's sealed copy of itself (selfexe.h). */
#include "selfexe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

static bool fd_sealed(int fd) {
  int s = fcntl(fd, F_GET_SEALS);
  return s >= 0 && (s & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)) ==
                       (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW);
}

bool selfexe_is_sealed(void) {
  cleanup_close int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  return fd >= 0 && fd_sealed(fd);
}

int selfexe_reexec_sealed(char **argv, berr_t *err) {
  cleanup_close int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0)
    return berr_sys(err, errno, "open /proc/self/exe");
  if (fd_sealed(self))
    return 0;
  struct stat st;
  if (fstat(self, &st) < 0)
    return berr_sys(err, errno, "fstat /proc/self/exe");
  /* the copy's name (what /proc/PID/exe and maps show): the binary's */
  const char *base = argv && argv[0] ? strrchr(argv[0], '/') : NULL;
  base = base ? base + 1 : argv && argv[0] ? argv[0] : "berthd";
  char name[NAME_MAX - 8];
  snprintf(name, sizeof name, "%s", base[0] ? base : "berthd");
  /* MFD_EXEC: kernels since 6.3 want the executable bit asked for */
  cleanup_close int mem = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (mem < 0 && errno == EINVAL)
    mem = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mem < 0)
    return berr_sys(err, errno, "memfd_create for the sealed copy of berthd");
  for (off_t done = 0; done < st.st_size;) {
    ssize_t n = sendfile(mem, self, NULL, (size_t)(st.st_size - done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return berr_sys(err, n < 0 ? errno : EIO, "copy /proc/self/exe into the sealed copy");
    done += n;
  }
  if (fchmod(mem, 0555) < 0)
    return berr_sys(err, errno, "chmod the sealed copy of berthd");
  if (fcntl(mem, F_ADD_SEALS, SEALS) < 0)
    return berr_sys(err, errno, "seal the copy of berthd (F_ADD_SEALS)");
  syscall(SYS_execveat, mem, "", argv, environ, AT_EMPTY_PATH);
  return berr_sys(err, errno, "execute the sealed copy of berthd");
}
