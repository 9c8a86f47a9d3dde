#!/usr/bin/env bash
# elements/bandwidth (640-byte burst, 64 B/s; a get frame is 64 bytes, so
# one frame per second): a burst passes 10 requests; 2 s later about 2 more.
# The bounds count the bytes the clock can have added during the time the
# test measured (lib.sh: now, since, run_seconds): exact on a fast machine,
# wider under vmtest's emulation, failing either way for a limiter that
# admits everything, nothing, or never refills.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
use_element bandwidth
PORT=17119
CHAIN=adntest-ebw
make_cgroup CG ebw
attach_chain $CHAIN $PORT "$CG"
start_server "$CG" $PORT
t0=$(now)
out=$(kv "$CG" $PORT --count 50 --method get) || fail "burst: $out"
s=$(run_seconds "$out")
ok=$(status_count "$out" ok)
note "burst: $ok of 50 passed in ${s}s"
expect_eq "ok + refused" 50 $((ok + $(status_count "$out" resource_exhausted)))
# the bucket starts full (640 bytes) and gains 64 B/s while the run lasts
expect_range "640 bytes of 64-byte frames (+64 B/s of the run)" 10 "$(floor_of "10 + $s")" "$ok"
sleep 2
out=$(kv "$CG" $PORT --count 50 --method get) || fail "after 2 s: $out"
el=$(since "$t0")
ok=$(status_count "$out" ok)
note "after 2 s idle: $ok passed (${el}s since the burst began)"
expect_eq "ok + refused" 50 $((ok + $(status_count "$out" resource_exhausted)))
# less than one frame's bytes left by the burst; 2 s at least between its
# last request and this run's first, at most el s since t0 until its last
expect_range "refill at 64 B/s" 2 "$(floor_of "1 + $el")" "$ok"
"$ADNCTL" param $CHAIN bandwidth.rate 100000000 && "$ADNCTL" param $CHAIN bandwidth.burst 1000000 || fail "set rate"
out=$(kv "$CG" $PORT --count 200 --method put --value-size 1000 --outstanding 1) || fail "puts: $out"
expect_eq "big puts at 100 MB/s" 200 "$(status_count "$out" ok)"
echo ok
