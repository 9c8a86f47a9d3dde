#!/usr/bin/env bash
# elements/ratelimit (global token bucket, burst 20, 1 token/s) and
# elements/ratelimit_key (one bucket per user, burst 10): in a burst exactly
# the capacity passes, the rest is RESOURCE_EXHAUSTED; tokens come back at
# the refill rate.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
use_element ratelimit
PORT=17113
CHAIN=adntest-erl
make_cgroup CG erl
attach_chain $CHAIN $PORT "$CG"
start_server "$CG" $PORT

out=$(kv "$CG" $PORT --count 100) || fail "burst: $out"
expect_eq "burst passes capacity" 20 "$(status_count "$out" ok)"
expect_eq "rest refused" 80 "$(status_count "$out" resource_exhausted)"
sleep 3
out=$(kv "$CG" $PORT --count 100) || fail "after 3 s: $out"
note "after 3 s: $(status_count "$out" ok) passed"
expect_range "refill at 1/s" 3 4 "$(status_count "$out" ok)"
"$ADNCTL" param $CHAIN ratelimit.rate 1000000 || fail "set rate"
sleep 0.1
out=$(kv "$CG" $PORT --count 100 --outstanding 1) || fail "fast refill: $out"
expect_eq "fast refill, one at a time" 100 "$(status_count "$out" ok)"
stop_server

# per key
use_element ratelimit_key
PORT=17114
CHAIN=adntest-erlk
attach_chain $CHAIN $PORT "$CG"
start_server "$CG" $PORT
out=$(kv "$CG" $PORT --user alice --count 50) || fail "alice: $out"
expect_eq "alice burst" 10 "$(status_count "$out" ok)"
out=$(kv "$CG" $PORT --user bob --count 50) || fail "bob: $out"
expect_eq "bob has his own bucket" 10 "$(status_count "$out" ok)"
out=$(kv "$CG" $PORT --user alice --count 50) || fail "alice again: $out"
expect_range "alice empty" 0 1 "$(status_count "$out" ok)"
expect_eq "two buckets" 2 "$(table_json $CHAIN ratelimit_key.buckets | jq length)"
echo ok
