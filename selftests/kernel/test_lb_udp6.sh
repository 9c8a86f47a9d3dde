#!/usr/bin/env bash
# Per-RPC load balancing over UDP and IPv6 (ROUTE TO REPLICA, issue 5 item
# 4): test_lb_udp's chain (acl, then shard: ROUTE TO REPLICA hash(key)) at
# TC egress of the client's device, with IPv6 replicas (netns_ipv6,
# fd00:77::/64): the client (kv-client --udp --replicas, bare IPv6
# addresses) sends every request to the first replica's address from one
# unconnected AF_INET6 socket, and TC rewrites destination MAC, IPv6
# address and port (UDP checksum fixed over the pseudo-header) to the
# replica that owns the key, whose reply the socket takes.
# The bridge's ports complete every checksum in software (tx_csum_off,
# netns.sh), so the replicas verify them: over veth alone a datagram stays
# CHECKSUM_PARTIAL and a wrong checksum would go unnoticed.
#   1. 3 replicas: every RPC lands on replica hash(key) % 3; a denied user
#      is answered by the network and never reaches a handler; `routed`
#      grows, `route_miss` stays 0; the same with the client's checksum
#      offload off (TC then sees the full checksum, not the pseudo-header
#      sum); no replica counted a checksum error;
#   2. a replica removed while traffic flows: no RPC fails;
#   3. 2 replicas: every RPC lands on hash(key) % 2;
#   4. a mixed set (an IPv6 replica, then an IPv4 one): the requests the
#      IPv4 replica owns are not routed (route_miss, one per try) and go
#      where the client sent them, an IPv6 address where nothing listens:
#      they end UNAVAILABLE after the client's last try; the others end OK
#      on their owner.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../netns.sh"
source "$(dirname "$0")/../lb_lib.sh"
lb_require python3

PORT=17161
CHAIN=adntest-lbudp6-$$
TRIES=4 # the RPC library's default tries of a UDP call (rpc/client_udp.c)
lb_build $PORT udp # $TEST_TMP/lb/lb.bpf.o, LAYOUT

lb_setup 3 lbudp6 "$CHAIN" "$TEST_TMP/lb/lb.bpf.o" dev
netns_ipv6
LB_IPV6=1
for i in 1 2 3; do tx_csum_off "$NS_BR" "ps$i"; done
# csum_errors I : Udp6InCsumErrors of replica I's namespace
csum_errors() { in_ns "${NS_S[$1]}" awk '$1 == "Udp6InCsumErrors" { print $2 }' /proc/net/snmp6; }
start_replicas 3 $PORT "$CG_S" --udp
lb_add_replicas "$CHAIN" shard 3 mac
"$ADNCTL" replica "$CHAIN" shard list | grep -q "^2 \[${IP6_S[3]}\]:$PORT mac=$(replica_mac 3)$" ||
	fail "replica list: $("$ADNCTL" replica "$CHAIN" shard list)"

REPLICAS="${IP6_S[1]},${IP6_S[2]},${IP6_S[3]}"
kv_lb() { lb_kv "$REPLICAS" --udp --layout $LAYOUT "$@"; }

# 1. three replicas
lb_first_round 3000 32 200 16
[ "$(chain_stat "$CHAIN" routed)" -ge 3000 ] || fail "routed: $(chain_stat "$CHAIN" routed)"
# the client computes the full checksum at send time (prefix f)
tx_csum_off "$NS_C" "$DEV"
out=$(kv_lb --user alice --count 1000 --outstanding 32 --method mixed --key-prefix f) ||
	fail "alice, no checksum offload: $out"
expect_eq "alice ok, no checksum offload" 1000 "$(status_count "$out" ok)"
for i in 1 2 3; do expect_eq "replica $i: UDP checksum errors" 0 "$(csum_errors $i)"; done

# 2. graceful removal under load (prefix b), as in test_lb_udp
lb_remove_under_load "$CHAIN" 300 300 --udp --layout $LAYOUT --outstanding 32

# 3. two replicas (prefix c)
out=$(kv_lb --user alice --count 2000 --outstanding 32 --key-prefix c) || fail "two replicas: $out"
expect_eq "two replicas: ok" 2000 "$(status_count "$out" ok)"
expect_eq "IPv6 replicas: route_miss" 0 "$(chain_stat "$CHAIN" route_miss)"
note "IPv6: $(chain_stat "$CHAIN" routed) requests routed, none missed"

lb_check_owners 3000 2000
n=$(owner_check "no checksum offload" f 3 "$(replica_stats 1)" "$(replica_stats 2)" "$(replica_stats 3)") ||
	fail "no checksum offload: a request on the wrong replica"
expect_eq "no checksum offload: requests that reached their owners" 1000 "$n"
for i in 1 2 3; do expect_eq "replica $i: UDP checksum errors" 0 "$(csum_errors $i)"; done

# 4. a mixed set: replica 1 by its IPv6 address, replica 2 by its IPv4
# address only (its server listens there only). The client sends to
# replica 2's IPv6 address: a request whose owner is replica 1 is routed
# there; one whose owner is replica 2 is a family mismatch, left alone,
# and finds no socket at [IP6_S[2]] (the ICMPv6 port unreachable does not
# reach an unconnected socket), so each try is lost.
"$ADNCTL" replica "$CHAIN" shard remove "$(lb_addr 2)" || fail "adnctl replica remove 2"
"$ADNCTL" replica "$CHAIN" shard add "${IP_S[2]}:$PORT" "mac=$(replica_mac 2)" ||
	fail "adnctl replica add IPv4 replica"
start_bg_ns s1 "$CG_S" "${NS_S[1]}" "$KV_SERVER" --udp --listen "${IP6_S[1]}" --port $PORT \
	--stats-file "$(replica_stats 1)"
RPID[1]=$BG_PID
start_bg_ns s2 "$CG_S" "${NS_S[2]}" "$KV_SERVER" --udp --listen "${IP_S[2]}" --port $PORT \
	--stats-file "$(replica_stats 2)"
RPID[2]=$BG_PID
wait_for_line "$TEST_TMP/s1.out" "listening"
wait_for_line "$TEST_TMP/s2.out" "listening"
miss0=$(chain_stat "$CHAIN" route_miss)
out=$(lb_kv "${IP6_S[2]},${IP6_S[1]}" --udp --layout $LAYOUT --user alice --count 200 \
	--outstanding 200 --key-prefix e) || true
[ "$(jq -r .sent <<<"$out" 2>/dev/null)" = 200 ] || fail "mixed set: the client did not end: $out"
ok=$(status_count "$out" ok)
unavail=$(status_count "$out" unavailable)
expect_eq "mixed set: every call ends OK or UNAVAILABLE" 200 "$((ok + unavail))"
[ "$ok" -gt 0 ] && [ "$unavail" -gt 0 ] || fail "mixed set: $ok ok, $unavail unavailable: $out"
miss=$(($(chain_stat "$CHAIN" route_miss) - miss0))
expect_eq "mixed set: route_miss, one per try of an UNAVAILABLE call" "$((unavail * TRIES))" "$miss"
for i in 1 2; do stop_replica $i; done
n=$(owner_check "mixed set" e 2 "$(replica_stats 1)") || fail "mixed set: a request on the wrong replica"
expect_eq "mixed set: the IPv6 replica handled exactly the OK calls" "$ok" "$n"
expect_eq "mixed set: the IPv4 replica handled nothing" 0 "$(key_handled 2 e)"
note "mixed set: $ok ok (routed to the IPv6 replica), $unavail UNAVAILABLE ($miss route_miss)"
echo ok
