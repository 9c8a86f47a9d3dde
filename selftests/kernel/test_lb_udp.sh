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
require_root
ensure_bpffs
command -v nsenter >/dev/null || { echo "SKIP: needs nsenter"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

PORT=17151
CHAIN=adntest-lbudp-$$
lb_adn "$TEST_TMP/lb.adn" $PORT udp
"$ADNC" "$TEST_TMP/lb.adn" -o "$TEST_TMP/lb/" >"$TEST_TMP/adnc.out" 2>&1 ||
	fail "adnc: $(cat "$TEST_TMP/adnc.out")"

netns_topology 3
make_cgroup CG_C lbudp-client
make_cgroup CG_S lbudp-servers
"$ADN_LOAD" attach --dev "$DEV@$NS_C" --port $PORT --name "$CHAIN" "$TEST_TMP/lb/lb.bpf.o" ||
	fail "adn-load attach --dev"
on_exit "'$ADN_LOAD' detach '$CHAIN'"
start_replicas 3 $PORT "$CG_S" --udp
mac_of() { ip -n "${NS_S[$1]}" link show "$DEV" | awk '/link\/ether/ {print $2}'; }
for i in 1 2 3; do
	"$ADNCTL" replica "$CHAIN" shard add "${IP_S[$i]}:$PORT" "mac=$(mac_of $i)" ||
		fail "adnctl replica add $i"
done
"$ADNCTL" replica "$CHAIN" shard list | grep -q "^2 ${IP_S[3]}:$PORT mac=$(mac_of 3)$" ||
	fail "replica list: $("$ADNCTL" replica "$CHAIN" shard list)"

REPLICAS="${IP_S[1]},${IP_S[2]},${IP_S[3]}"
kv_lb() {
	timeout 60 sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG_C" \
		nsenter --net="/run/netns/$NS_C" -- \
		"$KV_CLIENT" --udp --replicas "$REPLICAS" --port $PORT --json "$@"
}

# 1. three replicas
out=$(kv_lb --user alice --count 3000 --outstanding 32 --method mixed --key-prefix a) ||
	fail "alice: $out"
expect_eq "alice ok" 3000 "$(status_count "$out" ok)"
out=$(kv_lb --user mallory --count 200 --outstanding 16 --key-prefix a) || fail "mallory: $out"
expect_eq "mallory denied by the network" 200 "$(status_count "$out" permission_denied)"
expect_eq "mallory: network replies" 200 "$(jq -r .net_replies <<<"$out")"
[ "$(chain_stat "$CHAIN" routed)" -ge 3000 ] || fail "routed: $(chain_stat "$CHAIN" routed)"

# 2. graceful removal under load (prefix b). The client runs until stopped
# (SIGINT: no new calls, the outstanding ones complete, then its report);
# the removal comes once 300 of its calls were routed, the stop once 300
# more were routed after it (wait_stat: however slow the machine).
r=$(chain_stat "$CHAIN" routed)
start_bg client-b "$CG_C" nsenter --net="/run/netns/$NS_C" -- "$KV_CLIENT" --udp \
	--replicas "$REPLICAS" --port $PORT --json --user alice --duration 300 --outstanding 32 --key-prefix b
CB=$BG_PID
wait_stat "$CHAIN" routed $((r + 300)) "$CB"
"$ADNCTL" replica "$CHAIN" shard remove "${IP_S[3]}:$PORT" || fail "adnctl replica remove"
wait_stat "$CHAIN" routed $(($(chain_stat "$CHAIN" routed) + 300)) "$CB"
kill -INT "$CB"
wait "$CB" || fail "client during removal: $(cat "$TEST_TMP/client-b.out")"
out=$(grep "^{" "$TEST_TMP/client-b.out")
sent=$(jq -r .sent <<<"$out")
[ "$sent" -gt 300 ] || fail "too few calls during removal: $out"
expect_eq "removal under load: every call ok" "$sent" "$(status_count "$out" ok)"

# 3. two replicas (prefix c)
out=$(kv_lb --user alice --count 2000 --outstanding 32 --key-prefix c) || fail "two replicas: $out"
expect_eq "two replicas: ok" 2000 "$(status_count "$out" ok)"

for i in 1 2 3; do
	stop_replica $i
	expect_eq "replica $i: mallory never reached a handler" 0 "$(handled_on $i mallory)"
done
expect_eq "replica 3: nothing after removal (prefix c)" 0 "$(key_handled 3 c)"
S1=$(replica_stats 1) S2=$(replica_stats 2) S3=$(replica_stats 3)
n_a=$(owner_check "3 replicas" a 3 "$S1" "$S2" "$S3") || fail "3 replicas: a request on the wrong replica"
expect_eq "3 replicas: requests that reached their owners" 3000 "$n_a"
n_c=$(owner_check "2 replicas" c 2 "$S1" "$S2") || fail "2 replicas: a request on the wrong replica"
expect_eq "2 replicas: requests that reached their owners" 2000 "$n_c"

# 4. a replica dies under load (prefix d), then is removed
start_replicas 2 $PORT "$CG_S" --udp
REPLICAS="${IP_S[1]},${IP_S[2]}"
# (the client runs until stopped, as in 2: the kill comes once 300 of its
# calls were routed, the stop once 300 more were routed after the removal)
r=$(chain_stat "$CHAIN" routed)
start_bg client-d "$CG_C" nsenter --net="/run/netns/$NS_C" -- "$KV_CLIENT" --udp \
	--replicas "$REPLICAS" --port $PORT --json --user alice --duration 300 --outstanding 32 --key-prefix d
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
