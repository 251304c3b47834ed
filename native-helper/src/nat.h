/* Outgoing NAT for the bridge networks, and IPv4 forwarding. berthd keeps one
 * nftables table of its own, `ip berth`, rebuilt whole (in one transaction)
 * from the subnets whose bridge is up; with none it is deleted. */
#ifndef BERTH_NAT_H
#define BERTH_NAT_H

#include <stddef.h>

#include "error.h"

#define NAT_TABLE "berth"

/* subnets: CIDR strings ("10.89.0.0/16"), already validated. */
int nat_apply(char *const *subnets, size_t n, berr_t *err);
/* net.ipv4.ip_forward = 1 in berthd's network namespace. */
int nat_ip_forward(berr_t *err);

#endif
