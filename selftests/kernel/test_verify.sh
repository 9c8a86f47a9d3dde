#!/usr/bin/env bash
# adnc --verify: the generated programs pass the host kernel's verifier (the
# example, every library element, a chain of 10 elements); a rejected
# program is reported at the DSL line that produced the failing instruction.
source "$(dirname "$0")/../lib.sh"
require_root
ensure_bpffs

for src in "$ADN_ROOT"/examples/kv/kv.adn "$ADN_ROOT"/selftests/golden/ten.adn \
	"$ADN_ROOT"/elements/*/*.adn; do
	"$ADNC" "$src" -o "$TEST_TMP/ok/" --verify >"$TEST_TMP/out" 2>&1 ||
		fail "adnc --verify $src: $(cat "$TEST_TMP/out")"
done

# A miscompilation, made by hand: the ACL's map lookup loses its NULL check.
"$ADNC" "$ADN_ROOT/examples/kv/kv.adn" -o "$TEST_TMP/bad/" --emit-c-only || fail "adnc"
grep -q 'if (!row_ac_tab)' "$TEST_TMP/bad/kv.bpf.c" || fail "generated code changed shape: update this test"
sed -i 's/if (!row_ac_tab)/if (0)/' "$TEST_TMP/bad/kv.bpf.c"
clang -O2 -g -target bpf -I"$ADN_ROOT/bpf" -I"$ADN_ROOT/headers" -I"/usr/include/$(uname -m)-linux-gnu" \
	-c "$TEST_TMP/bad/kv.bpf.c" -o "$TEST_TMP/bad/kv.bpf.o" || fail "clang"
"$ADNC" --verify-object "$TEST_TMP/bad/kv.bpf.o" 2>"$TEST_TMP/err"
rc=$?
expect_eq "exit status of a rejected program" 4 $rc
# the ACL statement's line, as the generated code's comment names it
line=$(sed -n 's|.*/\* kv\.adn:\([0-9]*\): INSERT INTO output SELECT \* FROM input JOIN ac_tab.*|\1|p' \
	"$TEST_TMP/bad/kv.bpf.c" | head -1)
[ -n "$line" ] || fail "no DSL comment for the ACL statement in the generated C"
grep -q "^kv.adn:$line:1: error: the kernel verifier rejected" "$TEST_TMP/err" ||
	fail "not reported at kv.adn:$line: $(cat "$TEST_TMP/err")"
grep -q "bug in adnc" "$TEST_TMP/err" || fail "does not say it is a compiler bug"
echo ok
