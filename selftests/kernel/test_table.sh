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
kv "$CG" $PORT --user carol --duration 2 --outstanding 32 >"$TEST_TMP/carol.json" &
cpid=$!
for i in 1 2 3 4 5; do
	"$ADNCTL" table $CHAIN acl.ac_tab insert username=carol permission=W
	sleep 0.15
	"$ADNCTL" table $CHAIN acl.ac_tab delete username=carol
	sleep 0.15
done
wait $cpid || fail "carol run lost calls: $(cat "$TEST_TMP/carol.json")"
c=$(cat "$TEST_TMP/carol.json")
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
