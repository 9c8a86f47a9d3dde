# Shared helpers of the kernel tests (sourced by selftests/kernel/test_*.sh).
# Every test runs in its own shell; whatever it creates (cgroups, chains,
# processes, files) is registered here and removed by an EXIT trap, also when
# the test fails.

set -u

ADN_ROOT=${ADN_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BIN=$ADN_ROOT/build/bin
ADNC=$BIN/adnc
ADN_LOAD=$BIN/adn-load
ADNCTL=$BIN/adnctl
KV_SERVER=$BIN/kv-server
KV_CLIENT=$BIN/kv-client
KV_OBJ=${KV_OBJ:-$ADN_ROOT/build/kv/kv.bpf.o}

_cleanup_cmds=()
_pids=()
declare -A _bg_out=()
TEST_TMP=$(mktemp -d /tmp/adn-test.XXXXXX)

on_exit() { _cleanup_cmds+=("$*"); }

_cleanup() {
	local rc=$? pid i
	for pid in "${_pids[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${_pids[@]}"; do
		wait "$pid" 2>/dev/null
	done
	for ((i = ${#_cleanup_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_cleanup_cmds[$i]}" >/dev/null 2>&1
	done
	rm -rf "$TEST_TMP"
	exit $rc
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

note() { echo "  $*"; }

expect_eq() { # what expected actual
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

# binomial_range N P [Z] : "lo hi", the acceptance interval of a count drawn
# from Binomial(N, P) by the normal approximation: mean +- Z sd, widened to
# whole counts (lo rounded down, hi rounded up). A fair draw falls outside
# it with the two-sided probability of Z:
#   Z = 4.89   (the default) one run in a million: wide enough that CI never
#              fails by chance across the suite's many draws (at N=10000,
#              p=0.05: [393, 607], so 0.04 or 0.06 already fail);
#   Z = 3.2905 the 99.9% interval: one run in a thousand fails by design
#              (at N=10000, p=0.05: [428, 572]).
# A test states which interval it uses and, if it asserts a 99.9% (or
# narrower) interval, that it fails that often by chance.
binomial_range() {
	awk -v n="$1" -v p="$2" -v z="${3:-4.89}" 'BEGIN { m = n * p; d = z * sqrt(n * p * (1 - p));
		lo = m - d; hi = m + d; l = int(lo); if (l > lo) l--; h = int(hi); if (h < hi) h++;
		if (l < 0) l = 0; if (h > n) h = n; printf "%d %d\n", l, h }'
}

expect_range() { # what lo hi actual
	[ "$4" -ge "$2" ] && [ "$4" -le "$3" ] || fail "$1: $4 not in [$2, $3]"
}

# Clock-bound checks. Under emulation (make vmtest runs QEMU's TCG) a run
# takes 10-50x the host's time, so a test that counts what a clock allows
# (token buckets, rows flipped during a run) derives its bounds from the time
# it measured, never from the time it meant to take: exact where the machine
# is fast, wider but still able to fail where it is slow.
#   now                  wall-clock seconds (microseconds), for elapsed times
#   since T0             seconds from T0 (a `now`) to now
#   floor_of EXPR        floor of an awk expression (e.g. "20 + 1 * 3.2")
#   run_seconds JSON     how long a kv-client run took by its own clock: from
#                        before its first request to its last reply
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.6f\n", b - a }'; }
floor_of() { awk "BEGIN { x = ($1); f = int(x); if (f > x) f--; print f }"; }
run_seconds() { jq -r '.seconds' <<<"$1"; }

require_root() {
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (real BPF)"; exit 77; }
}

# Kernel features are probed, never inferred from the version: `bpftool
# feature probe kernel` (libbpf's probes: load a tiny program or map of each
# type, a tiny program calling each helper) runs once per run of
# run_kernel_tests.sh (cached in $ADN_FEATURES) or once per test.
kernel_features() {
	local f=${ADN_FEATURES:-$TEST_TMP/features.json}
	if [ ! -s "$f" ]; then
		bpftool feature probe kernel -j >"$f.tmp" 2>/dev/null && mv "$f.tmp" "$f" ||
			{ rm -f "$f.tmp"; return 1; }
	fi
	echo "$f"
}

# require_features FEATURE... : skip the test (exit 77, saying what is
# missing) unless the running kernel has every FEATURE:
#   prog:TYPE  map:TYPE  helper:PROGTYPE:bpf_NAME  misc:NAME
# with bpftool's names (prog:sk_msg, map:sockhash, helper:sk_msg:bpf_loop,
# misc:bounded_loops). If the probe itself fails the test runs anyway.
require_features() {
	local f missing
	f=$(kernel_features) || { note "bpftool feature probe failed; not checking features"; return 0; }
	missing=$(jq -r --arg want "$*" '. as $k | $want | split(" ") | map(select(length > 0))
		| map(select((split(":")) as $p |
			if $p[0] == "prog" then $k.program_types["have_\($p[1])_prog_type"] == true
			elif $p[0] == "map" then $k.map_types["have_\($p[1])_map_type"] == true
			elif $p[0] == "helper" then ($k.helpers["\($p[1])_available_helpers"] // []) | any(.[]; . == $p[2])
			elif $p[0] == "misc" then $k.misc["have_\($p[1])"] == true
			else false end | not)) | join(" ")' "$f") || return 0
	[ -z "$missing" ] || { echo "SKIP: kernel $(uname -r) lacks $missing"; exit 77; }
}

# What the kv chain (adnc's kv.bpf.o and bpf/reference/kv_chain.bpf.o) needs
# from the kernel: its program and map types and the helpers it calls. A
# new helper in the runtime (bpf/*.h) or in generated code goes here too.
require_chain_features() {
	require_features prog:sock_ops prog:sk_msg \
		map:sockhash map:sk_storage map:ringbuf map:prog_array map:percpu_array map:hash map:array \
		helper:sock_ops:bpf_sock_hash_update \
		helper:sk_msg:bpf_msg_apply_bytes helper:sk_msg:bpf_msg_cork_bytes \
		helper:sk_msg:bpf_msg_pull_data helper:sk_msg:bpf_msg_redirect_hash \
		helper:sk_msg:bpf_sk_storage_get helper:sk_msg:bpf_ringbuf_output \
		helper:sk_msg:bpf_loop helper:sk_msg:bpf_tail_call \
		helper:sk_msg:bpf_get_prandom_u32 helper:sk_msg:bpf_ktime_get_ns \
		misc:bounded_loops
}

cgroup2_root() {
	awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts
}

ensure_bpffs() {
	grep -q ' /sys/fs/bpf bpf ' /proc/mounts || mount -t bpf bpf /sys/fs/bpf
}

# make_cgroup VAR NAME : create a cgroup, store its path in VAR; removed at
# exit (after its processes). Not in a $(...) subshell: the cleanup must be
# registered in the test's own shell.
make_cgroup() {
	local root path
	root=$(cgroup2_root)
	[ -n "$root" ] || fail "no cgroup2 mount in /proc/mounts"
	path="$root/adn-test-$2-$$"
	mkdir "$path" || fail "cannot create cgroup $path"
	on_exit "remove_cgroup '$path'"
	printf -v "$1" '%s' "$path"
}

# remove_cgroup PATH: kill what is left in it, then remove it. A cgroup
# stays busy for a moment after its last process exits (until the process
# is reaped and released), so rmdir is retried.
remove_cgroup() {
	local i
	[ -d "$1" ] || return 0
	[ -e "$1/cgroup.kill" ] && echo 1 >"$1/cgroup.kill" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		rmdir "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "warning: cannot remove cgroup $1" >&2
	return 1
}

# in_cgroup CG CMD... : run CMD inside cgroup CG (it opens its sockets there).
in_cgroup() {
	local cg=$1
	shift
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"
}

# start_bg NAME CG CMD... : start CMD in CG in the background; output in
# $TEST_TMP/NAME.out; killed at exit. Sets BG_PID.
start_bg() {
	local name=$1 cg=$2
	shift 2
	# emptied here, not only by the redirection below, which the background
	# job may not have run yet: a second server of the same name must not
	# be found "listening" in the first one's output
	: >"$TEST_TMP/$name.out"
	# sh execs the command, so $! is the command itself (kill reaches it)
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@" \
		>"$TEST_TMP/$name.out" 2>&1 &
	BG_PID=$!
	_pids+=("$BG_PID")
	_bg_out[$BG_PID]=$TEST_TMP/$name.out
}

# bg_out PID : the output file of a start_bg process
bg_out() { echo "${_bg_out[$1]:-}"; }

# wait_for_line FILE REGEX [SECONDS]
wait_for_line() {
	local i
	for ((i = 0; i < ${3:-5} * 20; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "timed out waiting for /$2/ in $1: $(tail -3 "$1" 2>/dev/null)"
}

# attach_chain CHAIN PORT CG... : attach $KV_OBJ as CHAIN on PORT; detached at exit.
attach_chain() {
	local chain=$1 port=$2 args=() cg
	shift 2
	for cg in "$@"; do args+=(--cgroup "$cg"); done
	"$ADN_LOAD" attach "${args[@]}" --port "$port" --name "$chain" "$KV_OBJ" ||
		fail "adn-load attach $chain failed"
	on_exit "'$ADN_LOAD' detach '$chain'"
}

# build_state OUT [-DDEFINE...] : compile selftests/progs/state_chain.bpf.c,
# the chain of the state tests (snapshot, merge, migrate, update), into OUT.
build_state() {
	local out=$1
	shift
	clang -O2 -g -target bpf -Wall -I"$ADN_ROOT/bpf" -I"$ADN_ROOT/headers" \
		-I/usr/include/"$(uname -m)"-linux-gnu "$@" \
		-c "$ADN_ROOT/selftests/progs/state_chain.bpf.c" -o "$out" || fail "clang $out"
}

# start_server CG PORT : kv-server in CG; stats written at its exit.
start_server() {
	start_bg server "$1" "$KV_SERVER" --listen 127.0.0.1 --port "$2" \
		--stats-file "$TEST_TMP/server-stats.json"
	SERVER_PID=$BG_PID
	wait_for_line "$TEST_TMP/server.out" "listening"
}

# start_server_ns CG NS ADDR PORT [ARGS...] : start_server in network
# namespace NS (netns.sh): kv-server ARGS on ADDR:PORT.
start_server_ns() {
	local cg=$1 ns=$2 addr=$3 port=$4
	shift 4
	start_bg_ns server "$cg" "$ns" "$KV_SERVER" "$@" --listen "$addr" --port "$port" \
		--stats-file "$TEST_TMP/server-stats.json"
	SERVER_PID=$BG_PID
	wait_for_line "$TEST_TMP/server.out" "listening"
}

stop_server() {
	kill -TERM "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	[ -s "$TEST_TMP/server-stats.json" ] || fail "kv-server wrote no stats"
}

# handled_by USER : requests of USER that reached the server's handler.
handled_by() {
	jq -r --arg u "$1" '.by_user[$u] // 0' "$TEST_TMP/server-stats.json"
}

# kv CG PORT ARGS... : run kv-client in CG with --json; prints its JSON.
kv() {
	local cg=$1 port=$2
	shift 2
	timeout 120 sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" \
		"$KV_CLIENT" --host 127.0.0.1 --port "$port" --json ${KV_LAYOUT_ARG:-} "$@"
}

# status_count JSON NAME : calls that ended with status NAME ("ok" for OK).
status_count() {
	if [ "$2" = ok ]; then
		jq -r '.ok' <<<"$1"
	else
		jq -r --arg s "$2" '.status[$s] // 0' <<<"$1"
	fi
}

# stat CHAIN NAME : a counter of adn_stats summed over CPUs.
chain_stat() {
	"$ADN_LOAD" status "$1" --json | jq -r --arg n "$2" '.stats[$n]'
}

# wait_stat CHAIN NAME MIN [PID] : wait (60 s at most) until the chain's
# counter NAME reaches MIN; with PID (a start_bg process sending the
# traffic), fail at once if it has ended. "Under load" means the load has
# reached the chain, not that some time has passed since a client was
# started: a process starts and connects in milliseconds on the host and in
# seconds under emulation.
wait_stat() {
	local end=$((SECONDS + 60)) v
	while :; do
		v=$(chain_stat "$1" "$2")
		[ "${v:-0}" -ge "$3" ] 2>/dev/null && return 0
		if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
			fail "$1: counter $2 is ${v:-unknown}, not $3 (line ${BASH_LINENO[0]}), and the client ended: $(tail -3 "$(bg_out "$4")" 2>/dev/null)"
		fi
		[ $SECONDS -lt $end ] || fail "$1: counter $2 is ${v:-unknown}, not $3 after 60 s (line ${BASH_LINENO[0]})"
		sleep 0.1
	done
}

# use_element NAME : compile elements/NAME/NAME.adn (the element and its
# example chain over kv) and point KV_OBJ at the object.
use_element() {
	"$ADNC" "$ADN_ROOT/elements/$1/$1.adn" -o "$TEST_TMP/$1/" >"$TEST_TMP/adnc-$1.out" 2>&1 ||
		fail "adnc elements/$1/$1.adn: $(cat "$TEST_TMP/adnc-$1.out")"
	KV_OBJ=$TEST_TMP/$1/$1.bpf.o
	# The element's example chain declares its own kv service, with fewer
	# network fields than examples/kv (so another layout hash) but the same
	# offsets for what it reads; kv-client speaks examples/kv's layout, so
	# it sends layout 0 ("not checked", docs/internals.md §1).
	KV_LAYOUT_ARG="--layout 0"
}

# table_json CHAIN ELEMENT.TABLE : the rows of a table as a JSON array.
table_json() {
	"$ADNCTL" table "$1" "$2" list --json
}
