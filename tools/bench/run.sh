#!/usr/bin/env bash
# `make bench`: adn against the raw path, the hand-written eBPF chain and
# HAProxy sidecars (issue 3). Writes docs/benchmarks.md, docs/bench/*.csv
# (raw data, one row per run) and docs/bench/*.svg (gnuplot).
#
# Setups (same client and server code where possible):
#   raw       kv-server + kv-client, adn's RPC library, no chain
#   adn       + build/kv/kv.bpf.o (adnc's output) attached to their cgroup,
#             fault.probability 0.05, log drained by `adnctl log --follow`
#   ref       + build/reference/kv_chain.bpf.o (hand-written), same loader
#   sidecar1  http-load -> HAProxy (log, ACL on x-user, 5% 503) -> http-server
#   sidecar2  http-load -> HAProxy (chain) -> HAProxy (forward) -> http-server
#   udp-raw   kv-server --udp + kv-client --udp (one RPC per datagram), client
#             and server in two network namespaces joined by a veth pair
#   udp-adn   + examples/kv/kv.adn compiled as TRANSPORT UDP and placed as
#             adnc places it (TC egress + ingress of the client's veth),
#             `adn-load attach --dev eth0@NS`, same fault and drainer as adn
#   udp-xdp   + the same chain with acl and fault forced to XDP (generic) on
#             the server's veth (`adnc --place acl=xdp --place fault=xdp`);
#             logging stays at TC on the client (it has a response side)
# Workloads:
#   closed    one client thread, 128 connections x 1 outstanding (128 in flight)
#   unloaded  1 connection, 1 outstanding
#   pipelined 4 connections x 32 outstanding (adn's library only: raw, adn, ref)
#   udp128    UDP setups only: one client thread, one socket, 128 outstanding
#   udp1      UDP setups only: one socket, 1 outstanding
# CPUs: client (and the client-side sidecar) on CPU 0; server, server-side
# sidecar and the log drainer on CPU 1.
#
# Environment: BENCH_ROUNDS (4), BENCH_SECS (6), BENCH_WARM (2),
# BENCH_UDP_SECS (3), BENCH_UDP_WARM (1) (the UDP runs' own, shorter, times),
# BENCH_QUICK=1 (1 round of 2 s, 1 s warm-up, small scaling run),
# BENCH_SETUPS, BENCH_WORKLOADS (space-separated subsets), BENCH_SCALING=0
# to skip the ACL-size runs, BENCH_XDP_NATIVE=1 (udp-xdp in native XDP mode
# instead of generic), BENCH_OUT (docs/ by default; give a scratch directory
# for trial runs, docs/benchmarks.md is then left alone), BENCH_PERF=DIR
# (tools/bench/profile.sh: a system-wide `perf record` at BENCH_PERF_FREQ Hz
# during each measured run, DIR/SETUP-WORKLOAD-rROUND.{data,json}; perf's
# own cost lowers the figures of such a run).
set -euo pipefail

LOG_FORMAT=${BENCH_LOG_FORMAT:-binary}
# log_mark FILE: a position in a log file (lines for JSON, bytes for binary)
log_mark() {
	case $1 in
	*.binary) stat -c %s "$1" ;;
	*) wc -l <"$1" ;;
	esac
}
# log_records_since FILE MARK: records written after MARK. Binary: the records
# that start at byte MARK or later, found by walking the record headers
# (tools/bench/log_count.c; decoding them all with adnctl log-decode took
# ~20 s per pipelined run)
log_records_since() {
	case $1 in
	*.binary) "$B/log-count" "$1" "$2" ;;
	*) echo $(($(wc -l <"$1") - $2)) ;;
	esac
}

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cmdline="$0${*:+ $*}"
quick=${BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then
	ROUNDS=${BENCH_ROUNDS:-1} SECS=${BENCH_SECS:-2} WARM=${BENCH_WARM:-1}
	UDP_SECS=${BENCH_UDP_SECS:-2} UDP_WARM=${BENCH_UDP_WARM:-1}
	ACL_SIZES=${BENCH_ACL_SIZES:-"1 1000"}
else
	# 4 rounds keep `make bench` (with micro.sh) under 15 minutes on 2 cores
	ROUNDS=${BENCH_ROUNDS:-4} SECS=${BENCH_SECS:-6} WARM=${BENCH_WARM:-2}
	# the UDP runs are shorter, so that they fit into the same 15 minutes
	UDP_SECS=${BENCH_UDP_SECS:-3} UDP_WARM=${BENCH_UDP_WARM:-1}
	ACL_SIZES=${BENCH_ACL_SIZES:-"1 1000 100000 1000000"}
fi
SETUPS=${BENCH_SETUPS:-"raw adn ref sidecar1 sidecar2 udp-raw udp-adn udp-xdp"}
WORKLOADS=${BENCH_WORKLOADS:-"closed unloaded pipelined udp128 udp1"}
XDP_NATIVE=${BENCH_XDP_NATIVE:-0}
SCALING=${BENCH_SCALING:-1}
OUT=${BENCH_OUT:-$root/docs}
PERF_DIR=${BENCH_PERF:-}
PERF_FREQ=${BENCH_PERF_FREQ:-1999}
CPU_CLIENT=0
CPU_SERVER=1
FAULT_P=0.05

# Ports (1708x, loopback only)
P_RAW=17080 P_ADN=17081 P_REF=17082 P_HTTP=17083 P_SC1=17084 P_SC2C=17085 P_SC2S=17086
P_SCALE=17087
P_UDP=17088 # inside the UDP setups' own namespaces

die() { echo "bench: $*" >&2; exit 1; }
log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }

[ "$(id -u)" -eq 0 ] || die "needs root (eBPF programs, cgroups)"
for t in haproxy gnuplot bpftool jq taskset cc ip nsenter; do
	command -v $t >/dev/null || die "$t missing (make bench installs it: ADN_BENCH=1 scripts/install-deps.sh)"
done
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 CPUs; pinning puts everything on CPU 0"
[ "$(nproc)" -ge 2 ] || CPU_SERVER=0

grep -q ' /sys/fs/bpf bpf ' /proc/mounts || mount -t bpf bpf /sys/fs/bpf
cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cgroot" ] || die "no cgroup2 mount in /proc/mounts"

tmp=$(mktemp -d /tmp/adn-bench.XXXXXX)
cgbase=$cgroot/adn-bench-$$
pids=()
chains=()
netns=()

cleanup() {
	local rc=$? p d
	trap - EXIT INT TERM HUP
	trap '' PIPE # stderr may be a closed pipe (run.sh | head): keep cleaning up
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	# detach removes the chains' TC filters, clsact qdiscs, XDP programs and pins
	for d in "${chains[@]}"; do "$tmp/bin/adn-load" detach "$d" >/dev/null 2>&1 || true; done
	# deleting a namespace deletes its end of the veth pair, and so the pair
	for d in "${netns[@]}"; do ip netns del "$d" 2>/dev/null || true; done
	if [ -d "$cgbase" ]; then
		# leaves first, then their parents
		find "$cgbase" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	fi
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
# a signal ends the run through the EXIT trap; SIGPIPE too (run.sh 2>&1 | head
# would otherwise kill it with namespaces, chains and cgroups left behind)
trap 'exit 130' INT TERM HUP
trap 'exit 141' PIPE

# --- binaries: a private copy, so a concurrent rebuild cannot change them mid-run
mkdir -p "$tmp/bin" "$root/build/bench"
for b in adn-load adnctl adnc kv-server kv-client; do
	[ -x build/bin/$b ] || die "build/bin/$b missing: run make all"
	cp build/bin/$b "$tmp/bin/"
done
[ -f build/kv/kv.bpf.o ] || die "build/kv/kv.bpf.o missing: run make all"
[ -f build/reference/kv_chain.bpf.o ] || die "build/reference/kv_chain.bpf.o missing"
cp build/kv/kv.bpf.o "$tmp/gen.bpf.o"
cp build/reference/kv_chain.bpf.o "$tmp/ref.bpf.o"
# adnctl log finds the record struct in the object's BTF. If the hand-written
# object lacks it (a struct used only by inlined code does not reach BTF),
# build a copy with the same anchor adnc generates; the programs are unchanged.
ref_note=""
if ! bpftool btf dump file "$tmp/ref.bpf.o" | grep -q "STRUCT 'adn_rec__logging__log'"; then
	awk '{ print } /^} logging__log SEC\(".maps"\);/ {
		print "static const struct adn_rec__logging__log *const adn_btf__logging__log"
		print "\t__attribute__((section(\".adn.btf\"), used)) = 0;" }' \
		bpf/reference/kv_chain.bpf.c >"$tmp/kv_chain.bpf.c"
	grep -q adn_btf__logging__log "$tmp/kv_chain.bpf.c" || die "cannot anchor the reference log record in BTF"
	clang -O2 -g -target bpf -Wall -Ibpf -Iheaders -I/usr/include/$(uname -m)-linux-gnu \
		-c "$tmp/kv_chain.bpf.c" -o "$tmp/ref.bpf.o" || die "cannot build the anchored reference object"
	ref_note="build/reference/kv_chain.bpf.o has no BTF for its log record, so adnctl log cannot read its ring buffer; (c) runs a copy of bpf/reference/kv_chain.bpf.c rebuilt with the BTF anchor that adnc generates (one unused pointer in section .adn.btf; programs unchanged)."
	log "note: $ref_note"
fi
for p in http_load http_server log_count; do
	cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Itools tools/bench/$p.c -lm -o "build/bench/${p/_/-}"
	cp "build/bench/${p/_/-}" "$tmp/bin/"
done
B=$tmp/bin

# --- cgroups: one subtree per setup, a leaf per process (CPU from cpu.stat)
mkdir "$cgbase"
for s in raw adn ref sidecar1 sidecar2 scale udp-raw udp-adn udp-xdp; do
	mkdir "$cgbase/$s"
	for l in client server proxy1 proxy2 drain; do mkdir "$cgbase/$s/$l"; done
done

# run_in CG CPU OUTFILE CMD... : background, pinned, inside CG. Sets LAST_PID.
run_in() {
	local cg=$1 cpu=$2 out=$3
	shift 3
	taskset -c "$cpu" sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@" >"$out" 2>&1 &
	LAST_PID=$!
	pids+=("$LAST_PID")
}
# run_fg CG CPU CMD... : foreground, pinned, inside CG; stdout is the command's.
run_fg() {
	local cg=$1 cpu=$2
	shift 2
	timeout $((SECS + WARM + 60)) taskset -c "$cpu" sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"
}
stop_pid() {
	local p=$1 q keep=()
	kill -TERM "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	for q in "${pids[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
	pids=("${keep[@]}")
}
wait_port() { # PORT : until something listens on 127.0.0.1:PORT
	local i
	for ((i = 0; i < 100; i++)); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.05
	done
	die "nothing listens on port $1"
}
wait_udp_port() { # NETNS PORT : until a UDP socket is bound to PORT in NETNS
	local i
	for ((i = 0; i < 100; i++)); do
		nsenter --net="/run/netns/$1" -- ss -Hlun "sport = :$2" | grep -q . && return 0
		sleep 0.05
	done
	die "nothing listens on UDP port $2 in namespace $1"
}
cg_usec() { awk '$1 == "usage_usec" { print $2 }' "$1/cpu.stat"; }
# system-wide jiffies: busy softirq system user (all CPUs)
sys_jiffies() { awk '$1 == "cpu" { print $2+$3+$4+$7+$8+$9, $8, $4+$7, $2+$3 }' /proc/stat; }
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
stat_of() { # CHAIN COUNTER
	"$B/adn-load" status "$1" --json | jq -r --arg n "$2" '.stats[$n] // 0'
}
HZ=$(getconf CLK_TCK)

# --- chains: attached once for the whole run
attach() { # NAME OBJ PORT CG
	"$B/adn-load" attach --cgroup "$4" --port "$3" --name "$1" "$2" >/dev/null ||
		die "adn-load attach $1 failed"
	chains+=("$1")
	"$B/adnctl" param "$1" fault.probability $FAULT_P >/dev/null
}
for s in $SETUPS; do
	case $s in
	adn) attach adnbench-gen "$tmp/gen.bpf.o" $P_ADN "$cgbase/adn" ;;
	ref) attach adnbench-ref "$tmp/ref.bpf.o" $P_REF "$cgbase/ref" ;;
	esac
done

# --- UDP: one pair of network namespaces per setup, joined by a veth pair
# (eth0 in both), so that a chain on one pair's devices never sees another
# setup's datagrams. Setup i: client 10.79.i.1 in adnb<pid>-<setup>-c, server
# 10.79.i.2 in adnb<pid>-<setup>-s.
udp_ns_c() { echo "adnb$$-$1-c"; }
udp_ns_s() { echo "adnb$$-$1-s"; }
udp_net() {
	case $1 in
	udp-raw) echo 1 ;;
	udp-adn) echo 2 ;;
	udp-xdp) echo 3 ;;
	esac
}
udp_topology() { # SETUP
	local c s n
	c=$(udp_ns_c "$1") s=$(udp_ns_s "$1") n=$(udp_net "$1")
	ip netns add "$c" || die "cannot create network namespace $c"
	netns+=("$c")
	ip netns add "$s" || die "cannot create network namespace $s"
	netns+=("$s")
	ip link add eth0 netns "$c" type veth peer name eth0 netns "$s" ||
		die "cannot create the veth pair of $1"
	ip -n "$c" addr add "10.79.$n.1/24" dev eth0
	ip -n "$s" addr add "10.79.$n.2/24" dev eth0
	for ns in "$c" "$s"; do
		ip -n "$ns" link set lo up
		ip -n "$ns" link set eth0 up
	done
}
# the paper's chain with TRANSPORT UDP (one RPC per datagram)
udp_place_tc="" udp_place_xdp=""
udp_adnc() { # OUTDIR EXPLAIN ADNC-OPTIONS...
	local out=$1 ex=$2
	shift 2
	ADN_BPF_INCLUDE=$root/bpf ADN_HEADERS_INCLUDE=$root/headers "$B/adnc" "$tmp/kvu.adn" \
		-o "$out" --explain "$@" >"$ex" || die "adnc of the UDP chain ($*) failed: $(cat "$ex")"
	# "logging@tc acl@tc fault@tc": the placement lines of --explain
	awk '$2 == "at" && $3 ~ /^(tc|xdp|sk_msg|app)$/ { printf "%s%s@%s", n++ ? " " : "", $1, $3 }' "$ex"
}
# (only when a UDP workload runs)
udp_any=0
case " $WORKLOADS " in *" udp128 "* | *" udp1 "*)
	for s in $SETUPS; do case $s in udp-*) udp_any=1 ;; esac; done ;;
esac
if [ "$udp_any" = 1 ]; then
	sed 's/^CREATE SERVICE kv PORT 7070 (/CREATE SERVICE kv PORT 7070 TRANSPORT UDP (/' \
		examples/kv/kv.adn >"$tmp/kvu.adn"
	grep -q 'TRANSPORT UDP' "$tmp/kvu.adn" || die "cannot make the UDP variant of kv.adn"
fi
for s in $SETUPS; do
	[ "$udp_any" = 1 ] || break
	case $s in
	udp-*) udp_topology "$s" ;;
	esac
	case $s in
	udp-adn)
		# as adnc places it (no --place): the cost model's choice
		udp_place_tc=$(udp_adnc "$tmp/udp-tc/" "$tmp/udp-tc.explain")
		"$B/adn-load" attach --dev "eth0@$(udp_ns_c $s)" --port $P_UDP --name adnbench-udp \
			"$tmp/udp-tc/kv.bpf.o" >/dev/null || die "adn-load attach adnbench-udp failed"
		chains+=(adnbench-udp)
		"$B/adnctl" param adnbench-udp fault.probability $FAULT_P >/dev/null
		log "udp-adn: adnc placed $udp_place_tc; attached to eth0@$(udp_ns_c $s)"
		;;
	udp-xdp)
		udp_place_xdp=$(udp_adnc "$tmp/udp-xdp/" "$tmp/udp-xdp.explain" --place acl=xdp --place fault=xdp)
		xn=()
		[ "$XDP_NATIVE" = 1 ] && xn=(--xdp-native)
		"$B/adn-load" attach --dev "tc:eth0@$(udp_ns_c $s)" --dev "xdp:eth0@$(udp_ns_s $s)" \
			"${xn[@]}" --port $P_UDP --name adnbench-udpx "$tmp/udp-xdp/kv.bpf.o" >/dev/null ||
			die "adn-load attach adnbench-udpx failed"
		chains+=(adnbench-udpx)
		"$B/adnctl" param adnbench-udpx fault.probability $FAULT_P >/dev/null
		log "udp-xdp: adnc placed $udp_place_xdp; attached to eth0@$(udp_ns_c $s) (TC) and eth0@$(udp_ns_s $s) (XDP $([ "$XDP_NATIVE" = 1 ] && echo native || echo generic))"
		;;
	esac
done

# --- HAProxy configs
printf 'alice W\nbob R\n' >"$tmp/acl.map"
hap_cfg() { # TEMPLATE FRONT BACK OUT
	sed -e "s|@FRONT@|$2|" -e "s|@BACK@|$3|" -e "s|@ACL_MAP@|$tmp/acl.map|" \
		"tools/bench/haproxy/$1.cfg" >"$4"
	haproxy -q -c -f "$4" >/dev/null || die "bad haproxy config $4"
}
hap_cfg one-sidecar $P_SC1 $P_HTTP "$tmp/sc1.cfg"
hap_cfg one-sidecar $P_SC2C $P_SC2S "$tmp/sc2-client.cfg"
hap_cfg forward $P_SC2S $P_HTTP "$tmp/sc2-server.cfg"

# --- the machine
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
ncpu=$(nproc)
kernel=$(uname -r)
today=$(date -u +%Y-%m-%dT%H:%M:%SZ)
hap_ver=$(haproxy -v | awk 'NR == 1 { print $3 }')

mkdir -p "$OUT/bench"
CSV=$OUT/bench/runs.csv
echo "round,workload,setup,rps,p50_us,p99_us,p999_us,completed,ok,not_ok,net_replies,seconds,cpu_client_us,cpu_server_us,cpu_proxy1_us,cpu_proxy2_us,cpu_drain_us,sys_busy_us,sys_softirq_us,sys_kernel_us,sys_user_us,rss_server_kb,rss_proxy1_kb,rss_proxy2_kb,rss_drain_kb,log_records,log_lost,cpu_others_us,lost,retransmits" >"$CSV"

wl_shape() { # WORKLOAD -> "conns outstanding"
	case $1 in
	closed) echo "128 128" ;;
	unloaded) echo "1 1" ;;
	pipelined) echo "4 128" ;;
	udp128) echo "1 128" ;;
	udp1) echo "1 1" ;;
	esac
}
setup_kind() { # SETUP -> kv | http | udp
	case $1 in
	raw | adn | ref) echo kv ;;
	sidecar1 | sidecar2) echo http ;;
	udp-*) echo udp ;;
	esac
}
runs_in() { # WORKLOAD SETUP : whether SETUP has a run of WORKLOAD
	case $1/$(setup_kind "$2") in
	closed/kv | closed/http | unloaded/kv | unloaded/http | pipelined/kv | udp128/udp | udp1/udp) return 0 ;;
	esac
	return 1
}

# run_one ROUND WORKLOAD SETUP : one measured run, appends a CSV row.
run_one() {
	local round=$1 wl=$2 s=$3 cg=$cgbase/$3 conns outst port kind chain="" f
	read -r conns outst <<<"$(wl_shape "$wl")"
	local spid="" p1="" p2="" dpid="" logf="" json secs=$SECS warm=$WARM
	# UDP: client and server each in its namespace; kv-client --udp
	local host=127.0.0.1 cns=() sns=() udp=() t_run=$SECONDS
	runs_in "$wl" "$s" || return 0
	case $s in
	raw) port=$P_RAW kind=kv ;;
	adn) port=$P_ADN kind=kv chain=adnbench-gen ;;
	ref) port=$P_REF kind=kv chain=adnbench-ref ;;
	sidecar1) port=$P_SC1 kind=http ;;
	sidecar2) port=$P_SC2C kind=http ;;
	udp-raw) port=$P_UDP kind=udp ;;
	udp-adn) port=$P_UDP kind=udp chain=adnbench-udp ;;
	udp-xdp) port=$P_UDP kind=udp chain=adnbench-udpx ;;
	esac
	if [ "$kind" = udp ]; then
		host=10.79.$(udp_net "$s").2 secs=$UDP_SECS warm=$UDP_WARM udp=(--udp)
		cns=(nsenter --net="/run/netns/$(udp_ns_c "$s")" --)
		sns=(nsenter --net="/run/netns/$(udp_ns_s "$s")" --)
	fi

	# servers, proxies, drainer
	if [ "$kind" = kv ] || [ "$kind" = udp ]; then
		run_in "$cg/server" $CPU_SERVER "$tmp/server.out" "${sns[@]}" "$B/kv-server" "${udp[@]}" \
			--listen $host --port $port
		spid=$LAST_PID
		if [ "$kind" = udp ]; then wait_udp_port "$(udp_ns_s "$s")" $port; else wait_port $port; fi
		if [ -n "$chain" ]; then
			# binary by default: the records as the programs wrote them,
			# decoded after the run (BENCH_LOG_FORMAT=json for JSON lines)
			logf=$tmp/log.$LOG_FORMAT
			: >"$logf"
			run_in "$cg/drain" $CPU_SERVER "$tmp/drain.out" "$B/adnctl" log $chain -o "$logf" \
				--format $LOG_FORMAT --follow
			dpid=$LAST_PID
		fi
	else
		run_in "$cg/server" $CPU_SERVER "$tmp/server.out" "$B/http-server" --listen 127.0.0.1 --port $P_HTTP
		spid=$LAST_PID
		wait_port $P_HTTP
		logf=$tmp/haproxy.log
		if [ $s = sidecar1 ]; then
			run_in "$cg/proxy1" $CPU_SERVER "$logf" haproxy -f "$tmp/sc1.cfg"
			p1=$LAST_PID
			wait_port $P_SC1
		else
			run_in "$cg/proxy2" $CPU_SERVER "$tmp/haproxy2.log" haproxy -f "$tmp/sc2-server.cfg"
			p2=$LAST_PID
			wait_port $P_SC2S
			run_in "$cg/proxy1" $CPU_CLIENT "$logf" haproxy -f "$tmp/sc2-client.cfg"
			p1=$LAST_PID
			wait_port $P_SC2C
		fi
	fi

	# warm-up (kv: PUTs fill keys k0..k999 with 32-byte values; then GETs return them;
	# UDP: also resolves the neighbour, whose queue holds only a few datagrams)
	if [ "$kind" = kv ] || [ "$kind" = udp ]; then
		run_fg "$cg/client" $CPU_CLIENT "${cns[@]}" "$B/kv-client" "${udp[@]}" --host $host --port $port \
			--user alice --duration $warm --conns $conns --outstanding $outst --method put \
			--value-size 32 --json >"$tmp/warm.json" ||
			{ [ "$kind" = udp ] && jq -e '.ok > 0' "$tmp/warm.json" >/dev/null; } ||
			die "warm-up of $s/$wl failed: $(cat "$tmp/warm.json")"
	else
		run_fg "$cg/client" $CPU_CLIENT "$B/http-load" --host 127.0.0.1 --port $port --user alice \
			--duration $WARM --conns $conns --outstanding $outst --json >/dev/null ||
			die "warm-up of $s/$wl failed"
	fi

	# counters before
	local c0=() l0=0 lost0=0 j0 j1 c1=() l1=0 lost1=0 leaf
	for leaf in client server proxy1 proxy2 drain; do c0+=("$(cg_usec "$cg/$leaf")"); done
	j0=$(sys_jiffies)
	local all0 mine0 all1 mine1
	all0=$(cg_usec "$cgroot") mine0=$(cg_usec "$cgbase")
	[ -n "$logf" ] && l0=$(log_mark "$logf")
	[ -n "$chain" ] && lost0=$(stat_of $chain log_lost)
	local perfpid="" perfbase=$PERF_DIR/$s-$wl-r$round
	if [ -n "$PERF_DIR" ]; then
		perf record -q -a -F "$PERF_FREQ" -o "$perfbase.data" -- sleep "$secs" >/dev/null 2>&1 &
		perfpid=$!
	fi

	if [ "$kind" = kv ]; then
		json=$(run_fg "$cg/client" $CPU_CLIENT "$B/kv-client" --host 127.0.0.1 --port $port \
			--user alice --duration $SECS --conns $conns --outstanding $outst --method get \
			--json) || die "kv-client $s/$wl failed: $json"
	elif [ "$kind" = udp ]; then
		# exit 2 with a summary: some calls got no reply after every retry;
		# they count (UNAVAILABLE) and the CSV's lost column says how many;
		# retransmits is the library's count of requests sent again
		json=$(run_fg "$cg/client" $CPU_CLIENT "${cns[@]}" "$B/kv-client" --udp --host $host \
			--port $port --user alice --duration $secs --outstanding $outst --method get \
			--json) || jq -e '.ok > 0' <<<"$json" >/dev/null 2>&1 || die "kv-client $s/$wl failed: $json"
	else
		json=$(run_fg "$cg/client" $CPU_CLIENT "$B/http-load" --host 127.0.0.1 --port $port \
			--user alice --duration $SECS --conns $conns --outstanding $outst --json) ||
			die "http-load $s/$wl failed: $json"
	fi

	if [ -n "$perfpid" ]; then
		wait $perfpid || die "perf record failed for $s/$wl"
		echo "$json" >"$perfbase.json"
	fi

	# counters after
	j1=$(sys_jiffies)
	all1=$(cg_usec "$cgroot") mine1=$(cg_usec "$cgbase")
	for leaf in client server proxy1 proxy2 drain; do c1+=("$(cg_usec "$cg/$leaf")"); done
	local rss_s rss_1=0 rss_2=0 rss_d=0
	rss_s=$(rss_kb $spid)
	[ -n "$p1" ] && rss_1=$(rss_kb $p1)
	[ -n "$p2" ] && rss_2=$(rss_kb $p2)
	[ -n "$dpid" ] && rss_d=$(rss_kb $dpid)
	[ -n "$chain" ] && lost1=$(stat_of $chain log_lost)
	[ -n "$dpid" ] && stop_pid $dpid # drains once more at SIGTERM
	[ -n "$logf" ] && l1=$((l0 + $(log_records_since "$logf" "$l0")))
	for f in $p1 $p2 $spid; do stop_pid $f; done

	local d=() i
	for i in 0 1 2 3 4; do d+=($((c1[i] - c0[i]))); done
	local row
	row=$(jq -r --argjson r "$round" --arg wl "$wl" --arg s "$s" '
		[$r, $wl, $s, .rps, .p50_us, .p99_us, .p999_us,
		 ((.rps * .seconds) | round), .ok, ((.rps * .seconds | round) - .ok), .net_replies,
		 .seconds] | @csv' <<<"$json" | tr -d '"')
	read -r jb0 js0 jk0 ju0 <<<"$j0"
	read -r jb1 js1 jk1 ju1 <<<"$j1"
	local us=$((1000000 / HZ))
	echo "$row,${d[0]},${d[1]},${d[2]},${d[3]},${d[4]},$(((jb1 - jb0) * us)),$(((js1 - js0) * us)),$(((jk1 - jk0) * us)),$(((ju1 - ju0) * us)),$rss_s,$rss_1,$rss_2,$rss_d,$((l1 - l0)),$((lost1 - lost0)),$(((all1 - all0) - (mine1 - mine0))),$(jq -r '[.lost // 0, .retransmits // ""] | @csv' <<<"$json" | tr -d '"')" >>"$CSV"
	log "round $round $wl $s: $(jq -c '{rps, p50_us, p99_us, ok, net_replies}' <<<"$json") ($((SECONDS - t_run)) s)"
	rm -f "$tmp"/*.log "$tmp"/*.jsonl "$tmp"/*.out
}

# --- main loop: rounds x workloads x setups; each workload's setups run in
# an order rotated by one every round
t_start=$(date +%s)
log "$ROUNDS rounds x ($WORKLOADS) x ($SETUPS), ${SECS}s each after ${WARM}s warm-up (UDP: ${UDP_SECS}s after ${UDP_WARM}s)"
for ((r = 1; r <= ROUNDS; r++)); do
	for wl in $WORKLOADS; do
		setups=()
		for s in $SETUPS; do runs_in "$wl" "$s" && setups+=("$s"); done
		n=${#setups[@]}
		for ((k = 0; k < n; k++)); do
			run_one $r $wl "${setups[$(((k + r - 1) % n))]}"
		done
	done
done
t_main=$(date +%s)
log "main runs took $((t_main - t_start)) s"

# --- instructions per program (generated vs hand-written)
INSN=$OUT/bench/programs.csv
echo "object,program,type,xlated_insns,xlated_bytes,jited_bytes" >"$INSN"
for c in adnbench-gen adnbench-ref adnbench-udp adnbench-udpx; do
	[ -d /sys/fs/bpf/adn/$c ] || continue
	case $c in
	adnbench-gen) obj="generated (build/kv/kv.bpf.o)" ;;
	adnbench-ref) obj="hand-written (build/reference/kv_chain.bpf.o)" ;;
	adnbench-udp) obj="generated UDP as placed ($udp_place_tc)" ;;
	adnbench-udpx) obj="generated UDP forced ($udp_place_xdp)" ;;
	esac
	# every pinned program: prog_msg may be a dispatcher that tail-calls prog_chain
	for pp in /sys/fs/bpf/adn/$c/prog_*; do
		p=${pp##*/}
		# a UDP chain also loads the socket programs, but attaches only these
		case $c/$p in adnbench-udp*/prog_tc | adnbench-udp*/prog_xdp | adnbench-gen/* | adnbench-ref/*) ;; *) continue ;; esac
		info=$(bpftool -j prog show pinned "$pp")
		ni=$(bpftool prog dump xlated pinned "$pp" | grep -cE '^ *[0-9]+:')
		echo "$obj,$p,$(jq -r '.type' <<<"$info"),$ni,$(jq -r '.bytes_xlated' <<<"$info"),$(jq -r '.bytes_jited' <<<"$info")" >>"$INSN"
	done
done

# --- scaling: ACL table size (a copy of kv.adn whose ACL holds 1M rows)
SCALE=$OUT/bench/acl_scaling.csv
echo "rows,round,rps,p50_us,p99_us,completed,load_seconds" >"$SCALE"
if [ "$SCALING" = 1 ]; then
	sed 's/CAPACITY 1024;/CAPACITY 1048576;/' examples/kv/kv.adn >"$tmp/kvbig.adn"
	grep -q 'CAPACITY 1048576' "$tmp/kvbig.adn" || die "cannot enlarge the ACL of kv.adn"
	ADN_BPF_INCLUDE=$root/bpf ADN_HEADERS_INCLUDE=$root/headers "$B/adnc" "$tmp/kvbig.adn" -o "$tmp/kvbig/" >/dev/null || die "adnc of the big-ACL chain failed"
	cg=$cgbase/scale
	attach adnbench-acl "$tmp/kvbig/kv.bpf.o" $P_SCALE "$cg"
	pin=/sys/fs/bpf/adn/adnbench-acl/acl/ac_tab
	# start from alice alone: the chain's initial rows are alice (W) and bob (R)
	"$B/adnctl" table adnbench-acl acl.ac_tab delete username=bob >/dev/null ||
		die "cannot delete bob from the ACL"
	have=1
	for rows in $ACL_SIZES; do
		# grow the table to $rows rows (alice is always one of them) with bpftool batch
		t0=$(date +%s.%N)
		if [ "$rows" -gt "$have" ]; then
			awk -v from="$have" -v to="$rows" -v pin="$pin" 'BEGIN {
				# usernames u00000000000002 ... (15 bytes + NUL), permission "W"
				for (i = from; i < to; i++) {
					s = sprintf("u%014d", i); k = " 0x75"
					for (j = 2; j <= 15; j++) k = k sprintf(" 0x%02x", 48 + substr(s, j, 1))
					printf "map update pinned %s key%s 0x00 value 0x57 0x00\n", pin, k
				}
			}' >"$tmp/batch.txt"
			bpftool batch file "$tmp/batch.txt" >/dev/null || die "bpftool batch failed at $rows rows"
			have=$rows
		fi
		t1=$(date +%s.%N)
		entries=$("$B/adn-load" status adnbench-acl --json | jq -r '.maps[] | select(.pin == "acl/ac_tab") | .entries')
		log "ACL now $entries rows (wanted $rows)"
		run_in "$cg/server" $CPU_SERVER "$tmp/server.out" "$B/kv-server" --listen 127.0.0.1 --port $P_SCALE
		spid=$LAST_PID
		wait_port $P_SCALE
		run_in "$cg/drain" $CPU_SERVER "$tmp/drain.out" "$B/adnctl" log adnbench-acl -o /dev/null --follow
		dpid=$LAST_PID
		run_fg "$cg/client" $CPU_CLIENT "$B/kv-client" --port $P_SCALE --duration $WARM --conns 128 \
			--outstanding 128 --method put --json >/dev/null
		for ((r = 1; r <= (ROUNDS < 3 ? ROUNDS : 3); r++)); do
			json=$(run_fg "$cg/client" $CPU_CLIENT "$B/kv-client" --port $P_SCALE --duration $SECS \
				--conns 128 --outstanding 128 --method get --json)
			echo "$entries,$r,$(jq -r '[.rps, .p50_us, .p99_us, ((.rps*.seconds)|round)] | @csv' <<<"$json"),$(echo "$t1 - $t0" | bc)" >>"$SCALE"
			log "acl $entries rows round $r: $(jq -c '{rps, p50_us, p99_us}' <<<"$json")"
		done
		stop_pid $dpid
		stop_pid $spid
	done
fi
t_end=$(date +%s)

# --- report
BENCH_TMP=$tmp BENCH_UDP_SECS=$UDP_SECS BENCH_UDP_WARM=$UDP_WARM \
	BENCH_UDP_PLACED="$udp_place_tc" BENCH_UDP_FORCED="$udp_place_xdp" \
	BENCH_UDP_XDP_MODE=$([ "$XDP_NATIVE" = 1 ] && echo native || echo generic) tools/bench/report.sh "$CSV" "$INSN" "$SCALE" "$OUT" \
	"$cpu_model" "$ncpu" "$kernel" "$today" "$cmdline" "$ROUNDS" "$SECS" "$WARM" \
	"$hap_ver" "$((t_end - t_start))" "$ref_note"
log "wrote $OUT/benchmarks.md, $OUT/bench/*.csv, $OUT/bench/*.svg"
