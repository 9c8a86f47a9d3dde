#!/usr/bin/env bash
# elements/ratelimit (global token bucket, burst 20, 1 token/s) and
# elements/ratelimit_key (one bucket per user, burst 10): in a burst the
# capacity passes, the rest is RESOURCE_EXHAUSTED; tokens come back at the
# refill rate.
#
# Every bound counts the tokens the clock can have added during the time
# the test measured (lib.sh: now, since, run_seconds), so it holds however
# slow the machine is (vmtest runs under QEMU's TCG) and stays exact where it
# is fast: a 100-request burst that takes 10 ms passes exactly 20. A limiter
# that admits everything, nothing, never refills or refills at another rate
# still fails.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
use_element ratelimit
PORT=17113
CHAIN=adntest-erl
make_cgroup CG erl
attach_chain $CHAIN $PORT "$CG"
start_server "$CG" $PORT

# ok_refused OUT TOTAL : the run's OK count, after checking OK + refused = TOTAL
ok_refused() {
	local ok re
	ok=$(status_count "$1" ok)
	re=$(status_count "$1" resource_exhausted)
	expect_eq "ok + refused" "$2" $((ok + re))
	echo "$ok"
}

# Burst: the first request finds the bucket empty with last = 0 and fills it
# (20 tokens); during the run at most rate * its duration come back.
t0=$(now)
out=$(kv "$CG" $PORT --count 100) || fail "burst: $out"
s=$(run_seconds "$out")
ok=$(ok_refused "$out" 100) || exit 1
note "burst: $ok of 100 passed in ${s}s"
expect_range "burst passes capacity (+1/s of the run)" 20 "$(floor_of "20 + $s")" "$ok"

# Refill while idle: the burst left less than one token; at least 3 s pass
# between its last request and the next run's first, at most the time
# since t0 (before the burst) passes until the next run's last.
sleep 3
out=$(kv "$CG" $PORT --count 100) || fail "after 3 s: $out"
el=$(since "$t0")
ok=$(ok_refused "$out" 100) || exit 1
note "after 3 s idle: $ok passed (${el}s since the burst began)"
expect_range "refill at 1/s while idle" 3 "$(floor_of "1 + $el")" "$ok"

# Refill under load: the bucket reset to last = 0 fills again at the next
# request; one request at a time for 3 s takes the 20 and then every token
# as it comes back: 20 + seconds, less under one token left at the end and
# the first and last round trips.
"$ADNCTL" table $CHAIN ratelimit.bucket insert id=0 tokens=0 last=0 || fail "reset the bucket"
out=$(kv "$CG" $PORT --duration 3 --outstanding 1) || fail "3 s run: $out"
s=$(run_seconds "$out")
sent=$(jq -r .sent <<<"$out")
ok=$(ok_refused "$out" "$sent") || exit 1
note "3 s, one at a time: $ok of $sent passed in ${s}s"
[ "$sent" -gt 60 ] || fail "3 s run: only $sent requests, too few to drain the bucket"
expect_range "20 + 1/s under load" "$(floor_of "20 + $s - 2")" "$(floor_of "20 + $s")" "$ok"

"$ADNCTL" param $CHAIN ratelimit.rate 1000000 || fail "set rate"
sleep 0.1
out=$(kv "$CG" $PORT --count 100 --outstanding 1) || fail "fast refill: $out"
expect_eq "fast refill, one at a time" 100 "$(status_count "$out" ok)"
stop_server

# per key: a new user's bucket is created full (10) at its first request
use_element ratelimit_key
PORT=17114
CHAIN=adntest-erlk
attach_chain $CHAIN $PORT "$CG"
start_server "$CG" $PORT
t0=$(now)
out=$(kv "$CG" $PORT --user alice --count 50) || fail "alice: $out"
s=$(run_seconds "$out")
ok=$(ok_refused "$out" 50) || exit 1
expect_range "alice burst" 10 "$(floor_of "10 + $s")" "$ok"
out=$(kv "$CG" $PORT --user bob --count 50) || fail "bob: $out"
s=$(run_seconds "$out")
ok=$(ok_refused "$out" 50) || exit 1
expect_range "bob has his own bucket" 10 "$(floor_of "10 + $s")" "$ok"
# alice left less than one token, refilled since at most since t0
out=$(kv "$CG" $PORT --user alice --count 50) || fail "alice again: $out"
el=$(since "$t0")
ok=$(ok_refused "$out" 50) || exit 1
note "alice again: $ok passed (${el}s after her burst began)"
expect_range "alice empty" 0 "$(floor_of "1 + $el")" "$ok"
expect_eq "two buckets" 2 "$(table_json $CHAIN ratelimit_key.buckets | jq length)"
echo ok
