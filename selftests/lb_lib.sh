# Helpers of the load-balancing tests (test_lb_*.sh, test_s2.sh, the
# routing elements' test_elem_*.sh): a kv service over a replica set in
# network namespaces. Source after lib.sh and netns.sh.

# lb_require [TOOL...] : root and bpffs (lib.sh); nsenter and each TOOL on
# PATH, else the test is skipped (exit 77).
lb_require() {
	local t
	require_root
	ensure_bpffs
	for t in nsenter "$@"; do
		command -v "$t" >/dev/null || { echo "SKIP: needs $t"; exit 77; }
	done
}

# lb_setup N TAG CHAIN OBJ [dev] : the client's and N servers' namespaces
# (netns_topology), cgroups CG_C (TAG-client) and CG_S (TAG-servers), and
# OBJ attached as CHAIN on $PORT at CG_C (dev: at TC of the client's
# device); detached at exit.
lb_setup() {
	local n=$1 tag=$2 chain=$3 obj=$4 at
	netns_topology "$n"
	make_cgroup CG_C "$tag-client"
	make_cgroup CG_S "$tag-servers"
	at=(--cgroup "$CG_C")
	[ "${5:-}" = dev ] && at=(--dev "$DEV@$NS_C")
	"$ADN_LOAD" attach "${at[@]}" --port "$PORT" --name "$chain" "$obj" ||
		fail "adn-load attach${5:+ --dev}"
	on_exit "'$ADN_LOAD' detach '$chain'"
}

# replica_mac I : the MAC address of replica I's device.
replica_mac() { ip -n "${NS_S[$1]}" link show "$DEV" | awk '/link\/ether/ {print $2}'; }

# LB_IPV6=1 (after netns_ipv6, netns.sh): the replicas listen on, and the
# helpers below name them by, IP6_S[I] instead of IP_S[I].
LB_IPV6=${LB_IPV6:-0}

# lb_ip I : replica I's address. lb_addr I : its ADDR:PORT for adnctl
# replica ($PORT; IPv6 in brackets).
lb_ip() { if [ "$LB_IPV6" = 1 ]; then echo "${IP6_S[$1]}"; else echo "${IP_S[$1]}"; fi; }
lb_addr() { if [ "$LB_IPV6" = 1 ]; then echo "[${IP6_S[$1]}]:$PORT"; else echo "${IP_S[$1]}:$PORT"; fi; }

# lb_add_replicas CHAIN ELEMENT N [mac] : adnctl replica add of replicas
# 1..N (lb_addr) to ELEMENT's replica set (mac: with each one's MAC).
lb_add_replicas() {
	local chain=$1 element=$2 n=$3 i
	for ((i = 1; i <= n; i++)); do
		"$ADNCTL" replica "$chain" "$element" add "$(lb_addr "$i")" \
			${4:+"mac=$(replica_mac "$i")"} || fail "adnctl replica add $i"
	done
}

# lb_kv LIST ARGS... : kv-client --replicas LIST --port $PORT --json
# $KV_LAYOUT_ARG ARGS in the client's cgroup and namespace, 60 s at most;
# prints its JSON.
lb_kv() {
	local list=$1
	shift
	timeout 60 sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG_C" \
		nsenter --net="/run/netns/$NS_C" -- \
		"$KV_CLIENT" --replicas "$list" --port "$PORT" --json ${KV_LAYOUT_ARG:-} "$@"
}

# lb_remove_under_load CHAIN STEP MIN ARGS... : replica 3 leaves the shard
# element's set while a kv-client over $REPLICAS (ARGS added: --udp,
# --layout, --outstanding; user alice, keys b*) runs until stopped: the
# removal once STEP of its calls were routed, the stop (SIGINT: no new
# calls, the outstanding ones complete, then its report) once STEP more
# were (wait_stat: however slow the machine). Every call must end OK, and
# more than MIN of them.
lb_remove_under_load() {
	local chain=$1 step=$2 min=$3 r pid out sent
	shift 3
	r=$(chain_stat "$chain" routed)
	start_bg client-b "$CG_C" nsenter --net="/run/netns/$NS_C" -- "$KV_CLIENT" \
		--replicas "$REPLICAS" --port "$PORT" --json "$@" --user alice --duration 300 --key-prefix b
	pid=$BG_PID
	wait_stat "$chain" routed $((r + step)) "$pid"
	"$ADNCTL" replica "$chain" shard remove "$(lb_addr 3)" || fail "adnctl replica remove"
	wait_stat "$chain" routed $(($(chain_stat "$chain" routed) + step)) "$pid"
	kill -INT "$pid"
	wait "$pid" || fail "client during removal: $(cat "$TEST_TMP/client-b.out")"
	out=$(grep "^{" "$TEST_TMP/client-b.out")
	sent=$(jq -r .sent <<<"$out")
	[ "$sent" -gt "$min" ] || fail "too few calls during removal: $out"
	expect_eq "removal under load: every call ok" "$sent" "$(status_count "$out" ok)"
}

# lb_check_owners N_A N_C : stops replicas 1..3 and checks what they
# handled: mallory never reached a handler, replica 3 (removed before keys
# c* were sent) took none of them, the N_A requests for keys a* went to
# replica hash(key) % 3, the N_C for keys c* to hash(key) % 2.
lb_check_owners() {
	local i n s1 s2 s3
	for i in 1 2 3; do
		stop_replica $i
		expect_eq "replica $i: mallory never reached a handler" 0 "$(handled_on $i mallory)"
	done
	expect_eq "replica 3: nothing after removal (prefix c)" 0 "$(key_handled 3 c)"
	s1=$(replica_stats 1) s2=$(replica_stats 2) s3=$(replica_stats 3)
	n=$(owner_check "3 replicas" a 3 "$s1" "$s2" "$s3") || fail "3 replicas: a request on the wrong replica"
	expect_eq "3 replicas: requests that reached their owners" "$1" "$n"
	n=$(owner_check "2 replicas" c 2 "$s1" "$s2") || fail "2 replicas: a request on the wrong replica"
	expect_eq "2 replicas: requests that reached their owners" "$2" "$n"
}

# owner_check LABEL PREFIX N FILE... : every key PREFIX* that the kv-servers
# whose stats files are given (in replica order) handled was handled by
# replica hash(key) % N (the language's hash() of a CHAR(32), as
# bpf/adn_hash.h defines it); prints the number of such requests.
owner_check() {
	local label=$1 prefix=$2 n=$3
	shift 3
	python3 - "$prefix" "$n" "$@" <<'PY' || fail "$label: requests on the wrong replica"
import json, sys
M = (1 << 64) - 1
def mix(h, v):
    h ^= v
    h = (h * 0xff51afd7ed558ccd) & M
    return h ^ (h >> 32)
def fin(h):
    h ^= h >> 30
    h = (h * 0xbf58476d1ce4e5b9) & M
    h ^= h >> 27
    h = (h * 0x94d049bb133111eb) & M
    return h ^ (h >> 31)
def key_hash(k):
    b = k.encode().ljust(32, b"\0")
    h = 0x9e3779b97f4a7c15
    for i in range(0, 32, 8):
        h = mix(h, int.from_bytes(b[i:i + 8], "little"))
    return fin(h)
prefix, n, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
total, bad = 0, []
for idx, f in enumerate(files):
    for k, c in json.load(open(f)).get("by_key", {}).items():
        if not k.startswith(prefix) or not k[len(prefix):].isdigit():
            continue
        total += c
        if key_hash(k) % n != idx:
            bad.append("%s x%d on replica %d, owner %d" % (k, c, idx, key_hash(k) % n))
if bad:
    sys.stderr.write("; ".join(bad[:5]) + "\n")
    sys.exit(1)
print(total)
PY
}

# replica_stats I : the stats file of replica I's kv-server.
replica_stats() { echo "$TEST_TMP/s$1-stats.json"; }

# start_replicas N PORT CG [--udp] : kv-server I in namespace NS_S[I] on
# its address (lb_ip) and PORT; pids in RPID[I].
RPID=()
start_replicas() {
	local n=$1 port=$2 cg=$3 i
	shift 3
	for ((i = 1; i <= n; i++)); do
		start_bg_ns "s$i" "$cg" "${NS_S[$i]}" "$KV_SERVER" "$@" --listen "$(lb_ip "$i")" \
			--port "$port" --stats-file "$(replica_stats "$i")"
		RPID[$i]=$BG_PID
	done
	for ((i = 1; i <= n; i++)); do
		wait_for_line "$TEST_TMP/s$i.out" "listening"
	done
}

# stop_replica I : SIGTERM; the server writes its stats.
stop_replica() {
	kill -TERM "${RPID[$1]}" 2>/dev/null
	wait "${RPID[$1]}" 2>/dev/null
	[ -s "$(replica_stats "$1")" ] || fail "kv-server $1 wrote no stats"
}

# handled_on I USER : requests of USER that replica I's handler saw.
handled_on() {
	jq -r --arg u "$2" '.by_user[$u] // 0' "$(replica_stats "$1")"
}

# key_handled I PREFIX : requests for keys PREFIX* that replica I handled.
key_handled() {
	jq -r --arg p "$2" '[.by_key // {} | to_entries[] | select(.key | startswith($p)) | .value] | add // 0' \
		"$(replica_stats "$1")"
}

# lb_build PORT [udp] : the kv service behind acl and a shard element that
# routes each request by hash(key), compiled into $TEST_TMP/lb/ (lb.bpf.o);
# sets LAYOUT, what kv-client must pass as --layout. The network fields are
# examples/kv's at the same offsets, so kv-client's encoding; but key, read
# only by the router (which runs at the sender), is a sender-only field,
# not a header field (docs/compiler.md "The IR"), so the layout hash is not
# kv's.
lb_build() {
	local transport=""
	[ "${2:-}" = udp ] && transport=" TRANSPORT UDP"
	cat >"$TEST_TMP/lb.adn" <<ADN
CREATE SERVICE kv PORT $1$transport (
  METHOD get REQUEST (username CHAR(16), key CHAR(32))
             RESPONSE (found BOOL, value BYTES),
  METHOD put REQUEST (username CHAR(16), key CHAR(32), value BYTES)
             RESPONSE (ok BOOL)
);
CREATE ELEMENT acl (user CHAR(16)) DROP STATUS PERMISSION_DENIED BEGIN
  CREATE TABLE ac_tab (username CHAR(16) PRIMARY KEY, permission CHAR(2))
    CAPACITY 1024;
  INSERT INTO ac_tab (username, permission) VALUES ('alice', 'W'), ('bob', 'R');
  ON REQUEST
    INSERT INTO output SELECT * FROM input
      JOIN ac_tab ON input.user = ac_tab.username
      WHERE ac_tab.permission = 'W';
END;
CREATE ELEMENT shard (object CHAR(32)) BEGIN
  ON REQUEST
    ROUTE TO REPLICA hash(input.object);
    INSERT INTO output SELECT * FROM input;
END;
CREATE CHAIN lb ON kv (
  acl (user = username),
  shard (object = key)
);
ADN
	"$ADNC" "$TEST_TMP/lb.adn" -o "$TEST_TMP/lb/" >"$TEST_TMP/adnc.out" 2>&1 ||
		fail "adnc: $(cat "$TEST_TMP/adnc.out")"
	# the low 16 bits of the layout hash: what frames carry
	LAYOUT=$(($(jq -r .layout_hash "$TEST_TMP/lb/lb.json") & 0xffff))
}

# lb_first_round N_ALICE OUT_ALICE N_MALLORY OUT_MALLORY : through kv_lb (the
# test's own kv-client over its replica set), N_ALICE mixed calls of alice
# (key prefix a, OUT_ALICE outstanding) all OK, N_MALLORY of mallory all
# denied by the network.
lb_first_round() {
	local out
	out=$(kv_lb --user alice --count "$1" --outstanding "$2" --method mixed --key-prefix a) ||
		fail "alice: $out"
	expect_eq "alice ok" "$1" "$(status_count "$out" ok)"
	out=$(kv_lb --user mallory --count "$3" --outstanding "$4" --key-prefix a) || fail "mallory: $out"
	expect_eq "mallory denied by the network" "$3" "$(status_count "$out" permission_denied)"
	expect_eq "mallory: network replies" "$3" "$(jq -r .net_replies <<<"$out")"
}
