#!/usr/bin/env bash
# Runs in a vmtest guest started with VMTEST_NETDEVSIM=1 (`make
# vmtest-netdevsim`), where init has loaded the netdevsim.ko that
# vmtest/netdevsim-build.sh built for that kernel. Checks the offload
# control path, no adn program yet (adnc --target offload is the other half
# of issue 7): a netdevsim device is created; a tiny XDP program with a
# 2-entry hash map is loaded bound to it and attached in offload mode;
# bpftool shows program and map offloaded; the map is read and written from
# user space through the device; a map netdevsim cannot hold (per-CPU
# array; 1024 entries: netdevsim takes at most 2) is refused. netdevsim
# never runs programs. Exit 0 pass, 1 fail, 77 skip.
set -u
fail() { echo "FAIL: $*"; exit 1; }
note() { echo "  $*"; }
[ -d /sys/bus/netdevsim ] || { echo "SKIP: netdevsim is not loaded (VMTEST_NETDEVSIM=1 loads it)"; exit 77; }
tmp=$(mktemp -d /tmp/nds.XXXXXX)
id=$((100 + RANDOM % 800))
pins=()
cleanup() {
	[ -n "${dev:-}" ] && bpftool net detach xdpoffload dev "$dev" 2>/dev/null
	rm -f "${pins[@]}"
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
note "netdevsim$id: $dev"

mkprog() { # name map_type max_entries
	cat >"$tmp/$1.bpf.c" <<EOF
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct {
	__uint(type, $2);
	__uint(max_entries, $3);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");
SEC("xdp") int count_pass(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&counts, &k);
	if (v)
		__sync_fetch_and_add(v, 1); /* the NFP rule: atomic add only */
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
EOF
	clang -O2 -g -target bpf -I/usr/include/"$(uname -m)"-linux-gnu \
		-c "$tmp/$1.bpf.c" -o "$tmp/$1.bpf.o" || fail "clang $1"
}

# accepted: hash map of 2 entries, atomic add, XDP_PASS
mkprog ok BPF_MAP_TYPE_HASH 2
pin=/sys/fs/bpf/vmtest-nds-ok
pins+=("$pin")
bpftool prog load "$tmp/ok.bpf.o" "$pin" type xdp dev "$dev" 2>"$tmp/err" ||
	fail "offload load refused: $(cat "$tmp/err")"
bpftool net attach xdpoffload pinned "$pin" dev "$dev" || fail "xdpoffload attach"
prog=$(bpftool prog show pinned "$pin" -j) || fail "prog show"
[ "$(jq -r .dev.ifname <<<"$prog")" = "$dev" ] || fail "program not offloaded to $dev: $prog"
ip -d link show "$dev" | grep -q 'prog/xdp' || fail "ip link shows no XDP program on $dev"
mid=$(jq -r '.map_ids[0]' <<<"$prog")
map=$(bpftool map show id "$mid" -j) || fail "map show"
[ "$(jq -r .dev.ifname <<<"$map")" = "$dev" ] || fail "map not offloaded to $dev: $map"
bpftool map update id "$mid" key 0 0 0 0 value 7 0 0 0 0 0 0 0 || fail "update of the offloaded map"
v=$(bpftool map lookup id "$mid" key 0 0 0 0 -j | jq -r '.value[0]')
[ "$v" = 0x07 ] || fail "offloaded map read back '$v', expected 0x07"
note "offloaded: program $(jq -r .id <<<"$prog"), hash map $mid (2 entries), map read/write through the device"

# refused: map kinds and sizes the device cannot hold
for spec in "percpu BPF_MAP_TYPE_PERCPU_ARRAY 2" "big BPF_MAP_TYPE_HASH 1024"; do
	set -- $spec
	mkprog "$1" "$2" "$3"
	pins+=("/sys/fs/bpf/vmtest-nds-$1")
	if bpftool prog load "$tmp/$1.bpf.o" "/sys/fs/bpf/vmtest-nds-$1" type xdp dev "$dev" 2>"$tmp/err"; then
		fail "$2 with $3 entries was accepted for offload"
	fi
	note "refused as expected: $2, $3 entries ($(grep -m1 -iE 'error|invalid|not supp' "$tmp/err" || tail -1 "$tmp/err"))"
done
echo "netdevsim offload control path: ok"
