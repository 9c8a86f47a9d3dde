#!/usr/bin/env bash
# Migration from one hook to another: the metrics element (elements/metrics)
# placed at the receiver's sk_skb in chain A and at the sender's sk_msg in
# chain B, on two cgroups. A client keeps 128 RPCs outstanding through A
# while `adn-load migrate A --to B` runs; B already counted traffic of its
# own. Afterwards B's per-method request counters hold exactly A's requests
# (before, during and after the move) plus its own, and A's stop changing
# at the switch: the relay runs A's receiver code against B's tables.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../receiver_lib.sh"
require_root
ensure_bpffs
require_chain_features
require_features prog:sk_skb helper:sk_skb:bpf_skb_load_bytes helper:sk_skb:bpf_get_socket_cookie
PIN_ROOT=/sys/fs/bpf/adn
CHAIN=adntest-mighook
PORT_A=17111 PORT_B=17112

for loc in sk_skb sk_msg; do
	mkdir -p "$TEST_TMP/$loc"
	"$ADNC" "$ADN_ROOT/elements/metrics/metrics.adn" -o "$TEST_TMP/$loc" --place "metrics=$loc" \
		>"$TEST_TMP/$loc.adnc" 2>&1 || fail "adnc --place metrics=$loc: $(cat "$TEST_TMP/$loc.adnc")"
done
# the element's chain has another layout hash than kv-client's (lib.sh use_element)
KV_LAYOUT_ARG="--layout 0"
# requests CHAIN : requests the chain's metrics element counted (every method)
requests() { "$ADNCTL" table "$1" metrics.requests list --json | jq '[.[].n] | add // 0'; }
make_cgroup CGA mighook-a
make_cgroup CGB mighook-b
KV_OBJ=$TEST_TMP/sk_skb/metrics.bpf.o attach_chain $CHAIN-a $PORT_A "$CGA"
KV_OBJ=$TEST_TMP/sk_msg/metrics.bpf.o attach_chain $CHAIN-b $PORT_B "$CGB"
chain_has_skb() { [ -e "$PIN_ROOT/$1/prog_skb_verdict" ]; }
chain_has_skb $CHAIN-a || fail "chain a has no receiver programs"
chain_has_skb $CHAIN-b && fail "chain b has receiver programs"

# b's own traffic, through its own server
start_bg server-b "$CGB" "$KV_SERVER" --listen 127.0.0.1 --port $PORT_B
wait_for_line "$TEST_TMP/server-b.out" listening
out=$(kv "$CGB" $PORT_B --user alice --count 500) || fail "b: own traffic: $out"
expect_eq "b counted its own traffic" 500 "$(requests $CHAIN-b)"

start_server "$CGA" $PORT_A
start_bg client-a "$CGA" "$KV_CLIENT" --host 127.0.0.1 --port $PORT_A --json --user alice \
	$KV_LAYOUT_ARG --duration 300 --outstanding 128 --conns 4
cpid=$BG_PID
watch_strp_stall $PORT_A "$cpid" &
wpid=$!
# wait_requests CHAIN MIN : at most 60 s, while the client runs
wait_requests() {
	local end=$((SECONDS + 60)) v
	while :; do
		v=$(requests "$1")
		[ "$v" -ge "$2" ] && return 0
		if ! kill -0 "$cpid" 2>/dev/null || [ $SECONDS -ge $end ]; then
			[ -s "$TEST_TMP/strp_stall" ] && strp_stall_skip
			fail "$1: $v requests counted, not $2 (client: $(cat "$TEST_TMP/client-a.out"))"
		fi
		sleep 0.1
	done
}
wait_requests $CHAIN-a 1000
"$ADN_LOAD" migrate $CHAIN-a --to $CHAIN-b --json >"$TEST_TMP/mig.json" 2>&1 ||
	fail "migrate sk_skb -> sk_msg: $(cat "$TEST_TMP/mig.json")"
note "migrate under load: $(cat "$TEST_TMP/mig.json")"
kill -0 $cpid 2>/dev/null || fail "the client ended before the migration: not under load"
frozen=$(requests $CHAIN-a)
wait_requests $CHAIN-b $((500 + frozen + 1000))
kill -INT $cpid
crc=0
wait $cpid || crc=$?
kill $wpid 2>/dev/null
wait $wpid 2>/dev/null
c=$(cat "$TEST_TMP/client-a.out")
sent=$(jq -r '.sent // 0' <<<"$c") lost=$(jq -r '.lost // 0' <<<"$c")
[ $crc = 0 ] || [ "$lost" != 0 ] || fail "client a ended early: $c"
expect_eq "client a: every call completed or got no reply" "$sent" $(($(jq -r .ok <<<"$c") + lost))
if [ "$lost" != 0 ]; then
	# replies late past the client's deadline: the kernel's strparser
	# stall (receiver_lib.sh); the counts below still prove each request
	# was counted and handled exactly once
	strp_read_sock_kernel || [ -s "$TEST_TMP/strp_stall" ] ||
		fail "client a: $lost calls without reply on a kernel without the strparser stall: $c"
	note "client a: $lost replies late (kernel $(uname -r) has tcp_bpf_strp_read_sock: its strparser stall, docs/kernel-notes.md)"
fi
expect_eq "a's tables stop changing at the switch" "$frozen" "$(requests $CHAIN-a)"
[ "$frozen" -lt "$sent" ] || fail "no traffic after the switch ($frozen of $sent)"
expect_eq "b = its own 500 + every request of a (none lost, none twice)" $((sent + 500)) \
	"$(requests $CHAIN-b)"
stop_server
expect_eq "server a handled every call once" "$sent" "$(handled_by alice)"
note "a sent $sent (a's tables froze at $frozen); b holds $((sent + 500))"
"$ADN_LOAD" detach $CHAIN-a >/dev/null || fail "detach a"
expect_eq "b keeps the state after a is gone" $((sent + 500)) "$(requests $CHAIN-b)"
echo ok
