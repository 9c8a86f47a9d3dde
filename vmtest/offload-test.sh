#!/usr/bin/env bash
# adn on a simulated SmartNIC (issue 7, docs/offload.md). Runs in a vmtest
# guest with netdevsim loaded:
#   make vmtest-netdevsim VMTEST_CMD=vmtest/offload-test.sh   (or)
#   KERNEL=6.12 VMTEST_NETDEVSIM=1 VMTEST_CMD=vmtest/offload-test.sh vmtest/run.sh
# and on any host where `modprobe netdevsim` works (as root, from the work
# tree, after `make all`).
#
# 1. the offloadable chain (selftests/golden/offload_kv.adn: ACL, fault
#    injection, an atomic counter over UDP kv; tables of 2 rows, netdevsim's
#    limit) compiles with adnc --target offload; `adn-load attach --offload
#    <netdevsim dev>` loads <chain>.offload.bpf.o bound to the device and
#    attaches it in hardware mode; bpftool shows the program and every map
#    on the device, the ACL's 2 rows in the offloaded map; detach takes it
#    all off again;
# 2. a device that cannot offload (lo) is refused with a clear message;
# 3. chains that break the NIC's rules (selftests/bad/offload_*.adn) are
#    refused by adnc (exit 2, file:line:col) and the kernel never sees a
#    program: no object is written, the kernel's program count is unchanged.
# netdevsim checks the control path only: programs are accepted or refused,
# never run. Exit 0 pass, 1 fail, 77 skip.
set -u
fail() { echo "FAIL: $*"; exit 1; }
note() { echo "  $*"; }
ROOT=${ADN_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=$ROOT/build/bin
[ -x "$BIN/adnc" ] && [ -x "$BIN/adn-load" ] || fail "build/bin/adnc, adn-load missing: make all"
[ -d /sys/bus/netdevsim ] || modprobe netdevsim 2>/dev/null
[ -d /sys/bus/netdevsim ] || { echo "SKIP: netdevsim is not loaded (VMTEST_NETDEVSIM=1 loads it)"; exit 77; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

tmp=$(mktemp -d /tmp/adn-offload.XXXXXX)
id=$((100 + RANDOM % 800))
chain=offload_kv
cleanup() {
	"$BIN/adn-load" detach "$chain" >/dev/null 2>&1
	echo "$id" >/sys/bus/netdevsim/del_device 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "$id 1" >/sys/bus/netdevsim/new_device || fail "cannot create netdevsim device $id"
dev=
for _ in $(seq 100); do
	dev=$(ls "/sys/bus/netdevsim/devices/netdevsim$id/net/" 2>/dev/null | head -1)
	[ -n "$dev" ] && break
	sleep 0.05
done
[ -n "$dev" ] || fail "netdevsim$id has no network device"
ip link set "$dev" up || fail "ip link set $dev up"
note "$(uname -r): netdevsim$id is $dev"

# 1. the offloadable chain
"$BIN/adnc" "$ROOT/selftests/golden/offload_kv.adn" --target offload -o "$tmp/kv" --explain \
	>"$tmp/explain" 2>"$tmp/adnc.err" || fail "adnc --target offload: $(cat "$tmp/adnc.err")"
obj=$tmp/kv/$chain.offload.bpf.o
[ -s "$obj" ] || fail "no $obj"
grep -q 'fits the NIC' "$tmp/explain" || fail "--explain gives no offload reason: $(cat "$tmp/explain")"
"$BIN/adn-load" attach --offload "$dev" "$obj" >"$tmp/out" 2>"$tmp/err" ||
	fail "adn-load attach --offload $dev: $(cat "$tmp/out" "$tmp/err")"
note "$(cat "$tmp/out")"
pin=/sys/fs/bpf/adn/$chain
prog=$(bpftool prog show pinned "$pin/prog_xdp" -j) || fail "no pinned prog_xdp"
[ "$(jq -r .dev.ifname <<<"$prog")" = "$dev" ] || fail "program not offloaded to $dev: $prog"
ip -d link show "$dev" | grep -q 'xdpoffload\|prog/xdp' || fail "ip link shows no offloaded XDP program on $dev"
[ "$(bpftool net show dev "$dev" -j | jq -r '.[0].xdp[0].mode // empty')" = offload ] ||
	note "(bpftool net show: $(bpftool net show dev "$dev" 2>&1 | tr '\n' ' '))"
n_maps=0
for mid in $(jq -r '.map_ids[]' <<<"$prog"); do
	m=$(bpftool map show id "$mid" -j) || fail "map show $mid"
	[ "$(jq -r .dev.ifname <<<"$m")" = "$dev" ] || fail "map $mid not offloaded to $dev: $m"
	case $(jq -r .type <<<"$m") in hash|array) ;; *) fail "map $mid of type $(jq -r .type <<<"$m")" ;; esac
	n_maps=$((n_maps + 1))
done
[ $n_maps -ge 4 ] || fail "the program uses $n_maps maps, expected adn_cfg, adn_stats, adn_params, acl__ac_tab, count__n"
rows=$(bpftool map dump pinned "$pin/acl/ac_tab" -j | jq length) || fail "dump of the offloaded ACL table"
[ "$rows" = 2 ] || fail "offloaded ACL table holds $rows rows, expected 2 (alice, bob)"
note "offloaded: program $(jq -r .id <<<"$prog"), $n_maps maps on $dev, ACL table with $rows rows"
"$BIN/adn-load" detach "$chain" >/dev/null 2>"$tmp/err" || fail "detach: $(cat "$tmp/err")"
[ ! -e "$pin" ] || fail "$pin still there after detach"
! ip -d link show "$dev" | grep -q 'prog/xdp' || fail "XDP program still on $dev after detach"
note "detached: no program on $dev, no pins"

# 2. a device without an offload driver
if "$BIN/adn-load" attach --offload lo "$obj" >/dev/null 2>"$tmp/err"; then
	"$BIN/adn-load" detach "$chain" >/dev/null 2>&1
	fail "attach --offload lo succeeded"
fi
grep -q 'lo does not support XDP offload' "$tmp/err" || fail "unclear error for lo: $(cat "$tmp/err")"
[ ! -e "$pin" ] || fail "$pin left behind by a refused attach"
note "lo: $(cat "$tmp/err")"

# 3. chains that break the NIC's rules never reach the kernel
before=$(bpftool prog list -j | jq length)
n=0
for bad in "$ROOT"/selftests/bad/offload_*.adn; do
	out=$tmp/bad/$(basename "$bad" .adn)
	"$BIN/adnc" "$bad" --target offload -o "$out" >/dev/null 2>"$tmp/err"
	rc=$?
	[ $rc -eq 2 ] || fail "$bad: adnc exit $rc, expected 2: $(cat "$tmp/err")"
	grep -qE '^[^:]+:[0-9]+:[0-9]+: error: ' "$tmp/err" || fail "$bad: no file:line:col error"
	ls "$out"/*.offload.bpf.o >/dev/null 2>&1 && fail "$bad: an offload object was written"
	n=$((n + 1))
done
after=$(bpftool prog list -j | jq length)
[ "$before" = "$after" ] || fail "the kernel's program count changed ($before -> $after) while adnc refused chains"
note "$n non-offloadable chains refused by adnc; the kernel saw no program"
echo "adn offload on netdevsim: ok"
