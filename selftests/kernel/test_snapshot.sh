#!/usr/bin/env bash
# Snapshot / restore: adnctl shows times and strings for every table kind;
# the round trip is exact for HASH, LRU_HASH, ARRAY, PERCPU_ARRAY tables and
# parameters, with 1 row and with 1M rows (timed); a snapshot taken under
# load has whole rows; corrupt files are refused and leave the state alone;
# schema evolution: added column zero, removed column dropped, changed type
# refused. Chain: selftests/progs/state_chain.bpf.c.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs

PORT=17101
CHAIN=adntest-snap
CHAIN2=adntest-snap2
attach_obj() { KV_OBJ=$3 attach_chain "$1" "$2" "$4" >/dev/null; } # CHAIN PORT OBJ CG: OBJ, quietly
dump() { # CHAIN -> every table's raw rows (bpftool: per-CPU copies too), sorted
	local t
	for t in count/hits count/by_ver count/pcpu seen/users pair/rows rate/bucket adn_params; do
		bpftool map dump pinned "/sys/fs/bpf/adn/$1/$t" -j | jq -c '.[]' | sort
	done
}
build_state "$TEST_TMP/v1.o" -DVERSION=1
build_state "$TEST_TMP/wide.o" -DVERSION=3 -DWIDE
build_state "$TEST_TMP/narrow.o" -DVERSION=1 -DNARROW

make_cgroup CG snap
attach_obj $CHAIN $PORT "$TEST_TMP/v1.o" "$CG"
start_server "$CG" $PORT

# --- inspection: every table kind, times as times, strings as text
kv "$CG" $PORT --user alice --count 300 --outstanding 8 >/dev/null || fail "alice"
kv "$CG" $PORT --user bob --count 200 --outstanding 8 >/dev/null || fail "bob"
"$ADNCTL" param $CHAIN rate.burst 77 || fail "param"
j=$("$ADNCTL" table $CHAIN count.hits list --json) || fail "list hits"
expect_eq "hash: string key as text" 300 "$(jq -r '.[] | select(.user == "alice") | .n' <<<"$j")"
jq -e '.[0].last | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")' <<<"$j" >/dev/null ||
	fail "hash: timestamp not printed as a time: $j"
j=$("$ADNCTL" table $CHAIN seen.users list --json) || fail "list seen"
expect_eq "lru: string value as text" v1 "$(jq -r '.[] | select(.user == "bob") | .tag' <<<"$j")"
jq -e '.[0].at | test("Z$")' <<<"$j" >/dev/null || fail "lru: time: $j"
j=$("$ADNCTL" table $CHAIN count.pcpu list --json) || fail "list pcpu"
expect_eq "percpu array summed over CPUs" 500 "$(jq -r '.[0].requests' <<<"$j")"
j=$("$ADNCTL" table $CHAIN rate.bucket list --json) || fail "list rate"
jq -e '.[0].stamp | test("Z$")' <<<"$j" >/dev/null || fail "array: time: $j"
expect_eq "array by index" 500 "$(jq -r '.[0].consumed' <<<"$j")"

# --- round trip, small: snapshot, scramble every table, restore, compare
"$ADN_LOAD" snapshot $CHAIN -o "$TEST_TMP/small.snap" >/dev/null || fail "snapshot"
dump $CHAIN >"$TEST_TMP/before.txt"
kv "$CG" $PORT --user carol --count 50 --outstanding 4 >/dev/null || fail "carol"
"$ADNCTL" table $CHAIN count.hits delete user=alice || fail "delete"
"$ADNCTL" param $CHAIN rate.burst 5 || fail "param"
"$ADN_LOAD" restore $CHAIN "$TEST_TMP/small.snap" >/dev/null || fail "restore"
dump $CHAIN >"$TEST_TMP/after.txt"
diff "$TEST_TMP/before.txt" "$TEST_TMP/after.txt" >&2 || fail "round trip is not exact"
note "small round trip exact: $(wc -l <"$TEST_TMP/before.txt") rows/params"

# one row: a chain whose tables hold a single row each
attach_obj $CHAIN2 17102 "$TEST_TMP/v1.o" "$CG"
"$ADNCTL" table $CHAIN2 count.hits insert user=zed n=1 last="$(date -u -d "-1 min" +%Y-%m-%dT%H:%M:%SZ)" >/dev/null ||
	fail "insert one row"
"$ADN_LOAD" snapshot $CHAIN2 -o "$TEST_TMP/one.snap" >/dev/null || fail "snapshot one"
dump $CHAIN2 >"$TEST_TMP/one.txt"
"$ADNCTL" table $CHAIN2 count.hits insert user=zed n=2 || fail "change"
"$ADN_LOAD" restore $CHAIN2 "$TEST_TMP/one.snap" >/dev/null || fail "restore one"
dump $CHAIN2 | diff "$TEST_TMP/one.txt" - >&2 || fail "1-row round trip not exact"

# --- 1M rows
"$BIN/map_fill" /sys/fs/bpf/adn/$CHAIN2/big/rows 1000000 || fail "map_fill"
s=$("$ADN_LOAD" snapshot $CHAIN2 -o "$TEST_TMP/big.snap" --json) || fail "snapshot 1M"
note "snapshot 1M rows: $(jq -r '"read \(.read_ms) ms, write \(.write_ms) ms"' <<<"$s"), $(stat -c %s "$TEST_TMP/big.snap") bytes"
sum1=$("$ADNCTL" table $CHAIN2 big.rows list | sort | md5sum)
"$ADN_LOAD" restore $CHAIN2 "$TEST_TMP/one.snap" >/dev/null || fail "restore one over 1M"
expect_eq "restore removes rows the snapshot lacks" 0 "$("$ADNCTL" table $CHAIN2 big.rows list | wc -l)"
r=$("$ADN_LOAD" restore $CHAIN2 "$TEST_TMP/big.snap" --json) || fail "restore 1M"
note "restore 1M rows: $(jq -r '"read \(.read_ms) ms, write \(.write_ms) ms"' <<<"$r")"
expect_eq "1M rows round trip" "$sum1" "$("$ADNCTL" table $CHAIN2 big.rows list | sort | md5sum)"

# --- consistency under load: pair.rows is written whole with b = 2a
# dave runs until stopped (SIGINT: no new calls, the outstanding ones
# complete); the snapshots start once the chain has counted 500 of his
# requests, so all 8 are taken under load however slow the machine.
dave_hits() { "$ADNCTL" table $CHAIN count.hits list --json | jq '[.[] | select(.user == "dave") | .n][0] // 0'; }
start_bg dave "$CG" "$KV_CLIENT" --host 127.0.0.1 --port $PORT --json --user dave \
	--duration 300 --outstanding 64
lpid=$BG_PID
for ((i = 0; i < 600; i++)); do
	[ "$(dave_hits)" -ge 500 ] && break
	kill -0 $lpid 2>/dev/null || fail "dave ended early: $(cat "$TEST_TMP/dave.out")"
	sleep 0.1
done
[ "$(dave_hits)" -ge 500 ] || fail "dave's requests do not reach the chain"
prev=0
for i in $(seq 8); do
	"$ADN_LOAD" snapshot $CHAIN -o "$TEST_TMP/live$i.snap" >/dev/null || fail "snapshot under load"
	"$ADN_LOAD" restore $CHAIN2 "$TEST_TMP/live$i.snap" >/dev/null || fail "restore $i"
	bad=$("$ADNCTL" table $CHAIN2 pair.rows list --json | jq '[.[] | select(.b != 2 * .a)] | length')
	expect_eq "snapshot $i: rows read whole (b = 2a)" 0 "$bad"
	n=$("$ADNCTL" table $CHAIN2 count.hits list --json | jq '[.[] | select(.user == "dave") | .n][0] // 0')
	[ "$n" -ge "$prev" ] || fail "counter went back between snapshots: $prev -> $n"
	prev=$n
	sleep 0.2
done
kill -0 $lpid 2>/dev/null || fail "dave ended during the snapshots: not under load"
kill -INT $lpid
wait $lpid || fail "load lost calls: $(cat "$TEST_TMP/dave.out")"
note "8 snapshots under load: rows whole, counters monotone (last dave=$prev)"

# --- corrupt files: refused with a clear message, state untouched
dump $CHAIN >"$TEST_TMP/live.txt"
cp "$TEST_TMP/small.snap" "$TEST_TMP/bad.snap"
corrupt() { # WHAT EXPECTED-REGEX : restore must fail with exit 3, one line
	local rc
	"$ADN_LOAD" restore $CHAIN "$TEST_TMP/bad.snap" 2>"$TEST_TMP/err"
	rc=$?
	expect_eq "$1: exit status" 3 $rc
	expect_eq "$1: one line" 1 "$(wc -l <"$TEST_TMP/err")"
	grep -qE "$2" "$TEST_TMP/err" || fail "$1: unclear message: $(cat "$TEST_TMP/err")"
	dump $CHAIN | diff -q "$TEST_TMP/live.txt" - >/dev/null || fail "$1: state changed"
	cp "$TEST_TMP/small.snap" "$TEST_TMP/bad.snap"
}
size=$(stat -c %s "$TEST_TMP/small.snap")
for off in 30 60 $((size / 2)) $((size - 1)); do
	printf "$(printf '\\x%02x' $((0x$(xxd -s $off -l 1 -p "$TEST_TMP/bad.snap") ^ 0x10)))" |
		dd of="$TEST_TMP/bad.snap" bs=1 seek=$off conv=notrunc 2>/dev/null
	corrupt "bit flip at $off" "corrupt|CRC"
done
truncate -s $((size - 7)) "$TEST_TMP/bad.snap"
corrupt "truncated" "truncated|corrupt"
truncate -s 10 "$TEST_TMP/bad.snap"
corrupt "truncated header" "bad magic|corrupt|truncated"
printf 'XDNSNAP\0' | dd of="$TEST_TMP/bad.snap" bs=1 conv=notrunc 2>/dev/null
corrupt "wrong magic" "not an adn snapshot"
python3 - "$TEST_TMP/bad.snap" <<'PY' || fail "python"
import sys, struct, zlib
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
b[8:12] = struct.pack('<I', 9); b[20:24] = struct.pack('<I', zlib.crc32(bytes(b[:20])))
open(p, 'wb').write(b)
PY
corrupt "wrong version" "version 9 is not supported"
python3 - "$TEST_TMP/bad.snap" <<'PY' || fail "python"
import sys, struct, zlib
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
b[16:20] = struct.pack('<I', 0x12345678); b[20:24] = struct.pack('<I', zlib.crc32(bytes(b[:20])))
open(p, 'wb').write(b)
PY
corrupt "wrong layout hash" "layout hash 0x12345678"
"$ADN_LOAD" restore $CHAIN /nonexistent.snap 2>"$TEST_TMP/err" && fail "missing file accepted"
grep -q "No such file" "$TEST_TMP/err" || fail "missing file: $(cat "$TEST_TMP/err")"

# --- schema evolution
"$ADN_LOAD" detach $CHAIN2 >/dev/null || fail "detach $CHAIN2"
attach_obj $CHAIN2 17102 "$TEST_TMP/wide.o" "$CG"
"$ADN_LOAD" restore $CHAIN2 "$TEST_TMP/small.snap" 2>"$TEST_TMP/notes" >/dev/null || fail "restore into added column"
grep -q "column 'extra' is new" "$TEST_TMP/notes" || fail "no note for the added column"
expect_eq "added column: old value kept" 300 \
	"$("$ADNCTL" table $CHAIN2 count.hits list --json | jq '.[] | select(.user == "alice") | .n')"
expect_eq "added column: zero" 0 \
	"$("$ADNCTL" table $CHAIN2 count.hits list --json | jq '.[] | select(.user == "alice") | .extra')"
"$ADNCTL" table $CHAIN2 count.hits insert user=wide n=9 extra=5 || fail "insert wide"
"$ADN_LOAD" snapshot $CHAIN2 -o "$TEST_TMP/wide.snap" >/dev/null || fail "snapshot wide"
"$ADN_LOAD" restore $CHAIN "$TEST_TMP/wide.snap" 2>"$TEST_TMP/notes" >/dev/null || fail "restore removed column"
grep -q "column 'extra' is not in the chain any more: dropped" "$TEST_TMP/notes" || fail "no drop note"
expect_eq "removed column dropped, row kept" 9 \
	"$("$ADNCTL" table $CHAIN count.hits list --json | jq '.[] | select(.user == "wide") | .n')"
"$ADN_LOAD" detach $CHAIN2 >/dev/null || fail "detach $CHAIN2"
attach_obj $CHAIN2 17102 "$TEST_TMP/narrow.o" "$CG"
dump $CHAIN2 >"$TEST_TMP/narrow.txt"
"$ADN_LOAD" restore $CHAIN2 "$TEST_TMP/small.snap" 2>"$TEST_TMP/err"
expect_eq "changed type: exit status" 4 $?
grep -q "column 'n' changed type from uint64 to uint32: refused" "$TEST_TMP/err" ||
	fail "changed type: unclear: $(cat "$TEST_TMP/err")"
dump $CHAIN2 | diff -q "$TEST_TMP/narrow.txt" - >/dev/null || fail "refused restore changed state"
stop_server
echo ok
