#!/usr/bin/env bash
# Fault injection: with p = 0.05 over 10,000 RPCs the aborted fraction lies
# in the binomial one-in-a-million interval; p = 0 aborts none; p = 1 aborts all.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
require_chain_features

PORT=17073
CHAIN=adntest-fault
make_cgroup CG fault
attach_chain $CHAIN $PORT "$CG"
start_server "$CG" $PORT
N=10000

# default from the program: 0.05
out=$(kv "$CG" $PORT --user alice --count $N) || fail "p=0.05 run: $out"
aborted=$(status_count "$out" aborted)
read -r lo hi < <(binomial_range $N 0.05)
note "p=0.05: $aborted of $N aborted (one-in-a-million interval [$lo, $hi])"
expect_range "aborted at p=0.05" "$lo" "$hi" "$aborted"
expect_eq "ok + aborted at p=0.05" $N $(($(status_count "$out" ok) + aborted))

"$ADNCTL" param $CHAIN fault.probability 0 || fail "set p=0"
out=$(kv "$CG" $PORT --user alice --count 3000) || fail "p=0 run: $out"
expect_eq "aborted at p=0" 0 "$(status_count "$out" aborted)"
expect_eq "ok at p=0" 3000 "$(status_count "$out" ok)"

"$ADNCTL" param $CHAIN fault.probability 1 || fail "set p=1"
out=$(kv "$CG" $PORT --user alice --count 3000) || fail "p=1 run: $out"
expect_eq "aborted at p=1" 3000 "$(status_count "$out" aborted)"
stop_server
expect_eq "handled = ok" $((N - aborted + 3000)) "$(handled_by alice)"
echo ok
