#!/usr/bin/env bash
# elements/circuitbreaker (max 4 in flight): 64 outstanding calls are cut
# down to 4 at a time (the rest UNAVAILABLE at once); one at a time all
# pass; the in-flight count returns to 0.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
use_element circuitbreaker
PORT=17117
CHAIN=adntest-ecb
make_cgroup CG ecb
attach_chain $CHAIN $PORT "$CG"
start_server "$CG" $PORT
out=$(kv "$CG" $PORT --count 2000 --outstanding 64) || fail "burst: $out"
ok=$(status_count "$out" ok)
un=$(status_count "$out" unavailable)
note "64 outstanding: $ok ok, $un unavailable"
expect_eq "ok + unavailable" 2000 $((ok + un))
[ "$un" -gt 0 ] || fail "nothing refused with 64 in flight"
[ "$ok" -ge 4 ] || fail "fewer than 4 passed"
expect_eq "in flight after the run" 0 "$(table_json $CHAIN circuitbreaker.inflight | jq '.[0].n')"
out=$(kv "$CG" $PORT --count 500 --outstanding 4) || fail "4 at a time: $out"
expect_eq "4 in flight all pass" 500 "$(status_count "$out" ok)"
expect_eq "in flight at the end" 0 "$(table_json $CHAIN circuitbreaker.inflight | jq '.[0].n')"
echo ok
