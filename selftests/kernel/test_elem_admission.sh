#!/usr/bin/env bash
# elements/admission in front of a failing backend (fault p = 1): after 20
# failures requests are refused (UNAVAILABLE) except ~10% probes; when the
# backend heals, the probes succeed and admission recovers.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
use_element admission
PORT=17118
CHAIN=adntest-eadm
make_cgroup CG eadm
attach_chain $CHAIN $PORT "$CG"
start_server "$CG" $PORT
out=$(kv "$CG" $PORT --count 100 --outstanding 1) || fail "healthy: $out"
expect_eq "healthy: all pass" 100 "$(status_count "$out" ok)"
"$ADNCTL" param $CHAIN fault.probability 1 || fail "break backend"
out=$(kv "$CG" $PORT --count 1000 --outstanding 1) || fail "failing: $out"
ab=$(status_count "$out" aborted)
un=$(status_count "$out" unavailable)
note "failing backend: $ab aborted by the backend, $un refused by admission"
expect_eq "aborted + refused" 1000 $((ab + un))
expect_range "refused" 700 980 "$un"
"$ADNCTL" param $CHAIN fault.probability 0 || fail "heal backend"
out=$(kv "$CG" $PORT --count 2000 --outstanding 1) || fail "healing: $out"
note "healing: $(status_count "$out" ok) ok, $(status_count "$out" unavailable) refused"
out=$(kv "$CG" $PORT --count 200 --outstanding 1) || fail "healed: $out"
expect_eq "healed: all pass" 200 "$(status_count "$out" ok)"
echo ok
