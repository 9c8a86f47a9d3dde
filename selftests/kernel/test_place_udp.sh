#!/usr/bin/env bash
# Placement end to end over UDP, loaded by adn-load (no bpftool): the kv
# chain with TRANSPORT UDP, compiled by adnc
#   1. as placed by the cost model: every element at TC (client egress,
#      responses at its ingress): `adn-load attach --dev eth0@NS`;
#   2. forced split: logging at TC, acl and fault at XDP on the server
#      (`adnc --place acl=xdp --place fault=xdp`, two --dev);
# the same outcomes at each: alice passes, mallory is PERMISSION_DENIED by
# the network and never reaches the handler, a client of another layout
# gets FAILED_PRECONDITION from the network (counted in bad_layout), a
# client sending layout 0 is not checked. status shows the devices;
# detach leaves no filter, qdisc, XDP program or pin. Hot update replaces
# the TC and XDP programs in place (under load at TC), and migrate relays
# a --dev chain to the target's tables.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../netns.sh"
require_root
ensure_bpffs
command -v nsenter >/dev/null || { echo "SKIP: needs nsenter"; exit 77; }

PORT=17130
CHAIN=adntest-place-$$
sed 's/^CREATE SERVICE kv PORT 7070 (/CREATE SERVICE kv PORT 7070 TRANSPORT UDP (/' \
	"$ADN_ROOT/examples/kv/kv.adn" >"$TEST_TMP/kvu.adn"
grep -q 'TRANSPORT UDP' "$TEST_TMP/kvu.adn" || fail "cannot make the UDP variant of kv.adn"

netns_topology 1
make_cgroup CG_C place-client
make_cgroup CG_S place-server
SERVER_IP=${IP_S[1]}
start_server_ns "$CG_S" "${NS_S[1]}" "$SERVER_IP" $PORT --udp

kv_udp() {
	timeout 60 sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG_C" \
		nsenter --net="/run/netns/$NS_C" -- \
		"$KV_CLIENT" --udp --host "$SERVER_IP" --port $PORT --json "$@"
}

OK_TOTAL=0
check_outcomes() { # LABEL
	local label=$1 out
	"$ADNCTL" param "$CHAIN" fault.probability 0 >/dev/null || fail "$label: adnctl param"
	out=$(kv_udp --user alice --count 500) || fail "$label: alice: $out"
	expect_eq "$label: alice ok" 500 "$(status_count "$out" ok)"
	out=$(kv_udp --user mallory --count 200) || fail "$label: mallory: $out"
	expect_eq "$label: mallory denied" 200 "$(status_count "$out" permission_denied)"
	expect_eq "$label: mallory answered by the network" 200 "$(jq -r .net_replies <<<"$out")"
	out=$(kv_udp --user alice --count 100 --layout 4660) || fail "$label: other layout: $out"
	expect_eq "$label: other layout refused" 100 "$(status_count "$out" failed_precondition)"
	expect_eq "$label: refused by the network" 100 "$(jq -r .net_replies <<<"$out")"
	expect_eq "$label: bad_layout counted" 100 "$(chain_stat "$CHAIN" bad_layout)"
	out=$(kv_udp --user alice --count 50 --layout 0) || fail "$label: layout 0: $out"
	expect_eq "$label: layout 0 unchecked" 50 "$(status_count "$out" ok)"
	OK_TOTAL=$((OK_TOTAL + 550))
}

# nothing of adn left on the devices
check_clean() { # LABEL
	local f
	f=$(in_ns "$NS_C" tc filter show dev "$DEV" egress; in_ns "$NS_C" tc filter show dev "$DEV" ingress)
	expect_eq "$1: no TC filter left on the client" "" "$f"
	in_ns "$NS_C" tc qdisc show dev "$DEV" | grep -q clsact && fail "$1: clsact qdisc left"
	in_ns "${NS_S[1]}" ip link show dev "$DEV" | grep -q xdp && fail "$1: XDP program left"
	[ -e "/sys/fs/bpf/adn/$CHAIN" ] && fail "$1: pins left"
	return 0
}

# 1. the cost model's placement: everything at TC
"$ADNC" "$TEST_TMP/kvu.adn" -o "$TEST_TMP/tc/" --explain >"$TEST_TMP/explain.txt" || fail "adnc"
# v2 (hot update): acl also admits permission R
sed "s/WHERE ac_tab.permission = 'W';/WHERE ac_tab.permission = 'W' OR ac_tab.permission = 'R';/" \
	"$TEST_TMP/kvu.adn" >"$TEST_TMP/kvu2.adn"
grep -q "OR ac_tab.permission = 'R'" "$TEST_TMP/kvu2.adn" || fail "kvu2.adn: the variant did not apply"
"$ADNC" "$TEST_TMP/kvu2.adn" -o "$TEST_TMP/tc2/" >/dev/null || fail "adnc kvu2"
"$ADNC" "$TEST_TMP/kvu2.adn" -o "$TEST_TMP/split2/" --place acl=xdp --place fault=xdp >/dev/null ||
	fail "adnc kvu2 split"
grep -qE '^  acl +at tc ' "$TEST_TMP/explain.txt" || fail "acl not placed at tc: $(cat "$TEST_TMP/explain.txt")"
"$ADN_LOAD" attach --dev "$DEV@$NS_C" --port $PORT --name "$CHAIN" "$TEST_TMP/tc/kv.bpf.o" ||
	fail "adn-load attach --dev"
on_exit "'$ADN_LOAD' detach '$CHAIN'"
st=$("$ADN_LOAD" status "$CHAIN")
grep -q "tc egress  $DEV@$NS_C" <<<"$st" || fail "status shows no TC egress: $st"
grep -q "tc ingress $DEV@$NS_C" <<<"$st" || fail "status shows no TC ingress: $st"
check_outcomes tc
# Hot update at TC: v2's acl also admits permission R (bob). Each filter
# gets the new program in one netlink request (same handle and priority);
# 10 updates while alice keeps calling: every call completes.
prog_id() { bpftool -j prog show pinned "/sys/fs/bpf/adn/$CHAIN/$1" | jq .id; }
out=$(kv_udp --user bob --count 50) || fail "v1: bob: $out"
expect_eq "v1 denies bob" 50 "$(status_count "$out" permission_denied)"
tc_id=$(prog_id prog_tc)
filters=$(in_ns "$NS_C" tc filter show dev "$DEV" egress | grep -o 'pref [0-9]* .*handle 0x[0-9a-f]*' | head -1)
kv_udp --user alice --count 20000 --outstanding 16 >"$TEST_TMP/upd-alice.json" &
apid=$!
for ((i = 1; i <= 10; i++)); do
	obj=$TEST_TMP/tc2/kv.bpf.o
	((i % 2)) || obj=$TEST_TMP/tc/kv.bpf.o
	((i == 10)) && obj=$TEST_TMP/tc2/kv.bpf.o
	"$ADN_LOAD" update "$CHAIN" "$obj" >"$TEST_TMP/upd.out" 2>&1 || fail "update $i at TC: $(cat "$TEST_TMP/upd.out")"
done
wait $apid || fail "alice during the TC updates: $(cat "$TEST_TMP/upd-alice.json")"
OK_TOTAL=$((OK_TOTAL + 20000))
expect_eq "TC updates: every call of alice completed OK" 20000 "$(status_count "$(cat "$TEST_TMP/upd-alice.json")" ok)"
[ "$(prog_id prog_tc)" != "$tc_id" ] || fail "update did not replace the TC program"
expect_eq "the filters kept their priority and handle" "$filters" \
	"$(in_ns "$NS_C" tc filter show dev "$DEV" egress | grep -o 'pref [0-9]* .*handle 0x[0-9a-f]*' | head -1)"
expect_eq "one egress and one ingress filter, no more" 2 \
	"$( (in_ns "$NS_C" tc filter show dev "$DEV" egress; in_ns "$NS_C" tc filter show dev "$DEV" ingress) | grep -c 'direct-action')"
out=$(kv_udp --user bob --count 50) || fail "v2: bob: $out"
expect_eq "v2 at TC allows bob" 50 "$(status_count "$out" ok)"
out=$(kv_udp --user mallory --count 50) || fail "v2: mallory: $out"
expect_eq "v2 at TC still denies mallory" 50 "$(status_count "$out" permission_denied)"
# migrate from a --dev chain: the relay's TC program uses the target's
# tables and parameters (a row added to the target's acl decides the
# source's traffic)
"$ADN_LOAD" attach --dev "$DEV@${NS_S[1]}" --port $((PORT + 1)) --name "$CHAIN-2" "$TEST_TMP/tc2/kv.bpf.o" >/dev/null ||
	fail "attach a second chain"
on_exit "'$ADN_LOAD' detach '$CHAIN-2'"
"$ADNCTL" param "$CHAIN-2" fault.probability 0 >/dev/null || fail "$CHAIN-2: adnctl param"
"$ADN_LOAD" migrate "$CHAIN" --to "$CHAIN-2" >"$TEST_TMP/mig.out" 2>&1 || fail "migrate of a --dev chain: $(cat "$TEST_TMP/mig.out")"
out=$(kv_udp --user dave --count 20) || fail "before the row: dave: $out"
expect_eq "dave (in no acl table) is denied" 20 "$(status_count "$out" permission_denied)"
"$ADNCTL" table "$CHAIN-2" acl.ac_tab insert username=dave permission=W >/dev/null || fail "insert dave"
out=$(kv_udp --user dave --count 50) || fail "after migrate: dave: $out"
expect_eq "after migrate: the source's TC program reads the target's acl table" 50 "$(status_count "$out" ok)"
"$ADN_LOAD" detach "$CHAIN-2" >/dev/null || fail "detach $CHAIN-2"
"$ADN_LOAD" detach "$CHAIN" >/dev/null || fail "detach"
check_clean tc

# 2. forced split: logging at TC on the client, acl and fault at XDP on the server
"$ADNC" "$TEST_TMP/kvu.adn" -o "$TEST_TMP/split/" --place acl=xdp --place fault=xdp \
	--explain >"$TEST_TMP/explain2.txt" || fail "adnc --place"
grep -qE '^  acl +at xdp ' "$TEST_TMP/explain2.txt" || fail "acl not at xdp"
"$ADN_LOAD" attach --dev "$DEV@$NS_C" --port $PORT --name "$CHAIN" "$TEST_TMP/split/kv.bpf.o" \
	2>"$TEST_TMP/err.txt" && fail "a --dev without tc:/xdp: accepted for a split chain"
grep -q "say which" "$TEST_TMP/err.txt" || fail "unclear error: $(cat "$TEST_TMP/err.txt")"
[ -e "/sys/fs/bpf/adn/$CHAIN" ] && fail "a refused attach left pins"
"$ADN_LOAD" attach --dev "tc:$DEV@$NS_C" --dev "xdp:$DEV@${NS_S[1]}" --port $PORT \
	--name "$CHAIN" "$TEST_TMP/split/kv.bpf.o" || fail "adn-load attach split"
st=$("$ADN_LOAD" status "$CHAIN")
grep -q "xdp generic $DEV@${NS_S[1]}" <<<"$st" || fail "status shows no XDP: $st"
check_outcomes split
# hot update at XDP (and TC): XDP_FLAGS_REPLACE against the running program
xdp_id=$(prog_id prog_xdp)
out=$(kv_udp --user bob --count 50) || fail "split v1: bob: $out"
expect_eq "split v1 denies bob" 50 "$(status_count "$out" permission_denied)"
"$ADN_LOAD" update "$CHAIN" "$TEST_TMP/split2/kv.bpf.o" >"$TEST_TMP/upd.out" 2>&1 ||
	fail "update at XDP: $(cat "$TEST_TMP/upd.out")"
[ "$(prog_id prog_xdp)" != "$xdp_id" ] || fail "update did not replace the XDP program"
expect_eq "the device runs the new XDP program" "$(prog_id prog_xdp)" \
	"$(in_ns "${NS_S[1]}" ip -j link show dev "$DEV" | jq '.[0].xdp.prog.id // .[0].xdp.attached[0].prog.id')"
out=$(kv_udp --user bob --count 50) || fail "split v2: bob: $out"
expect_eq "split v2 at XDP allows bob" 50 "$(status_count "$out" ok)"
"$ADN_LOAD" detach "$CHAIN" >/dev/null || fail "detach split"
check_clean split

# 3. a device that does not exist: refused, nothing left
"$ADN_LOAD" attach --dev "nosuchdev@$NS_C" --port $PORT --name "$CHAIN" "$TEST_TMP/tc/kv.bpf.o" \
	2>"$TEST_TMP/err.txt" && fail "attach to a missing device succeeded"
grep -q "nosuchdev" "$TEST_TMP/err.txt" || fail "unclear error: $(cat "$TEST_TMP/err.txt")"
check_clean missing-dev

stop_server
expect_eq "mallory never reached the handler" 0 "$(handled_by mallory)"
expect_eq "alice's ok RPCs reached the handler" "$OK_TOTAL" "$(handled_by alice)"
echo ok
