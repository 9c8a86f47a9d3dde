#!/usr/bin/env bash
# Bad input from a client inside the cgroup: short header, length beyond any
# buffer, zero length, a request too short for its fields, garbage. No hang,
# the frame is counted and dropped, other clients' RPCs are unaffected.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
require_chain_features

PORT=17074
CHAIN=adntest-malformed
make_cgroup CG malformed
attach_chain $CHAIN $PORT "$CG"
"$ADNCTL" param $CHAIN fault.probability 0 || fail "set p=0"
start_server "$CG" $PORT

kv "$CG" $PORT --user alice --duration 3 --outstanding 64 >"$TEST_TMP/alice.json" &
apid=$!
sleep 0.3
before=$(chain_stat $CHAIN malformed)
for kind in huge zero tiny garbage; do
	r=$(in_cgroup "$CG" "$BIN/malformed_client" 127.0.0.1 $PORT $kind) ||
		fail "malformed_client $kind hung or failed: $r"
	note "$kind: $r"
	# the socket that lost its framing may send no more
	[[ $r == *"then=Permission denied"* || $r == *"then=Broken pipe"* || $r == *"then=Connection reset"* ]] ||
		fail "$kind: the connection kept accepting data after a malformed frame: $r"
done
r=$(in_cgroup "$CG" "$BIN/malformed_client" 127.0.0.1 $PORT short) || fail "short hung: $r"
note "short: $r"
after=$(chain_stat $CHAIN malformed)
expect_eq "malformed frames counted" 4 $((after - before))

wait $apid || fail "alice lost calls during the attack: $(cat "$TEST_TMP/alice.json")"
a=$(cat "$TEST_TMP/alice.json")
expect_eq "alice unaffected" "$(jq -r .sent <<<"$a")" "$(status_count "$a" ok)"
stop_server
expect_eq "server handled only alice" "$(status_count "$a" ok)" "$(jq -r .handled "$TEST_TMP/server-stats.json")"
echo ok
