/* Host paths a client names (image.import reads one, image.save and
 * container.export write one) are opened with that client's own permissions,
 * not root's: for each open, stat, rename or unlink berthd takes the client's
 * filesystem identity (setfsuid/setfsgid and its supplementary groups, which
 * also drops root's capabilities that bypass file permissions) and returns
 * to root right after. A root client works as root; a client that may not
 * read or write the file gets "permission denied: `FILE`". What is read
 * afterwards is read through the fd opened that way (a path of the form
 * /proc/self/fd/N), so nothing swapped in later is followed. */
#ifndef BERTH_USERPATH_H
#define BERTH_USERPATH_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "error.h"
#include "peer.h"

/* The client of this process (a worker's); NULL: none, act as root. */
void userpath_set_client(const struct peer_id *who);
const struct peer_id *userpath_client(void);

/* open(2) as who (NULL: as root). Returns the fd, or -1 with err: `denied`
 * "permission denied: `path` ..." for EACCES/EPERM of a non-root client,
 * `not_found` for ENOENT, else the errno. what: "read", "create", ... */
int userpath_open(const struct peer_id *who, const char *path, int flags, mode_t mode, const char *what,
                  berr_t *err);
/* openat2(dirfd, rel, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) as who: rel may
 * not leave dirfd (EXDEV). Returns the fd or -1 with errno (no message). */
int userpath_openat_beneath(const struct peer_id *who, int dirfd, const char *rel, int flags);
/* lstat, rename without replacing, unlink, as who: 0 or -1 with errno. */
int userpath_lstat(const struct peer_id *who, const char *path, struct stat *st);
int userpath_rename_noreplace(const struct peer_id *who, const char *from, const char *to);
int userpath_unlink(const struct peer_id *who, const char *path);

/* The error for errnum from an operation on path as who (as userpath_open). */
int userpath_error(berr_t *err, const struct peer_id *who, int errnum, const char *what, const char *path);

/* "/proc/self/fd/N" for fd. */
void userpath_fd_path(int fd, char out[32]);
/* Replaces every "/proc/self/fd/N" alias in err's message by the path it
 * stands for, so that messages name what the user gave. */
void userpath_unalias(berr_t *err, const char *alias, const char *path);

#endif
