# Helpers of the load-balancing tests (test_lb_*.sh, test_s2.sh): a kv
# service over a replica set in network namespaces. Source after lib.sh and
# netns.sh.

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
# IP_S[I]:PORT; pids in RPID[I].
RPID=()
start_replicas() {
	local n=$1 port=$2 cg=$3 i
	shift 3
	for ((i = 1; i <= n; i++)); do
		start_bg_ns "s$i" "$cg" "${NS_S[$i]}" "$KV_SERVER" "$@" --listen "${IP_S[$i]}" \
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

# lb_adn FILE PORT [udp] : the kv service behind acl and a shard element that
# routes each request by hash(key): same network fields as examples/kv, so
# kv-client's layout.
lb_adn() {
	local transport=""
	[ "${3:-}" = udp ] && transport=" TRANSPORT UDP"
	cat >"$1" <<ADN
CREATE SERVICE kv PORT $2$transport (
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
}
