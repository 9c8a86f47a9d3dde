#!/usr/bin/env bash
# After detach no program, map, link, pin or cgroup attachment of the chain
# remains (checked with bpftool), and the application keeps working.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
require_chain_features

PORT=17075
CHAIN=adntest-detach
make_cgroup CG detach
"$ADN_LOAD" attach --cgroup "$CG" --port $PORT --name $CHAIN "$KV_OBJ" || fail "attach"
on_exit "'$ADN_LOAD' detach $CHAIN"
st=$("$ADN_LOAD" status $CHAIN --json) || fail "status"
progs=$(jq -r '.. | objects | select(has("prog_id")) | .prog_id' <<<"$st" | sort -u)
maps=$(jq -r '.. | objects | select(has("map_id")) | .map_id' <<<"$st" | sort -u)
[ -n "$progs" ] || fail "status shows no programs: $st"
[ -n "$maps" ] || fail "status shows no maps: $st"
[ -n "$(bpftool cgroup show "$CG")" ] || fail "nothing attached to the cgroup"

start_server "$CG" $PORT
out=$(kv "$CG" $PORT --user mallory --count 10 --outstanding 1)
expect_eq "mallory denied while attached" 10 "$(status_count "$out" permission_denied)"

# detaching the same chain twice: the second is a clear error
"$ADN_LOAD" attach --cgroup "$CG" --port $PORT --name $CHAIN "$KV_OBJ" 2>"$TEST_TMP/err" &&
	fail "a second attach of the same chain was accepted"
grep -q "already attached" "$TEST_TMP/err" || fail "unclear error: $(cat "$TEST_TMP/err")"

"$ADN_LOAD" detach $CHAIN || fail "detach"
[ ! -e /sys/fs/bpf/adn/$CHAIN ] || fail "pins remain: $(ls -R /sys/fs/bpf/adn/$CHAIN)"
expect_eq "cgroup attachments" "" "$(bpftool cgroup show "$CG")"
for id in $progs; do
	bpftool prog show id "$id" >/dev/null 2>&1 && fail "program $id remains"
done
# maps are freed by the kernel after their last reference (RCU): give it a moment
for id in $maps; do
	for i in $(seq 50); do bpftool map show id "$id" >/dev/null 2>&1 || break; sleep 0.1; done
	bpftool map show id "$id" >/dev/null 2>&1 && fail "map $id remains"
done
bpftool link show | grep -q "$CHAIN" && fail "a link remains"

out=$(kv "$CG" $PORT --user mallory --count 10 --outstanding 1)
expect_eq "mallory reaches the server once the chain is gone" 10 "$(status_count "$out" ok)"
"$ADN_LOAD" detach $CHAIN 2>"$TEST_TMP/err" && fail "detach of a detached chain succeeded"
[ -s "$TEST_TMP/err" ] || fail "detach of an unknown chain printed nothing"
stop_server
echo ok
