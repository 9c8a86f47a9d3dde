#!/usr/bin/env bash
# The paper's chain on real sockets: alice passes, mallory and bob (no W
# permission) come back PERMISSION_DENIED from the network and never reach
# the server's handler; pipelined batches mixing both keep working.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
require_chain_features

PORT=17071
CHAIN=adntest-chain
make_cgroup CG chain
attach_chain $CHAIN $PORT "$CG"
"$ADNCTL" param $CHAIN fault.probability 0 || fail "cannot set fault.probability"
start_server "$CG" $PORT

out=$(kv "$CG" $PORT --user alice --count 2000 --outstanding 128) || fail "alice run: $out"
expect_eq "alice ok" 2000 "$(status_count "$out" ok)"

out=$(kv "$CG" $PORT --user mallory --count 500 --outstanding 128) || fail "mallory run: $out"
expect_eq "mallory ok" 0 "$(status_count "$out" ok)"
expect_eq "mallory denied" 500 "$(status_count "$out" permission_denied)"
expect_eq "mallory replies made by the network" 500 "$(jq -r .net_replies <<<"$out")"

out=$(kv "$CG" $PORT --user bob --count 100 --outstanding 1 --method put) || fail "bob run: $out"
expect_eq "bob (permission R) denied" 100 "$(status_count "$out" permission_denied)"

# Deep pipelines on few connections: a denial in the middle of a batch must
# not affect the frames around it, nor later sends on the same socket.
out=$(kv "$CG" $PORT --user alice --count 20000 --outstanding 256 --conns 2) || fail "pipelined: $out"
expect_eq "alice pipelined ok" 20000 "$(status_count "$out" ok)"

stop_server
expect_eq "alice requests handled" 22000 "$(handled_by alice)"
expect_eq "mallory requests handled" 0 "$(handled_by mallory)"
expect_eq "bob requests handled" 0 "$(handled_by bob)"
expect_eq "malformed frames" 0 "$(chain_stat $CHAIN malformed)"
echo "ok"
