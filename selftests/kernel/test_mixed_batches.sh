#!/usr/bin/env bash
# Two clients share a chain at once: alice (allowed) and mallory (denied),
# both pipelining. The sender-side denial must never leak into alice's
# stream: every alice call OK, every mallory call denied, handler counts exact.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
require_chain_features

PORT=17077
CHAIN=adntest-mixed
make_cgroup CG mixed
attach_chain $CHAIN $PORT "$CG"
"$ADNCTL" param $CHAIN fault.probability 0.3 || fail "cannot set fault.probability"
start_server "$CG" $PORT

kv "$CG" $PORT --user mallory --count 20000 --outstanding 64 >"$TEST_TMP/m.json" &
mpid=$!
out=$(kv "$CG" $PORT --user alice --count 20000 --outstanding 64) || fail "alice: $out"
wait $mpid || fail "mallory run failed: $(cat "$TEST_TMP/m.json")"
m=$(cat "$TEST_TMP/m.json")
ok=$(status_count "$out" ok)
aborted=$(status_count "$out" aborted)
expect_eq "alice ok + aborted" 20000 $((ok + aborted))
read -r lo hi < <(binomial_range 20000 0.3)
expect_range "alice aborted (p=0.3)" "$lo" "$hi" "$aborted"
expect_eq "mallory denied" 20000 "$(status_count "$m" permission_denied)"
stop_server
expect_eq "alice handled = alice ok" "$ok" "$(handled_by alice)"
expect_eq "mallory handled" 0 "$(handled_by mallory)"
echo ok
