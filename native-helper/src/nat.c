/* libnftables rather than `nft -f -`: no fork and exec on the start path, and
 * the library's error buffer gives the exact message. It runs only when a
 * bridge comes or goes, never per container. */
#include "nat.h"

#include <errno.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int nat_apply(char *const *subnets, size_t n, berr_t *err) {
  size_t cap = 512 + n * 128;
  char *buf = malloc(cap);
  if (!buf)
    return berr_sys(err, ENOMEM, "nftables ruleset");
  /* "add" then "delete" makes the delete succeed whether or not it existed */
  size_t len = (size_t)snprintf(buf, cap, "add table ip %s\ndelete table ip %s\n", NAT_TABLE, NAT_TABLE);
  if (n > 0) {
    len += (size_t)snprintf(buf + len, cap - len,
                            "table ip %s {\n chain postrouting {\n"
                            "  type nat hook postrouting priority srcnat; policy accept;\n",
                            NAT_TABLE);
    for (size_t i = 0; i < n; i++)
      len += (size_t)snprintf(buf + len, cap - len, "  ip saddr %s ip daddr != %s masquerade\n",
                              subnets[i], subnets[i]);
    len += (size_t)snprintf(buf + len, cap - len, " }\n}\n");
  }
  struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) {
    free(buf);
    return berr_set(err, BERR_INTERNAL, "nft_ctx_new failed");
  }
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  int r = 0;
  if (nft_run_cmd_from_buffer(ctx, buf) != 0) {
    const char *msg = nft_ctx_get_error_buffer(ctx);
    r = berr_set(err, BERR_INTERNAL, "nftables: set up table ip %s: %.300s", NAT_TABLE,
                 msg && msg[0] ? msg : "failed");
    size_t l = strlen(err->msg);
    if (l && err->msg[l - 1] == '\n')
      err->msg[l - 1] = '\0';
  }
  nft_ctx_free(ctx);
  free(buf);
  return r;
}

int nat_ip_forward(berr_t *err) {
  /* /proc/sys/net belongs to the network namespace of whoever opens it: ours */
  return write_string("/proc/sys/net/ipv4/ip_forward", "1", err);
}
