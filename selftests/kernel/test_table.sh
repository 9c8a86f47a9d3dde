#!/usr/bin/env bash
# adnctl changes the ACL while traffic flows; the next RPC sees the change,
# with no re-attach. bpftool shows the table's rows by field name (BTF).
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
require_chain_features

PORT=17072
CHAIN=adntest-table
make_cgroup CG table
attach_chain $CHAIN $PORT "$CG"
"$ADNCTL" param $CHAIN fault.probability 0 || fail "set p=0"
start_server "$CG" $PORT

dump=$(bpftool map dump pinned /sys/fs/bpf/adn/$CHAIN/acl/ac_tab -j) || fail "bpftool map dump"
expect_eq "bpftool shows alice by field name" W \
	"$(jq -r '.[] | select(.formatted.key.username == "alice") | .formatted.value.permission' <<<"$dump")"

out=$(kv "$CG" $PORT --user mallory --count 10 --outstanding 1)
expect_eq "mallory before insert" 10 "$(status_count "$out" permission_denied)"
"$ADNCTL" table $CHAIN acl.ac_tab insert username=mallory permission=W || fail "insert"
out=$(kv "$CG" $PORT --user mallory --count 10 --outstanding 1)
expect_eq "mallory after insert" 10 "$(status_count "$out" ok)"
"$ADNCTL" table $CHAIN acl.ac_tab list --json | jq -e '.[] | select(.username == "mallory")' >/dev/null ||
	fail "adnctl list does not show mallory"

"$ADNCTL" table $CHAIN acl.ac_tab delete username=alice || fail "delete"
out=$(kv "$CG" $PORT --user alice --count 10 --outstanding 1)
expect_eq "alice after delete" 10 "$(status_count "$out" permission_denied)"

# A long run while the row flips: every call ends OK or DENIED, none lost.
# The client runs until stopped (SIGINT: it completes what is outstanding,
# then reports). Each phase lasts 0.15 s and at least until the chain has
# seen it take effect (requests that passed grow while carol is in the
# table, dropped ones while she is not), so the flips overlap the traffic
# however slow the machine is (vmtest's emulation), and a change that does
# not reach the running chain fails here.
passed() { echo $(($(chain_stat $CHAIN requests) - $(chain_stat $CHAIN dropped))); }
dropped() { chain_stat $CHAIN dropped; }
wait_grows() { # WHAT FUNC BEFORE : wait (30 s at most) until FUNC exceeds BEFORE
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$($2)" -gt "$3" ] && return 0
		kill -0 "$cpid" 2>/dev/null || fail "carol's client ended early: $(cat "$TEST_TMP/carol.out")"
		sleep 0.1
	done
	fail "$1: not seen by the chain within 30 s"
}
d=$(dropped)
start_bg carol "$CG" "$KV_CLIENT" --host 127.0.0.1 --port $PORT --json --user carol \
	--duration 300 --outstanding 32
cpid=$BG_PID
wait_grows "carol's client denied" dropped "$d"
for i in 1 2 3 4 5; do
	p=$(passed)
	"$ADNCTL" table $CHAIN acl.ac_tab insert username=carol permission=W || fail "insert carol"
	sleep 0.15
	wait_grows "carol passing after insert $i" passed "$p"
	d=$(dropped)
	"$ADNCTL" table $CHAIN acl.ac_tab delete username=carol || fail "delete carol"
	sleep 0.15
	wait_grows "carol denied after delete $i" dropped "$d"
done
kill -INT "$cpid"
wait "$cpid" || fail "carol run lost calls: $(cat "$TEST_TMP/carol.out")"
c=$(cat "$TEST_TMP/carol.out")
note "carol: $(jq -c '{sent, ok, status, seconds}' <<<"$c")"
expect_eq "carol: ok + denied = sent" "$(jq -r .sent <<<"$c")" \
	$(($(status_count "$c" ok) + $(status_count "$c" permission_denied)))
[ "$(status_count "$c" ok)" -gt 0 ] || fail "carol never passed while allowed"
[ "$(status_count "$c" permission_denied)" -gt 0 ] || fail "carol never denied while removed"

# bad input to adnctl: clear error, non-zero exit
if "$ADNCTL" table $CHAIN acl.ac_tab insert usrname=x permission=W 2>"$TEST_TMP/err"; then
	fail "adnctl accepted an unknown column"
fi
grep -q "unknown column" "$TEST_TMP/err" || fail "unclear error: $(cat "$TEST_TMP/err")"
if "$ADNCTL" table $CHAIN acl.ac_tab insert username=aaaaaaaaaaaaaaaaaaaaaa permission=W 2>"$TEST_TMP/err"; then
	fail "adnctl accepted a 22-byte username for CHAR(16)"
fi
stop_server
echo ok
