#!/usr/bin/env bash
# elements/encrypt: encryption as a user-defined element (IMPLEMENTED IN
# APP): AES-256-GCM / ChaCha20-Poly1305 with replay protection in the RPC
# library at both ends (adn_udf_aead, rpc/udf_aead.c), next to acl in the
# kernel (sk_msg), which still reads the user name: network fields stay in
# clear (and are authenticated).
#   1. on the wire: a server that decrypts nothing (enc-server --raw) gets
#      put bodies without the plaintext's marker, 52 bytes longer than the
#      plaintext (sender, seq, time, nonce, tag), with 500 distinct nonces
#      for 500 puts of 100 keys (a fresh nonce per message, also for equal
#      plaintexts); the control (enc-client --plain) shows that the check
#      sees plaintext;
#   2. decryption restores: 2000 mixed calls, pipelined, the server checks
#      every put's value, the client every get's reply (AES-256-GCM and
#      ChaCha20-Poly1305); acl still denies mallory in the kernel (network
#      replies, not encrypted, are delivered);
#   3. tampering is detected: a bit flipped in every 3rd request is
#      answered DATA_LOSS by the server without running the handler; in
#      every 4th response, the call completes DATA_LOSS at the client
#      (ADN_RPC_F_LOCAL); other calls are unaffected;
#   4. the wrong key or the other cipher: every request refused;
#   5. an attacker on the path (selftests/tools/frame_tamper.c, a relay):
#      request frames sent twice on the connection, or again later on a
#      connection of its own, are refused without running the handler (the
#      server says "replayed"); a byte changed in the header's method, the
#      network field, sender, seq, time, nonce, ciphertext or tag: refused;
#      the client's own calls all complete;
#   6. no registered implementation, or a bad key file: refused at start
#      with one line.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs

# The element's programs: elements/encrypt/encrypt.mk (enc-client and
# enc-server link libcrypto).
mk=(-f Makefile)
grep -q 'elements/encrypt/encrypt.mk' "$ADN_ROOT/Makefile" || mk+=(-f elements/encrypt/encrypt.mk)
${ADN_MAKE:-make} -C "$ADN_ROOT" -s "${mk[@]}" encrypt >"$TEST_TMP/make.out" 2>&1 ||
	fail "make encrypt: $(tail -3 "$TEST_TMP/make.out")"
ENC_CLIENT=$BIN/enc-client
ENC_SERVER=$BIN/enc-server
OBJ=$ADN_ROOT/build/encrypt/encrypt.bpf.o

PORT=17176
CHAIN=adntest-encrypt
VS=256
(umask 077 && head -c 32 /dev/urandom >"$TEST_TMP/key1" &&
	od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$TEST_TMP/key2") || fail "cannot make keys"
make_cgroup CG eenc
"$ADN_LOAD" attach --cgroup "$CG" --port $PORT --name $CHAIN "$OBJ" || fail "adn-load attach"
on_exit "'$ADN_LOAD' detach '$CHAIN'"

ENC_PID=""
start_enc() { # NAME ARGS... : enc-server in CG; stats in $TEST_TMP/NAME.json
	local name=$1
	shift
	start_bg "$name" "$CG" "$ENC_SERVER" --listen 127.0.0.1 --port $PORT --value-size $VS \
		--stats-file "$TEST_TMP/$name.json" "$@"
	ENC_PID=$BG_PID
	wait_for_line "$TEST_TMP/$name.out" "listening"
	SRV=$TEST_TMP/$name.json
}
stop_enc() {
	kill -TERM "$ENC_PID" 2>/dev/null
	wait "$ENC_PID" 2>/dev/null
	[ -s "$SRV" ] || fail "enc-server wrote no stats: $(cat "${SRV%.json}.out")"
}
enc() { # ARGS... : enc-client in CG, --json
	timeout 60 sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" \
		"$ENC_CLIENT" --port $PORT --value-size $VS --json "$@"
}
sv() { jq -r "$1" "$SRV"; }

# 1. what the wire carries
start_enc raw --raw
out=$(enc --key-file "$TEST_TMP/key1" --method put --count 500) || fail "puts to --raw: $out"
# the raw server's answers are plaintext, not bound to the requests: the
# client refuses every one
expect_eq "raw: plaintext answers refused by the client" "0 500" \
	"$(status_count "$out" ok) $(jq -r .local_data_loss <<<"$out")"
expect_eq "client: 52 bytes more per message on the wire" $((500 * 52)) \
	"$(jq -r '.wire_bytes - .app_bytes' <<<"$out")"
"$ADNCTL" table $CHAIN acl.ac_tab insert username=carol permission=W >/dev/null || fail "adnctl table insert"
out=$(enc --key-file "$TEST_TMP/key1" --method put --count 50 --plain --user carol) ||
	fail "control: $out"
stop_enc
expect_eq "raw: bodies received" 550 "$(sv .raw)"
expect_eq "raw: the plaintext seen only in the control's 50" 50 "$(sv .plaintext_seen)"
expect_eq "raw: length = plaintext + sender, seq, time, nonce, tag (not the control's)" 50 "$(sv .bad_length)"
expect_eq "raw: nonces (of the encrypted bodies)" 500 "$(sv .nonces)"
expect_eq "raw: no nonce used twice" 0 "$(sv .nonce_repeats)"
[ "$(sv '.by_user.carol')" = 50 ] && [ "$(sv '.by_user.alice')" = 500 ] ||
	fail "raw: user names (network fields) not in clear: $(cat "$SRV")"

# 2. decryption restores, with both ciphers; acl still works
for cipher in aes-256-gcm chacha20-poly1305; do
	start_enc "ok-$cipher" --key-file "$TEST_TMP/key1" --cipher $cipher
	out=$(enc --key-file "$TEST_TMP/key1" --cipher $cipher --count 2000 --outstanding 32) ||
		fail "$cipher: $out"
	expect_eq "$cipher: ok" 2000 "$(status_count "$out" ok)"
	expect_eq "$cipher: replies decrypted and right" 0 "$(jq -r .bad_replies <<<"$out")"
	out=$(enc --key-file "$TEST_TMP/key1" --cipher $cipher --count 100 --user mallory) ||
		fail "$cipher: mallory: $out"
	expect_eq "$cipher: mallory denied in the kernel" 100 "$(status_count "$out" permission_denied)"
	expect_eq "$cipher: mallory: network replies" 100 "$(jq -r .net_replies <<<"$out")"
	stop_enc
	expect_eq "$cipher: handled" 2000 "$(sv .handled)"
	expect_eq "$cipher: puts restored (server's check)" 0 "$(sv .bad_payload)"
	expect_eq "$cipher: nothing refused" 0 "$(sv .udf_errors)"
	expect_eq "$cipher: mallory never reached the handler" 0 "$(sv '.by_user.mallory // 0')"
	expect_eq "$cipher: 52 bytes more per request on the wire" $((2000 * 52)) "$(sv '.wire_bytes - .app_bytes')"
done

# 3. tampering
start_enc tamper-req --key-file "$TEST_TMP/key1"
out=$(enc --key-file "$TEST_TMP/key1" --method put --count 300 --tamper-every 3) || fail "tampered requests: $out"
expect_eq "tampered requests: refused" 100 "$(status_count "$out" data_loss)"
expect_eq "tampered requests: answered by the server" 0 "$(jq -r '.net_replies + .local_data_loss' <<<"$out")"
expect_eq "tampered requests: the others ok" 200 "$(status_count "$out" ok)"
stop_enc
expect_eq "tampered requests: server refusals" 100 "$(sv .udf_errors)"
expect_eq "tampered requests: never handled" 200 "$(sv .handled)"
expect_eq "tampered requests: no corrupt value reached the handler" 0 "$(sv .bad_payload)"

start_enc tamper-resp --key-file "$TEST_TMP/key1" --tamper-every 4
out=$(enc --key-file "$TEST_TMP/key1" --method get --count 400) || fail "tampered responses: $out"
expect_eq "tampered responses: refused by the client" 100 "$(jq -r .local_data_loss <<<"$out")"
expect_eq "tampered responses: data_loss" 100 "$(status_count "$out" data_loss)"
expect_eq "tampered responses: the others ok and right" "300 0" \
	"$(status_count "$out" ok) $(jq -r .bad_replies <<<"$out")"
stop_enc

# 4. the wrong key, the other cipher: every request (gets too) refused
start_enc wrong --key-file "$TEST_TMP/key1"
out=$(enc --key-file "$TEST_TMP/key2" --count 200) || fail "wrong key: $out"
expect_eq "wrong key: every request refused by the server" "0 200 0" \
	"$(status_count "$out" ok) $(status_count "$out" data_loss) $(jq -r .local_data_loss <<<"$out")"
out=$(enc --key-file "$TEST_TMP/key1" --cipher chacha20-poly1305 --count 200) || fail "other cipher: $out"
expect_eq "other cipher: every message refused" "0 200" \
	"$(status_count "$out" ok) $(status_count "$out" data_loss)"
stop_enc
expect_eq "wrong key, other cipher: nothing handled" 0 "$(sv .handled)"
expect_eq "wrong key, other cipher: server refusals" 400 "$(sv .udf_errors)"

# 5. an attacker on the path: frame_tamper relays the client's connection
TAMPER=$BIN/frame_tamper
[ -x "$TAMPER" ] || fail "$TAMPER not built (make check-kernel builds selftests/tools)"
RPORT=17178
TAMPER_PID=""
tamper() { # ARGS... : frame_tamper RPORT PORT ARGS in the background, output in $TEST_TMP/tamper.out
	"$TAMPER" $RPORT $PORT "$@" >"$TEST_TMP/tamper.out" 2>&1 &
	TAMPER_PID=$!
	on_exit "kill $TAMPER_PID 2>/dev/null"
	wait_for_line "$TEST_TMP/tamper.out" "listening"
}
tamper_result() { # the relay's JSON line into $t, once it is done (not in a subshell: wait)
	wait "$TAMPER_PID" || fail "frame_tamper: $(cat "$TEST_TMP/tamper.out")"
	t=$(tail -1 "$TEST_TMP/tamper.out")
}
refused() { jq -r '.answers.data_loss + .answers.unauthenticated' <<<"$1"; }

start_enc attack --key-file "$TEST_TMP/key1"
handled=0
# a. every 5th request sent twice, right after itself, on the same connection
tamper replay 5
out=$(enc --port $RPORT --key-file "$TEST_TMP/key1" --count 200 --outstanding 8) || fail "replay: $out"
tamper_result
expect_eq "replay: the client's calls all ok" 200 "$(status_count "$out" ok)"
expect_eq "replay: copies sent" 40 "$(jq -r .injected <<<"$t")"
expect_eq "replay: copies refused UNAUTHENTICATED, none answered ok" "40 0 0" \
	"$(jq -r .answers.unauthenticated <<<"$t") $(jq -r '.answers.ok + .answers.other' <<<"$t") $(jq -r .unanswered <<<"$t")"
handled=$((handled + 200))
# b. the first 20 requests recorded, sent again once the client left
tamper replay-later 20
out=$(enc --port $RPORT --key-file "$TEST_TMP/key1" --method put --count 50) || fail "replay later: $out"
tamper_result
expect_eq "replay later: the client's calls all ok" 50 "$(status_count "$out" ok)"
expect_eq "replay later: 20 recorded requests refused on a new connection" "20 20 0" \
	"$(jq -r .injected <<<"$t") $(refused "$t") $(jq -r .answers.ok <<<"$t")"
handled=$((handled + 50))
# c. one byte changed in every 3rd request: the method (put -> get), the
#    network field (user name), sender, seq, time, nonce, ciphertext, tag
for spec in "8 0x03" "16 0x01" "32 0x01" "40 0x01" "48 0x01" "56 0x01" "80 0x10" "-1 0x80"; do
	tamper flip 3 $spec
	out=$(enc --port $RPORT --key-file "$TEST_TMP/key1" --method put --count 30) || fail "flip $spec: $out"
	tamper_result
	expect_eq "flip byte $spec: refused, the others ok" "10 20" \
		"$(status_count "$out" data_loss) $(status_count "$out" ok)"
	handled=$((handled + 20))
done
stop_enc
expect_eq "attacks: handled only the client's own calls" $handled "$(sv .handled)"
expect_eq "attacks: every injected or changed request refused" $((40 + 20 + 8 * 10)) "$(sv .udf_errors)"
expect_eq "attacks: no corrupt value reached the handler" 0 "$(sv .bad_payload)"
# the last refusal was a tag (flip); the replays said why: check one alone
start_enc replay-why --key-file "$TEST_TMP/key1"
tamper replay-later 1
out=$(enc --port $RPORT --key-file "$TEST_TMP/key1" --method put --count 1) || fail "replay once: $out"
tamper_result
stop_enc
expect_eq "replay once: refused" 1 "$(refused "$t")"
grep -q "replayed" <<<"$(sv .last_error)" || fail "replay: the server's reason is not 'replayed': $(sv .last_error)"

# 6. refusals at start
one_line() { # WHAT REGEX OUTPUT
	[ "$(wc -l <<<"$3")" -eq 1 ] && grep -q "$2" <<<"$3" || fail "$1: unclear refusal: $3"
}
out=$("$ENC_CLIENT" --udp --key-file "$TEST_TMP/key1" --port 17177 --no-register 2>&1) &&
	fail "a client without an implementation of 'encrypt' ran"
one_line "client, no implementation" "element 'encrypt' is IMPLEMENTED IN APP but has no registered implementation" "$out"
out=$("$ENC_SERVER" --key-file "$TEST_TMP/key1" --listen 127.0.0.1 --port 17177 --no-register 2>&1) &&
	fail "a server without an implementation of 'encrypt' ran"
one_line "server, no implementation" "element 'encrypt' is IMPLEMENTED IN APP but has no registered implementation" "$out"
cp "$TEST_TMP/key1" "$TEST_TMP/key-open" && chmod 644 "$TEST_TMP/key-open"
out=$("$ENC_CLIENT" --key-file "$TEST_TMP/key-open" --port 17177 2>&1) && fail "a key file readable by others was used"
one_line "open key file" "readable by its owner only" "$out"
head -c 20 /dev/zero >"$TEST_TMP/key-short" && chmod 600 "$TEST_TMP/key-short"
out=$("$ENC_CLIENT" --key-file "$TEST_TMP/key-short" --port 17177 2>&1) && fail "a 20-byte key was used"
one_line "short key" "want 32 raw bytes or 64 hex digits" "$out"
echo ok
