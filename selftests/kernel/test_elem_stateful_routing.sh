#!/usr/bin/env bash
# elements/stateful_routing: a get goes to the replica that took the put of
# its key (two kv-server replicas in network namespaces; the chain at the
# client's sk_msg). The servers are restarted between phases, so each
# phase's per-key counts are its own.
#   1. seed 0: puts of a0..a499 land on hash(key, 0) % 2 (the put-time
#      choice); then gets of a0..a499 land on the same replica as their put;
#   2. seed 7 (adnctl param: the put-time choice function changes): gets of
#      a* still land where their puts went (the recorded choice, not the
#      new function, which would move about half of them), puts of
#      b0..b499 land on hash(key, 7) % 2 and their gets follow them;
#   3. a* put again under seed 7: their gets now follow the new puts;
#   4. the table holds one row per key put (adnctl table).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../netns.sh"
source "$(dirname "$0")/../lb_lib.sh"
lb_require python3

PORT=17174
CHAIN=adntest-stateful_routing
use_element stateful_routing
lb_setup 2 esr $CHAIN "$KV_OBJ"
lb_add_replicas $CHAIN stateful_routing 2

kv_sr() { # METHOD PREFIX : 500 calls, keys PREFIX0..PREFIX499, over the two replicas
	local out
	out=$(lb_kv "${IP_S[1]},${IP_S[2]}" \
		--user alice --count 500 --outstanding 32 --method "$1" --key-prefix "$2") ||
		fail "$1 $2: $out"
	expect_eq "$1 $2*: ok" 500 "$(status_count "$out" ok)"
}

# placement NAME : the replica of each key this phase handled, as JSON
# {key: replica}, in $TEST_TMP/NAME.json; fails if a key was on both.
placement() {
	python3 - "$(replica_stats 1)" "$(replica_stats 2)" "$TEST_TMP/$1.json" <<'PY' || fail "$1: placement"
import json, sys
where = {}
for idx, f in enumerate(sys.argv[1:3]):
    for k in json.load(open(f)).get("by_key", {}):
        if k in where:
            sys.exit("key %s on both replicas" % k)
        where[k] = idx
json.dump(where, open(sys.argv[3], "w"))
PY
}

# same WHAT A B PREFIX : every key PREFIX* has the same replica in A and B (500 keys)
same() {
	python3 - "$TEST_TMP/$2.json" "$TEST_TMP/$3.json" "$4" <<'PY' || fail "$1"
import json, sys
a, b, p = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
keys = ["%s%d" % (p, i) for i in range(500)]
missing = [k for k in keys if k not in a or k not in b]
if missing:
    sys.exit("keys not handled: %s" % missing[:5])
bad = ["%s: %d then %d" % (k, a[k], b[k]) for k in keys if a[k] != b[k]]
if bad:
    sys.exit("%d keys on another replica: %s" % (len(bad), "; ".join(bad[:5])))
PY
}

# chosen WHAT NAME PREFIX SEED : every key PREFIX* of NAME is on hash(key, SEED) % 2
chosen() {
	python3 - "$ADN_ROOT/selftests" "$TEST_TMP/$2.json" "$3" "$4" <<'PY' || fail "$1"
import json, sys
sys.path.insert(0, sys.argv[1])
from adn_hash import adn_hash
w, p, seed = json.load(open(sys.argv[2])), sys.argv[3], int(sys.argv[4])
bad = [k for k in ("%s%d" % (p, i) for i in range(500))
       if w.get(k) != adn_hash(("char", k, 32), ("int", seed)) % 2]
if bad:
    sys.exit("%d keys not on the put-time choice: %s" % (len(bad), bad[:5]))
if len(set(w.values())) != 2:
    sys.exit("all keys on one replica")
PY
}

phase() { # NAME METHOD PREFIX... : servers up, the calls, servers down, placement
	local name=$1 method=$2 p
	shift 2
	start_replicas 2 $PORT "$CG_S"
	for p in "$@"; do kv_sr "$method" "$p"; done
	stop_replica 1
	stop_replica 2
	placement "$name"
}

# 1. seed 0
phase put_a0 put a
chosen "puts of a* at seed 0" put_a0 a 0
phase get_a0 get a
same "gets of a* follow their puts" put_a0 get_a0 a

# 2. the choice function changes
"$ADNCTL" param $CHAIN stateful_routing.seed 7 || fail "adnctl param seed"
phase get_a1 get a
same "gets of a* still follow their puts after the seed changed" put_a0 get_a1 a
moved=$(python3 - "$ADN_ROOT/selftests" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from adn_hash import adn_hash
print(sum(adn_hash(("char", "a%d" % i, 32), ("int", 0)) % 2 != adn_hash(("char", "a%d" % i, 32), ("int", 7)) % 2
          for i in range(500)))
PY
)
[ "$moved" -gt 100 ] || fail "seed 7 moves only $moved of the a* keys: not a test of stickiness"
note "seed 7 would have moved $moved of 500 keys; the table kept them"
phase put_b1 put b
chosen "puts of b* at seed 7" put_b1 b 7
phase get_b1 get b
same "gets of b* follow their puts" put_b1 get_b1 b

# 3. a* put again: the record moves with the put
phase put_a1 put a
chosen "a* put again at seed 7" put_a1 a 7
phase get_a2 get a
same "gets of a* follow the new puts" put_a1 get_a2 a

# 4. one row per key
rows=$(table_json $CHAIN stateful_routing.owner | jq length)
expect_eq "owner rows" 1000 "$rows"
expect_eq "routed" $((500 * 7)) "$(chain_stat $CHAIN routed)"
echo ok
