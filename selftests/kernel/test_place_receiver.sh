#!/usr/bin/env bash
# Issue 5: the receiver's socket as a location. The kv chain with acl forced
# to the server's sk_skb (stream parser + verdict; fault follows it there by
# chain order, logging stays at the client's sk_msg) against the same chain
# forced to sk_msg: alice and mallory pipelining 64 outstanding at once give
# the same outcomes at both locations (alice all OK, mallory all
# PERMISSION_DENIED, the handler sees alice's calls only), the log records
# every request and every response once, the receiver's programs are
# attached only when the chain has elements there, and detach leaves
# nothing behind. Then hot update of the receiver's chain under load (see
# below), and the refusal to add a receiver by update.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../receiver_lib.sh"
require_root
ensure_bpffs
require_chain_features
require_features prog:sk_skb helper:sk_skb:bpf_skb_load_bytes helper:sk_skb:bpf_skb_store_bytes \
	helper:sk_skb:bpf_get_socket_cookie helper:sock_ops:bpf_get_socket_cookie \
	helper:sock_ops:bpf_sock_ops_cb_flags_set
command -v bpftool >/dev/null || { echo "SKIP: no bpftool"; exit 77; }

N=${N:-5000}
PIN_ROOT=/sys/fs/bpf/adn

# build LOC : kv.adn with acl forced to LOC, into $TEST_TMP/LOC/
build() {
	mkdir -p "$TEST_TMP/$1"
	"$ADNC" "$ADN_ROOT/examples/kv/kv.adn" -o "$TEST_TMP/$1" --place "acl=$1" >"$TEST_TMP/$1.adnc" 2>&1 ||
		fail "adnc --place acl=$1: $(cat "$TEST_TMP/$1.adnc")"
}

# progs_named NAME : live programs whose name starts with NAME
progs_named() {
	bpftool -j prog show | jq -r --arg n "$1" '[.[] | select(.name // "" | startswith($n))] | length'
}

# run LOC PORT : attach the chain built for LOC, run alice and mallory at
# once, check outcomes and the log; sets OUT_<LOC> to a summary line.
run() {
	local loc=$1 port=$2 chain=adntest-recv-$1 cg out m log drain req resp
	make_cgroup cg "recv-$loc"
	KV_OBJ=$TEST_TMP/$loc/kv.bpf.o attach_chain "$chain" "$port" "$cg"
	"$ADNCTL" param "$chain" fault.probability 0 || fail "$loc: cannot set fault.probability"
	start_server "$cg" "$port"
	log=$TEST_TMP/$loc.log.jsonl
	"$ADNCTL" log "$chain" -o "$log" --follow --interval-ms 20 >"$TEST_TMP/$loc.drain.out" 2>&1 &
	drain=$!
	_pids+=("$drain")

	kv "$cg" "$port" --user mallory --count "$N" --outstanding 64 >"$TEST_TMP/$loc.m.json" &
	local mpid=$!
	kv "$cg" "$port" --user alice --count "$N" --outstanding 64 >"$TEST_TMP/$loc.a.json" &
	local apid=$! arc=0 mrc=0
	[ "$loc" = sk_skb ] && watch_strp_stall "$port" "$apid" "$mpid" &
	local wpid=$!
	wait $apid || arc=$?
	wait $mpid || mrc=$?
	[ "$loc" = sk_skb ] && { kill $wpid 2>/dev/null; wait $wpid 2>/dev/null; }
	out=$(cat "$TEST_TMP/$loc.a.json")
	m=$(cat "$TEST_TMP/$loc.m.json")
	local late
	late=$(jq -s '[.[].status.deadline_exceeded // 0] | add' "$TEST_TMP/$loc.a.json" "$TEST_TMP/$loc.m.json")
	if [ "$loc" = sk_skb ] && [ "$late" != 0 ]; then
		[ -s "$TEST_TMP/strp_stall" ] && strp_stall_skip
		if strp_read_sock_kernel; then
			# skipped only if adn did its part: the receiver ran every
			# request once and the server got every one it passed
			stop_server
			[ "$(skb_stat "$chain" requests)" = $((2 * N)) ] &&
				[ "$(skb_stat "$chain" dropped)" = "$N" ] && [ "$(handled_by alice)" = "$N" ] ||
				fail "sk_skb: $late calls without reply, and not every request was processed: receiver requests $(skb_stat "$chain" requests) dropped $(skb_stat "$chain" dropped), handled $(handled_by alice) (of $N each)"
			strp_stall_skip "($late replies late; every request was processed)"
		fi
	fi
	[ $arc = 0 ] || fail "$loc: alice: $out"
	[ $mrc = 0 ] || fail "$loc: mallory run failed: $m"
	sleep 0.3
	kill -TERM $drain
	wait $drain || fail "$loc: log drainer failed: $(cat "$TEST_TMP/$loc.drain.out")"

	expect_eq "$loc: alice ok" "$N" "$(status_count "$out" ok)"
	expect_eq "$loc: mallory denied" "$N" "$(status_count "$m" permission_denied)"
	expect_eq "$loc: mallory ok" 0 "$(status_count "$m" ok)"
	stop_server
	expect_eq "$loc: alice handled" "$N" "$(handled_by alice)"
	expect_eq "$loc: mallory handled" 0 "$(handled_by mallory)"

	# the log: every request and every response once, with the caller's status
	req=$(jq -r 'select(.kind == "request") | .rpc_id' "$log" | sort -n)
	resp=$(jq -r 'select(.kind == "response") | .rpc_id' "$log" | sort -n)
	expect_eq "$loc: request records" $((2 * N)) "$(wc -l <<<"$req")"
	expect_eq "$loc: response records" $((2 * N)) "$(wc -l <<<"$resp")"
	expect_eq "$loc: responses answer the requests" "$req" "$resp"
	expect_eq "$loc: denied responses logged" "$N" \
		"$(jq -r 'select(.kind == "response" and .status == "permission_denied") | 1' "$log" | wc -l)"
	expect_eq "$loc: ok responses logged" "$N" \
		"$(jq -r 'select(.kind == "response" and .status == "ok") | 1' "$log" | wc -l)"
	expect_eq "$loc: log records lost" 0 "$(chain_stat "$chain" log_lost)"

	# the receiver's programs: attached, pinned and shown only when needed
	local st
	st=$("$ADN_LOAD" status "$chain") || fail "$loc: adn-load status"
	if [ "$loc" = sk_skb ]; then
		[ -e "$PIN_ROOT/$chain/prog_skb_parser" ] && [ -e "$PIN_ROOT/$chain/prog_skb_verdict" ] ||
			fail "sk_skb: parser/verdict not pinned: $(ls "$PIN_ROOT/$chain")"
		grep -q adn_skb_parser <<<"$st" && grep -q adn_skb_verdict <<<"$st" ||
			fail "sk_skb: adn-load status does not show the receiver's programs: $st"
		expect_eq "sk_skb: requests denied at the receiver" "$N" "$(skb_stat "$chain" dropped)"
		expect_eq "sk_skb: requests run at the receiver" $((2 * N)) "$(skb_stat "$chain" requests)"
		expect_eq "sk_skb: impossible frames" 0 "$(skb_stat "$chain" malformed)"
		# one strparser message per batch of frames: the verdict walked
		# every frame, in no more messages than frames
		expect_eq "sk_skb: frames walked" $((2 * N)) "$(skb_stat "$chain" frames)"
		local batches
		batches=$(skb_stat "$chain" batches)
		expect_range "sk_skb: batches" 1 $((2 * N)) "$batches"
		note "sk_skb: $((2 * N)) frames in $batches strparser messages"
		expect_eq "sk_skb: sender-side drops" 0 "$(chain_stat "$chain" dropped)"
		# its state is tables like any chain's: the receiver's runtime maps
		# (adn_rsocks, adn_strp, adn_skb_stats) are not
		"$ADN_LOAD" snapshot "$chain" -o "$TEST_TMP/recv.snap" >"$TEST_TMP/snap.out" 2>&1 ||
			fail "sk_skb: adn-load snapshot: $(cat "$TEST_TMP/snap.out")"
		"$ADN_LOAD" restore "$chain" "$TEST_TMP/recv.snap" >"$TEST_TMP/snap.out" 2>&1 ||
			fail "sk_skb: adn-load restore: $(cat "$TEST_TMP/snap.out")"
	else
		[ ! -e "$PIN_ROOT/$chain/prog_skb_parser" ] && [ ! -e "$PIN_ROOT/$chain/adn_rsocks" ] ||
			fail "sk_msg: receiver programs or map attached: $(ls "$PIN_ROOT/$chain")"
		grep -q adn_skb_ <<<"$st" && fail "sk_msg: status shows receiver programs: $st"
		expect_eq "sk_msg: sender-side drops" "$N" "$(chain_stat "$chain" dropped)"
	fi

	"$ADN_LOAD" detach "$chain" || fail "$loc: detach"
	[ ! -e "$PIN_ROOT/$chain" ] || fail "$loc: pins left after detach: $(ls "$PIN_ROOT/$chain")"
	printf -v "OUT_${loc}" 'alice ok=%s mallory denied=%s' "$(status_count "$out" ok)" \
		"$(status_count "$m" permission_denied)"
}

build sk_skb
build sk_msg
# The placement is what was asked, and only the receiver's object has the
# receiver's programs.
"$ADNC" "$ADN_ROOT/examples/kv/kv.adn" -o "$TEST_TMP/explain" --place acl=sk_skb --explain >"$TEST_TMP/explain.txt" 2>&1 ||
	fail "adnc --explain: $(cat "$TEST_TMP/explain.txt")"
grep -Eq '^  acl +at sk_skb +forced by --place sk_skb' "$TEST_TMP/explain.txt" ||
	fail "--explain does not show acl at sk_skb: $(grep -E '^  (logging|acl|fault) ' "$TEST_TMP/explain.txt")"
grep -Eq '^  fault +at sk_skb +an earlier element of the chain runs at the receiver' "$TEST_TMP/explain.txt" ||
	fail "--explain: fault is not at the receiver: $(grep -E '^  fault ' "$TEST_TMP/explain.txt")"
grep -Eq '^  logging +at sk_msg ' "$TEST_TMP/explain.txt" || fail "--explain: logging moved"
sections() { readelf -SW "$1" | grep -cE '\] sk_skb/stream_' || true; }
expect_eq "sk_skb object: receiver programs" 2 "$(sections "$TEST_TMP/sk_skb/kv.bpf.o")"
expect_eq "sk_msg object: receiver programs" 0 "$(sections "$TEST_TMP/sk_msg/kv.bpf.o")"

before=$(progs_named adn_skb_)
run sk_skb 17090
run sk_msg 17091
expect_eq "same outcomes at sk_skb and sk_msg" "$OUT_sk_skb" "$OUT_sk_msg"
# detach released the receiver's programs (the kernel frees them a moment later)
for ((i = 0; i < 40; i++)); do
	[ "$(progs_named adn_skb_)" = "$before" ] && break
	sleep 0.05
done
expect_eq "receiver programs left after detach" "$before" "$(progs_named adn_skb_)"

# update_refused WHAT CHAIN PORT OLD NEW MESSAGE : CHAIN attached from
# OLD/kv.bpf.o, `adn-load update` to NEW/kv.bpf.o refused in one line
# saying MESSAGE, no receiver programs left by it, then detached.
update_refused() {
	local chain=$2 out=$TEST_TMP/$2.upd
	KV_OBJ=$TEST_TMP/$4/kv.bpf.o attach_chain "$chain" "$3" "$CGU"
	"$ADN_LOAD" update "$chain" "$TEST_TMP/$5/kv.bpf.o" >"$out" 2>&1 && fail "$1: update succeeded"
	grep -q "$6" "$out" || fail "$1: unclear update refusal: $(cat "$out")"
	expect_eq "$1: update refusal is one line" 1 "$(wc -l <"$out")"
	[ "$4" = sk_skb ] || [ ! -e "$PIN_ROOT/$chain/prog_skb_verdict" ] ||
		fail "$1: refused update left receiver programs"
	"$ADN_LOAD" detach "$chain" || fail "$1: detach after refused update"
}

make_cgroup CGU recv-upd
# Hot update of a chain with elements at the receiver: the attached stream
# verdict is a fixed dispatcher that tail-calls the chain's verdict from
# slot 0 of adn_skb_progs (docs/kernel-notes.md, "Hot update"). v1 denies
# bob (permission R), v2 (acl's WHERE also admits R) allows him; UPDATES
# updates alternate v1 and v2, ending on v2, while bob keeps 128 RPCs
# outstanding on 4 connections: every call completes (OK or
# PERMISSION_DENIED, none lost), both outcomes occur, and afterwards bob is
# allowed; a row added with adnctl before the updates (carol) is still there.
UPDATES=${UPDATES:-20}
mkdir -p "$TEST_TMP/sk_skb2"
sed "s/WHERE ac_tab.permission = 'W';/WHERE ac_tab.permission = 'W' OR ac_tab.permission = 'R';/" \
	"$ADN_ROOT/examples/kv/kv.adn" >"$TEST_TMP/kv2.adn"
grep -q "OR ac_tab.permission = 'R'" "$TEST_TMP/kv2.adn" || fail "kv2.adn: the variant did not apply"
"$ADNC" "$TEST_TMP/kv2.adn" -o "$TEST_TMP/sk_skb2" --place acl=sk_skb >"$TEST_TMP/sk_skb2.adnc" 2>&1 ||
	fail "adnc kv2.adn: $(cat "$TEST_TMP/sk_skb2.adnc")"
V1=$TEST_TMP/sk_skb/kv.bpf.o V2=$TEST_TMP/sk_skb2/kv.bpf.o
CHU=adntest-recv-upd PORTU=17092
KV_OBJ=$V1 attach_chain $CHU $PORTU "$CGU"
"$ADNCTL" param $CHU fault.probability 0 || fail "update: cannot set fault.probability"
[ -e "$PIN_ROOT/$CHU/prog_skb_chain" ] && [ -e "$PIN_ROOT/$CHU/adn_skb_progs" ] ||
	fail "update: no verdict dispatcher pins: $(ls "$PIN_ROOT/$CHU")"
"$ADNCTL" table $CHU acl.ac_tab insert username=carol permission=W >/dev/null || fail "insert carol"
# kv_watched OUTVAR ARGS... : kv on the update chain, watched for the
# kernel's strparser stall (SKIP, as above); the JSON goes to OUTVAR. The
# checks around the updates call one at a time (--outstanding 1): the
# stall strikes batches of frames, and these checks are about outcomes.
kv_watched() {
	local var=$1 kpid wpid rc=0
	shift
	kv "$CGU" $PORTU "$@" >"$TEST_TMP/kvw.json" &
	kpid=$!
	watch_strp_stall $PORTU $kpid &
	wpid=$!
	wait $kpid || rc=$?
	kill $wpid 2>/dev/null
	wait $wpid 2>/dev/null
	printf -v "$var" '%s' "$(cat "$TEST_TMP/kvw.json")"
	if [ $rc != 0 ] && { [ -s "$TEST_TMP/strp_stall" ] ||
		{ strp_read_sock_kernel && [ "$(jq -r '.lost' "$TEST_TMP/kvw.json")" -gt 0 ] 2>/dev/null; }; }; then
		strp_stall_skip "($(jq -r '.lost' "$TEST_TMP/kvw.json") calls without reply)"
	fi
	return $rc
}
pin_id() { bpftool -j prog show pinned "$PIN_ROOT/$CHU/$1" | jq -r .id; }
parser_id=$(pin_id prog_skb_parser) verdict_id=$(pin_id prog_skb_verdict) chain_id=$(pin_id prog_skb_chain)
start_server "$CGU" $PORTU
kv_watched out --user bob --count 200 --outstanding 1 || fail "update: bob on v1: $out"
expect_eq "update: v1 denies bob" 200 "$(status_count "$out" permission_denied)"
# what the receiver and the server count during the updates (deltas)
req0=$(skb_stat $CHU requests) drop0=$(skb_stat $CHU dropped) resp0=$(chain_stat $CHU responses)
start_bg upd-client "$CGU" "$KV_CLIENT" --host 127.0.0.1 --port $PORTU --json --user bob \
	--duration 3000 --outstanding 128 --conns 4
cpid=$BG_PID
watch_strp_stall $PORTU "$cpid" &
wpid=$!
sleep 0.5
kill -0 $cpid 2>/dev/null || fail "update: the client ended before the updates: $(cat "$TEST_TMP/upd-client.out")"
start=$(date +%s.%N)
for ((i = 1; i <= UPDATES; i++)); do
	obj=$V1
	((i % 2 == 0)) && obj=$V2
	o=$("$ADN_LOAD" update $CHU "$obj" --json) || fail "update $i ($obj): $o"
	((i == 1)) && { jq -e '.converted == 0 and .created == 0' <<<"$o" >/dev/null ||
		fail "update $i did not keep every map: $o"; }
	sleep 0.05
done
note "update: $UPDATES updates of a receiver chain in $(echo "$(date +%s.%N) - $start" | bc)s"
sleep 0.3
crc=0
kill -0 $cpid 2>/dev/null || crc=1
kill -INT $cpid 2>/dev/null
# the client now waits for its outstanding calls (5 s at most): what is
# still stuck a second later is in this picture (printed if it fails)
sleep 1
kill -0 $cpid 2>/dev/null && receiver_state $CHU $PORTU >"$TEST_TMP/upd-state" 2>&1
wait $cpid || crc=$?
kill $wpid 2>/dev/null
wait $wpid 2>/dev/null
c=$(cat "$TEST_TMP/upd-client.out")
sent=$(jq -r '.sent // 0' <<<"$c")
bob_ok=$(status_count "$c" ok)
bob_denied=$(status_count "$c" permission_denied)
lost=$(jq -r '.lost // 0' <<<"$c")
note "update: client $(jq -c '{sent, ok, lost, status}' <<<"$c")"
# Exact accounting, from the kernel's and the server's counters: every
# request the client sent ran the receiver's verdict once (one version:
# PERMISSION_DENIED from v1, passed by v2), every reply left the server
# through its sk_msg, and every call the client saw end is one of those.
req=$(($(skb_stat $CHU requests) - req0)) dropped=$(($(skb_stat $CHU dropped) - drop0))
resp=$(($(chain_stat $CHU responses) - resp0))
if [ $crc != 0 ] && [ "$lost" = 0 ]; then
	cat "$TEST_TMP/upd-state" 2>/dev/null
	fail "update: the client ended early: $c"
fi
[ "$sent" -gt 1000 ] || fail "update: too few RPCs during the updates: $c"
expect_eq "update: every request ran the receiver's verdict once" "$sent" "$req"
expect_eq "update: every reply left the server (sk_msg)" "$sent" "$resp"
expect_eq "update: every call ended OK (v2), PERMISSION_DENIED (v1) or without reply" "$sent" \
	$((bob_ok + bob_denied + lost))
[ "$bob_ok" -le $((req - dropped)) ] && [ "$bob_denied" -le "$dropped" ] ||
	fail "update: more outcomes than the receiver decided: ok $bob_ok of $((req - dropped)) passed, denied $bob_denied of $dropped"
[ "$bob_ok" -gt 0 ] && [ "$bob_denied" -gt 0 ] || fail "update: outcomes did not switch: $c"
if [ "$lost" != 0 ]; then
	# a reply the server sent that the client did not get in time: the
	# kernel's strparser stall (docs/kernel-notes.md), never adn's on a
	# kernel without tcp_bpf_strp_read_sock
	if ! strp_read_sock_kernel && [ ! -s "$TEST_TMP/strp_stall" ]; then
		cat "$TEST_TMP/upd-state" 2>/dev/null
		fail "update: $lost calls without reply on a kernel without the strparser stall: $c"
	fi
	note "update: $lost replies late (kernel $(uname -r) has tcp_bpf_strp_read_sock: its strparser stall, docs/kernel-notes.md); each was processed once and sent"
fi
kv_watched out --user bob --count 500 --outstanding 1 || fail "update: bob on v2: $out"
expect_eq "update: v2 allows bob" 500 "$(status_count "$out" ok)"
kv_watched out --user carol --count 200 --outstanding 1 || fail "update: carol: $out"
expect_eq "update: the row added before the updates survived" 200 "$(status_count "$out" ok)"
kv_watched out --user mallory --count 200 --outstanding 1 || fail "update: mallory: $out"
expect_eq "update: v2 still denies mallory" 200 "$(status_count "$out" permission_denied)"
stop_server
expect_eq "update: the handler got every request v2 passed, once, and none v1 denied" \
	$((req - dropped + 500)) "$(handled_by bob)"
expect_eq "update: impossible frames" 0 "$(skb_stat $CHU malformed)"
expect_eq "update: the attached parser stays" "$parser_id" "$(pin_id prog_skb_parser)"
expect_eq "update: the attached verdict dispatcher stays" "$verdict_id" "$(pin_id prog_skb_verdict)"
[ "$(pin_id prog_skb_chain)" != "$chain_id" ] || fail "update: prog_skb_chain was not re-pinned"
"$ADN_LOAD" detach $CHU || fail "detach after the updates"
[ ! -e "$PIN_ROOT/$CHU" ] || fail "update: pins left after detach: $(ls "$PIN_ROOT/$CHU")"
# Updating a chain without receiver elements to an object with them is
# refused (update does not add a receiver's programs).
update_refused "to a receiver object" adntest-recv-upd2 17093 sk_msg sk_skb \
	"runs elements at the receiver's sk_skb and chain adntest-recv-upd2 does not: update cannot add a receiver"
echo ok
