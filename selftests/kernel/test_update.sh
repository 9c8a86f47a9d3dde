#!/usr/bin/env bash
# Hot update: 100 `adn-load update`s (v1 <-> v2, and twice through a layout
# change that converts count.hits) while a client keeps 128 RPCs
# outstanding on 4 connections. Zero RPCs lost or duplicated (client
# completions = server handled = requests the chain counted), every request
# counted by exactly one version (per-version counters add up), counters
# and the rate limiter carry on, and after detach no program or map of
# the chain remains (bpftool). Chain: selftests/progs/state_chain.bpf.c.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs

PORT=17106
CHAIN=adntest-update
PIN_ROOT=/sys/fs/bpf/adn
UPDATES=${UPDATES:-100}
build_state "$TEST_TMP/v1.o" -DVERSION=1
build_state "$TEST_TMP/v2.o" -DVERSION=2
build_state "$TEST_TMP/v3.o" -DVERSION=3 -DWIDE
make_cgroup CG update
"$ADN_LOAD" attach --cgroup "$CG" --port $PORT --name $CHAIN "$TEST_TMP/v1.o" >/dev/null || fail "attach"
on_exit "'$ADN_LOAD' detach '$CHAIN'"
start_server "$CG" $PORT

ids() { # every program and map id of the chain now
	"$ADN_LOAD" status $CHAIN --json | jq -r '.. | objects | (.prog_id? // empty), (.map_id? // empty | "m\(.)")'
}
ids >"$TEST_TMP/ids"
# runs until stopped with SIGINT after the last update (it then drains and
# reports); not through kv(), whose 120 s bound the 100 updates can exceed
# under vmtest's emulation (~180 s there). The updates start once the chain
# has counted 500 of its requests.
start_bg client "$CG" "$KV_CLIENT" --host 127.0.0.1 --port $PORT --json --user alice \
	--duration 3000 --outstanding 128 --conns 4
cpid=$BG_PID
for ((i = 0; i < 600; i++)); do
	[ "$("$ADNCTL" table $CHAIN count.hits list --json | jq '[.[] | select(.user == "alice") | .n][0] // 0')" -ge 500 ] && break
	kill -0 $cpid 2>/dev/null || fail "the client ended before the updates began: $(cat "$TEST_TMP/client.out")"
	sleep 0.1
done
start=$(date +%s.%N)
for ((i = 1; i <= UPDATES; i++)); do
	obj=$TEST_TMP/v$((i % 2 + 1)).o
	((i == 40 || i == 70)) && obj=$TEST_TMP/v3.o # layout change: count.hits converted
	out=$("$ADN_LOAD" update $CHAIN "$obj" --json) || fail "update $i ($obj)"
	((i == 40)) && { jq -e '.converted == 1' <<<"$out" >/dev/null || fail "update $i did not convert: $out"; }
	((i == 2)) && { jq -e '.converted == 0 and .created == 0' <<<"$out" >/dev/null || fail "update $i did not keep every map: $out"; }
	ids >>"$TEST_TMP/ids"
done
secs=$(echo "$(date +%s.%N) - $start" | bc)
note "$UPDATES updates in ${secs}s"
kill -0 $cpid 2>/dev/null || fail "the client ended before the updates did: not under load"
kill -INT $cpid || fail "cannot stop the client"
wait $cpid || fail "client: calls without reply: $(cat "$TEST_TMP/client.out")"
c=$(cat "$TEST_TMP/client.out")
[ -n "$c" ] || fail "client printed nothing"
sent=$(jq -r .sent <<<"$c")
note "client: $(jq -c '{sent, ok, lost, rps}' <<<"$c")"
[ "$sent" -gt 1000 ] || fail "too few RPCs during the updates: $c"
expect_eq "client: every call completed" "$sent" "$(jq -r .ok <<<"$c")"
expect_eq "client: none lost" 0 "$(jq -r .lost <<<"$c")"
hits=$("$ADNCTL" table $CHAIN count.hits list --json | jq '.[] | select(.user == "alice") | .n')
expect_eq "requests counted by the chain = sent (none missed, none twice)" "$sent" "$hits"
byver=$("$ADNCTL" table $CHAIN count.by_ver list --json | jq '[.[].n] | add')
expect_eq "per-version counters add up (each request ran one version)" "$sent" "$byver"
"$ADNCTL" table $CHAIN count.by_ver list --json | jq -e '[.[] | select(.ver >= 1 and .n > 0)] | length == 3' \
	>/dev/null || fail "not every version ran: $("$ADNCTL" table $CHAIN count.by_ver list)"
expect_eq "per-CPU counter carried over" "$sent" \
	"$("$ADNCTL" table $CHAIN count.pcpu list --json | jq '.[0].requests')"
expect_eq "rate limiter carried over" "$sent" \
	"$("$ADNCTL" table $CHAIN rate.bucket list --json | jq '.[0].consumed')"
stop_server
expect_eq "server handled = sent (none duplicated)" "$sent" "$(handled_by alice)"

"$ADN_LOAD" detach $CHAIN >/dev/null || fail "detach"
sort -u "$TEST_TMP/ids" >"$TEST_TMP/ids.u"
note "$(grep -vc '^m' "$TEST_TMP/ids.u") programs and $(grep -c '^m' "$TEST_TMP/ids.u") maps seen"
while read -r id; do
	if [[ $id == m* ]]; then
		bpftool map show id "${id#m}" >/dev/null 2>&1 && fail "map ${id#m} remains after detach"
	else
		bpftool prog show id "$id" >/dev/null 2>&1 && fail "program $id remains after detach"
	fi
done <"$TEST_TMP/ids.u"
left=$(bpftool map show -j | jq -r '.[] | select(.type == "prog_array" and .name == "adn_progs") | .id')
[ -z "$left" ] || note "adn_progs maps of other chains: $left"

# An update that removes an element, then one that adds it back (the kv
# chain without and with acl, compiled by adnc): the removed element's
# table pins go; the added one's table is pinned under its element and
# starts with the DSL's INSERT rows; the chain runs each version's code.
CHE=adntest-update-el PORTE=17110
mkdir -p "$TEST_TMP/full" "$TEST_TMP/noacl"
sed '/^  acl (user = username),$/d' "$ADN_ROOT/examples/kv/kv.adn" >"$TEST_TMP/noacl.adn"
grep -q '^  acl (user = username),$' "$TEST_TMP/noacl.adn" && fail "noacl.adn still chains acl"
for v in full:"$ADN_ROOT/examples/kv/kv.adn" noacl:"$TEST_TMP/noacl.adn"; do
	"$ADNC" "${v#*:}" -o "$TEST_TMP/${v%%:*}" >"$TEST_TMP/adnc.out" 2>&1 ||
		fail "adnc ${v#*:}: $(cat "$TEST_TMP/adnc.out")"
done
make_cgroup CGE update-el
"$ADN_LOAD" attach --cgroup "$CGE" --port $PORTE --name $CHE "$TEST_TMP/full/kv.bpf.o" >/dev/null ||
	fail "attach $CHE"
on_exit "'$ADN_LOAD' detach '$CHE'"
"$ADNCTL" param $CHE fault.probability 0 || fail "set fault.probability"
"$ADNCTL" table $CHE acl.ac_tab insert username=carol permission=W >/dev/null || fail "insert carol"
start_server "$CGE" $PORTE
outcome() { status_count "$(kv "$CGE" $PORTE --user "$1" --count 50)" "$2"; }
expect_eq "with acl: mallory denied" 50 "$(outcome mallory permission_denied)"
o=$("$ADN_LOAD" update $CHE "$TEST_TMP/noacl/kv.bpf.o" --json) || fail "update without acl: $o"
[ ! -e "$PIN_ROOT/$CHE/acl" ] || fail "the removed element's pins remain: $(ls "$PIN_ROOT/$CHE/acl")"
expect_eq "without acl: mallory passes" 50 "$(outcome mallory ok)"
o=$("$ADN_LOAD" update $CHE "$TEST_TMP/full/kv.bpf.o" --json) || fail "update with acl again: $o"
jq -e '.created == 1' <<<"$o" >/dev/null || fail "the added table was not created: $o"
[ -e "$PIN_ROOT/$CHE/acl/ac_tab" ] || fail "the added table is not pinned: $(ls "$PIN_ROOT/$CHE")"
expect_eq "added table starts with the DSL's rows" "username=alice permission=W
username=bob permission=R" "$("$ADNCTL" table $CHE acl.ac_tab list | sort)"
expect_eq "with acl again: mallory denied" 50 "$(outcome mallory permission_denied)"
expect_eq "with acl again: alice passes" 50 "$(outcome alice ok)"
"$ADN_LOAD" update $CHE "$TEST_TMP/noacl/kv.json" >"$TEST_TMP/upd.err" 2>&1 && fail "update to a JSON file succeeded"
grep -q 'not an eBPF object' "$TEST_TMP/upd.err" || fail "unclear refusal: $(cat "$TEST_TMP/upd.err")"
stop_server
"$ADN_LOAD" detach $CHE >/dev/null || fail "detach $CHE"
# Column DEFAULTs (schema evolution): v2 of the kv chain adds
# `level UINT32 DEFAULT 7` to acl.ac_tab. A hot update from v1 converts the
# table: the old rows get level 7; so does a v1 snapshot restored into a
# fresh v2 chain (with a note saying so), and v2's own initial rows.
CHD=adntest-update-def CHD2=adntest-update-def2 PORTD=17121 PORTD2=17122
mkdir -p "$TEST_TMP/dv1" "$TEST_TMP/dv2"
cp "$ADN_ROOT/examples/kv/kv.adn" "$TEST_TMP/dv1.adn"
sed 's/^\(  CREATE TABLE ac_tab (username CHAR(16) PRIMARY KEY, permission CHAR(2)\))$/\1, level UINT32 DEFAULT 7)/' \
	"$ADN_ROOT/examples/kv/kv.adn" >"$TEST_TMP/dv2.adn"
grep -q 'level UINT32 DEFAULT 7)$' "$TEST_TMP/dv2.adn" || fail "dv2.adn has no level column"
for v in dv1 dv2; do
	"$ADNC" "$TEST_TMP/$v.adn" -o "$TEST_TMP/$v" >"$TEST_TMP/adnc.out" 2>&1 ||
		fail "adnc $v.adn: $(cat "$TEST_TMP/adnc.out")"
done
levels() { "$ADNCTL" table "$1" acl.ac_tab list --json | jq -c 'sort_by(.username) | map({(.username): .level}) | add'; }
make_cgroup CGD update-def
"$ADN_LOAD" attach --cgroup "$CGD" --port $PORTD --name $CHD "$TEST_TMP/dv1/kv.bpf.o" >/dev/null ||
	fail "attach $CHD"
on_exit "'$ADN_LOAD' detach '$CHD'"
"$ADNCTL" table $CHD acl.ac_tab insert username=carol permission=W >/dev/null || fail "insert carol"
"$ADN_LOAD" snapshot $CHD -o "$TEST_TMP/dv1.snap" >/dev/null || fail "snapshot $CHD"
o=$("$ADN_LOAD" update $CHD "$TEST_TMP/dv2/kv.bpf.o" --json) || fail "update to dv2: $o"
jq -e '.converted == 1' <<<"$o" >/dev/null || fail "acl.ac_tab was not converted: $o"
expect_eq "update: old rows get the new column's DEFAULT" '{"alice":7,"bob":7,"carol":7}' "$(levels $CHD)"
make_cgroup CGD2 update-def2
"$ADN_LOAD" attach --cgroup "$CGD2" --port $PORTD2 --name $CHD2 "$TEST_TMP/dv2/kv.bpf.o" >/dev/null ||
	fail "attach $CHD2"
on_exit "'$ADN_LOAD' detach '$CHD2'"
expect_eq "initial rows get the DEFAULT" '{"alice":7,"bob":7}' "$(levels $CHD2)"
"$ADNCTL" table $CHD2 acl.ac_tab insert username=alice permission=W level=1 >/dev/null ||
	fail "set alice's level"
"$ADN_LOAD" restore $CHD2 "$TEST_TMP/dv1.snap" >"$TEST_TMP/restore.out" 2>&1 ||
	fail "restore dv1.snap into $CHD2: $(cat "$TEST_TMP/restore.out")"
grep -q "table acl.ac_tab: column 'level' is new: set to its default 7 in every restored row" \
	"$TEST_TMP/restore.out" || fail "restore: no note for the new column: $(cat "$TEST_TMP/restore.out")"
expect_eq "restore: old rows get the new column's DEFAULT" '{"alice":7,"bob":7,"carol":7}' "$(levels $CHD2)"
"$ADN_LOAD" detach $CHD2 >/dev/null || fail "detach $CHD2"
"$ADN_LOAD" detach $CHD >/dev/null || fail "detach $CHD"
echo ok
