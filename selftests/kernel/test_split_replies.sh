#!/usr/bin/env bash
# The server's responses reach the client in small pieces (a relay writes
# them 7 bytes at a time), so the client's reads often end inside a frame,
# while the sender's sk_msg program answers half of its requests itself
# (fault injection, p=0.5). The network's replies must never break into
# the server's byte stream: every call gets exactly one intact reply.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
require_chain_features

PORT=17081     # the service port: the client connects to the relay here
UPSTREAM=17082 # the server, outside the chain
CHAIN=adntest-split
make_cgroup CG split
make_cgroup OUT split-out
attach_chain $CHAIN $PORT "$CG"
"$ADNCTL" param $CHAIN fault.probability 0.5 || fail "cannot set fault.probability"
start_server "$OUT" $UPSTREAM
start_bg relay "$OUT" "$BIN/chop_relay" $PORT $UPSTREAM 7
wait_for_line "$TEST_TMP/relay.out" "listening"

out=$(kv "$CG" $PORT --user alice --count 20000 --outstanding 64) || fail "client: $out"
ok=$(status_count "$out" ok)
aborted=$(status_count "$out" aborted)
expect_eq "malformed or lost replies" "0 0 0" \
	"$(jq -r '"\(.lost) \(.bad_replies) \(.status.unavailable // 0)"' <<<"$out")"
expect_eq "ok + aborted" 20000 $((ok + aborted))
read -r lo hi < <(binomial_range 20000 0.5)
expect_range "aborted (p=0.5)" "$lo" "$hi" "$aborted"
stop_server
expect_eq "handled = ok" "$ok" "$(handled_by alice)"
echo ok
