#!/usr/bin/env bash
# The ADN paper's section 2 example end to end (issue 5 part D), on TCP and
# on UDP: service A (s2-client, in its namespace and cgroup) calls service B
# as two replicas B.1 and B.2 (s2-server, one namespace each) through the
# chain of examples/s2/s2.adn:
#   acl      NOT IN APP: a row per (user, object) granted, in the kernel
#            (sk_msg over TCP, TC egress over UDP);
#   lb       ROUTE TO REPLICA hash(object_id), in the kernel;
#   compress IMPLEMENTED IN APP: zlib in the RPC library of A and B.
# For each transport:
#   1. every RPC lands on the replica that owns its object (hash % 2, from
#      the servers' per-object counts);
#   2. denied RPCs (a user with no grant, an object not granted, a put with
#      a read-only grant) never reach a handler: answered by the network;
#   3. payloads are compressed on the wire (request body bytes the servers
#      received < the bytes the client's application gave) and restored
#      (the server checks every put's content, the client every get's);
#   4. a chain whose user-defined element has no implementation is refused
#      at open, with one clear line.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../netns.sh"
require_root
ensure_bpffs
command -v nsenter >/dev/null || { echo "SKIP: needs nsenter"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

# The example's binaries and object come from the top-level Makefile.
${ADN_MAKE:-make} -C "$ADN_ROOT" -s s2 >"$TEST_TMP/make.out" 2>&1 ||
	fail "make s2: $(tail -3 "$TEST_TMP/make.out")"
S2_CLIENT=$BIN/s2-client
S2_SERVER=$BIN/s2-server

netns_topology 2
make_cgroup CG_C s2-client
make_cgroup CG_S s2-servers

OBJECTS=0-39    # granted to alice (rw) and bob (r)
DENIED=100-109  # granted to nobody
PAYLOAD=3000    # over UDP's 1456-byte body limit uncompressed: fits only compressed

# owner_check LABEL FIRST LAST FILE1 FILE2 : every object FIRST..LAST handled
# was handled by replica hash(object) % 2 (the language's hash() of a
# UINT64, bpf/adn_hash.h); prints how many requests that was.
owner_check() {
	python3 - "$2" "$3" "$4" "$5" <<'PY' || fail "$1: requests on the wrong replica"
import json, sys
M = (1 << 64) - 1
def h64(v):
    h = 0x9e3779b97f4a7c15 ^ v
    h = (h * 0xff51afd7ed558ccd) & M
    h ^= h >> 32
    h ^= h >> 30
    h = (h * 0xbf58476d1ce4e5b9) & M
    h ^= h >> 27
    h = (h * 0x94d049bb133111eb) & M
    return h ^ (h >> 31)
lo, hi, files = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
total, bad, owners = 0, [], set()
for idx, f in enumerate(files):
    for k, c in json.load(open(f))["by_object"].items():
        o = int(k)
        if not lo <= o <= hi:
            continue
        total += c
        owners.add(idx)
        if h64(o) % len(files) != idx:
            bad.append("object %d x%d on replica %d, owner %d" % (o, c, idx, h64(o) % len(files)))
if bad:
    sys.stderr.write("; ".join(bad[:5]) + "\n")
    sys.exit(1)
if len(owners) != len(files):
    sys.stderr.write("objects %d..%d all on one replica: no load balancing seen\n" % (lo, hi))
    sys.exit(1)
print(total)
PY
}

# sj FILE EXPR : a value of a server's stats.
sj() { jq -r "$2" "$1"; }

run_transport() { # tcp|udp PORT
	local tr=$1 port=$2 chain=adntest-s2$1-$$ obj udp_arg="" i out
	obj=$ADN_ROOT/build/s2/s2.bpf.o
	if [ "$tr" = udp ]; then
		udp_arg=--udp
		# the same chain over UDP: TC at the client's egress (same layout)
		sed "s/PORT 17160 (/PORT $port TRANSPORT UDP (/" "$ADN_ROOT/examples/s2/s2.adn" >"$TEST_TMP/s2udp.adn"
		grep -q "TRANSPORT UDP" "$TEST_TMP/s2udp.adn" || fail "cannot make the UDP variant of s2.adn"
		"$ADNC" "$TEST_TMP/s2udp.adn" -o "$TEST_TMP/s2udp/" >"$TEST_TMP/adnc.out" 2>&1 ||
			fail "adnc (udp): $(cat "$TEST_TMP/adnc.out")"
		obj=$TEST_TMP/s2udp/s2udp.bpf.o
		[ -f "$obj" ] || obj=$(ls "$TEST_TMP"/s2udp/*.bpf.o)
		"$ADN_LOAD" attach --dev "$DEV@$NS_C" --port "$port" --name "$chain" "$obj" ||
			fail "$tr: adn-load attach --dev"
	else
		"$ADN_LOAD" attach --cgroup "$CG_C" --port "$port" --name "$chain" "$obj" ||
			fail "$tr: adn-load attach"
	fi
	on_exit "'$ADN_LOAD' detach '$chain'"

	local pids=()
	for i in 1 2; do
		start_bg_ns "$tr-s$i" "$CG_S" "${NS_S[$i]}" "$S2_SERVER" $udp_arg --listen "${IP_S[$i]}" \
			--port "$port" --object-size $PAYLOAD --stats-file "$TEST_TMP/$tr-s$i.json"
		pids[$i]=$BG_PID
	done
	for i in 1 2; do wait_for_line "$TEST_TMP/$tr-s$i.out" "listening"; done
	for i in 1 2; do
		local mac=""
		[ "$tr" = udp ] && mac="mac=$(ip -n "${NS_S[$i]}" link show "$DEV" | awk '/link\/ether/ {print $2}')"
		"$ADNCTL" replica "$chain" lb add "${IP_S[$i]}:$port" $mac || fail "$tr: adnctl replica add $i"
	done
	for o in $(seq 0 39); do
		"$ADNCTL" table "$chain" acl.grants insert user=alice object_id=$o mode=rw >/dev/null &&
			"$ADNCTL" table "$chain" acl.grants insert user=bob object_id=$o mode=r >/dev/null ||
			fail "$tr: adnctl table insert"
	done

	a() { # ARGS... : s2-client in A's cgroup and namespace, over the replica set
		timeout 60 sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG_C" \
			nsenter --net="/run/netns/$NS_C" -- "$S2_CLIENT" $udp_arg \
			--replicas "${IP_S[1]},${IP_S[2]}" --port "$port" --json "$@"
	}

	# alice: granted objects, get and put
	out=$(a --user alice --objects $OBJECTS --count 2000 --method mixed --payload-size $PAYLOAD \
		--outstanding 32) || fail "$tr: alice: $out"
	expect_eq "$tr: alice ok" 2000 "$(status_count "$out" ok)"
	expect_eq "$tr: alice replies restored and right" 0 "$(jq -r .bad_replies <<<"$out")"
	local app wire
	app=$(jq -r .app_bytes <<<"$out") wire=$(jq -r .wire_bytes <<<"$out")
	[ "$wire" -lt $((app / 4)) ] || fail "$tr: client: $wire bytes on the wire for $app of requests: not compressed"
	# denied: objects nobody was granted, a user with no grant, bob's puts
	out=$(a --user alice --objects $DENIED --count 200 --method mixed --payload-size $PAYLOAD) ||
		fail "$tr: alice, objects not granted: $out"
	expect_eq "$tr: objects not granted: denied" 200 "$(status_count "$out" permission_denied)"
	expect_eq "$tr: objects not granted: network replies" 200 "$(jq -r .net_replies <<<"$out")"
	out=$(a --user mallory --objects $OBJECTS --count 200 --method mixed --payload-size $PAYLOAD) ||
		fail "$tr: mallory: $out"
	expect_eq "$tr: mallory denied" 200 "$(status_count "$out" permission_denied)"
	out=$(a --user bob --objects $OBJECTS --count 400 --method mixed --payload-size $PAYLOAD) ||
		fail "$tr: bob: $out"
	expect_eq "$tr: bob's gets ok" 200 "$(status_count "$out" ok)"
	expect_eq "$tr: bob's puts denied (read-only grant)" 200 "$(status_count "$out" permission_denied)"
	expect_eq "$tr: bob's puts: network replies" 200 "$(jq -r .net_replies <<<"$out")"

	for i in 1 2; do
		kill -TERM "${pids[$i]}"
		wait "${pids[$i]}" 2>/dev/null
		[ -s "$TEST_TMP/$tr-s$i.json" ] || fail "$tr: s2-server $i wrote no stats: $(cat "$TEST_TMP/$tr-s$i.out")"
	done
	local s1=$TEST_TMP/$tr-s1.json s2=$TEST_TMP/$tr-s2.json f
	for f in "$s1" "$s2"; do
		expect_eq "$tr: $(basename "$f"): mallory never reached a handler" 0 "$(sj "$f" '.by_user.mallory // 0')"
		expect_eq "$tr: $(basename "$f"): payloads restored (server's check)" 0 "$(sj "$f" .bad_payload)"
		expect_eq "$tr: $(basename "$f"): nothing the library could not undo" 0 "$(sj "$f" .udf_errors)"
		expect_eq "$tr: $(basename "$f"): no malformed requests" 0 "$(sj "$f" .invalid)"
		app=$(sj "$f" .app_bytes) wire=$(sj "$f" .wire_bytes)
		[ "$wire" -lt $((app / 4)) ] || fail "$tr: $(basename "$f"): received $wire bytes for $app of requests: not compressed"
		note "$tr: replica $(basename "$f" .json): $(sj "$f" .handled) handled, request bodies $wire bytes on the wire, $app restored"
	done
	local n
	expect_eq "$tr: objects not granted never reached a handler" 0 \
		"$(jq -s '[.[].by_object | to_entries[] | select((.key | tonumber) >= 100) | .value] | add // 0' "$s1" "$s2")"
	n=$(owner_check "$tr" 0 39 "$s1" "$s2") || exit 1
	expect_eq "$tr: requests that reached the owner of their object (alice 2000 + bob's 200 gets)" 2200 "$n"
	expect_eq "$tr: handled in all" 2200 "$(( $(sj "$s1" .handled) + $(sj "$s2" .handled) ))"
	expect_eq "$tr: bob's puts never reached a handler" 200 "$(jq -s '[.[].by_user.bob // 0] | add' "$s1" "$s2")"

	"$ADN_LOAD" detach "$chain" || fail "$tr: detach"
}

run_transport tcp 17160
run_transport udp 17161

# 4. no implementation registered: refused at open, one line
out=$("$S2_CLIENT" --udp --host 127.0.0.1 --port 17162 --user alice --count 1 --no-register 2>&1) &&
	fail "a client without an implementation of 'compress' ran"
[ "$(wc -l <<<"$out")" -eq 1 ] && grep -q "element 'compress' is IMPLEMENTED IN APP but has no registered implementation" <<<"$out" ||
	fail "unclear refusal: $out"
out=$("$S2_SERVER" --listen 127.0.0.1 --port 17162 --no-register 2>&1) && fail "a server without an implementation of 'compress' ran"
[ "$(wc -l <<<"$out")" -eq 1 ] && grep -q "element 'compress' is IMPLEMENTED IN APP but has no registered implementation" <<<"$out" ||
	fail "unclear refusal (server): $out"
echo ok
