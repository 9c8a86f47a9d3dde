#!/usr/bin/env bash
# elements/bandwidth (640-byte burst, 64 B/s; a get frame is 64 bytes): a
# burst passes exactly 10 requests; 2 s later about 2 more.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
use_element bandwidth
PORT=17119
CHAIN=adntest-ebw
make_cgroup CG ebw
attach_chain $CHAIN $PORT "$CG"
start_server "$CG" $PORT
out=$(kv "$CG" $PORT --count 50 --method get) || fail "burst: $out"
expect_eq "640 bytes of 64-byte frames" 10 "$(status_count "$out" ok)"
expect_eq "rest refused" 40 "$(status_count "$out" resource_exhausted)"
sleep 2
out=$(kv "$CG" $PORT --count 50 --method get) || fail "after 2 s: $out"
expect_range "refill at 64 B/s" 2 3 "$(status_count "$out" ok)"
"$ADNCTL" param $CHAIN bandwidth.rate 100000000 && "$ADNCTL" param $CHAIN bandwidth.burst 1000000 || fail "set rate"
out=$(kv "$CG" $PORT --count 200 --method put --value-size 1000 --outstanding 1) || fail "puts: $out"
expect_eq "big puts at 100 MB/s" 200 "$(status_count "$out" ok)"
echo ok
