#!/usr/bin/env bash
# elements/header_routing: requests whose version field is 'beta' go to
# replica 1, all others to replica 0 (two kv-server replicas in network
# namespaces; kv-client --user carries the version: the example service
# declares its first field `version` where examples/kv has `username`).
#   1. version beta, 400 calls: all on replica 1; stable, BETA and beta2
#      (not equal: CHAR equality is exact, case-sensitive), 300 each: all
#      on replica 0;
#   2. match = gamma (adnctl param, the chain still attached): gamma goes
#      to replica 1, beta now to replica 0;
#   3. to_replica = 0, default_replica = 1: the rule inverts (stable to 1,
#      gamma to 0).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../netns.sh"
source "$(dirname "$0")/../lb_lib.sh"
lb_require

PORT=17172
CHAIN=adntest-header_routing
use_element header_routing
lb_setup 2 ehr $CHAIN "$KV_OBJ"
lb_add_replicas $CHAIN header_routing 2

kv_hr() { # VERSION COUNT : kv-client over the two replicas, version in the first field
	local out
	out=$(lb_kv "${IP_S[1]},${IP_S[2]}" \
		--user "$1" --count "$2" --outstanding 32 --method mixed --key-prefix hr) || fail "$1: $out"
	expect_eq "$1: ok" "$2" "$(status_count "$out" ok)"
}

# on VERSION A B : replica 0 (s1) handled A requests of VERSION, replica 1 (s2) B
on() {
	expect_eq "version $1 on replica 0" "$2" "$(handled_on 1 "$1")"
	expect_eq "version $1 on replica 1" "$3" "$(handled_on 2 "$1")"
}

phase() { # starts the replicas, runs "VERSION COUNT"..., stops them
	start_replicas 2 $PORT "$CG_S"
	while [ $# -gt 0 ]; do
		kv_hr "$1" "$2"
		shift 2
	done
	stop_replica 1
	stop_replica 2
}

# 1. defaults: beta -> replica 1
phase beta 400 stable 300 BETA 300 beta2 300
on beta 0 400
on stable 300 0
on BETA 300 0
on beta2 300 0
expect_eq "routed" 1300 "$(chain_stat $CHAIN routed)"

# 2. another value, at run time
"$ADNCTL" param $CHAIN header_routing.match gamma || fail "adnctl param match"
phase gamma 200 beta 200
on gamma 0 200
on beta 200 0

# 3. other replicas
"$ADNCTL" param $CHAIN header_routing.to_replica 0 || fail "adnctl param to_replica"
"$ADNCTL" param $CHAIN header_routing.default_replica 1 || fail "adnctl param default_replica"
phase gamma 100 stable 100
on gamma 100 0
on stable 0 100
echo ok
