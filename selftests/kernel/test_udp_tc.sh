#!/usr/bin/env bash
# The paper's chain on UDP datagrams, across network namespaces (a client
# and two server replicas on a bridge), at two places in turn:
#   1. TC egress on the client's veth (kv_chain_tc.bpf.o; also at its
#      ingress, for the response side of the log element);
#   2. XDP (generic) on the server's veth (kv_chain_xdp.bpf.o).
# At each: alice's RPCs pass; mallory's come back PERMISSION_DENIED from
# the network and never reach the handler; with fault p = 0.05 the aborted
# fraction lies in the binomial one-in-a-million interval; malformed datagrams are
# counted and dropped with no effect on a concurrent client. Loaded with
# bpftool and iproute2 (no adn-load), state set with bpftool.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../netns.sh"
require_root
ensure_bpffs
command -v nsenter >/dev/null || { echo "SKIP: needs nsenter"; exit 77; }

PORT=7070
N=10000
PIN=/sys/fs/bpf/adn/adntest-udp-$$
MALFORMED_UDP=$BIN/malformed_udp
for o in kv_chain_tc kv_chain_xdp; do
	make -s -C "$ADN_ROOT" "build/reference/$o.bpf.o" "build/bin/malformed_udp" >/dev/null ||
		fail "cannot build $o"
done

netns_topology 2
make_cgroup CG_C udp-client
make_cgroup CG_S udp-server
SERVER_IP=${IP_S[1]}
start_server_ns "$CG_S" "${NS_S[1]}" "$SERVER_IP" $PORT --udp

# kv_udp ARGS... : kv-client over UDP from the client namespace; its JSON.
kv_udp() {
	timeout 120 sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG_C" \
		nsenter --net="/run/netns/$NS_C" -- \
		"$KV_CLIENT" --udp --host "$SERVER_IP" --port $PORT --json "$@"
}

# set_fault DIR P : fault.probability as 32.32 fixed point.
set_fault() {
	local real
	real=$(awk -v p="$2" 'BEGIN { printf "%.0f", p * 4294967296 }')
	# shellcheck disable=SC2046
	map_update "$1" adn_params $(le_bytes 0 4) -- $(le_bytes "$real" 8)
}

# setup_chain DIR : the state the loader would write from .adn.meta.
setup_chain() {
	chain_cfg "$1" $PORT
	# shellcheck disable=SC2046
	map_update "$1" acl__ac_tab $(str_bytes alice 16) -- $(str_bytes W 2)
	# shellcheck disable=SC2046
	map_update "$1" acl__ac_tab $(str_bytes bob 16) -- $(str_bytes R 2)
	set_fault "$1" 0
}

# wait_map_stat DIR NAME MIN PID : as lib.sh's wait_stat, for a chain
# loaded with bpftool (its counters read by map_stat)
wait_map_stat() {
	local end=$((SECONDS + 60)) v
	while :; do
		v=$(map_stat "$1" "$2")
		[ "${v:-0}" -ge "$3" ] 2>/dev/null && return 0
		kill -0 "$4" 2>/dev/null || fail "counter $2 is ${v:-unknown}, not $3, and the client ended: $(tail -3 "$(bg_out "$4")")"
		[ $SECONDS -lt $end ] || fail "counter $2 is ${v:-unknown}, not $3 after 60 s"
		sleep 0.1
	done
}

OK_TOTAL=0 # alice's calls that reached the handler, over both phases

# check_chain DIR LABEL : the four properties, with the chain at DIR attached.
check_chain() {
	local dir=$1 label=$2 out ok aborted lo hi before after sent a

	out=$(kv_udp --user alice --count 2000) || fail "$label: alice: $out"
	expect_eq "$label: alice ok" 2000 "$(status_count "$out" ok)"
	OK_TOTAL=$((OK_TOTAL + 2000))

	before=$(map_stat "$dir" dropped)
	out=$(kv_udp --user mallory --count 500) || fail "$label: mallory: $out"
	expect_eq "$label: mallory denied" 500 "$(status_count "$out" permission_denied)"
	expect_eq "$label: mallory answered by the network" 500 "$(jq -r .net_replies <<<"$out")"
	expect_eq "$label: drops counted" $((before + 500)) "$(map_stat "$dir" dropped)"

	set_fault "$dir" 0.05
	out=$(kv_udp --user alice --count $N) || fail "$label: p=0.05 run: $out"
	aborted=$(status_count "$out" aborted)
	ok=$(status_count "$out" ok)
	read -r lo hi < <(binomial_range $N 0.05)
	note "$label: p=0.05: $aborted of $N aborted (one-in-a-million interval [$lo, $hi])"
	expect_range "$label: aborted at p=0.05" "$lo" "$hi" "$aborted"
	expect_eq "$label: ok + aborted" $N $((ok + aborted))
	OK_TOTAL=$((OK_TOTAL + ok))
	set_fault "$dir" 0

	# malformed datagrams while alice runs: counted, dropped, no effect.
	# alice runs until stopped (SIGINT: no new calls, the outstanding ones
	# complete, then her report); the attack starts once 200 of her
	# requests have run the chain and she is stopped once 200 more have,
	# so the two overlap however slow the machine is (vmtest's emulation).
	r=$(map_stat "$dir" requests)
	start_bg_ns alice "$CG_C" "$NS_C" "$KV_CLIENT" --udp --host "$SERVER_IP" --port $PORT --json \
		--user alice --duration 300 --outstanding 32
	a=$BG_PID
	wait_map_stat "$dir" requests $((r + 200)) $a
	before=$(map_stat "$dir" malformed)
	out=$(run_ns "$CG_C" "$NS_C" "$MALFORMED_UDP" "$SERVER_IP" $PORT all 5) ||
		fail "$label: malformed_udp: $out"
	sent=${out#sent=}
	wait_map_stat "$dir" requests $(($(map_stat "$dir" requests) + 200)) $a
	kill -INT $a
	wait $a || fail "$label: alice lost calls during the attack: $(cat "$TEST_TMP/alice.out")"
	after=$(map_stat "$dir" malformed)
	note "$label: $sent malformed datagrams, $((after - before)) counted"
	expect_eq "$label: malformed counted" "$sent" $((after - before))
	out=$(cat "$TEST_TMP/alice.out")
	expect_eq "$label: alice unaffected" "$(jq -r .sent <<<"$out")" "$(status_count "$out" ok)"
	expect_eq "$label: alice lost nothing" 0 "$(jq -r .lost <<<"$out")"
	OK_TOTAL=$((OK_TOTAL + $(status_count "$out" ok)))
}

# 1. TC at the client's egress (requests) and ingress (responses)
bpf_load_pinned "$ADN_ROOT/build/reference/kv_chain_tc.bpf.o" "$PIN-tc"
setup_chain "$PIN-tc"
tc_attach "$NS_C" "$DEV" egress "$PROG"
tc_attach "$NS_C" "$DEV" ingress "$PROG"
check_chain "$PIN-tc" tc
expect_eq "tc: responses ran the response side" "$OK_TOTAL" "$(map_stat "$PIN-tc" responses)"
tc_detach "$NS_C" "$DEV"

# 2. XDP at the server's ingress
bpf_load_pinned "$ADN_ROOT/build/reference/kv_chain_xdp.bpf.o" "$PIN-xdp"
setup_chain "$PIN-xdp"
xdp_attach "${NS_S[1]}" "$DEV" xdpgeneric "$PROG"
check_chain "$PIN-xdp" xdp
xdp_detach "${NS_S[1]}" "$DEV" xdpgeneric

stop_server
expect_eq "mallory never reached the handler" 0 "$(handled_by mallory)"
expect_eq "every ok RPC of alice reached the handler once" "$OK_TOTAL" "$(handled_by alice)"
expect_eq "nothing invalid reached the handler" 0 "$(jq -r .invalid "$TEST_TMP/server-stats.json")"
echo ok
