#!/usr/bin/env bash
# Migration between two "hosts": chain A on a cgroup in the default network
# namespace, chain B on a cgroup whose processes run in another namespace.
# A client keeps 128 RPCs outstanding through A while `adn-load migrate A
# --to B` runs; B already counted traffic of its own. Afterwards B's
# counters hold exactly A's requests (before, during and after the move)
# plus its own: no update lost, none counted twice. A's tables stop
# changing at the switch. Chain: selftests/progs/state_chain.bpf.c.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs

CHAIN=adntest-migrate
NS=adn-test-mig-$$
hits() { # CHAIN USER
	"$ADNCTL" table "$1" count.hits list --json | jq --arg u "$2" '[.[] | select(.user == $u) | .n][0] // 0'
}
build_state "$TEST_TMP/v1.o" -DVERSION=1
build_state "$TEST_TMP/wide.o" -DVERSION=1 -DWIDE
ip netns add $NS || fail "ip netns add"
on_exit "ip netns del $NS"
ip -n $NS link set lo up || fail "lo up"
make_cgroup CGA mig-a
make_cgroup CGB mig-b
KV_OBJ=$TEST_TMP/v1.o attach_chain $CHAIN-a 17107 "$CGA"
KV_OBJ=$TEST_TMP/v1.o attach_chain $CHAIN-b 17108 "$CGB"
start_server "$CGA" 17107
# host b: its server and client run in the other namespace, in cgroup b
start_bg server-b "$CGB" ip netns exec $NS "$KV_SERVER" --listen 127.0.0.1 --port 17108 \
	--stats-file "$TEST_TMP/server-b.json"
SB=$BG_PID
wait_for_line "$TEST_TMP/server-b.out" listening
inb() { timeout 60 sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CGB" ip netns exec $NS "$@"; }
inb "$KV_CLIENT" --host 127.0.0.1 --port 17108 --json --user alice --count 500 >/dev/null || fail "b: own traffic"
expect_eq "b counted its own traffic" 500 "$(hits $CHAIN-b alice)"

# an incompatible target is refused before anything happens
"$ADN_LOAD" attach --cgroup "$CGB" --port 17109 --name $CHAIN-w "$TEST_TMP/wide.o" >/dev/null || fail "attach w"
on_exit "'$ADN_LOAD' detach $CHAIN-w"
"$ADN_LOAD" migrate $CHAIN-a --to $CHAIN-w 2>"$TEST_TMP/err"
expect_eq "migrate to another schema: exit" 4 $?
grep -q "count/hits" "$TEST_TMP/err" || fail "unclear: $(cat "$TEST_TMP/err")"
"$ADN_LOAD" detach $CHAIN-w >/dev/null

# The client runs until stopped (SIGINT: no new calls, the outstanding ones
# complete, then its report). The migration starts once A has counted 1000
# of its requests, the stop comes once B has counted 1000 more after the
# switch: before, during and after, however slow the machine (vmtest).
wait_hits() { # CHAIN USER MIN : at most 60 s, while the client runs
	local end=$((SECONDS + 60)) v
	while :; do
		v=$(hits "$1" "$2")
		[ "$v" -ge "$3" ] && return 0
		kill -0 "$cpid" 2>/dev/null || fail "client a ended early: $(cat "$TEST_TMP/client-a.out")"
		[ $SECONDS -lt $end ] || fail "$1: $2 has $v hits, not $3 after 60 s"
		sleep 0.1
	done
}
start_bg client-a "$CGA" "$KV_CLIENT" --host 127.0.0.1 --port 17107 --json --user alice \
	--duration 300 --outstanding 128 --conns 4
cpid=$BG_PID
wait_hits $CHAIN-a alice 1000
"$ADN_LOAD" migrate $CHAIN-a --to $CHAIN-b --json >"$TEST_TMP/mig.json" || fail "migrate: $(cat "$TEST_TMP/mig.json")"
note "migrate under load: $(cat "$TEST_TMP/mig.json")"
kill -0 $cpid 2>/dev/null || fail "the client ended before the migration: not under load"
frozen=$(hits $CHAIN-a alice)
wait_hits $CHAIN-b alice $((500 + frozen + 1000))
kill -INT $cpid
wait $cpid || fail "client a lost calls: $(cat "$TEST_TMP/client-a.out")"
cp "$TEST_TMP/client-a.out" "$TEST_TMP/a.json"
sent=$(jq -r .sent "$TEST_TMP/a.json")
expect_eq "client a: every call completed" "$sent" "$(jq -r .ok "$TEST_TMP/a.json")"
expect_eq "a's tables stop changing at the switch" "$frozen" "$(hits $CHAIN-a alice)"
[ "$frozen" -lt "$sent" ] || fail "no traffic after the switch ($frozen of $sent)"
expect_eq "b = its own 500 + every request of a (none lost, none twice)" $((sent + 500)) \
	"$(hits $CHAIN-b alice)"
expect_eq "per-CPU counter moved too" $((sent + 500)) \
	"$("$ADNCTL" table $CHAIN-b count.pcpu list --json | jq '.[0].requests')"
stop_server
expect_eq "server a handled every call once" "$sent" "$(handled_by alice)"
note "a sent $sent (a's tables froze at $frozen); b holds $((sent + 500))"
# the source can go: b's state stays
"$ADN_LOAD" detach $CHAIN-a >/dev/null || fail "detach a"
expect_eq "b keeps the state after a is gone" $((sent + 500)) "$(hits $CHAIN-b alice)"

# One element's state only (--element count): c's count tables move to d,
# its rate element keeps counting in c's own table, d's rate table is not
# touched.
KV_OBJ=$TEST_TMP/v1.o attach_chain $CHAIN-c 17113 "$CGA"
KV_OBJ=$TEST_TMP/v1.o attach_chain $CHAIN-d 17114 "$CGB"
consumed() { "$ADNCTL" table "$1" rate.bucket list --json | jq '.[0].consumed'; }
"$ADN_LOAD" migrate $CHAIN-c --to $CHAIN-d --element nosuch 2>"$TEST_TMP/err"
expect_eq "migrate of an element the chain lacks: exit" 4 $?
grep -q "has no table of element nosuch" "$TEST_TMP/err" || fail "unclear: $(cat "$TEST_TMP/err")"
start_server "$CGA" 17113
start_bg client-c "$CGA" "$KV_CLIENT" --host 127.0.0.1 --port 17113 --json --user alice \
	--duration 300 --outstanding 128 --conns 4
cpid=$BG_PID
wait_hits $CHAIN-c alice 1000
"$ADN_LOAD" migrate $CHAIN-c --to $CHAIN-d --element count --json >"$TEST_TMP/mig2.json" ||
	fail "migrate --element: $(cat "$TEST_TMP/mig2.json")"
note "migrate --element count under load: $(cat "$TEST_TMP/mig2.json")"
frozen=$(hits $CHAIN-c alice)
wait_hits $CHAIN-d alice $((frozen + 1000))
kill -INT $cpid
wait $cpid || fail "client c lost calls: $(cat "$TEST_TMP/client-c.out")"
sent=$(jq -r .sent "$TEST_TMP/client-c.out")
expect_eq "c's count tables stop changing at the switch" "$frozen" "$(hits $CHAIN-c alice)"
expect_eq "d's count = every request of c" "$sent" "$(hits $CHAIN-d alice)"
expect_eq "c's rate element kept its own state and counted every request" "$sent" "$(consumed $CHAIN-c)"
expect_eq "d's rate table untouched" 0 "$(consumed $CHAIN-d)"
stop_server
"$ADN_LOAD" detach $CHAIN-c >/dev/null || fail "detach c"
echo ok
