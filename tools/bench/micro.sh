#!/usr/bin/env bash
# tools/bench/micro.sh: issue 3 items 4 and 5 — per-element cost and scaling.
# `make bench` runs it after run.sh (BENCH_MICRO=0 skips it); it can run alone.
#
#  1. Per-element and per-chain cost: every library element
#     (elements/*/*.adn), the paper's chain (examples/kv/kv.adn) and chains of
#     1..10 elements (from selftests/golden/ten.adn), compiled by adnc as
#     TRANSPORT UDP with --hook tc and --hook xdp, run by tools/bench/prog_ns.c
#     under BPF_PROG_TEST_RUN on hand-built packets: ns per packet for an
#     allowed request, a dropped one (where the element can drop) and a
#     datagram to another port (the runtime's parse only), plus xlated/jited
#     sizes from bpf_prog_info; the paper's chain against the hand-written
#     build/reference/kv_chain_{tc,xdp}.bpf.o.
#  2. ACL lookup cost at 1, 1k, 100k, 1M rows: the paper's chain at TC with
#     the ACL's capacity raised, same user (repeat) and random users.
#  3. Connection scaling of the TCP sk_msg path: kv-client --conns N
#     --outstanding N against kv-server, raw and with the paper's chain.
#  4. Writes docs/bench/micro.csv, docs/bench/scaling_{chain,acl,conns}.csv,
#     docs/bench/chain_length.svg and docs/bench/micro.md, and puts micro.md
#     into docs/benchmarks.md between its markers when that file exists.
#
# Environment: MICRO_REPEAT (100000), MICRO_RUNS (5), MICRO_CALLS (200000:
# single runs per random-user case), MICRO_ACL_SIZES ("1 1000 100000 1000000"),
# MICRO_CONNS ("1 10 100 1000 10000"), MICRO_CONN_SECS (3), MICRO_CONN_ROUNDS (3),
# MICRO_PARTS ("elements chains acl conns"), MICRO_WAIT_QUIET (60: seconds to wait
# for a quiet machine first), MICRO_REPORT_ONLY=1 (micro.md again from the CSVs),
# BENCH_OUT (docs/).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cmdline="tools/bench/micro.sh${*:+ $*}"
REPEAT=${MICRO_REPEAT:-100000}
RUNS=${MICRO_RUNS:-5}
CALLS=${MICRO_CALLS:-200000}
ACL_SIZES=${MICRO_ACL_SIZES:-"1 1000 100000 1000000"}
CONNS=${MICRO_CONNS:-"1 10 100 1000 10000"}
CONN_SECS=${MICRO_CONN_SECS:-3}
CONN_ROUNDS=${MICRO_CONN_ROUNDS:-3}
PARTS=${MICRO_PARTS-"elements chains acl conns"}
OUT=${BENCH_OUT:-$root/docs}
CPU_CLIENT=0
CPU_SERVER=1
CPU_PROG=1  # prog_ns (BPF_PROG_TEST_RUN runs on the caller's CPU)
CPU_DRAIN=0 # prog_ns's thread that empties the log ring buffers every 1 ms
P_RAW=17090 P_ADN=17091
KV_CONNS_MAX=1024 # kv-client and the RPC library (rpc/client.c MAX_CONNS)

die() { echo "micro: $*" >&2; exit 1; }
log() { printf '[micro %s] %s\n' "$(date +%T)" "$*" >&2; }
has_part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
# MICRO_REPORT_ONLY=1: no measurement, micro.md again from the CSVs in $OUT/bench
REPORT_ONLY=${MICRO_REPORT_ONLY:-0}
run_part() { [ "$REPORT_ONLY" != 1 ] && has_part "$1"; }

[ "$(id -u)" -eq 0 ] || die "needs root (BPF_PROG_TEST_RUN, cgroups)"
for t in gnuplot jq taskset cc clang ss; do command -v $t >/dev/null || die "$t missing"; done
for b in adnc adn-load adnctl kv-server kv-client; do
	[ -x build/bin/$b ] || die "build/bin/$b missing: run make all"
done
[ -f build/libadnmaps.a ] || die "build/libadnmaps.a missing: run make all"
for o in build/kv/kv.bpf.o build/reference/kv_chain_tc.bpf.o build/reference/kv_chain_xdp.bpf.o; do
	[ -f $o ] || die "$o missing: run make all"
done
if [ "$(nproc)" -lt 2 ]; then CPU_SERVER=0 CPU_PROG=0 CPU_DRAIN=0; fi
grep -q ' /sys/fs/bpf bpf ' /proc/mounts || mount -t bpf bpf /sys/fs/bpf

tmp=$(mktemp -d /tmp/adn-micro.XXXXXX)
cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
cgbase=$cgroot/adn-micro-$$
pids=()
chains=()
cleanup() {
	local rc=$? p d
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	for d in "${chains[@]}"; do "$tmp/bin/adn-load" detach "$d" >/dev/null 2>&1 || true; done
	if [ -d "$cgbase" ]; then find "$cgbase" -depth -type d -exec rmdir {} \; 2>/dev/null || true; fi
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# private copies of the binaries: a concurrent rebuild cannot change them
mkdir -p "$tmp/bin" "$root/build/bench" "$OUT/bench"
for b in adnc adn-load adnctl kv-server kv-client; do cp build/bin/$b "$tmp/bin/"; done
B=$tmp/bin
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Imaps -Iheaders tools/bench/prog_ns.c \
	build/libadnmaps.a -lbpf -lelf -lz -lm -lpthread -o build/bench/prog_ns
cp build/bench/prog_ns "$B/"

# --- the machine, and the load of everything else on it
# MICRO_WAIT_QUIET=S: first wait up to S seconds (default 60) for the machine
# to be quiet (below 20% of all CPUs busy over 2 s); the load is reported anyway
quiet_wait=${MICRO_WAIT_QUIET:-60}
if [ "$REPORT_ONLY" != 1 ] && [ "$quiet_wait" -gt 0 ]; then
	waited=0
	while [ "$waited" -lt "$quiet_wait" ]; do
		read -r qb0 qt0 <<<"$(awk '$1 == "cpu" { b = $2+$3+$4+$7+$8+$9; print b, b+$5+$6 }' /proc/stat)"
		sleep 2
		read -r qb1 qt1 <<<"$(awk '$1 == "cpu" { b = $2+$3+$4+$7+$8+$9; print b, b+$5+$6 }' /proc/stat)"
		waited=$((waited + 2))
		[ $((100 * (qb1 - qb0))) -lt $((20 * (qt1 - qt0))) ] && break
		log "machine busy ($((100 * (qb1 - qb0) / (qt1 - qt0 + 1)))% of all CPUs); waiting to start (${waited}/${quiet_wait} s)"
	done
fi
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
ncpu=$(nproc)
kernel=$(uname -r)
today=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# /proc/stat: busy and total jiffies of all CPUs
stat_busy() { awk '$1 == "cpu" { b = $2+$3+$4+$7+$8+$9; t = b+$5+$6; print b, t }' /proc/stat; }
# busy % of all CPUs over a short window, and the top other processes
load_snapshot() { # LABEL
	local b0 t0 b1 t1
	read -r b0 t0 <<<"$(stat_busy)"
	sleep 2
	read -r b1 t1 <<<"$(stat_busy)"
	awk -v l="$1" -v b="$((b1 - b0))" -v t="$((t1 - t0))" -v n="$ncpu" \
		'BEGIN { printf "%s: %.0f%% of %d CPUs busy (2 s sample)\n", l, t ? 100 * b / t : 0, n }'
}
# the busiest processes now (top's second sample: current, not lifetime, %CPU)
top_now() {
	top -b -n 2 -d 1 -w 200 2>/dev/null | awk '/^top -/ { blk++ } blk == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 5 && n < 5 {
		printf "%s%s %s%%", sep, $12, $9; sep = ", "; n++ }'
}
bg_before=$(load_snapshot "before")
top_before=$(top_now)
# CPU of everything outside micro.sh's cgroup, per phase (as run.sh counts it:
# the root cgroup's usage minus this run's subtree; kernel threads included)
mkdir -p "$cgbase/prog"
cg_usec() { awk '$1 == "usage_usec" { print $2 }' "$1/cpu.stat"; }
phases=""
phase_begin() {
	[ "$REPORT_ONLY" != 1 ] || return 0
	ph_t0=$(date +%s%N) ph_all0=$(cg_usec "$cgroot") ph_mine0=$(cg_usec "$cgbase"); }
phase_end() { # NAME
	local t1 all1 mine1
	[ "$REPORT_ONLY" != 1 ] || return 0
	t1=$(date +%s%N) all1=$(cg_usec "$cgroot") mine1=$(cg_usec "$cgbase")
	phases+="${phases:+; }$1: $(awk -v a="$((all1 - ph_all0))" -v m="$((mine1 - ph_mine0))" -v t="$((t1 - ph_t0))" \
		'BEGIN { printf "other processes %.0f%% of one CPU over %.0f s (this run %.0f%%)", 100 * (a - m) * 1000 / t, t / 1e9, 100 * m * 1000 / t }')"
	log "phase $1: ${phases##*; }"
}
read -r run_b0 run_t0 <<<"$(stat_busy)"
t_start=$(date +%s)
log "$bg_before${top_before:+ (top: $top_before)}"

udpify() { # SRC.adn DST.adn: the service as TRANSPORT UDP
	sed -E 's/^(CREATE SERVICE [A-Za-z_0-9]+ PORT [0-9]+) \(/\1 TRANSPORT UDP (/' "$1" >"$2"
	grep -q 'TRANSPORT UDP' "$2" || die "cannot make $1 a UDP service"
}
# compile SRC.adn HOOK OUTDIR -> the object's path on stdout; 1 if adnc refuses
compile() {
	local src=$1 hook=$2 dir=$3
	mkdir -p "$dir"
	if ! ADN_BPF_INCLUDE=$root/bpf ADN_HEADERS_INCLUDE=$root/headers \
		"$B/adnc" "$src" -o "$dir/" --hook "$hook" >"$dir/adnc.out" 2>&1; then
		return 1
	fi
	ls "$dir"/*.bpf.o | head -1
}
first_error() { grep -m1 'error' "$1" | sed -E 's/^[^ ]*: error: //' | tr -d '\r' | tr ',|' ';/'; }

CSV=$OUT/bench/micro.csv
if [ "$REPORT_ONLY" != 1 ]; then
	echo "kind,name,hook,source,case,verdict,ns_median,ns_min,ns_max,runs,repeat,xlated_insns,xlated_bytes,jited_bytes,log_lost,note" >"$CSV"
fi
# measure KIND NAME HOOK SOURCE OBJ [prog_ns options and --case ...]
measure() {
	local kind=$1 name=$2 hook=$3 source=$4 o=$5
	shift 5
	if ! taskset -c $CPU_PROG sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cgbase/prog" \
		"$B/prog_ns" "$o" --repeat "$REPEAT" --runs "$RUNS" --calls "$CALLS" --drain-cpu $CPU_DRAIN "$@" >"$tmp/pn.out" 2>"$tmp/pn.err"; then
		cat "$tmp/pn.err" >&2
		# what was measured before the failure stays; the failure is a row too
		while IFS=, read -r cs verdict med mn mx runs rep xi xb jb lost _pt; do
			echo "$kind,$name,$hook,$source,$cs,$verdict,$med,$mn,$mx,$runs,$rep,$xi,$xb,$jb,$lost," >>"$CSV"
		done <"$tmp/pn.out"
		na "$kind" "$name" "$hook" "$source" "prog_ns failed: $(grep -m1 . "$tmp/pn.err" | tr ',|' ';/')"
		return 0
	fi
	while IFS=, read -r cs verdict med mn mx runs rep xi xb jb lost _pt; do
		echo "$kind,$name,$hook,$source,$cs,$verdict,$med,$mn,$mx,$runs,$rep,$xi,$xb,$jb,$lost," >>"$CSV"
		log "$kind $name $hook $cs: $verdict ${med} ns [${mn}-${mx}] xlated $xi jited ${jb}B lost $lost"
	done <"$tmp/pn.out"
}
na() { # KIND NAME HOOK SOURCE REASON
	echo "$1,$2,$3,$4,-,n/a,,,,,,,,,,$5" >>"$CSV"
	log "$1 $2 $3: n/a ($5)"
}

# Cases per element: params that make it pass a stream of requests (buckets
# big enough for every run, no fault) and the drop case where it can drop.
# @FILL@: see prog_ns.c (a refill rate that fills a bucket at once, no overflow).
pass_params() { # ELEMENT -> --param options
	case $1 in
	fault) echo "--param fault.probability=0" ;;
	ratelimit) echo "--param ratelimit.rate=@FILL@ --param ratelimit.burst=1000000000" ;;
	ratelimit_key) echo "--param ratelimit_key.rate=1 --param ratelimit_key.burst=1000000000" ;;
	bandwidth) echo "--param bandwidth.rate=@FILL@ --param bandwidth.burst=3000000000" ;;
	circuitbreaker) echo "--param circuitbreaker.max_inflight=1000000000000" ;;
	admission) echo "--param admission.probe=0" ;;
	esac
}
drop_case() { # ELEMENT -> a --case spec, or nothing
	case $1 in
	acl | encrypt) echo "dropped_single;repeat=1;user=mallory;expect=reply" ;;
	fault) echo "dropped_single;repeat=1;param=fault.probability=1;expect=reply" ;;
	ratelimit) echo "dropped_single;repeat=1;param=ratelimit.rate=0;param=ratelimit.burst=0;expect=reply" ;;
	ratelimit_key) echo "dropped_single;repeat=1;param=ratelimit_key.burst=0;expect=reply" ;;
	bandwidth) echo "dropped_single;repeat=1;param=bandwidth.rate=0;param=bandwidth.burst=0;expect=reply" ;;
	circuitbreaker) echo "dropped_single;repeat=1;param=circuitbreaker.max_inflight=0;expect=reply" ;;
	admission) echo "dropped_single;repeat=1;param=admission.min_requests=0;row=admission.stats id=0 total=100 ok=0;expect=reply" ;;
	esac
}

phase_begin
# ------------------------------------------------------------------ 1. elements
if run_part elements; then
	for f in elements/*/*.adn; do
		e=$(basename "$(dirname "$f")")
		if grep -q 'ROUTE TO REPLICA' "$f"; then
			for hook in tc xdp; do
				na element "$e" $hook "$f" "ROUTE TO REPLICA: needs a replica set (not set up here)"
			done
			continue
		fi
		udpify "$f" "$tmp/$e.adn"
		for hook in tc xdp; do
			if ! o=$(compile "$tmp/$e.adn" $hook "$tmp/el-$e-$hook"); then
				na element "$e" $hook "$f" "$(first_error "$tmp/el-$e-$hook/adnc.out")"
				continue
			fi
			pp=$(pass_params "$e")
			dc=$(drop_case "$e")
			extra=()
			if [ "$e" = mutation ]; then extra=(--case "rewritten_single;repeat=1;user=bob;expect=pass"); fi
			# shellcheck disable=SC2086
			measure element "$e" $hook "$f" "$o" $pp --case "allowed;expect=pass" \
				--case "other_port;dport=53;expect=pass" --case "allowed_single;repeat=1;expect=pass" \
				"${extra[@]}" ${dc:+--case "$dc"}
		done
	done

	# the paper's chain: generated (tc; xdp with request-only logging) vs hand-written
	udpify examples/kv/kv.adn "$tmp/kv_udp.adn"
	# XDP runs request elements only: the hand-written XDP chain logs requests
	# only, so the generated one gets logging without its ON RESPONSE side
	awk '/^CREATE ELEMENT logging/ { inlog = 1 }
	     inlog && /^  ON RESPONSE/ { skip = 1 }
	     /^END;/ { skip = 0; if (inlog) inlog = 0 }
	     !skip' "$tmp/kv_udp.adn" >"$tmp/kv_udp_reqlog.adn"
	paper_cases=(--param fault.probability=0 --case "allowed;expect=pass"
		--case "other_port;dport=53;expect=pass"
		--case "allowed_single;repeat=1;expect=pass"
		--case "dropped_acl_single;repeat=1;user=mallory;expect=reply"
		--case "dropped_fault_single;repeat=1;param=fault.probability=1;expect=reply")
	o=$(compile "$tmp/kv_udp.adn" tc "$tmp/paper-tc") || die "adnc: paper chain at tc: $(first_error "$tmp/paper-tc/adnc.out")"
	measure paper kv tc "examples/kv/kv.adn (TRANSPORT UDP; --hook tc)" "$o" "${paper_cases[@]}"
	cp build/reference/kv_chain_tc.bpf.o "$tmp/ref_tc.bpf.o"
	measure paper_ref kv tc "build/reference/kv_chain_tc.bpf.o" "$tmp/ref_tc.bpf.o" "${paper_cases[@]}"
	if o=$(compile "$tmp/kv_udp.adn" xdp "$tmp/paper-xdp0"); then
		measure paper kv xdp "examples/kv/kv.adn (TRANSPORT UDP; --hook xdp)" "$o" "${paper_cases[@]}"
	else
		na paper kv xdp "examples/kv/kv.adn" "$(first_error "$tmp/paper-xdp0/adnc.out")"
	fi
	o=$(compile "$tmp/kv_udp_reqlog.adn" xdp "$tmp/paper-xdp") || die "adnc: paper chain (request-only log) at xdp: $(first_error "$tmp/paper-xdp/adnc.out")"
	measure paper kv_reqlog xdp "examples/kv/kv.adn with logging's ON RESPONSE removed (TRANSPORT UDP; --hook xdp)" "$o" "${paper_cases[@]}"
	cp build/reference/kv_chain_xdp.bpf.o "$tmp/ref_xdp.bpf.o"
	measure paper_ref kv xdp "build/reference/kv_chain_xdp.bpf.o" "$tmp/ref_xdp.bpf.o" "${paper_cases[@]}"

	# without the log element: what the ring buffer record costs
	sed '/^  logging (user = username, key = key),$/d' "$tmp/kv_udp.adn" >"$tmp/kv_nolog.adn"
	if grep -q '^  logging (' "$tmp/kv_nolog.adn"; then die "cannot take logging out of kv.adn's chain"; fi
	nolog_cases=(--param fault.probability=0 --case "allowed;expect=pass" --case "other_port;dport=53;expect=pass"
		--case "allowed_single;repeat=1;expect=pass")
	for hook in tc xdp; do
		if o=$(compile "$tmp/kv_nolog.adn" $hook "$tmp/paper-nolog-$hook"); then
			measure paper kv_nolog $hook "examples/kv/kv.adn without logging (TRANSPORT UDP; --hook $hook)" "$o" "${nolog_cases[@]}"
		else
			na paper kv_nolog $hook "examples/kv/kv.adn without logging" "$(first_error "$tmp/paper-nolog-$hook/adnc.out")"
		fi
		clang -O2 -g -target bpf -Wall -DKV_CHAIN_NO_LOG -Ibpf -Iheaders -I"/usr/include/$(uname -m)-linux-gnu" \
			-c bpf/reference/kv_chain_$hook.bpf.c -o "$tmp/ref_nolog_$hook.bpf.o"
		measure paper_ref kv_nolog $hook "bpf/reference/kv_chain_$hook.bpf.c -DKV_CHAIN_NO_LOG" \
			"$tmp/ref_nolog_$hook.bpf.o" "${nolog_cases[@]}"
	done
fi

# ------------------------------------------------------------------ chain length
# Chains of 1..10 from selftests/golden/ten.adn's elements, in its order; each
# element set to pass (pass_params). TC only: XDP takes no element with an ON
# RESPONSE side (logging, metrics, circuitbreaker, admission).
ORDER=(logging metrics acl mutation ratelimit ratelimit_key circuitbreaker admission bandwidth fault)
inst() {
	case $1 in
	logging) echo "logging (user = username, key = key)" ;;
	acl) echo "acl (user = username)" ;;
	mutation) echo "mutation (user = username, key = key)" ;;
	ratelimit_key) echo "ratelimit_key (who = username)" ;;
	*) echo "$1" ;;
	esac
}
if run_part chains; then
	udpify selftests/golden/ten.adn "$tmp/ten_udp.adn"
	for ((n = 1; n <= 10; n++)); do
		list="" pp=""
		for ((i = 0; i < n; i++)); do
			list+="${list:+, }$(inst "${ORDER[$i]}")"
			pp+=" $(pass_params "${ORDER[$i]}")"
		done
		# ten.adn without its CREATE CHAIN (the last statement), then chain lenN
		awk '/^CREATE CHAIN/ { exit } { print }' "$tmp/ten_udp.adn" >"$tmp/len$n.adn"
		echo "CREATE CHAIN len$n ON kv ($list);" >>"$tmp/len$n.adn"
		o=$(compile "$tmp/len$n.adn" tc "$tmp/len$n") || die "adnc: chain of $n: $(first_error "$tmp/len$n/adnc.out")"
		# shellcheck disable=SC2086
		measure chain "len$n" tc "${ORDER[*]:0:$n}" "$o" $pp --case "allowed;expect=pass" \
			--case "other_port;dport=53;expect=pass"
	done
fi

# ------------------------------------------------------------------ 2. ACL size
if run_part acl; then
	sed 's/CAPACITY 1024;/CAPACITY 1048576;/' examples/kv/kv.adn >"$tmp/kvbig_tcp.adn"
	grep -q 'CAPACITY 1048576' "$tmp/kvbig_tcp.adn" || die "cannot enlarge the ACL of kv.adn"
	udpify "$tmp/kvbig_tcp.adn" "$tmp/kvbig.adn"
	o=$(compile "$tmp/kvbig.adn" tc "$tmp/kvbig") || die "adnc: big ACL chain: $(first_error "$tmp/kvbig/adnc.out")"
	for rows in $ACL_SIZES; do
		measure acl "rows$rows" tc "examples/kv/kv.adn with ACL CAPACITY 1048576 (TRANSPORT UDP; --hook tc)" "$o" \
			--param fault.probability=0 --acl-rows "$rows" \
			--case "same_user;expect=pass" \
			--case "same_user_single;repeat=1;expect=pass" \
			--case "random_users_single;random=1;expect=pass"
	done
fi

phase_end "BPF_PROG_TEST_RUN parts"
# ------------------------------------------------------------------ 3. connections
CONNCSV=$OUT/bench/scaling_conns.csv
if run_part conns; then
	echo "conns,setup,round,clients,rps,p50_us,p99_us,completed,established,not_ok" >"$CONNCSV"
fi
conn_note=""
if run_part conns; then
	nofile_was=$(ulimit -n)
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	nofile=$(ulimit -n)
	nmax=$(printf '%s\n' $CONNS | sort -n | tail -1)
	for s in raw adn; do for l in client server drain; do mkdir -p "$cgbase/$s/$l"; done; done
	run_in() { # CG CPU OUT CMD...
		local cg=$1 cpu=$2 out=$3
		shift 3
		taskset -c "$cpu" sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@" >"$out" 2>&1 &
		LAST_PID=$!
		pids+=("$LAST_PID")
	}
	stop_pid() {
		local p=$1 q keep=()
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
		for q in "${pids[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
		pids=("${keep[@]}")
	}
	wait_port() {
		local i
		for ((i = 0; i < 100; i++)); do
			ss -Hltn "sport = :$1" | grep -q . && return 0
			sleep 0.05
		done
		die "nothing listens on port $1"
	}
	cp build/kv/kv.bpf.o "$tmp/gen.bpf.o"
	"$B/adn-load" attach --cgroup "$cgbase/adn" --port $P_ADN --name adnmicro-conn "$tmp/gen.bpf.o" >/dev/null ||
		die "adn-load attach failed"
	chains+=(adnmicro-conn)
	"$B/adnctl" param adnmicro-conn fault.probability 0.05 >/dev/null
	if [ "$nofile" -lt 65536 ]; then
		conn_note="ulimit -n could be raised from $nofile_was to $nofile only (the hard limit; raising it needs CAP_SYS_RESOURCE, which this machine does not give); "
	fi
	if [ "$nofile" -lt $((nmax + 64)) ]; then
		conn_note+="that is too few for the server's $nmax connections (one descriptor each), so the largest runs cannot be complete; "
	else
		conn_note+="enough: the server needs one descriptor per connection ($nmax) and each client at most 1024; "
	fi

	# conn_run N SETUP ROUND
	conn_run() {
		local nconn=$1 s=$2 r=$3 port cg=$cgbase/$2 spid dpid="" k nclients per
		port=$([ "$s" = raw ] && echo $P_RAW || echo $P_ADN)
		run_in "$cg/server" $CPU_SERVER "$tmp/server.out" "$B/kv-server" --listen 127.0.0.1 --port "$port"
		spid=$LAST_PID
		wait_port "$port"
		if [ "$s" = adn ]; then
			run_in "$cg/drain" $CPU_SERVER "$tmp/drain.out" "$B/adnctl" log adnmicro-conn \
				-o "$tmp/conn.log.binary" --format binary --follow
			dpid=$LAST_PID
		fi
		# warm-up: PUTs fill the keys k0..k999 (GETs then return 32-byte values)
		taskset -c $CPU_CLIENT sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg/client" \
			timeout 60 "$B/kv-client" --host 127.0.0.1 --port "$port" --user alice --count 2000 \
			--conns 1 --outstanding 128 --method put --value-size 32 --json >/dev/null ||
			die "warm-up of $s failed"
		# kv-client takes at most 1024 connections: more are split over processes
		nclients=$(((nconn + KV_CONNS_MAX - 1) / KV_CONNS_MAX))
		if [ "$nconn" -gt $KV_CONNS_MAX ]; then nclients=$(((nconn + 999) / 1000)); fi
		per=$((nconn / nclients))
		# several clients: a longer run, so that the ~0.5 s over which they start
		# and connect is a small part of each one's measured window
		local secs=$CONN_SECS
		if [ "$nclients" -gt 1 ] && [ "$secs" -lt 10 ]; then secs=10; fi
		local cpids=() total=$secs
		for ((k = 0; k < nclients; k++)); do
			taskset -c $CPU_CLIENT sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg/client" \
				timeout $((total + 120)) "$B/kv-client" --host 127.0.0.1 --port "$port" --user alice \
				--duration "$secs" --conns "$per" --outstanding "$per" --method get --json \
				>"$tmp/client.$k.json" 2>"$tmp/client.$k.err" &
			cpids+=($!)
			if [ "$nclients" -gt 1 ]; then sleep 0.05; fi # stagger the connects (listen backlog)
		done
		# connections established to the server while the clients run: the
		# largest of samples every 0.5 s over the first half of the run
		local est=0 e i
		for ((i = 0; i < secs; i++)); do
			e=$(ss -Htn state established "sport = :$port" | wc -l)
			if [ "$e" -gt "$est" ]; then est=$e; fi
			sleep 0.5
		done
		local failed=0
		for k in "${!cpids[@]}"; do wait "${cpids[$k]}" || failed=1; done
		if [ -n "$dpid" ]; then stop_pid "$dpid"; fi
		stop_pid "$spid"
		rm -f "$tmp/conn.log.binary"
		if [ "$failed" = 1 ]; then
			log "conns $nconn $s round $r: a client failed: $(cat "$tmp"/client.*.err | head -3 | tr '\n' ' ')"
		fi
		# sum req/s over the client processes; p50: median of theirs; p99: max
		jq -s -r --arg n "$nconn" --arg s "$s" --arg r "$r" --arg c "$nclients" --arg e "$est" '
			map(select(.rps != null)) as $a | if ($a | length) == 0 then
			  [$n, $s, $r, $c, "", "", "", "", $e, ""] else
			  [$n, $s, $r, $c, ($a | map(.rps) | add | round),
			   ($a | map(.p50_us) | sort | .[(length / 2 | floor)]),
			   ($a | map(.p99_us) | max),
			   ($a | map(.rps * .seconds) | add | round), $e,
			   ($a | map((.rps * .seconds | round) - .ok) | add)] end | @csv' \
			"$tmp"/client.*.json 2>/dev/null | tr -d '"' >>"$CONNCSV" ||
			echo "$nconn,$s,$r,$nclients,,,,,$est," >>"$CONNCSV"
		log "conns $nconn $s round $r: $(tail -1 "$CONNCSV")"
		rm -f "$tmp"/client.*.json "$tmp"/client.*.err
	}
	phase_begin
	for nconn in $CONNS; do
		for ((r = 1; r <= CONN_ROUNDS; r++)); do
			if [ $((r % 2)) = 1 ]; then order="raw adn"; else order="adn raw"; fi
			for s in $order; do conn_run "$nconn" "$s" "$r"; done
		done
	done
	phase_end "connection runs"
fi

t_end=$(date +%s)
read -r run_b1 run_t1 <<<"$(stat_busy)"
bg_after=$(load_snapshot "after")
top_after=$(top_now)
run_busy=$(awk -v b="$((run_b1 - run_b0))" -v t="$((run_t1 - run_t0))" 'BEGIN { printf "%.0f", t ? 100 * b / t : 0 }')
log "$bg_after; during the run: $run_busy% busy"

# ------------------------------------------------------------------ 4. report
CHAINCSV=$OUT/bench/scaling_chain.csv
ACLCSV=$OUT/bench/scaling_acl.csv
awk -F, 'BEGIN { print "elements,ns_allowed,ns_min,ns_max,ns_other_port,xlated_insns,jited_bytes" }
	$1 == "chain" && $5 == "allowed" { n = substr($2, 4); a[n] = $7 "," $8 "," $9; x[n] = $12 "," $14 }
	$1 == "chain" && $5 == "other_port" { o[n = substr($2, 4)] = $7 }
	END { for (i = 1; i <= 10; i++) if (i in a) { split(a[i], p, ","); split(x[i], q, ",");
		print i "," p[1] "," p[2] "," p[3] "," o[i] "," q[1] "," q[2] } }' "$CSV" >"$CHAINCSV"
awk -F, 'BEGIN { print "rows,ns_same_user,ns_same_user_single,ns_random_users_single,random_minus_same_single" }
	$1 == "acl" { r = substr($2, 5); rows[r] = 1; v[r, $5] = $7; if (!(r in seen)) { seen[r] = 1; ord[++k] = r } }
	END { for (i = 1; i <= k; i++) { r = ord[i]
		printf "%s,%s,%s,%s,%s\n", r, v[r, "same_user"], v[r, "same_user_single"], v[r, "random_users_single"],
			(v[r, "random_users_single"] != "" && v[r, "same_user_single"] != "") ? v[r, "random_users_single"] - v[r, "same_user_single"] : "" } }' \
	"$CSV" >"$ACLCSV"

# least-squares slope of ns over chain length
slope=$(awk -F, 'NR > 1 && $2 != "" { n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2 }
	END { if (n >= 2) { b = (n * sxy - sx * sy) / (n * sxx - sx * sx); a = (sy - b * sx) / n; printf "%.1f %.1f", b, a } }' "$CHAINCSV")
read -r slope_b slope_a <<<"${slope:-" "}"
if [ -n "${slope_b:-}" ]; then
	gnuplot <<EOF
set terminal svg size 720,420 font "sans,12"
set output "$OUT/bench/chain_length.svg"
set datafile separator ","
set key top left
set xlabel "elements in the chain (TC, allowed request)"
set ylabel "ns per packet (BPF_PROG_TEST_RUN)"
set xrange [0.5:10.5]
set yrange [0:*]
set xtics 1
set grid ytics
f(x) = $slope_a + $slope_b * x
plot "$CHAINCSV" every ::1 using 1:2:3:4 with yerrorbars lc rgb "#1f77b4" title "median [min-max] of $RUNS runs", \
     "$CHAINCSV" every ::1 using 1:2 with lines lc rgb "#1f77b4" notitle, \
     "$CHAINCSV" every ::1 using 1:5 with linespoints lc rgb "#7f7f7f" title "datagram to another port (parse only)", \
     f(x) lc rgb "#d62728" dt 2 title sprintf("least squares: %.1f ns/element + %.1f", $slope_b, $slope_a)
EOF
fi

val() { # KIND NAME HOOK CASE FIELD(7=median,8=min,9=max,12=xlated,13=xbytes,14=jited,6=verdict)
	awk -F, -v k="$1" -v n="$2" -v h="$3" -v c="$4" -v f="$5" '$1 == k && $2 == n && $3 == h && $5 == c { print $f; exit }' "$CSV"
}
nz() { if [ -z "$1" ]; then printf '–'; else printf '%s' "$1"; fi; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) printf "–"; else printf "%+.1f%%", 100 * (a - b) / b }'; }

MD=$OUT/bench/micro.md
{
	echo "## Per-element cost and scaling (tools/bench/micro.sh)"
	echo
	echo "| | |"
	echo "|---|---|"
	echo "| machine | $cpu_model, $ncpu CPUs, Linux $kernel |"
	echo "| date | $today |"
	echo "| command | \`$cmdline\` (as \`make bench\` runs it after run.sh; \`BENCH_MICRO=0\` skips it) |"
	echo "| BPF_PROG_TEST_RUN | repeat $REPEAT, median [min–max] of $RUNS runs; the kernel's own mean over the repeats (timer included) |"
	echo "| background load | $bg_before; $bg_after; all CPUs $run_busy% busy over the whole run (/proc/stat); $phases${top_before:+; busiest processes before the run: $top_before}${top_after:+; after: $top_after} |"
	echo "| pinning | prog_ns on CPU $CPU_PROG; connection runs: client(s) on CPU $CPU_CLIENT, server and log drainer on CPU $CPU_SERVER |"
	echo "| total time | $((t_end - t_start)) s |"
	echo "| raw data | [bench/micro.csv](bench/micro.csv), [bench/scaling_chain.csv](bench/scaling_chain.csv), [bench/scaling_acl.csv](bench/scaling_acl.csv), [bench/scaling_conns.csv](bench/scaling_conns.csv) |"
	echo
	echo "Packets: Ethernet/IPv4/UDP to the service port carrying one kv GET request frame (64 B: header, username"
	echo "\`alice\`, key \`k1\`), checksums valid, built by tools/bench/prog_ns.c (the approach of"
	echo "selftests/unit/test_tc_xdp.c). Objects are loaded with libbpf and initialised as \`adn-load\` does (port,"
	echo "initial rows and parameters from \`.adn.meta\`, through libadnmaps); parameters are then set so that the"
	echo "element passes every request (no fault, token buckets that do not run dry, no in-flight limit), and"
	echo "changed for the *dropped* case (ACL: user \`mallory\`; fault: probability 1; buckets: rate and burst 0;"
	echo "circuit breaker: max_inflight 0; admission: 100 responses, none OK, min_requests 0). A dropped request"
	echo "leaves as the network's reply (TC_ACT_REDIRECT / XDP_TX, addresses swapped, checksums fixed)."
	echo "*other port*: a datagram to UDP port 53, which the runtime parses and lets go (the floor of the hook)."
	echo "Log ring buffers are emptied every 1 ms by a thread of prog_ns on CPU $CPU_DRAIN while the programs run, as"
	echo "\`adnctl log --follow\` would, so records are written, not lost for lack of room (\`log_lost\` in the CSV)."
	echo "Sizes are the loaded program's (\`bpf_prog_info\`): xlated instructions (a 16-byte \`ld_imm64\` counts"
	echo "once, as bpftool does) and jited bytes."
	echo
	if has_part elements; then
		echo "### Library elements, one chain each (elements/*/*.adn as TRANSPORT UDP)"
		echo
		echo "ns per packet. *repeat*: the same packet $REPEAT times per run, median [min–max] of $RUNS runs (the figure"
		echo "to quote). A program that drops a request rewrites the packet into the network's reply, so a repeated"
		echo "run would measure another path from its second iteration: dropped (and rewritten) requests are"
		echo "measured in *single runs* — $CALLS calls with repeat 1, the median of the kernel's per-call time, which"
		echo "includes the test-run timer and runs right after the syscall's own work (caches partly cold) — next to"
		echo "the allowed request measured the same way; compare single runs with single runs only."
		echo "\`admission\`'s file chains it with a \`fault\` (probability 0) that stands for a failing backend;"
		echo "\`encrypt\`'s kernel part is its ACL (the encryption itself runs in the RPC library)."
		echo
		echo "| element | hook | allowed ns (repeat) | other port ns (repeat) | allowed − other port | allowed ns (single) | dropped ns (single) | xlated insns | jited bytes |"
		echo "|---|---|---|---|---|---|---|---|---|"
		for f in elements/*/*.adn; do
			e=$(basename "$(dirname "$f")")
			for hook in tc xdp; do
				if [ "$(val element "$e" $hook - 6)" = "n/a" ]; then
					printf '| %s | %s | n/a: %s | | | | | | |\n' "$e" $hook \
						"$(awk -F, -v n="$e" -v h=$hook '$1 == "element" && $2 == n && $3 == h && $5 == "-" { print $16; exit }' "$CSV")"
					continue
				fi
				a=$(val element "$e" $hook allowed 7) ot=$(val element "$e" $hook other_port 7)
				printf '| %s | %s | %s [%s–%s] | %s | %s | %s | %s | %s | %s |\n' "$e" $hook "$(nz "$a")" \
					"$(val element "$e" $hook allowed 8)" "$(val element "$e" $hook allowed 9)" "$(nz "$ot")" \
					"$(awk -v a="$a" -v o="$ot" 'BEGIN { if (a != "" && o != "") print a - o; else print "–" }')" \
					"$(nz "$(val element "$e" $hook allowed_single 7)")" "$(nz "$(val element "$e" $hook dropped_single 7)")" \
					"$(nz "$(val element "$e" $hook allowed 12)")" "$(nz "$(val element "$e" $hook allowed 14)")"
			done
		done
		mr=$(val element mutation tc rewritten_single 7)
		if [ -n "$mr" ]; then echo; echo "mutation at tc, single runs, a request it rewrites (user bob → guest): $mr ns."; fi
		echo
		echo "### The paper's chain: generated against hand-written"
		echo
		echo "Logging, ACL, fault injection (examples/kv/kv.adn as TRANSPORT UDP, fault probability 0 except in"
		echo "*dropped (fault)*), each request logged. XDP takes request elements only: adnc refuses kv.adn at"
		echo "\`--hook xdp\` because logging has an ON RESPONSE side, so the XDP row compiles a copy whose logging"
		echo "has no ON RESPONSE — what the hand-written XDP chain does (it logs requests only). Columns as above."
		echo
		echo "| object | hook | allowed ns (repeat) | other port ns (repeat) | allowed ns (single) | dropped by ACL ns (single) | dropped by fault ns (single) | xlated insns | jited bytes | log records lost |"
		echo "|---|---|---|---|---|---|---|---|---|---|"
		for row in "paper kv tc generated" "paper_ref kv tc hand-written" "paper kv_reqlog xdp generated" "paper_ref kv xdp hand-written" \
			"paper kv_nolog tc generated, no logging" "paper_ref kv_nolog tc hand-written, no logging (-DKV_CHAIN_NO_LOG)" \
			"paper kv_nolog xdp generated, no logging" "paper_ref kv_nolog xdp hand-written, no logging (-DKV_CHAIN_NO_LOG)"; do
			read -r k n h label <<<"$row"
			printf '| %s | %s | %s [%s–%s] | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$h" \
				"$(nz "$(val $k $n $h allowed 7)")" "$(val $k $n $h allowed 8)" "$(val $k $n $h allowed 9)" \
				"$(nz "$(val $k $n $h other_port 7)")" "$(nz "$(val $k $n $h allowed_single 7)")" \
				"$(nz "$(val $k $n $h dropped_acl_single 7)")" "$(nz "$(val $k $n $h dropped_fault_single 7)")" \
				"$(nz "$(val $k $n $h allowed 12)")" "$(nz "$(val $k $n $h allowed 14)")" "$(nz "$(val $k $n $h allowed 15)")"
		done
		echo
		echo "Generated against hand-written: tc $(pct "$(val paper kv tc allowed 7)" "$(val paper_ref kv tc allowed 7)") ns"\
			"(allowed, repeat), $(pct "$(val paper kv tc allowed 12)" "$(val paper_ref kv tc allowed 12)") xlated instructions,"\
			"$(pct "$(val paper kv tc allowed 14)" "$(val paper_ref kv tc allowed 14)") jited bytes;"\
			"xdp $(pct "$(val paper kv_reqlog xdp allowed 7)" "$(val paper_ref kv xdp allowed 7)") ns,"\
			"$(pct "$(val paper kv_reqlog xdp allowed 12)" "$(val paper_ref kv xdp allowed 12)") xlated instructions,"\
			"$(pct "$(val paper kv_reqlog xdp allowed 14)" "$(val paper_ref kv xdp allowed 14)") jited bytes."\
			"Without logging: tc $(pct "$(val paper kv_nolog tc allowed 7)" "$(val paper_ref kv_nolog tc allowed 7)") ns,"\
			"xdp $(pct "$(val paper kv_nolog xdp allowed 7)" "$(val paper_ref kv_nolog xdp allowed 7)") ns."
		echo
	fi
	if has_part chains; then
		echo "### Chain length (TC)"
		echo
		echo "Chains of the first N elements of selftests/golden/ten.adn, in its order (${ORDER[*]}), each"
		echo "set to pass; compiled with adnc's defaults (-O1) at \`--hook tc\`. XDP is not measured: four of the ten"
		echo "have an ON RESPONSE side, which XDP cannot run."
		echo
		echo "| elements | last added | allowed ns median [min–max] | + over N−1 | other port ns | xlated insns | jited bytes |"
		echo "|---|---|---|---|---|---|---|"
		prev=""
		while IFS=, read -r n a mn mx ot xi jb; do
			printf '| %s | %s | %s [%s–%s] | %s | %s | %s | %s |\n' "$n" "${ORDER[$((n - 1))]}" "$a" "$mn" "$mx" \
				"$([ -n "$prev" ] && awk -v a="$a" -v p="$prev" 'BEGIN { printf "%+d", a - p }' || echo –)" "$ot" "$xi" "$jb"
			prev=$a
		done < <(tail -n +2 "$CHAINCSV")
		echo
		if [ -n "${slope_b:-}" ]; then echo "Least-squares fit over 1–10 elements: **$slope_b ns per element** + $slope_a ns."; fi
		echo
		echo "![chain length](bench/chain_length.svg)"
		echo
	fi
	if has_part acl; then
		echo "### ACL table size (the paper's chain at TC)"
		echo
		echo "examples/kv/kv.adn with the ACL's CAPACITY raised to 1048576 (TRANSPORT UDP, \`--hook tc\`, fault"
		echo "probability 0), reloaded for each size; rows are \`alice\` plus \`u00000000000001\`… (permission W),"
		echo "inserted with \`bpf_map_update_batch\`. *same user*: \`alice\` every time, repeat $REPEAT (the hot-key"
		echo "figure). *single runs*: $CALLS calls with repeat 1, median of the per-call times (these include the"
		echo "test-run timer and run right after the syscall's own work, so compare them with each other only):"
		echo "same user, and a user drawn at random from the table's rows for each packet — the lookup misses the"
		echo "caches as the table outgrows them."
		echo
		echo "| rows | same user ns (repeat) | × 1 row | same user ns (single runs) | random users ns (single runs) | random − same |"
		echo "|---|---|---|---|---|---|"
		base=$(awk -F, 'NR == 2 { print $2 }' "$ACLCSV")
		while IFS=, read -r rws s s1 rr d; do
			printf '| %s | %s | %s | %s | %s | %s |\n' "$rws" "$(nz "$s")" \
				"$(awk -v a="$s" -v b="$base" 'BEGIN { if (a == "" || b == "" || b == 0) printf "–"; else printf "%.2f", a / b }')" \
				"$(nz "$s1")" "$(nz "$rr")" "$(nz "$d")"
		done < <(tail -n +2 "$ACLCSV")
		echo
	fi
	if has_part conns; then
		echo "### Connections (TCP, sk_msg)"
		echo
		echo "kv-server + kv-client (client on CPU $CPU_CLIENT, server on CPU $CPU_SERVER), \`--conns N --outstanding N\`"
		echo "(one call in flight per connection), GETs for ${CONN_SECS} s after a warm-up of 2000 PUTs (one connection), $CONN_ROUNDS rounds"
		echo "with the setup order alternated. *raw*: no programs; *adn*: build/kv/kv.bpf.o attached by \`adn-load"
		echo "attach --cgroup\`, fault probability 0.05, log drained by \`adnctl log --format binary --follow\`."
		echo "kv-client takes at most $KV_CONNS_MAX connections (rpc/client.c MAX_CONNS), so N above that runs"
		echo "several kv-client processes of 1000 connections each (all on CPU $CPU_CLIENT, started 0.05 s apart);"
		echo "req/s is their sum, p50 the median of theirs, p99 the largest. *established*: server-side connections"
		echo "in ESTABLISHED state, the largest of samples every 0.5 s over the first half of the run (\`ss\`). Runs of"
		echo "several clients last 10 s instead of ${CONN_SECS} s; their req/s is still a sum over windows that do not"
		echo "quite coincide (the clients start 0.05 s apart and connect at different times), so read it as ±10%."
		echo "Descriptors: ${conn_note}see the CSV for every run."
		echo
		echo "| connections | setup | req/s median [min–max] | × raw | p50 µs | p99 µs | established | clients | not OK % |"
		echo "|---|---|---|---|---|---|---|---|---|"
		awk -F, 'NR > 1 && $5 != "" { k = $1 " " $2; n[k]++; v[k, n[k]] = $5; p50[k, n[k]] = $6; p99[k, n[k]] = $7
			est[k] = (est[k] == "" || $9 < est[k]) ? $9 : est[k]; cl[k] = $4; no[k] += $10; tot[k] += $8
			if (!(k in seen)) { seen[k] = 1; ord[++m] = k } }
		function med(arr, k, c,   i, j, x, a) { for (i = 1; i <= c; i++) a[i] = arr[k, i]
			for (i = 2; i <= c; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
			lo = a[1]; hi = a[c]; return (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2 }
		END { for (i = 1; i <= m; i++) { k = ord[i]; split(k, f, " ")
			r = med(v, k, n[k]); l = lo; h = hi; q50 = med(p50, k, n[k]); q99 = med(p99, k, n[k])
			if (f[2] == "raw") base[f[1]] = r
			printf "| %s | %s | %.0f [%.0f–%.0f] | %s | %.1f | %.1f | %s | %s | %.1f |\n", f[1], f[2], r, l, h,
				(f[2] == "raw" ? "1.00" : (base[f[1]] ? sprintf("%.2f", r / base[f[1]]) : "–")), q50, q99, est[k], cl[k],
				tot[k] ? 100 * no[k] / tot[k] : 0 } }' "$CONNCSV"
		echo
		echo "Runs whose clients all failed are left out of the table (see the CSV: empty req/s)."
		echo
	fi
	# the discussion: hand-written, kept in tools/bench/micro-notes.md (not regenerated)
	if [ -f "$root/tools/bench/micro-notes.md" ]; then
		cat "$root/tools/bench/micro-notes.md"
	fi
} >"$MD"

# into docs/benchmarks.md between the markers that report.sh writes (or at
# the end, before the discussion, when an older report has none)
BMD=$OUT/benchmarks.md
if [ -f "$BMD" ]; then
	if grep -q '^<!-- micro.md begin -->$' "$BMD"; then
		awk -v f="$MD" '/^<!-- micro.md begin -->$/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
			/^<!-- micro.md end -->$/ { skip = 0 } !skip' "$BMD" >"$tmp/bmd" && cat "$tmp/bmd" >"$BMD"
	else
		awk -v f="$MD" '/^## Discussion$/ && !done { print "<!-- micro.md begin -->"; while ((getline l < f) > 0) print l
			print "<!-- micro.md end -->"; print ""; done = 1 } { print }
			END { if (!done) { print "<!-- micro.md begin -->"; while ((getline l < f) > 0) print l; print "<!-- micro.md end -->" } }' \
			"$BMD" >"$tmp/bmd" && cat "$tmp/bmd" >"$BMD"
	fi
fi
log "wrote $CSV, $CHAINCSV, $ACLCSV, $CONNCSV, $MD"
