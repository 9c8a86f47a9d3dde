# A multi-host topology for kernel tests: network namespaces joined by
# veth pairs through a bridge, one client and N server replicas.
# Source after lib.sh; everything made here is registered with on_exit and
# removed also when the test fails.
#
#   netns_topology 2        # sets NS_C, NS_S[1..2], IP_C, IP_S[1..2], DEV
#
#        NS_C (10.77.0.1)     NS_S[1] (10.77.0.11)   NS_S[2] (10.77.0.12)
#            eth0                  eth0                   eth0
#              \__________________ | _____________________/
#                     br0 in NS_BR (no address; a plain L2 switch)
#
#   netns_ipv6              # after netns_topology: IP6_C, IP6_S[1..N]
#                           # (fd00:77::1, fd00:77::11, ...) besides IPv4
#
# Names carry the test's pid, so tests may run side by side. Programs run
# in a namespace with nsenter --net, not `ip netns exec`: the latter mounts
# a fresh /sys, which hides /sys/fs/bpf and the cgroup2 mount.

NETNS_PREFIX="adnt$$"
DEV=eth0
NS_C=""
NS_BR=""
NS_S=()
IP_C=""
IP_S=()
IP6_C=""
IP6_S=()

# netns_add NAME: a namespace with lo up; deleted at exit (which removes
# its devices, and with them their TC filters and XDP programs).
netns_add() {
	ip netns add "$1" || fail "cannot create network namespace $1"
	on_exit "ip netns del '$1'"
	ip -n "$1" link set lo up
}

# in_ns NS CMD... : run CMD in the network namespace NS.
in_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# netns_topology N : the client and N (1..9) server namespaces above.
netns_topology() {
	local n=$1 i
	NS_C="${NETNS_PREFIX}c"
	NS_BR="${NETNS_PREFIX}br"
	IP_C=10.77.0.1
	netns_add "$NS_BR"
	ip -n "$NS_BR" link add br0 type bridge || fail "cannot create bridge"
	ip -n "$NS_BR" link set br0 up
	_netns_host "$NS_C" "$IP_C" pc
	for ((i = 1; i <= n; i++)); do
		NS_S[$i]="${NETNS_PREFIX}s$i"
		IP_S[$i]="10.77.0.1$i"
		_netns_host "${NS_S[$i]}" "${IP_S[$i]}" "ps$i"
	done
}

# _netns_host NS ADDR PORTNAME: a namespace whose eth0 is wired to br0.
_netns_host() {
	local ns=$1 addr=$2 port=$3
	netns_add "$ns"
	ip link add "$DEV" netns "$ns" type veth peer name "$port" netns "$NS_BR" ||
		fail "cannot create veth pair for $ns"
	ip -n "$NS_BR" link set "$port" master br0 up
	ip -n "$ns" addr add "$addr/24" dev "$DEV"
	ip -n "$ns" link set "$DEV" up
}

# netns_ipv6 : IPv6 addresses on the hosts of netns_topology too: IP6_C
# (fd00:77::1) and IP6_S[i] (fd00:77::1i), a /64 of unique local
# addresses. `nodad`: usable at once (duplicate address detection would
# keep them "tentative", unusable as a source, for a second or more).
# Neighbour discovery finds the MACs (the links are up). The bridge does
# not snoop multicast: solicitations reach every host whether or not an
# MLD report was seen (no querier here).
netns_ipv6() {
	local i
	ip -n "$NS_BR" link set br0 type bridge mcast_snooping 0 ||
		fail "cannot turn off multicast snooping on br0"
	IP6_C=fd00:77::1
	_netns_host6 "$NS_C" "$IP6_C"
	for i in "${!NS_S[@]}"; do
		IP6_S[$i]="fd00:77::1$i"
		_netns_host6 "${NS_S[$i]}" "${IP6_S[$i]}"
	done
}

_netns_host6() { # NS ADDR
	ip -n "$1" -6 addr add "$2/64" dev "$DEV" nodad ||
		fail "cannot add $2 on $1 (IPv6 disabled?)"
}

# tx_csum_off NS DEV : turn off DEV's transmit checksum offload (no
# ethtool needed: the SIOCETHTOOL ioctl ETHTOOL_STXCSUM, python3). Over
# veth a datagram keeps CHECKSUM_PARTIAL end to end and the receiver
# trusts it, so a wrong UDP checksum goes unnoticed; with the offload off
# on the sending device the stack computes the full checksum at send time
# (CHECKSUM_NONE at TC), and off on a bridge port the checksum of a
# CHECKSUM_PARTIAL datagram is completed there (skb_checksum_help, after
# any TC hook of the sender): either way the receiver verifies it
# (Udp6InCsumErrors / UdpInCsumErrors, in_ns NS cat /proc/net/snmp[6]).
tx_csum_off() {
	in_ns "$1" python3 - "$2" <<'PY' || fail "cannot turn off tx checksum offload on $1/$2"
import ctypes, fcntl, socket, struct, sys
SIOCETHTOOL, ETHTOOL_GTXCSUM, ETHTOOL_STXCSUM = 0x8946, 0x16, 0x17
def ethtool(cmd, data=0):
    ev = ctypes.create_string_buffer(struct.pack("II", cmd, data), 8)
    ifr = struct.pack("16sP", sys.argv[1].encode(), ctypes.addressof(ev)).ljust(40, b"\0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
    return struct.unpack("II", ev.raw)[1]
ethtool(ETHTOOL_STXCSUM, 0)
sys.exit(1 if ethtool(ETHTOOL_GTXCSUM) else 0)
PY
}

# start_bg_ns NAME CG NS CMD... : start_bg (lib.sh) in a namespace: CMD runs
# in cgroup CG (joined before the exec, so its sockets belong to CG) and in
# network namespace NS. Sets BG_PID (the command itself).
start_bg_ns() {
	local name=$1 cg=$2 ns=$3
	shift 3
	start_bg "$name" "$cg" nsenter --net="/run/netns/$ns" -- "$@"
}

# run_ns CG NS CMD... : run CMD in cgroup CG and namespace NS, in the foreground.
run_ns() {
	local cg=$1 ns=$2
	shift 2
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" \
		nsenter --net="/run/netns/$ns" -- "$@"
}

# bpf_load_pinned OBJ DIR : load every program of OBJ (bpftool, no adn
# loader) and pin the programs under DIR/progs, the maps under DIR/maps;
# DIR (one level below /sys/fs/bpf/adn) removed at exit. Sets PROG to the
# first program's pin.
bpf_load_pinned() {
	local obj=$1 dir=$2
	mkdir -p "$dir" || fail "cannot create $dir"
	on_exit "rm -rf '$dir'"
	bpftool prog loadall "$obj" "$dir/progs" pinmaps "$dir/maps" >/dev/null 2>"$TEST_TMP/bpftool.err" ||
		fail "bpftool cannot load $obj: $(grep -v 'skipping unrecognized' "$TEST_TMP/bpftool.err" | tail -5)"
	PROG=$(ls -d "$dir"/progs/* | head -1)
}

# tc_attach NS DEV ingress|egress PINNED_PROG : cls_bpf in direct-action mode
# on a clsact qdisc; the qdisc (and so the filter) removed at exit.
tc_attach() {
	local ns=$1 dev=$2 dir=$3 prog=$4
	if ! in_ns "$ns" tc qdisc show dev "$dev" | grep -q clsact; then
		in_ns "$ns" tc qdisc add dev "$dev" clsact || fail "tc qdisc add clsact on $ns/$dev"
		on_exit "nsenter --net=/run/netns/$ns -- tc qdisc del dev $dev clsact"
	fi
	in_ns "$ns" tc filter add dev "$dev" "$dir" bpf da object-pinned "$prog" ||
		fail "tc filter add $dir on $ns/$dev"
}

tc_detach() { # NS DEV
	in_ns "$1" tc qdisc del dev "$2" clsact
}

# xdp_attach NS DEV xdpgeneric|xdpdrv PINNED_PROG ; detached at exit.
xdp_attach() {
	local ns=$1 dev=$2 mode=$3 prog=$4
	in_ns "$ns" ip link set dev "$dev" "$mode" pinned "$prog" || fail "XDP attach on $ns/$dev"
	on_exit "nsenter --net=/run/netns/$ns -- ip link set dev $dev $mode off"
}

xdp_detach() { # NS DEV MODE
	in_ns "$1" ip link set dev "$2" "$3" off
}

# ---- maps of a chain loaded with bpf_load_pinned, by hand (no loader) ----

# le_bytes VALUE NBYTES : VALUE as NBYTES little-endian bytes for bpftool.
le_bytes() {
	local v=$1 n=$2 i out=()
	for ((i = 0; i < n; i++)); do
		out+=("$((v & 255))")
		v=$((v >> 8))
	done
	echo "${out[*]}"
}

# str_bytes STRING NBYTES : STRING NUL-padded to NBYTES, as bytes.
str_bytes() {
	local s=$1 n=$2 i out=()
	for ((i = 0; i < n; i++)); do
		if ((i < ${#s})); then
			out+=("$(printf '%d' "'${s:i:1}")")
		else
			out+=(0)
		fi
	done
	echo "${out[*]}"
}

# map_update DIR MAP KEYBYTES... -- VALUEBYTES...
map_update() {
	local dir=$1 map=$2 key=() val=()
	shift 2
	while [ "$1" != -- ]; do key+=("$1"); shift; done
	shift
	bpftool map update pinned "$dir/maps/$map" key "${key[@]}" value "$@" ||
		fail "cannot update $map"
}

# chain_cfg DIR PORT : the service port the programs look for (adn_cfg).
chain_cfg() {
	# shellcheck disable=SC2046
	map_update "$1" adn_cfg $(le_bytes 0 4) -- $(le_bytes "$2" 4)
}

# map_stat DIR NAME : a counter of adn_stats, summed over CPUs.
map_stat() {
	bpftool map dump pinned "$1/maps/adn_stats" -j |
		jq --arg n "$2" '[.[0].formatted.values[].value[$n]] | add'
}
