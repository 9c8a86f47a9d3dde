#!/usr/bin/env bash
# elements/logging: every request and every response logged once, with the
# frame length and the user.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
use_element logging
PORT=17111
CHAIN=adntest-elog
make_cgroup CG elog
attach_chain $CHAIN $PORT "$CG"
start_server "$CG" $PORT
out=$(kv "$CG" $PORT --user carol --count 300) || fail "run: $out"
expect_eq "ok" 300 "$(status_count "$out" ok)"
"$ADNCTL" log $CHAIN -o "$TEST_TMP/log.jsonl" || fail "drain"
expect_eq "records" 600 "$(wc -l <"$TEST_TMP/log.jsonl")"
expect_eq "requests by carol" 300 "$(jq -r 'select(.kind == "request" and .user == "carol") | .rpc_id' "$TEST_TMP/log.jsonl" | wc -l)"
expect_eq "request length 64" 300 "$(jq -r 'select(.kind == "request" and .len == 64) | .len' "$TEST_TMP/log.jsonl" | wc -l)"
expect_eq "responses" 300 "$(jq -r 'select(.kind == "response") | .rpc_id' "$TEST_TMP/log.jsonl" | wc -l)"
echo ok
