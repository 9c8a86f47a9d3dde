#!/usr/bin/env bash
# adnc from the command line: the examples compile to objects the kernel
# verifier accepts; every bad program in selftests/bad/ is refused with a
# `file:line:col: error:` line (and the text its `-- expect:` line names),
# exit status 2, and no crash.
source "$(dirname "$0")/../lib.sh"

for src in "$ADN_ROOT"/examples/*/*.adn; do
	"$ADNC" "$src" -o "$TEST_TMP/out/" >"$TEST_TMP/adnc.out" 2>&1 ||
		fail "adnc $src: $(cat "$TEST_TMP/adnc.out")"
done

n=0
for bad in "$ADN_ROOT"/selftests/bad/*.adn; do
	[ -e "$bad" ] || continue
	n=$((n + 1))
	target=host
	case ${bad##*/} in offload_*) target=offload ;; esac # the NIC's rules (docs/offload.md)
	"$ADNC" "$bad" --target $target -o "$TEST_TMP/bad/" >"$TEST_TMP/out.txt" 2>"$TEST_TMP/err.txt"
	rc=$?
	[ $rc -eq 2 ] || fail "$bad: exit status $rc, expected 2; stderr: $(cat "$TEST_TMP/err.txt")"
	grep -qE "^[^:]+:[0-9]+:[0-9]+: error: " "$TEST_TMP/err.txt" ||
		fail "$bad: no file:line:col error line: $(cat "$TEST_TMP/err.txt")"
	expect=$(sed -n 's/^-- expect: //p' "$bad" | head -1)
	if [ -n "$expect" ]; then
		grep -qF -- "$expect" "$TEST_TMP/err.txt" ||
			fail "$bad: expected '$expect' in: $(cat "$TEST_TMP/err.txt")"
	fi
done
note "$n bad programs refused"

# Not a crash on any truncation of the example (every prefix, by lines).
src=$ADN_ROOT/examples/kv/kv.adn
lines=$(wc -l <"$src")
for ((i = 1; i < lines; i += 3)); do
	head -n $i "$src" >"$TEST_TMP/trunc.adn"
	"$ADNC" "$TEST_TMP/trunc.adn" -o "$TEST_TMP/trunc/" --emit-c-only >/dev/null 2>&1
	rc=$?
	[ $rc -le 3 ] || fail "adnc crashed (status $rc) on the first $i lines of kv.adn"
done
# A file that does not exist, and a directory: one clear line, status 1 or 2.
"$ADNC" "$TEST_TMP/nope.adn" -o "$TEST_TMP/x/" 2>"$TEST_TMP/err.txt" && fail "missing file accepted"
[ "$(wc -l <"$TEST_TMP/err.txt")" -ge 1 ] || fail "no message for a missing file"
# A usage error: the error line and a pointer to the help, exit 1; --help
# prints the usage on stdout, exit 0.
for args in "--bogus $src" "$src" "$src -o"; do
	"$ADNC" $args >/dev/null 2>"$TEST_TMP/err.txt"
	expect_eq "adnc $args: exit status" 1 $?
	expect_eq "adnc $args: stderr lines" 2 "$(wc -l <"$TEST_TMP/err.txt")"
	[ "$(tail -1 "$TEST_TMP/err.txt")" = "Try 'adnc --help'." ] ||
		fail "adnc $args: no hint: $(cat "$TEST_TMP/err.txt")"
done
"$ADNC" --help >"$TEST_TMP/out.txt" 2>"$TEST_TMP/err.txt" || fail "adnc --help: exit status $?"
grep -q "^usage: adnc" "$TEST_TMP/out.txt" && [ ! -s "$TEST_TMP/err.txt" ] || fail "adnc --help: usage not on stdout"
echo ok
