#!/usr/bin/env bash
# Merge and split: two instances' snapshots merge by each table's policy
# (SUM counters add, LAST keeps the newer row, MAX and MIN per column); the merge
# restores into one chain (scale-in) and into several (scale-out); snapshots
# of different layouts are refused. Chain: selftests/progs/state_chain.bpf.c.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs

CHAIN=adntest-merge
attach_obj() { KV_OBJ=$3 attach_chain "$1" "$2" "$4" >/dev/null; } # CHAIN PORT OBJ CG: OBJ, quietly
hits() { # CHAIN USER
	"$ADNCTL" table "$1" count.hits list --json | jq --arg u "$2" '[.[] | select(.user == $u) | .n][0] // 0'
}
build_state "$TEST_TMP/v1.o" -DVERSION=1
build_state "$TEST_TMP/wide.o" -DVERSION=1 -DWIDE
make_cgroup CG merge
attach_obj $CHAIN-a 17103 "$TEST_TMP/v1.o" "$CG"
attach_obj $CHAIN-b 17104 "$TEST_TMP/v1.o" "$CG"
attach_obj $CHAIN-c 17105 "$TEST_TMP/v1.o" "$CG"
start_server "$CG" 17103
SA=$SERVER_PID
start_bg server-b "$CG" "$KV_SERVER" --listen 127.0.0.1 --port 17104
wait_for_line "$TEST_TMP/server-b.out" listening

kv "$CG" 17103 --user alice --count 300 --outstanding 8 >/dev/null || fail "a: alice"
kv "$CG" 17103 --user carol --count 10 --outstanding 1 >/dev/null || fail "a: carol"
sleep 0.05
kv "$CG" 17104 --user alice --count 200 --outstanding 8 >/dev/null || fail "b: alice"
kv "$CG" 17104 --user bob --count 100 --outstanding 8 >/dev/null || fail "b: bob"
"$BIN/map_fill" /sys/fs/bpf/adn/$CHAIN-a/big/rows 1000 3 || fail "fill a"
"$BIN/map_fill" /sys/fs/bpf/adn/$CHAIN-b/big/rows 500 5 || fail "fill b"

"$ADN_LOAD" snapshot $CHAIN-a -o "$TEST_TMP/a.snap" >/dev/null || fail "snapshot a"
"$ADN_LOAD" snapshot $CHAIN-b -o "$TEST_TMP/b.snap" >/dev/null || fail "snapshot b"
"$ADN_LOAD" merge -o "$TEST_TMP/m.snap" "$TEST_TMP/a.snap" "$TEST_TMP/b.snap" || fail "merge"
"$ADN_LOAD" restore $CHAIN-c "$TEST_TMP/m.snap" >/dev/null || fail "restore merged"

expect_eq "SUM: alice's counters add" 500 "$(hits $CHAIN-c alice)"
expect_eq "SUM: bob only in b" 100 "$(hits $CHAIN-c bob)"
expect_eq "SUM: carol only in a" 10 "$(hits $CHAIN-c carol)"
expect_eq "SUM: per-CPU counters add" 610 \
	"$("$ADNCTL" table $CHAIN-c count.pcpu list --json | jq '.[0].requests')"
expect_eq "SUM: array counters add" 610 \
	"$("$ADNCTL" table $CHAIN-c count.by_ver list --json | jq '.[] | select(.ver == 1) | .n')"
# LAST: alice's newest request was on b (rpc 200), not a (rpc 300)
expect_eq "LAST keeps the newer row" 200 \
	"$("$ADNCTL" table $CHAIN-c seen.users list --json | jq '.[] | select(.user == "alice") | .rpc')"
raw_at() { # CHAIN USER: the TIMESTAMP as stored (ns), from bpftool
	bpftool map dump pinned /sys/fs/bpf/adn/$1/seen/users -j |
		jq --arg u "$2" '.[] | select(.formatted.key.user == $u) | .formatted.value.at'
}
expect_eq "LAST keeps its timestamp" "$(raw_at $CHAIN-b alice)" "$(raw_at $CHAIN-c alice)"
# same order of files, other way round: LAST still picks b's row
"$ADN_LOAD" merge -o "$TEST_TMP/m2.snap" "$TEST_TMP/b.snap" "$TEST_TMP/a.snap" >/dev/null || fail "merge b a"
"$ADN_LOAD" restore $CHAIN-c "$TEST_TMP/m2.snap" >/dev/null || fail "restore m2"
expect_eq "LAST does not depend on file order" 200 \
	"$("$ADNCTL" table $CHAIN-c seen.users list --json | jq '.[] | select(.user == "alice") | .rpc')"
# MIN (rate.bucket, per column): a consumed 310 tokens, b 300
bucket() { "$ADNCTL" table "$1" rate.bucket list --json | jq -r ".[0].$2"; }
expect_eq "MIN per column: consumed" 300 "$(bucket $CHAIN-c consumed)"
ta=$(bucket $CHAIN-a tokens) tb=$(bucket $CHAIN-b tokens)
expect_eq "MIN per column: tokens" $((ta < tb ? ta : tb)) "$(bucket $CHAIN-c tokens)"
# MAX: ids 0..499 are in both (3i vs 5i), 500..999 only in a
expect_eq "MAX per column" "1000 2495 2997" \
	"$("$ADNCTL" table $CHAIN-c big.rows list --json | jq -r '[length, (.[] | select(.id == 499) | .v), (.[] | select(.id == 999) | .v)] | join(" ")')"

# scale-out: one snapshot into several chains
for c in $CHAIN-a $CHAIN-b; do
	"$ADN_LOAD" restore $c "$TEST_TMP/m.snap" >/dev/null || fail "scale-out restore into $c"
	expect_eq "scale-out: $c has the merged state" 500 "$(hits $c alice)"
done
out=$(kv "$CG" 17104 --user alice --count 7 --outstanding 1)
expect_eq "scaled-out chain keeps counting" 507 "$(hits $CHAIN-b alice)"

# different layouts: refused, one line, exit 4
"$ADN_LOAD" detach $CHAIN-c >/dev/null
attach_obj $CHAIN-c 17105 "$TEST_TMP/wide.o" "$CG"
"$ADN_LOAD" snapshot $CHAIN-c -o "$TEST_TMP/w.snap" >/dev/null || fail "snapshot wide"
"$ADN_LOAD" merge -o "$TEST_TMP/x.snap" "$TEST_TMP/a.snap" "$TEST_TMP/w.snap" 2>"$TEST_TMP/err"
expect_eq "merge of different layouts: exit" 4 $?
grep -q "table count.hits: snapshot 2 has another layout" "$TEST_TMP/err" ||
	fail "unclear: $(cat "$TEST_TMP/err")"
[ ! -e "$TEST_TMP/x.snap" ] || fail "a refused merge wrote its output"
"$ADN_LOAD" merge -o "$TEST_TMP/x.snap" "$TEST_TMP/a.snap" /nonexistent 2>"$TEST_TMP/err" &&
	fail "merge of a missing file succeeded"
stop_server
echo ok
