/* File descriptors handed over SOCK_SEQPACKET sockets (daemon to monitor,
 * monitor to init and back): a message, often a one-byte tag, with the
 * descriptors as SCM_RIGHTS. */
#ifndef BERTH_FDPASS_H
#define BERTH_FDPASS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define FDPASS_MAX 8

/* Sends tag with fds[0..n) (n <= FDPASS_MAX; 0 sends the tag alone). */
int fdpass_send(int sock, char tag, const int *fds, int n, berr_t *err);
/* Receives one message: its tag in *tag and up to max descriptors (CLOEXEC) in
 * fds; returns how many came, or -1 with err filled (the peer gone; with
 * dontwait, errnum EAGAIN when nothing is queued). A message with more than max
 * descriptors is refused, and every descriptor it carried closed. */
int fdpass_recv(int sock, char *tag, int *fds, int max, bool dontwait, berr_t *err);
/* The same with a message of len bytes; *got = the bytes received (a message
 * longer than cap is refused). */
int fdpass_sendmsg(int sock, const void *data, size_t len, const int *fds, int n, berr_t *err);
int fdpass_recvmsg(int sock, void *buf, size_t cap, size_t *got, int *fds, int max, bool dontwait,
                   berr_t *err);

#endif
