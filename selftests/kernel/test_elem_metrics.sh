#!/usr/bin/env bash
# elements/metrics: per-method request counts, per-status response counts,
# a latency histogram with one entry per RPC, and no pending entry left.
# ARRAY tables list and take their index by its DSL column name (bucket,
# method, status), not as "key".
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
use_element metrics
PORT=17115
CHAIN=adntest-emet
make_cgroup CG emet
attach_chain $CHAIN $PORT "$CG"
start_server "$CG" $PORT
out=$(kv "$CG" $PORT --count 100 --method get --outstanding 1) || fail "gets: $out"
out=$(kv "$CG" $PORT --count 50 --method put --outstanding 1) || fail "puts: $out"
req=$(table_json $CHAIN metrics.requests)
expect_eq "gets counted" 100 "$(jq '[.[] | select(.method == 1) | .n] | add' <<<"$req")"
expect_eq "puts counted" 50 "$(jq '[.[] | select(.method == 2) | .n] | add' <<<"$req")"
expect_eq "OK responses" 150 "$(table_json $CHAIN metrics.responses | jq '[.[] | select(.status == 0) | .n] | add')"
lat=$(table_json $CHAIN metrics.latency)
# the key struct of an ARRAY table stays in BTF: its column keeps its name
expect_eq "latency key column" '["bucket","n"]' "$(jq -c '.[0] | keys_unsorted' <<<"$lat")"
expect_eq "requests key column" '["method","n"]' "$(table_json $CHAIN metrics.requests | jq -c '.[0] | keys_unsorted')"
expect_eq "latency samples" 150 "$(jq '[.[] | .n] | add' <<<"$lat")"
b=$(jq '[.[] | select(.n > 0) | .bucket] | min' <<<"$lat")
note "fastest bucket 2^$b ns; histogram: $(jq -c '[.[] | select(.n > 0) | [.bucket, .n]]' <<<"$lat")"
expect_range "latency between 1 us and 1 s" 10 30 "$b"
"$ADNCTL" table $CHAIN metrics.latency insert bucket=63 n=5 || fail "insert by bucket= refused"
expect_eq "row 63 written" 5 "$(table_json $CHAIN metrics.latency | jq '.[] | select(.bucket == 63) | .n')"
expect_eq "pending drained" 0 "$(table_json $CHAIN metrics.pending | jq length)"
echo ok
