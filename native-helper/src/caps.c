#include "caps.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const int default_caps[] = {
    CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,     CAP_MKNOD,
    CAP_NET_RAW, CAP_SETGID,      CAP_SETUID,           CAP_SETFCAP,    CAP_SETPCAP,
    CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL,     CAP_AUDIT_WRITE,
};

uint64_t caps_default_set(void) {
  uint64_t set = 0;
  for (size_t i = 0; i < sizeof default_caps / sizeof default_caps[0]; i++)
    set |= 1ULL << default_caps[i];
  return set;
}

int caps_apply(uid_t uid, gid_t gid, bool in_userns, bool host_mounts, berr_t *err) {
  uint64_t keep = caps_default_set();
  /* In the host's mount namespace a chroot is the only wall, and root with
   * CAP_SYS_CHROOT climbs over it (chroot into a subdirectory, `..` up from
   * the working directory left outside, chroot "."). */
  if (host_mounts)
    keep &= ~(1ULL << CAP_SYS_CHROOT);
  /* the kernel's last capability is where PR_CAPBSET_DROP says EINVAL */
  for (int cap = 0; cap < 64; cap++) {
    if (keep & (1ULL << cap))
      continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
      if (errno == EINVAL)
        break;
      return berr_sys(err, errno, "prctl PR_CAPBSET_DROP %d", cap);
    }
  }
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2] = {
      {.effective = (uint32_t)keep, .permitted = (uint32_t)keep, .inheritable = (uint32_t)keep},
      {.effective = (uint32_t)(keep >> 32), .permitted = (uint32_t)(keep >> 32),
       .inheritable = (uint32_t)(keep >> 32)},
  };
  if (syscall(SYS_capset, &hdr, data) < 0)
    return berr_sys(err, errno, "capset");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return berr_sys(err, errno, "prctl PR_CAP_AMBIENT_CLEAR_ALL");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return berr_sys(err, errno, "prctl PR_SET_NO_NEW_PRIVS");
  if (!in_userns && setgroups(0, NULL) < 0)
    return berr_sys(err, errno, "setgroups");
  if (setresgid(gid, gid, gid) < 0)
    return berr_sys(err, errno, "setgid %u", (unsigned)gid);
  if (setresuid(uid, uid, uid) < 0)
    return berr_sys(err, errno, "setuid %u", (unsigned)uid);
  return 0;
}
