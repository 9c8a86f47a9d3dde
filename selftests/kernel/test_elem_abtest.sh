#!/usr/bin/env bash
# elements/abtest: an A/B split by a hash of the user name, over two kv-server
# replicas (network namespaces, kv-client --replicas, the chain at the
# client's sk_msg).
#   1. percent = 20: 200 users, each in its own kv-client run (6 calls,
#      get and put): every user's calls all land on one replica, the one
#      hash(user, salt) % 100 < percent says; the number of users on
#      replica 1 is within 4 standard deviations of 200 x 0.2 (binomial);
#   2. percent = 50 (adnctl param, the chain still attached), the same 200
#      users again, 2 calls each: every user still lands on one replica,
#      the users of B stay in B, and B's share is within the binomial
#      interval of 0.5.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../netns.sh"
source "$(dirname "$0")/../lb_lib.sh"
lb_require python3

PORT=17170
CHAIN=adntest-abtest
USERS=200
use_element abtest
lb_setup 2 eab $CHAIN "$KV_OBJ"
lb_add_replicas $CHAIN abtest 2

kv_ab() { lb_kv "${IP_S[1]},${IP_S[2]}" "$@"; } # ARGS... : kv-client over the two replicas

# split_check PERCENT CALLS_PER_USER [B_USERS_BEFORE_FILE] : checks the
# replicas' by_user counts; writes the users of B to $TEST_TMP/b-PERCENT.
split_check() {
	python3 - "$ADN_ROOT/selftests" "$1" "$2" "$USERS" "$(replica_stats 1)" "$(replica_stats 2)" \
		"$TEST_TMP/b-$1" "${3:-}" <<'PY' || fail "split at $1%"
import json, math, sys
sys.path.insert(0, sys.argv[1])
from adn_hash import adn_hash
pct, calls, n = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
stats = [json.load(open(f))["by_user"] for f in sys.argv[5:7]]
bad, in_b = [], []
for u in ("abuser%d" % i for i in range(n)):
    on = [s.get(u, 0) for s in stats]
    want = 1 if adn_hash(("char", u, 16), ("int", 0)) % 100 < pct else 0
    if on[want] != calls or on[1 - want] != 0:
        bad.append("%s: %d on A, %d on B, expected all %d on %s" % (u, on[0], on[1], calls, "AB"[want]))
    if on[1]:
        in_b.append(u)
if bad:
    sys.exit("%d users split wrong: %s" % (len(bad), "; ".join(bad[:5])))
mean, sd = n * pct / 100, math.sqrt(n * pct / 100 * (1 - pct / 100))
lo, hi = math.floor(mean - 4 * sd), math.ceil(mean + 4 * sd)
if not lo <= len(in_b) <= hi:
    sys.exit("%d of %d users on B, outside [%d, %d]" % (len(in_b), n, lo, hi))
if sys.argv[8]:
    before = open(sys.argv[8]).read().split()
    moved = [u for u in before if u not in in_b]
    if moved:
        sys.exit("users of B moved back to A when the share grew: %s" % moved[:5])
open(sys.argv[7], "w").write("\n".join(in_b))
print("%d of %d users on B (interval [%d, %d])" % (len(in_b), n, lo, hi))
PY
}

# run_users CALLS : every user's kv-client run, 4 at a time (a process
# start is most of a run's cost, seconds each under vmtest's emulation)
run_users() {
	local i j out pids
	for ((i = 0; i < USERS; i += 4)); do
		pids=()
		for ((j = i; j < i + 4 && j < USERS; j++)); do
			kv_ab --user "abuser$j" --count "$1" --outstanding 4 --method mixed --key-prefix ab \
				>"$TEST_TMP/user$j.json" 2>&1 &
			pids+=($!)
		done
		wait "${pids[@]}"
	done
	for ((i = 0; i < USERS; i++)); do
		out=$(cat "$TEST_TMP/user$i.json")
		expect_eq "abuser$i ok" "$1" "$(status_count "$out" ok 2>/dev/null)"
	done
}

# 1. 20% on B
start_replicas 2 $PORT "$CG_S"
run_users 6
stop_replica 1
stop_replica 2
expect_eq "routed" $((USERS * 6)) "$(chain_stat $CHAIN routed)"
res=$(split_check 20 6) || exit 1
note "20%: $res"

# 2. 50% on B, changed at run time
"$ADNCTL" param $CHAIN abtest.percent 50 || fail "adnctl param percent"
start_replicas 2 $PORT "$CG_S"
run_users 2
stop_replica 1
stop_replica 2
res=$(split_check 50 2 "$TEST_TMP/b-20") || exit 1
note "50%: $res"
echo ok
