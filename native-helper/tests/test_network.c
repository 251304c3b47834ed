/* Networks without a kernel: CIDR parsing and overlap, address allocation
 * (IPAM), and the `network` / `ports` part of the container spec. */
#include <arpa/inet.h>
#include <string.h>

#include "network.h"
#include "spec.h"
#include "tap.h"

static struct in_addr ip(const char *s) {
  struct in_addr a;
  inet_pton(AF_INET, s, &a);
  return a;
}

static const char *str(struct in_addr a) {
  static char b[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &a, b, sizeof b);
}

/* spec_net_from_json on {"network"?, "ports"?, "namespaces"?} with ns[] as parse_namespaces gives them */
static int net_spec(const char *json, bool net_ns, struct container_spec *s, berr_t *err) {
  memset(s, 0, sizeof *s);
  for (int k = 0; k < NS_COUNT; k++)
    s->ns[k] = k != NS_USER;
  s->ns[NS_NET] = net_ns;
  json_object *o = json_tokener_parse(json);
  int r = spec_net_from_json(s, o, err);
  json_object_put(o);
  return r;
}

int main(void) {
  TAP_PLAN(33);
  berr_t err;
  struct in_addr net;
  int prefix;

  TAP_OK(cidr_parse("10.90.1.0/24", 8, 30, &net, &prefix, &err) == 0 && prefix == 24 && !strcmp(str(net), "10.90.1.0"),
         "parses 10.90.1.0/24");
  TAP_OK(cidr_parse("10.89.0.0/16", 8, 30, &net, &prefix, &err) == 0 && prefix == 16, "parses 10.89.0.0/16");
  TAP_OK(cidr_parse("10.90.1.5/24", 8, 30, &net, &prefix, &err) < 0 && err.kind == BERR_INVALID &&
             strstr(err.msg, "host bits") && strstr(err.msg, "10.90.1.0"),
         "refuses host bits, naming the network address: %s", err.msg);
  TAP_OK(cidr_parse("10.90.1.0/31", 8, 30, &net, &prefix, &err) < 0 && err.kind == BERR_INVALID, "refuses /31");
  TAP_OK(cidr_parse("10.0.0.0/7", 8, 30, &net, &prefix, &err) < 0, "refuses /7");
  TAP_OK(cidr_parse("10.90.1.0", 8, 30, &net, &prefix, &err) < 0, "refuses a missing prefix");
  TAP_OK(cidr_parse("10.90.1.0/", 8, 30, &net, &prefix, &err) < 0, "refuses an empty prefix");
  TAP_OK(cidr_parse("10.90.1.0/2x", 8, 30, &net, &prefix, &err) < 0, "refuses a non-numeric prefix");
  TAP_OK(cidr_parse("10.90.1.0/-4", 8, 30, &net, &prefix, &err) < 0, "refuses a negative prefix");
  TAP_OK(cidr_parse("10.90.1/24", 8, 30, &net, &prefix, &err) < 0, "refuses a short address");
  TAP_OK(cidr_parse("fd00::/64", 8, 30, &net, &prefix, &err) < 0, "refuses IPv6");
  TAP_OK(cidr_parse(NULL, 8, 30, &net, &prefix, &err) < 0, "refuses NULL");
  TAP_OK(cidr_parse("10.90.1.0/024", 8, 30, &net, &prefix, &err) < 0, "refuses a three-digit prefix");

  TAP_OK(cidr_overlap(ip("10.89.0.0"), 16, ip("10.89.3.0"), 24), "10.89.0.0/16 overlaps 10.89.3.0/24");
  TAP_OK(cidr_overlap(ip("10.89.3.0"), 24, ip("10.89.0.0"), 16), "and the other way round");
  TAP_OK(!cidr_overlap(ip("10.89.0.0"), 16, ip("10.90.0.0"), 24), "10.89.0.0/16 does not overlap 10.90.0.0/24");
  TAP_OK(!cidr_overlap(ip("10.90.0.0"), 24, ip("10.90.1.0"), 24), "neighbouring /24s do not overlap");

  struct in_addr out;
  struct in_addr gw = ip("10.90.1.1");
  TAP_OK(ipam_pick(ip("10.90.1.0"), 24, gw, NULL, 0, &out, &err) == 0 && !strcmp(str(out), "10.90.1.2"),
         "the first address after the gateway: %s", str(out));
  struct in_addr used[] = {ip("10.90.1.2"), ip("10.90.1.3"), ip("10.90.1.5")};
  TAP_OK(ipam_pick(ip("10.90.1.0"), 24, gw, used, 3, &out, &err) == 0 && !strcmp(str(out), "10.90.1.4"),
         "the lowest free one: %s", str(out));
  TAP_OK(ipam_pick(ip("10.90.1.0"), 24, ip("10.90.1.254"), NULL, 0, &out, &err) == 0 && !strcmp(str(out), "10.90.1.1"),
         "a gateway elsewhere frees .1: %s", str(out));
  /* /30: network, two hosts, broadcast; the gateway takes one */
  struct in_addr one[] = {ip("10.90.2.2")};
  TAP_OK(ipam_pick(ip("10.90.2.0"), 30, ip("10.90.2.1"), one, 1, &out, &err) < 0 && err.kind == BERR_LIMIT,
         "a full subnet is `limit`: %s", err.msg);
  TAP_OK(ipam_pick(ip("10.90.2.0"), 30, ip("10.90.2.1"), NULL, 0, &out, &err) == 0 && !strcmp(str(out), "10.90.2.2"),
         "never the broadcast address");

  struct container_spec s;
  TAP_OK(net_spec("{}", true, &s, &err) == 0 && !strcmp(s.network, "bridge") && s.n_ports == 0,
         "no network: bridge");
  TAP_OK(net_spec("{\"namespaces\": {\"net\": false}}", false, &s, &err) == 0 && !strcmp(s.network, "host"),
         "namespaces.net false alone: host");
  TAP_OK(net_spec("{\"network\": \"host\"}", true, &s, &err) == 0 && !s.ns[NS_NET], "network host turns the net namespace off");
  TAP_OK(net_spec("{\"network\": \"host\", \"namespaces\": {\"net\": true}}", true, &s, &err) < 0 && err.kind == BERR_INVALID,
         "host with an explicit net namespace is invalid");
  TAP_OK(net_spec("{\"network\": \"bridge\", \"namespaces\": {\"net\": false}}", false, &s, &err) < 0 && err.kind == BERR_INVALID,
         "bridge without a net namespace is invalid: %s", err.msg);
  TAP_OK(net_spec("{\"ports\": [{\"hostPort\": 8080, \"containerPort\": 80}]}", true, &s, &err) == 0 && s.n_ports == 1 &&
             !strcmp(s.ports[0].host_ip, "127.0.0.1") && !s.ports[0].udp && s.ports[0].host_port == 8080,
         "a port gets 127.0.0.1 and tcp");
  TAP_OK(net_spec("{\"network\": \"none\", \"ports\": [{\"hostPort\": 8080, \"containerPort\": 80}]}", true, &s, &err) < 0,
         "no ports on network none");
  TAP_OK(net_spec("{\"ports\": [{\"hostPort\": 70000, \"containerPort\": 80}]}", true, &s, &err) < 0 && err.kind == BERR_INVALID,
         "a port out of range is invalid");
  TAP_OK(net_spec("{\"ports\": [{\"hostPort\": 53, \"containerPort\": 53, \"protocol\": \"udp\"},"
                  " {\"hostIp\": \"0.0.0.0\", \"hostPort\": 53, \"containerPort\": 5353, \"protocol\": \"udp\"}]}",
                  true, &s, &err) < 0 && strstr(err.msg, "twice"),
         "the same host port twice (0.0.0.0 covers every address): %s", err.msg);
  TAP_OK(net_spec("{\"ports\": [{\"hostIp\": \"::1\", \"hostPort\": 1, \"containerPort\": 1}]}", true, &s, &err) < 0,
         "hostIp must be IPv4");
  TAP_OK(net_spec("{\"network\": \"../x\"}", true, &s, &err) < 0 && err.kind == BERR_INVALID, "a bad network name is invalid");
  TAP_DONE();
}
