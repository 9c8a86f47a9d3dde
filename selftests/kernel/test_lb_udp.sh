#!/usr/bin/env bash
# Per-RPC load balancing over UDP (ROUTE TO REPLICA, issue 5 part C): the
# chain (acl, then shard: ROUTE TO REPLICA hash(key)) at TC egress of the
# client's device; the client (kv-client --udp --replicas) sends every
# request to the first replica's address from one unconnected socket, and
# TC rewrites destination MAC, IPv4 address and port (checksums fixed) to
# the replica that owns the key, whose reply the socket takes.
#   1. 3 replicas: every RPC lands on replica hash(key) % 3; a denied user
#      is answered by the network and never reaches a handler;
#   2. a replica removed while traffic flows: no RPC fails;
#   3. 2 replicas: every RPC lands on hash(key) % 2;
#   4. a replica that dies under load, then is removed: every call ends OK
#      (its requests are retried and routed again) or UNAVAILABLE.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../netns.sh"
source "$(dirname "$0")/../lb_lib.sh"
lb_require python3

PORT=17151
CHAIN=adntest-lbudp-$$
lb_build $PORT udp # $TEST_TMP/lb/lb.bpf.o, LAYOUT

lb_setup 3 lbudp "$CHAIN" "$TEST_TMP/lb/lb.bpf.o" dev
# the bridge's ports complete checksums in software, so the replicas verify
# the ones TC rewrote (over veth alone a wrong one would go unnoticed)
for i in 1 2 3; do tx_csum_off "$NS_BR" "ps$i"; done
start_replicas 3 $PORT "$CG_S" --udp
lb_add_replicas "$CHAIN" shard 3 mac
"$ADNCTL" replica "$CHAIN" shard list | grep -q "^2 ${IP_S[3]}:$PORT mac=$(replica_mac 3)$" ||
	fail "replica list: $("$ADNCTL" replica "$CHAIN" shard list)"

REPLICAS="${IP_S[1]},${IP_S[2]},${IP_S[3]}"
kv_lb() { lb_kv "$REPLICAS" --udp --layout $LAYOUT "$@"; }

# 1. three replicas
lb_first_round 3000 32 200 16
[ "$(chain_stat "$CHAIN" routed)" -ge 3000 ] || fail "routed: $(chain_stat "$CHAIN" routed)"

# 2. graceful removal under load (prefix b): replica 3 removed once 300
# calls of a running client were routed, the client stopped once 300 more
# were
lb_remove_under_load "$CHAIN" 300 300 --udp --layout $LAYOUT --outstanding 32

# 3. two replicas (prefix c)
out=$(kv_lb --user alice --count 2000 --outstanding 32 --key-prefix c) || fail "two replicas: $out"
expect_eq "two replicas: ok" 2000 "$(status_count "$out" ok)"

lb_check_owners 3000 2000

# 4. a replica dies under load (prefix d), then is removed
start_replicas 2 $PORT "$CG_S" --udp
REPLICAS="${IP_S[1]},${IP_S[2]}"
# (the client runs until stopped, as in 2: the kill comes once 300 of its
# calls were routed, the stop once 300 more were routed after the removal)
r=$(chain_stat "$CHAIN" routed)
start_bg client-d "$CG_C" nsenter --net="/run/netns/$NS_C" -- "$KV_CLIENT" --udp \
	--replicas "$REPLICAS" --port $PORT --json --layout $LAYOUT --user alice --duration 300 --outstanding 32 --key-prefix d
CD=$BG_PID
wait_stat "$CHAIN" routed $((r + 300)) "$CD"
kill -KILL "${RPID[2]}"
wait "${RPID[2]}" 2>/dev/null
sleep 0.3
"$ADNCTL" replica "$CHAIN" shard remove "${IP_S[2]}:$PORT" || fail "adnctl replica remove 2"
wait_stat "$CHAIN" routed $(($(chain_stat "$CHAIN" routed) + 300)) "$CD"
kill -INT "$CD"
wait "$CD"
out=$(grep "^{" "$TEST_TMP/client-d.out") || fail "no summary: $(cat "$TEST_TMP/client-d.out")"
sent=$(jq -r .sent <<<"$out")
ok=$(status_count "$out" ok)
unavail=$(status_count "$out" unavailable)
expect_eq "failure: OK or UNAVAILABLE only" "$sent" "$((ok + unavail))"
[ "$ok" -gt 300 ] || fail "failure: too few ok calls: $out"
note "killed replica: $ok ok, $unavail UNAVAILABLE of $sent (requests to it retried and routed again)"
echo ok
