#!/usr/bin/env bash
# The layout check on TCP (sk_msg): a client built from another schema
# (another layout hash in its headers) is answered FAILED_PRECONDITION by
# the network and never reaches the handler; layout 0 is not checked; a
# client with the right layout running at the same time is unaffected.
# (TC and XDP: test_place_udp.)
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
require_chain_features

PORT=17131
CHAIN=adntest-layout-$$
make_cgroup CG layout
attach_chain "$CHAIN" $PORT "$CG"
"$ADNCTL" param "$CHAIN" fault.probability 0 >/dev/null || fail "adnctl param"
start_server "$CG" $PORT

kv "$CG" $PORT --user alice --duration 1.5 --outstanding 16 >"$TEST_TMP/alice.json" &
a=$!
out=$(kv "$CG" $PORT --user alice --count 300 --outstanding 32 --layout 4660) || fail "other layout: $out"
expect_eq "other layout refused" 300 "$(status_count "$out" failed_precondition)"
expect_eq "refused by the network" 300 "$(jq -r .net_replies <<<"$out")"
expect_eq "bad_layout counted" 300 "$(chain_stat "$CHAIN" bad_layout)"
wait $a || fail "concurrent alice: $(cat "$TEST_TMP/alice.json")"
good=$(cat "$TEST_TMP/alice.json")
expect_eq "concurrent client unaffected" "$(jq -r .sent <<<"$good")" "$(status_count "$good" ok)"
out=$(kv "$CG" $PORT --user alice --count 100 --layout 0) || fail "layout 0: $out"
expect_eq "layout 0 is not checked" 100 "$(status_count "$out" ok)"
stop_server
expect_eq "only right-layout calls reached the handler" $(($(status_count "$good" ok) + 100)) \
	"$(handled_by alice)"
echo ok
