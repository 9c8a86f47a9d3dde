#!/usr/bin/env bash
# elements/mutation: bob's requests reach the server as guest (the field is
# rewritten in the frame); alice's are untouched.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
use_element mutation
PORT=17116
CHAIN=adntest-emut
make_cgroup CG emut
attach_chain $CHAIN $PORT "$CG"
start_server "$CG" $PORT
out=$(kv "$CG" $PORT --user bob --count 300) || fail "bob: $out"
expect_eq "bob ok" 300 "$(status_count "$out" ok)"
out=$(kv "$CG" $PORT --user alice --count 200) || fail "alice: $out"
expect_eq "rewritten counted" 300 "$(chain_stat $CHAIN rewritten)"
"$ADNCTL" param $CHAIN mutation.to_user carol || fail "set to_user"
out=$(kv "$CG" $PORT --user bob --count 100) || fail "bob to carol: $out"
stop_server
expect_eq "handled as guest" 300 "$(handled_by guest)"
expect_eq "handled as carol" 100 "$(handled_by carol)"
expect_eq "never as bob" 0 "$(handled_by bob)"
expect_eq "alice untouched" 200 "$(handled_by alice)"
echo ok
