#!/usr/bin/env bash
# Bad input from a client inside the cgroup (issue #2): a length beyond any
# buffer, zero length, a request too short for its fields, garbage frames
# (random bytes of a plausible length, random kind/method/flags), a short
# header left open, a short header completed into an impossible one.
# No hang; every impossible header is counted (`malformed`) and its socket
# may send no more (bpf/adn_sk_msg.h, SK_DROP); other clients' RPCs are
# unaffected; the server's handler sees only the good client's calls.
#
# A short header on a connection that stays open is not malformed: the
# chain cannot judge a frame it has not seen, so it waits for the rest
# (counted in `corked`, bpf_msg_cork_bytes). Neither the chain nor the
# server has an idle timeout: the bytes stay in the sender's socket, nothing
# reaches the server, nothing comes back, that connection only is stalled
# until it sends more (then the completed header is judged) or closes.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs
require_chain_features

PORT=17074
CHAIN=adntest-malformed
make_cgroup CG malformed
attach_chain $CHAIN $PORT "$CG"
"$ADNCTL" param $CHAIN fault.probability 0 || fail "set p=0"
start_server "$CG" $PORT

# GARBAGE_SEED=N repeats a run's garbage frames (the seed is in the output)
SEED=${GARBAGE_SEED:-$((RANDOM * 32768 + RANDOM))}
NGARBAGE=16

kv "$CG" $PORT --user alice --duration 6 --outstanding 64 >"$TEST_TMP/alice.json" &
apid=$!
sleep 0.3
before=$(chain_stat $CHAIN malformed)
corked0=$(chain_stat $CHAIN corked)
want=0 # frames that must be counted malformed

# the socket that lost its framing may send no more
dropped() {
	[[ $1 == *"then=Permission denied"* || $1 == *"then=Broken pipe"* || $1 == *"then=Connection reset"* ]]
}

for kind in huge zero tiny; do
	r=$(in_cgroup "$CG" "$BIN/malformed_client" 127.0.0.1 $PORT $kind) ||
		fail "malformed_client $kind hung or failed: $r"
	note "$kind: $r"
	dropped "$r" || fail "$kind: the connection kept accepting data after a malformed frame: $r"
	want=$((want + 1))
done

note "garbage seeds $SEED..$((SEED + NGARBAGE - 1))"
for ((s = SEED; s < SEED + NGARBAGE; s++)); do
	r=$(in_cgroup "$CG" "$BIN/malformed_client" 127.0.0.1 $PORT garbage $s) ||
		fail "malformed_client garbage $s hung or failed: $r"
	k=$(sed -n 's/.* kind=\([0-9]*\) .*/\1/p' <<<"$r")
	if [ "$k" -gt 1 ]; then
		# an unknown kind: an impossible header
		dropped "$r" || fail "garbage $s: not dropped: $r"
		want=$((want + 1))
	else
		# a response from a client: bounced to it by the chain (a network
		# reply) or passed to the server, which closes the connection
		note "garbage $s (a response): $r"
		[[ $r == *"read=reply"* || $r == *"read=eof"* || $r == *"read=Connection reset"* ]] ||
			fail "garbage $s: a response from a client neither bounced nor closed: $r"
	fi
done
expect_eq "garbage: impossible headers counted" $want $(($(chain_stat $CHAIN malformed) - before))

# a short header left open: waited for, counted in corked, nothing comes
# back, the connection is neither reset nor counted malformed
r=$(in_cgroup "$CG" "$BIN/malformed_client" 127.0.0.1 $PORT short 1500) || fail "short hung: $r"
note "short: $r"
[[ $r == *"sent=10 then=held read=none"* ]] || fail "short: a reply or reset for an incomplete header: $r"
corked1=$(chain_stat $CHAIN corked)
[ "$corked1" -gt "$corked0" ] || fail "short: the incomplete header was not counted in corked ($corked0 -> $corked1)"
expect_eq "short: not malformed while incomplete" $want $(($(chain_stat $CHAIN malformed) - before))

# a short header, held, then completed into an impossible one: judged then
r=$(in_cgroup "$CG" "$BIN/malformed_client" 127.0.0.1 $PORT short-bad 500) || fail "short-bad hung: $r"
note "short-bad: $r"
[[ $r == *"sent=10 "* ]] || fail "short-bad: $r"
dropped "$r" || fail "short-bad: the connection kept accepting data after an impossible header: $r"
want=$((want + 1))
[ "$(chain_stat $CHAIN corked)" -gt "$corked1" ] || fail "short-bad: the incomplete header was not counted in corked"

after=$(chain_stat $CHAIN malformed)
expect_eq "malformed frames counted" $want $((after - before))

wait $apid || fail "alice lost calls during the attack: $(cat "$TEST_TMP/alice.json")"
a=$(cat "$TEST_TMP/alice.json")
expect_eq "alice unaffected" "$(jq -r .sent <<<"$a")" "$(status_count "$a" ok)"
stop_server
expect_eq "server handled only alice" "$(status_count "$a" ok)" "$(jq -r .handled "$TEST_TMP/server-stats.json")"
expect_eq "server handled only alice (by user)" "$(status_count "$a" ok)" "$(handled_by alice)"
expect_eq "no undecodable request reached the handler" 0 "$(jq -r .invalid "$TEST_TMP/server-stats.json")"
echo ok
