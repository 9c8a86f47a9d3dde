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
# detach leaves no filter, qdisc, XDP program or pin.
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
grep -qE '^  acl +at tc ' "$TEST_TMP/explain.txt" || fail "acl not placed at tc: $(cat "$TEST_TMP/explain.txt")"
"$ADN_LOAD" attach --dev "$DEV@$NS_C" --port $PORT --name "$CHAIN" "$TEST_TMP/tc/kv.bpf.o" ||
	fail "adn-load attach --dev"
on_exit "'$ADN_LOAD' detach '$CHAIN'"
st=$("$ADN_LOAD" status "$CHAIN")
grep -q "tc egress  $DEV@$NS_C" <<<"$st" || fail "status shows no TC egress: $st"
grep -q "tc ingress $DEV@$NS_C" <<<"$st" || fail "status shows no TC ingress: $st"
check_outcomes tc
# update and migrate cannot swap the devices' programs: refused, untouched
tc_id=$(bpftool -j prog show pinned "/sys/fs/bpf/adn/$CHAIN/prog_tc" | jq .id)
"$ADN_LOAD" update "$CHAIN" "$TEST_TMP/tc/kv.bpf.o" >"$TEST_TMP/upd.err" 2>&1 && fail "update of a --dev chain succeeded"
grep -q "runs elements at TC (attached with --dev), which hot update cannot swap" "$TEST_TMP/upd.err" ||
	fail "unclear update refusal: $(cat "$TEST_TMP/upd.err")"
"$ADN_LOAD" attach --dev "$DEV@${NS_S[1]}" --port $PORT --name "$CHAIN-2" "$TEST_TMP/tc/kv.bpf.o" >/dev/null ||
	fail "attach a second chain"
on_exit "'$ADN_LOAD' detach '$CHAIN-2'"
"$ADN_LOAD" migrate "$CHAIN" --to "$CHAIN-2" >"$TEST_TMP/mig.err" 2>&1 && fail "migrate of a --dev chain succeeded"
grep -q "which migrate cannot swap" "$TEST_TMP/mig.err" || fail "unclear migrate refusal: $(cat "$TEST_TMP/mig.err")"
"$ADN_LOAD" detach "$CHAIN-2" >/dev/null || fail "detach $CHAIN-2"
expect_eq "refused update and migrate left the TC program" "$tc_id" \
	"$(bpftool -j prog show pinned "/sys/fs/bpf/adn/$CHAIN/prog_tc" | jq .id)"
out=$(kv_udp --user mallory --count 50) || fail "after the refusals: mallory: $out"
expect_eq "after the refusals: mallory still denied" 50 "$(status_count "$out" permission_denied)"
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
