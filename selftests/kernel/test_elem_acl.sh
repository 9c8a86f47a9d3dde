#!/usr/bin/env bash
# elements/acl: users with permission W pass, others are refused with
# PERMISSION_DENIED by the network; a row inserted at run time takes effect.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
use_element acl
PORT=17110
CHAIN=adntest-eacl
make_cgroup CG eacl
attach_chain $CHAIN $PORT "$CG"
start_server "$CG" $PORT

out=$(kv "$CG" $PORT --user alice --count 200) || fail "alice: $out"
expect_eq "alice ok" 200 "$(status_count "$out" ok)"
out=$(kv "$CG" $PORT --user bob --count 100) || fail "bob: $out"
expect_eq "bob denied" 100 "$(status_count "$out" permission_denied)"
out=$(kv "$CG" $PORT --user mallory --count 100) || fail "mallory: $out"
expect_eq "mallory denied" 100 "$(status_count "$out" permission_denied)"
"$ADNCTL" table $CHAIN acl.ac_tab insert username=mallory permission=W || fail "insert"
out=$(kv "$CG" $PORT --user mallory --count 100) || fail "mallory after insert: $out"
expect_eq "mallory ok after insert" 100 "$(status_count "$out" ok)"
stop_server
expect_eq "bob never handled" 0 "$(handled_by bob)"
expect_eq "alice handled" 200 "$(handled_by alice)"
echo ok
