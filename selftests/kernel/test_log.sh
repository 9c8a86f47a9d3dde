#!/usr/bin/env bash
# Logging: every request and every response appears exactly once in the log
# that adnctl drains from the ring buffer, with the status the caller saw.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
require_chain_features

PORT=17076
CHAIN=adntest-log
make_cgroup CG log
attach_chain $CHAIN $PORT "$CG"
start_server "$CG" $PORT
LOG=$TEST_TMP/log.jsonl
"$ADNCTL" log $CHAIN -o "$LOG" --follow --interval-ms 20 >"$TEST_TMP/drain.out" 2>&1 &
drain=$!
_pids+=("$drain")

N=3000
out=$(kv "$CG" $PORT --user alice --count $N --outstanding 128) || fail "alice: $out"
sleep 0.3
kill -TERM $drain
wait $drain || fail "log drainer failed: $(cat "$TEST_TMP/drain.out")"

req=$(jq -r 'select(.kind == "request") | .rpc_id' "$LOG" | sort -n)
resp=$(jq -r 'select(.kind == "response") | .rpc_id' "$LOG" | sort -n)
expect_eq "request records" $N "$(wc -l <<<"$req")"
expect_eq "distinct request ids" $N "$(uniq <<<"$req" | wc -l)"
expect_eq "response records" $N "$(wc -l <<<"$resp")"
expect_eq "responses answer the requests" "$req" "$resp"
expect_eq "aborted responses logged = aborted calls" "$(status_count "$out" aborted)" \
	"$(jq -r 'select(.kind == "response" and .status == "aborted") | .rpc_id' "$LOG" | wc -l)"
expect_eq "ok responses logged = ok calls" "$(status_count "$out" ok)" \
	"$(jq -r 'select(.kind == "response" and .status == "ok") | .rpc_id' "$LOG" | wc -l)"
expect_eq "requests carry the user" $N "$(jq -r 'select(.kind == "request" and .user == "alice")|1' "$LOG" | wc -l)"
jq -s -e 'all(.[]; .time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$"))' "$LOG" >/dev/null ||
	fail "log time is not a wall-clock time"
expect_eq "records lost" 0 "$(chain_stat $CHAIN log_lost)"

# The binary format: records as the programs wrote them, decoded afterwards
# into the same JSON lines.
BIN_LOG=$TEST_TMP/log.bin
"$ADNCTL" log $CHAIN -o "$BIN_LOG" --format binary --follow --interval-ms 20 >"$TEST_TMP/drain2.out" 2>&1 &
drain=$!
_pids+=("$drain")
out=$(kv "$CG" $PORT --user bob --count 1000 --outstanding 64) || fail "bob: $out"
sleep 0.3
kill -TERM $drain
wait $drain || fail "binary drainer failed: $(cat "$TEST_TMP/drain2.out")"
"$ADNCTL" log-decode "$BIN_LOG" >"$TEST_TMP/decoded.jsonl" || fail "log-decode"
expect_eq "binary: request records" 1000 "$(jq -r 'select(.kind == "request" and .user == "bob")|1' "$TEST_TMP/decoded.jsonl" | wc -l)"
expect_eq "binary: denied responses" 1000 \
	"$(jq -r 'select(.kind == "response" and .status == "permission_denied")|1' "$TEST_TMP/decoded.jsonl" | wc -l)"
head -c 100 "$BIN_LOG" >"$TEST_TMP/trunc.bin"
"$ADNCTL" log-decode "$TEST_TMP/trunc.bin" >/dev/null 2>"$TEST_TMP/err" && fail "a truncated log file decoded"
grep -q "truncated" "$TEST_TMP/err" || fail "unclear error: $(cat "$TEST_TMP/err")"
stop_server
echo ok
