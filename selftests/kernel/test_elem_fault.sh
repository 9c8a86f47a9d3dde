#!/usr/bin/env bash
# elements/fault: p = 0.5 over 4000 RPCs inside the binomial one-in-a-million interval;
# only_method = put (2) leaves gets alone.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
use_element fault
PORT=17112
CHAIN=adntest-efault
make_cgroup CG efault
attach_chain $CHAIN $PORT "$CG"
start_server "$CG" $PORT
N=4000
"$ADNCTL" param $CHAIN fault.probability 0.5 || fail "set p"
out=$(kv "$CG" $PORT --count $N) || fail "run: $out"
aborted=$(status_count "$out" aborted)
note "p=0.5: $aborted of $N aborted"
read -r lo hi < <(binomial_range $N 0.5)
expect_range "aborted at p=0.5" "$lo" "$hi" "$aborted"
"$ADNCTL" param $CHAIN fault.probability 1 || fail "set p=1"
"$ADNCTL" param $CHAIN fault.only_method 2 || fail "set only_method"
out=$(kv "$CG" $PORT --count 500 --method get) || fail "gets: $out"
expect_eq "gets pass when only puts fail" 500 "$(status_count "$out" ok)"
out=$(kv "$CG" $PORT --count 500 --method put) || fail "puts: $out"
expect_eq "puts abort" 500 "$(status_count "$out" aborted)"
echo ok
