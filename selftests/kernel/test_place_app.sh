#!/usr/bin/env bash
# The kv chain with acl in the kernel (examples/kv, kv-client) and with acl
# IN APP (selftests/progs/kv_app.adn: the client's RPC library runs acl,
# logging and fault stay at the sender's sk_msg; kv_app_client): the same
# per-user outcomes; with acl in the app a denied call never leaves the
# process (completed ADN_RPC_F_LOCAL, never seen by the kernel chain, its
# logging element or the server's handler). A control run without the app
# side (--no-chain) shows the kernel part alone lets mallory through.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
require_chain_features

APP_CLIENT=$BIN/kv_app_client
APP_OBJ=$ADN_ROOT/build/kv_app/kv.bpf.o
KERNEL_OBJ=$ADN_ROOT/build/kv/kv.bpf.o
[ -x "$APP_CLIENT" ] && [ -s "$APP_OBJ" ] ||
	fail "missing $APP_CLIENT or $APP_OBJ (make check-kernel, or make $BIN/kv_app_client, builds them)"

PORT_K=17180
PORT_A=17182
CHAIN_K=adntest-place-kern
CHAIN_A=adntest-place-app
N_ALICE=2000 N_BOB=300 N_MALLORY=500 N_FAULT=200 N_CONTROL=50

# app CG PORT ARGS... : kv_app_client in CG; prints its JSON
app() {
	local cg=$1 port=$2
	shift 2
	timeout 120 sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" \
		"$APP_CLIENT" --host 127.0.0.1 --port "$port" "$@"
}
# outcome JSON : what the caller saw, comparable across both clients
outcome() { jq -S -c '{ok, status}' <<<"$1"; }

# 1. acl in the kernel ------------------------------------------------------
make_cgroup CGK place-kern
KV_OBJ=$KERNEL_OBJ attach_chain $CHAIN_K $PORT_K "$CGK"
"$ADNCTL" param $CHAIN_K fault.probability 0 || fail "cannot set fault.probability"
start_server "$CGK" $PORT_K
declare -A K
K[alice]=$(kv "$CGK" $PORT_K --user alice --count $N_ALICE --outstanding 64) || fail "kernel alice: ${K[alice]}"
K[bob]=$(kv "$CGK" $PORT_K --user bob --count $N_BOB --outstanding 16 --method put) || fail "kernel bob: ${K[bob]}"
K[mallory]=$(kv "$CGK" $PORT_K --user mallory --count $N_MALLORY --outstanding 64) || fail "kernel mallory: ${K[mallory]}"
expect_eq "kernel: alice ok" $N_ALICE "$(status_count "${K[alice]}" ok)"
expect_eq "kernel: bob denied" $N_BOB "$(status_count "${K[bob]}" permission_denied)"
expect_eq "kernel: mallory denied" $N_MALLORY "$(status_count "${K[mallory]}" permission_denied)"
expect_eq "kernel: mallory's denials made by the network" $N_MALLORY "$(jq -r .net_replies <<<"${K[mallory]}")"
# the kernel chain saw every call and dropped the denied ones
expect_eq "kernel: requests" $((N_ALICE + N_BOB + N_MALLORY)) "$(chain_stat $CHAIN_K requests)"
expect_eq "kernel: dropped" $((N_BOB + N_MALLORY)) "$(chain_stat $CHAIN_K dropped)"
"$ADNCTL" param $CHAIN_K fault.probability 1 || fail "cannot set fault.probability"
K[fault_alice]=$(kv "$CGK" $PORT_K --user alice --count $N_FAULT --outstanding 16) || fail "kernel fault alice: ${K[fault_alice]}"
K[fault_mallory]=$(kv "$CGK" $PORT_K --user mallory --count $N_FAULT --outstanding 16) || fail "kernel fault mallory: ${K[fault_mallory]}"
expect_eq "kernel, fault 1: alice aborted" $N_FAULT "$(status_count "${K[fault_alice]}" aborted)"
expect_eq "kernel, fault 1: mallory denied (acl before fault)" $N_FAULT \
	"$(status_count "${K[fault_mallory]}" permission_denied)"
stop_server
expect_eq "kernel: alice handled" $N_ALICE "$(handled_by alice)"
expect_eq "kernel: mallory handled" 0 "$(handled_by mallory)"

# 2. acl in the app ---------------------------------------------------------
make_cgroup CGA place-app
KV_OBJ=$APP_OBJ attach_chain $CHAIN_A $PORT_A "$CGA"
"$ADNCTL" param $CHAIN_A fault.probability 0 || fail "cannot set fault.probability"
LOG=$TEST_TMP/app-chain.jsonl
"$ADNCTL" log $CHAIN_A -o "$LOG" --follow --interval-ms 20 >"$TEST_TMP/drain.out" 2>&1 &
drain=$!
_pids+=("$drain")
start_server "$CGA" $PORT_A
declare -A A
A[alice]=$(app "$CGA" $PORT_A --user alice --count $N_ALICE --outstanding 64) || fail "app alice: ${A[alice]}"
A[bob]=$(app "$CGA" $PORT_A --user bob --count $N_BOB --outstanding 16 --method put) || fail "app bob: ${A[bob]}"
A[mallory]=$(app "$CGA" $PORT_A --user mallory --count $N_MALLORY --outstanding 64) || fail "app mallory: ${A[mallory]}"
for u in alice bob mallory; do
	note "$u: kernel $(outcome "${K[$u]}")  app $(outcome "${A[$u]}")"
	expect_eq "$u: outcomes with acl in the app = with acl in the kernel" \
		"$(outcome "${K[$u]}")" "$(outcome "${A[$u]}")"
done
expect_eq "alice: local completions" 0 "$(jq -r .local <<<"${A[alice]}")"
expect_eq "alice: replies from the server" $N_ALICE "$(jq -r .server_replies <<<"${A[alice]}")"
for u in bob mallory; do
	n=$(jq -r .sent <<<"${A[$u]}")
	expect_eq "$u: denied in the process (ADN_RPC_F_LOCAL)" "$n" \
		"$(jq -r '.local_status.permission_denied // 0' <<<"${A[$u]}")"
	expect_eq "$u: replies from the network" 0 "$(jq -r .net_replies <<<"${A[$u]}")"
	expect_eq "$u: replies from the server" 0 "$(jq -r .server_replies <<<"${A[$u]}")"
done
# only the calls acl passed reached the kernel chain; it dropped nothing
expect_eq "app: kernel chain requests" $N_ALICE "$(chain_stat $CHAIN_A requests)"
expect_eq "app: kernel chain dropped" 0 "$(chain_stat $CHAIN_A dropped)"

# fault (in the kernel) after acl (in the app): alice's calls are aborted by
# the network, mallory's still never leave the process
"$ADNCTL" param $CHAIN_A fault.probability 1 || fail "cannot set fault.probability"
A[fault_alice]=$(app "$CGA" $PORT_A --user alice --count $N_FAULT --outstanding 16) || fail "app fault alice: ${A[fault_alice]}"
A[fault_mallory]=$(app "$CGA" $PORT_A --user mallory --count $N_FAULT --outstanding 16) || fail "app fault mallory: ${A[fault_mallory]}"
for u in fault_alice fault_mallory; do
	expect_eq "$u: outcomes with acl in the app = with acl in the kernel" \
		"$(outcome "${K[$u]}")" "$(outcome "${A[$u]}")"
done
expect_eq "fault 1: alice aborted by the network" $N_FAULT "$(jq -r .net_replies <<<"${A[fault_alice]}")"
expect_eq "fault 1: mallory denied in the process" $N_FAULT "$(jq -r .local <<<"${A[fault_mallory]}")"
expect_eq "fault 1: kernel chain requests" $((N_ALICE + N_FAULT)) "$(chain_stat $CHAIN_A requests)"
expect_eq "fault 1: kernel chain dropped" $N_FAULT "$(chain_stat $CHAIN_A dropped)"
"$ADNCTL" param $CHAIN_A fault.probability 0 || fail "cannot set fault.probability"

# the kernel's logging element recorded only the calls that left the process
sleep 0.3
kill -TERM $drain
wait $drain || fail "log drainer failed: $(cat "$TEST_TMP/drain.out")"
LEFT=$((N_ALICE + N_FAULT))
expect_eq "log: request records" $LEFT "$(jq -r 'select(.kind == "request") | 1' "$LOG" | wc -l)"
expect_eq "log: requests of alice" $LEFT "$(jq -r 'select(.kind == "request" and .user == "alice") | 1' "$LOG" | wc -l)"
expect_eq "log: response records" $LEFT "$(jq -r 'select(.kind == "response") | 1' "$LOG" | wc -l)"
expect_eq "log: denied responses" 0 "$(jq -r 'select(.status == "permission_denied") | 1' "$LOG" | wc -l)"
expect_eq "log: aborted responses" $N_FAULT "$(jq -r 'select(.kind == "response" and .status == "aborted") | 1' "$LOG" | wc -l)"
expect_eq "log: records lost" 0 "$(chain_stat $CHAIN_A log_lost)"

# control: without the app side the kernel part alone passes mallory (so the
# denials above were the app's acl)
C=$(app "$CGA" $PORT_A --user mallory --count $N_CONTROL --outstanding 8 --no-chain) || fail "control: $C"
expect_eq "control: mallory ok without the app's acl" $N_CONTROL "$(status_count "$C" ok)"
expect_eq "control: kernel chain requests" $((LEFT + N_CONTROL)) "$(chain_stat $CHAIN_A requests)"

stop_server
expect_eq "app: alice handled" $N_ALICE "$(handled_by alice)"
expect_eq "app: bob handled" 0 "$(handled_by bob)"
expect_eq "app: mallory handled (the control's only)" $N_CONTROL "$(handled_by mallory)"
expect_eq "malformed frames" 0 "$(chain_stat $CHAIN_A malformed)"
echo ok
