#!/usr/bin/env bash
# Runs every kernel test (selftests/kernel/test_*.sh) against the real
# kernel, as root. Each test file is a separate process that cleans up what
# it creates. Exit status: 0 all passed (or skipped), 1 some failed.
#   ONLY=chain selftests/run_kernel_tests.sh   runs test_chain*.sh only
#   ONLY=chain,fault,log                         several prefixes
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
export ADN_ROOT=$root
# the kernel's features, probed once for all tests (lib.sh: require_features)
if [ -z "${ADN_FEATURES:-}" ]; then
	export ADN_FEATURES=/tmp/adn-features.$$.json
	trap 'rm -f "$ADN_FEATURES"' EXIT
fi
pass=0 failed=() skipped=0

run_one() { # label file [env...]
	local label=$1 file=$2 start rc
	shift 2
	start=$(date +%s.%N)
	env "$@" bash "$file" >"/tmp/adn-selftest.$$.log" 2>&1
	rc=$?
	local secs
	secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
	case $rc in
	0) pass=$((pass + 1)); echo "PASS  $label (${secs}s)" ;;
	77) skipped=$((skipped + 1)); echo "SKIP  $label: $(tail -1 /tmp/adn-selftest.$$.log)" ;;
	*) failed+=("$label"); echo "FAIL  $label (${secs}s)"; sed 's/^/      /' "/tmp/adn-selftest.$$.log" | tail -40 ;;
	esac
	[ "${VERBOSE:-0}" = 1 ] && sed 's/^/      /' "/tmp/adn-selftest.$$.log"
	rm -f "/tmp/adn-selftest.$$.log"
}

for f in "$root"/selftests/kernel/test_*.sh; do
	name=$(basename "$f" .sh)
	if [ -n "${ONLY:-}" ]; then # a prefix, or several separated by commas
		want=0
		for o in ${ONLY//,/ }; do [[ $name == test_${o}* ]] && want=1; done
		[ $want = 1 ] || continue
	fi
	run_one "$name" "$f" KV_OBJ="$root/build/kv/kv.bpf.o"
done
# The hand-written reference chain must behave exactly like adnc's output.
if [ -z "${ONLY:-}" ] || [[ ",$ONLY," == *,reference,* ]]; then
	for t in chain log fault; do
		run_one "test_$t (reference object)" "$root/selftests/kernel/test_$t.sh" \
			KV_OBJ="$root/build/reference/kv_chain.bpf.o"
	done
fi

# Whatever a test made, it must have removed, also when it failed.
cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
left=$(ls -d /sys/fs/bpf/adn/adntest-* "$cgroot"/adn-test-* 2>/dev/null)
left+=$(pgrep -af "$root/build/bin/(kv-server|kv-client|s2-server|s2-client|enc-server|enc-client|adnctl)" 2>/dev/null)
if [ -n "$left" ]; then
	failed+=("cleanup")
	echo "FAIL  cleanup: tests left behind:"
	echo "$left" | sed 's/^/      /'
fi

echo "kernel tests: $pass passed, ${#failed[@]} failed, $skipped skipped"
[ ${#failed[@]} -eq 0 ]
