#!/usr/bin/env bash
# Per-RPC load balancing over TCP (ROUTE TO REPLICA, issue 5 part C): a
# client and three kv-server replicas in network namespaces; the chain
# (acl, then shard: ROUTE TO REPLICA hash(key)) on the client's sk_msg; the
# client keeps one connection per replica (kv-client --replicas), all from
# one local port, and the program redirects every request to the
# connection of the replica that owns its key.
#   1. 3 replicas: every RPC lands on replica hash(key) % 3 (server-side
#      per-key counts); a denied user never reaches a handler;
#   2. a replica removed (adnctl replica remove) while traffic flows,
#      its server still up: no RPC fails;
#   3. 2 replicas: every RPC lands on hash(key) % 2; the removed one gets none;
#   4. a replica that dies under load, then is removed: every call ends,
#      OK or UNAVAILABLE (the ones in flight to it), and the survivor keeps
#      serving.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../netns.sh"
source "$(dirname "$0")/../lb_lib.sh"
lb_require python3

PORT=17150
CHAIN=adntest-lbtcp-$$
lb_build $PORT # $TEST_TMP/lb/lb.bpf.o, LAYOUT

lb_setup 3 lbtcp "$CHAIN" "$TEST_TMP/lb/lb.bpf.o"
start_replicas 3 $PORT "$CG_S"
lb_add_replicas "$CHAIN" shard 3
list=$("$ADNCTL" replica "$CHAIN" shard list)
expect_eq "replica list" "0 ${IP_S[1]}:$PORT
1 ${IP_S[2]}:$PORT
2 ${IP_S[3]}:$PORT" "$list"

# adnctl replica: every mistake is one clear line
bad_replica() { # WHAT EXPECTED-TEXT ARGS...
	local what=$1 want=$2 err
	shift 2
	err=$("$ADNCTL" replica "$@" 2>&1) && fail "$what: accepted"
	[ "$(wc -l <<<"$err")" -eq 1 ] && grep -q "$want" <<<"$err" || fail "$what: unclear error: $err"
}
bad_replica "duplicate" "already replica 0" "$CHAIN" shard add "${IP_S[1]}:$PORT"
bad_replica "not a member" "is not a replica" "$CHAIN" shard remove "10.77.0.99:$PORT"
bad_replica "bad address" "not an IPv4 or IPv6 address" "$CHAIN" shard add "nohost:$PORT"
bad_replica "bad port" "port must be 1..65535" "$CHAIN" shard add "${IP_S[1]}:0"
bad_replica "bad mac" "MAC 'xx'" "$CHAIN" shard add "10.77.0.99:$PORT" mac=xx
bad_replica "element that does not route" "has no element 'acl' that routes" "$CHAIN" acl list
bad_replica "no chain" "no chain 'nosuchchain'" nosuchchain shard list

REPLICAS="${IP_S[1]},${IP_S[2]},${IP_S[3]}"
kv_lb() { lb_kv "$REPLICAS" --layout $LAYOUT "$@"; } # ARGS... : kv-client over the replica set

# 1. three replicas, pipelined, mixed GET/PUT
lb_first_round 6000 64 300 32
routed=$(chain_stat "$CHAIN" routed)
expect_eq "routed counter" 6000 "$routed"
expect_eq "mallory: dropped at the sender" 300 "$(chain_stat "$CHAIN" dropped)"

# 2. graceful removal under load (prefix b): replica 3 leaves the set while
# its server still answers what it already has, once 500 calls of a running
# client were routed; the client stops once 500 more were
lb_remove_under_load "$CHAIN" 500 1000 --layout $LAYOUT --outstanding 64

# 3. two replicas (prefix c)
out=$(kv_lb --user alice --count 3000 --outstanding 64 --key-prefix c) || fail "two replicas: $out"
expect_eq "two replicas: ok" 3000 "$(status_count "$out" ok)"

lb_check_owners 6000 3000

# 4. a replica dies under load (prefix d), then is removed
start_replicas 2 $PORT "$CG_S"
REPLICAS="${IP_S[1]},${IP_S[2]}"
# (the client runs until stopped, as in 2: the kill comes once 500 of its
# calls were routed; after the removal it is stopped. The survivor's
# connection must not break with the killed one's: a send on it fails
# with EPIPE when the chain redirected a request to the dying connection,
# and the library sends again instead of closing it (rpc/client.c
# flush_conn). Every call it made is checked below; the survivor serving
# every key is checked by a new client.)
r=$(chain_stat "$CHAIN" routed)
start_bg client-d "$CG_C" nsenter --net="/run/netns/$NS_C" -- "$KV_CLIENT" --replicas "$REPLICAS" \
	--port $PORT --json --layout $LAYOUT --user alice --duration 300 --outstanding 64 --key-prefix d --grace-ms 500
CD=$BG_PID
wait_stat "$CHAIN" routed $((r + 500)) "$CD"
kill -KILL "${RPID[2]}"
wait "${RPID[2]}" 2>/dev/null
sleep 0.3
"$ADNCTL" replica "$CHAIN" shard remove "${IP_S[2]}:$PORT" || fail "adnctl replica remove 2"
kill -INT "$CD" 2>/dev/null
wait "$CD" # exits 2: some calls got no reply
! grep -q "every connection is lost" "$TEST_TMP/client-d.out" ||
	fail "the survivor's connection broke too: $(grep "every connection" "$TEST_TMP/client-d.out")"
out=$(grep "^{" "$TEST_TMP/client-d.out") || fail "no summary: $(cat "$TEST_TMP/client-d.out")"
expect_eq "failure: only the killed replica's connection broke" 1 "$(jq -r .conns_broken <<<"$out")"
sent=$(jq -r .sent <<<"$out")
ok=$(status_count "$out" ok)
unavail=$(status_count "$out" unavailable)
expect_eq "failure: every call ended" "$sent" "$(jq -r .ok+.lost+.net_replies <<<"$out")"
expect_eq "failure: OK or UNAVAILABLE only" "$sent" "$((ok + unavail))"
[ "$unavail" -gt 0 ] || note "no call was in flight to the dead replica"
[ "$ok" -gt 1000 ] || fail "failure: too few ok calls: $out"
note "killed replica: $unavail of $sent calls UNAVAILABLE ($(chain_stat "$CHAIN" route_miss) answered by the network: no connection to the chosen replica; $(jq -r .redirect_retries <<<"$out") sends retried after a redirect to the dead connection failed)"
out=$(kv_lb --user alice --count 500 --outstanding 16 --key-prefix e 2>&1) && fail "a client connected to a dead replica"
grep -q "replica 1: cannot connect to ${IP_S[2]} port $PORT" <<<"$out" || fail "unclear error: $out"
REPLICAS="${IP_S[1]}"
out=$(kv_lb --user alice --count 500 --outstanding 16 --key-prefix e) || fail "survivor: $out"
expect_eq "the survivor serves every key" 500 "$(status_count "$out" ok)"

echo ok
