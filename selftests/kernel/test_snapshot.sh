#!/usr/bin/env bash
# Snapshot / restore: adnctl shows times and strings for every table kind;
# the round trip is exact for HASH, LRU_HASH, ARRAY, PERCPU_HASH,
# PERCPU_ARRAY tables and parameters, with 1 row and with 1M rows of every
# kind (timed); a snapshot taken under load has whole rows; corrupt files
# are refused and leave the state alone; schema evolution: added column
# zero, added parameter kept, removed column dropped, changed type refused;
# a snapshot of another chain is refused, tables the chain lacks are
# skipped and named. Chain: selftests/progs/state_chain.bpf.c.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs

PORT=17101
CHAIN=adntest-snap
CHAIN2=adntest-snap2
CHAIN3=adntest-snapbig
CHAIN4=adntest-snapfill
CHAINM=adntest-snapmet
attach_obj() { KV_OBJ=$3 attach_chain "$1" "$2" "$4" >/dev/null; } # CHAIN PORT OBJ CG: OBJ, quietly
dump() { # CHAIN -> every table's raw rows (bpftool: per-CPU copies too), sorted
	local t
	for t in count/hits count/by_ver count/pcpu count/users seen/users pair/rows big/rows rate/bucket adn_params; do
		bpftool map dump pinned "/sys/fs/bpf/adn/$1/$t" -j | jq -c '.[]' | sort
	done
}
build_state "$TEST_TMP/v1.o" -DVERSION=1
build_state "$TEST_TMP/wide.o" -DVERSION=3 -DWIDE -DMORE_PARAM
build_state "$TEST_TMP/big.o" -DVERSION=1 -DBIG
build_state "$TEST_TMP/fill.o" -DVERSION=1 -DBIG_FILL
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
j=$("$ADNCTL" table $CHAIN count.users list --json) || fail "list users"
expect_eq "percpu hash summed over CPUs" 300 "$(jq -r '.[] | select(.user == "alice") | .n' <<<"$j")"
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

# one row: every table of a fresh chain holds a single (non-zero) row
attach_obj $CHAIN2 17102 "$TEST_TMP/v1.o" "$CG"
one_row() { # CHAIN N: one row in every table, values from N
	local t
	t=$(date -u -d "-$2 min" +%Y-%m-%dT%H:%M:%SZ)
	"$ADNCTL" table $1 count.hits insert user=zed n=$2 last=$t >/dev/null &&
		"$ADNCTL" table $1 count.by_ver insert ver=1 n=$2 >/dev/null &&
		"$ADNCTL" table $1 count.pcpu insert idx=0 requests=$2 >/dev/null &&
		"$ADNCTL" table $1 count.users insert user=zed n=$2 >/dev/null &&
		"$ADNCTL" table $1 seen.users insert user=zed at=$t rpc=$2 tag=t$2 >/dev/null &&
		"$ADNCTL" table $1 pair.rows insert user=zed a=$2 b=$((2 * $2)) >/dev/null &&
		"$ADNCTL" table $1 big.rows insert id=$2 v=$2 name=n$2 >/dev/null &&
		"$ADNCTL" table $1 rate.bucket insert idx=0 tokens=-$2 stamp=$t consumed=$2 >/dev/null &&
		"$ADNCTL" param $1 rate.burst $2 >/dev/null
}
one_row $CHAIN2 1 || fail "insert one row"
"$ADN_LOAD" snapshot $CHAIN2 -o "$TEST_TMP/one.snap" >/dev/null || fail "snapshot one"
dump $CHAIN2 >"$TEST_TMP/one.txt"
for t in count/hits count/users seen/users pair/rows big/rows; do
	expect_eq "1 row in $t" 1 "$(bpftool map dump pinned /sys/fs/bpf/adn/$CHAIN2/$t -j | jq length)"
done
one_row $CHAIN2 2 || fail "change"
"$ADNCTL" table $CHAIN2 count.hits insert user=yan n=3 >/dev/null || fail "add a row"
dump $CHAIN2 | diff -q "$TEST_TMP/one.txt" - >/dev/null && fail "1-row tables did not change"
"$ADN_LOAD" restore $CHAIN2 "$TEST_TMP/one.snap" >/dev/null || fail "restore one"
dump $CHAIN2 | diff "$TEST_TMP/one.txt" - >&2 || fail "1-row round trip not exact"

# --- a snapshot of another chain (elements/metrics): no table in common
"$ADNC" "$ADN_ROOT/elements/metrics/metrics.adn" -o "$TEST_TMP/metrics/" >"$TEST_TMP/adnc.out" 2>&1 ||
	fail "adnc metrics: $(cat "$TEST_TMP/adnc.out")"
attach_obj $CHAINM 17104 "$TEST_TMP/metrics/metrics.bpf.o" "$CG"
"$ADN_LOAD" snapshot $CHAINM -o "$TEST_TMP/metrics.snap" >/dev/null || fail "snapshot metrics"
"$ADN_LOAD" restore $CHAIN2 "$TEST_TMP/metrics.snap" >"$TEST_TMP/out" 2>"$TEST_TMP/err"
expect_eq "other chain's snapshot: exit status" 4 $?
expect_eq "other chain's snapshot: one line" 1 "$(wc -l <"$TEST_TMP/err")"
grep -q "none of the snapshot's [0-9]* tables (metrics\..*) is in chain $CHAIN2 (the snapshot is of chain .*): refused" \
	"$TEST_TMP/err" || fail "other chain's snapshot: unclear: $(cat "$TEST_TMP/err")"
dump $CHAIN2 | diff -q "$TEST_TMP/one.txt" - >/dev/null || fail "refused restore changed state"
"$ADN_LOAD" restore $CHAINM "$TEST_TMP/one.snap" 2>"$TEST_TMP/err" >/dev/null
expect_eq "and the other way round: exit status" 4 $?
# scale-out: another chain name, the same tables
attach_obj $CHAIN3 17103 "$TEST_TMP/v1.o" "$CG"
"$ADN_LOAD" restore $CHAIN3 "$TEST_TMP/one.snap" 2>"$TEST_TMP/err" >/dev/null || fail "restore into another name"
expect_eq "same tables: no note" 0 "$(wc -l <"$TEST_TMP/err")"
dump $CHAIN3 | diff "$TEST_TMP/one.txt" - >&2 || fail "restore into another name: not exact"
"$ADN_LOAD" detach $CHAIN3 >/dev/null || fail "detach $CHAIN3"

# --- 1M rows of every kind (chain BIG: big.rows HASH, big.lru, big.phash,
# big.arr, big.parr). map_fill fills the hash-shaped tables; big.phash is
# filled through a chain where it is a plain HASH (restored: rows on CPU
# 0); the arrays by bpftool batch (per-CPU: every CPU's copy). Compared
# by adnctl (per-CPU tables summed; the 1-row case compares every copy).
BIGT="big/rows big/lru big/phash big/arr big/parr"
bigdump() { # CHAIN -> the 1M tables (adnctl: per-CPU copies summed), sorted
	local t
	for t in $BIGT; do
		"$ADNCTL" table $1 "${t/\//.}" list | sed "s|^|$t |"
	done | sort -S 1G
}
t0=$(date +%s.%N)
attach_obj $CHAIN3 17103 "$TEST_TMP/big.o" "$CG"
attach_obj $CHAIN4 17105 "$TEST_TMP/fill.o" "$CG"
"$ADN_LOAD" snapshot $CHAIN3 -o "$TEST_TMP/empty.snap" >/dev/null || fail "snapshot empty"
"$BIN/map_fill" /sys/fs/bpf/adn/$CHAIN4/big/phash 1000000 7 || fail "map_fill phash"
"$ADN_LOAD" snapshot $CHAIN4 -o "$TEST_TMP/fill.snap" >/dev/null || fail "snapshot fill"
"$ADN_LOAD" restore $CHAIN3 "$TEST_TMP/fill.snap" >/dev/null || fail "restore fill"
"$ADN_LOAD" detach $CHAIN4 >/dev/null || fail "detach $CHAIN4"
"$BIN/map_fill" /sys/fs/bpf/adn/$CHAIN3/big/rows 1000000 || fail "map_fill rows"
"$BIN/map_fill" /sys/fs/bpf/adn/$CHAIN3/big/lru 1000000 5 || fail "map_fill lru"
awk -v p=/sys/fs/bpf/adn/$CHAIN3/big 'BEGIN {
	for (i = 0; i < 1000000; i++) {
		k = sprintf("%d %d %d %d", i % 256, int(i / 256) % 256, int(i / 65536) % 256, 0)
		v = sprintf("%d %d %d %d 0 0 0 0 %d %d %d 0 0 0 0 0", (i * 11) % 256, int(i / 256) % 256,
			    int(i / 65536) % 256, 1, 114, 48 + i % 10, 48 + int(i / 10) % 10)
		printf "map update pinned %s/arr key %s value %s\n", p, k, v
		printf "map update pinned %s/parr key %s value %s\n", p, k, v
	}
}' >"$TEST_TMP/arrays.batch"
bpftool batch file "$TEST_TMP/arrays.batch" >/dev/null || fail "bpftool batch arrays"
rm -f "$TEST_TMP/arrays.batch"
t1=$(date +%s.%N)
bigdump $CHAIN3 >"$TEST_TMP/big-before.txt"
for t in $BIGT; do
	expect_eq "$t: 1M rows" 1000000 "$(grep -c "^$t " "$TEST_TMP/big-before.txt")"
done
t2=$(date +%s.%N)
s=$("$ADN_LOAD" snapshot $CHAIN3 -o "$TEST_TMP/big.snap" --json) || fail "snapshot 1M"
note "snapshot 5 x 1M rows: $(jq -r '"read \(.read_ms) ms, write \(.write_ms) ms"' <<<"$s"), $(stat -c %s "$TEST_TMP/big.snap") bytes"
r=$("$ADN_LOAD" restore $CHAIN3 "$TEST_TMP/empty.snap" --json) || fail "restore empty over 1M"
note "restore empty over 5 x 1M rows: $(jq -r '"write \(.write_ms) ms"' <<<"$r")"
expect_eq "restore removes rows the snapshot lacks" 0 "$("$ADNCTL" table $CHAIN3 big.rows list | wc -l)"
bigdump $CHAIN3 | diff -q "$TEST_TMP/big-before.txt" - >/dev/null && fail "1M tables not cleared"
r=$("$ADN_LOAD" restore $CHAIN3 "$TEST_TMP/big.snap" --json) || fail "restore 1M"
note "restore 5 x 1M rows: $(jq -r '"read \(.read_ms) ms, write \(.write_ms) ms, \(.rows) rows"' <<<"$r")"
t3=$(date +%s.%N)
bigdump $CHAIN3 | cmp -s "$TEST_TMP/big-before.txt" - || fail "1M rows round trip not exact"
t4=$(date +%s.%N)
note "1M of every kind: fill $(bc <<<"$t1 - $t0") s, dump $(bc <<<"$t2 - $t1") s, round trip $(bc <<<"$t3 - $t2") s, compare $(bc <<<"$t4 - $t3") s"

# restore of a snapshot with tables the chain lacks: skipped, named, not counted
"$ADN_LOAD" restore $CHAIN2 "$TEST_TMP/empty.snap" --json >"$TEST_TMP/out" 2>"$TEST_TMP/err" ||
	fail "restore BIG into v1: $(cat "$TEST_TMP/err")"
for t in big.lru big.phash big.arr big.parr; do
	grep -q "note: table $t ([0-9]* rows) is not in chain $CHAIN2: skipped" "$TEST_TMP/err" ||
		fail "no note for skipped $t: $(cat "$TEST_TMP/err")"
done
expect_eq "skipped tables: one note each" 4 "$(wc -l <"$TEST_TMP/err")"
expect_eq "restored tables" 9 "$(jq .tables "$TEST_TMP/out")"
expect_eq "skipped tables" 4 "$(jq .skipped "$TEST_TMP/out")"
expect_eq "restored rows: only the chain's tables" 7 "$(jq .rows "$TEST_TMP/out")"
"$ADN_LOAD" restore $CHAIN3 "$TEST_TMP/one.snap" 2>"$TEST_TMP/err" >"$TEST_TMP/out" || fail "restore v1 into BIG"
expect_eq "tables the snapshot lacks: one note each" 4 "$(grep -c 'is not in the snapshot: left as it is' "$TEST_TMP/err")"
grep -q "^restored 12 rows of 9 tables from " "$TEST_TMP/out" || fail "summary: $(cat "$TEST_TMP/out")"
"$ADN_LOAD" detach $CHAIN3 >/dev/null || fail "detach $CHAIN3"
"$ADN_LOAD" detach $CHAINM >/dev/null || fail "detach $CHAINM"

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
"$ADNCTL" param $CHAIN2 rate.floor 42 || fail "param floor"
"$ADN_LOAD" restore $CHAIN2 "$TEST_TMP/small.snap" 2>"$TEST_TMP/notes" >/dev/null || fail "restore into added column"
grep -q "column 'extra' is new" "$TEST_TMP/notes" || fail "no note for the added column"
grep -q "note: parameter rate.floor is not in the snapshot: keeps its current value" "$TEST_TMP/notes" ||
	fail "no true note for the added parameter: $(cat "$TEST_TMP/notes")"
expect_eq "added parameter: current value kept" 42 "$("$ADNCTL" param $CHAIN2 rate.floor)"
expect_eq "parameter restored" 77 "$("$ADNCTL" param $CHAIN2 rate.burst)"
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
