# Helpers of the tests of chains with elements at the receiver's sk_skb
# (stream parser + verdict). Source after lib.sh; PIN_ROOT must be set.

# skb_stat CHAIN NAME : a counter of the receiver's adn_skb_stats, summed over CPUs
# (bpftool prints the per-CPU values as bytes: u64 little-endian fields in
# the order of struct adn_skb_stats, bpf/adn_sk_skb.h)
skb_stat() {
	local names=(frames requests dropped rewritten malformed bad_layout batches unrun) i k sum=0 b
	for ((i = 0; i < ${#names[@]}; i++)); do [ "${names[$i]}" = "$2" ] && break; done
	[ $i -lt ${#names[@]} ] || fail "skb_stat: no counter $2"
	while read -r -a b; do
		for ((k = 7; k >= 0; k--)); do
			sum=$((sum + ($(printf '%d' "${b[$((i * 8 + k))]}") << (8 * k))))
		done
	done < <(bpftool -j map dump pinned "$PIN_ROOT/$1/adn_skb_stats" |
		jq -r '.[0].values[] | .value | join(" ")')
	echo $sum
}

# watch_strp_stall PORT PID... : while the PIDs run, look for a server
# socket on PORT that holds received bytes (skmem r > 0) while its Recv-Q
# reads 0, in three samples 0.4 s apart: the signature of the kernel bug in
# docs/kernel-notes.md ("The receiver's socket"), where tcp_bpf_strp_read_sock
# moves copied_seq past rcv_nxt (ss clamps the negative Recv-Q to 0) and
# strparser is never woken for the bytes left. Writes the socket's ss line
# to $TEST_TMP/strp_stall.
watch_strp_stall() {
	local port=$1 seen=0 line p alive
	shift
	: >"$TEST_TMP/strp_stall"
	while :; do
		alive=0
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 1 ] || return 0
		line=$(ss -tmnH state established "( sport = :$port )" 2>/dev/null |
			awk '/^[0-9]/ { q = $1; a = $3 } /skmem:\(r[1-9]/ && q == 0 { print a, $0; exit }')
		if [ -n "$line" ]; then
			seen=$((seen + 1))
			[ $seen -ge 3 ] && { echo "$line" >"$TEST_TMP/strp_stall"; return 0; }
		else
			seen=0
		fi
		sleep 0.4
	done
}

# strp_read_sock_kernel : whether this kernel's strparser reads a socket
# through tcp_bpf_strp_read_sock, the function with the stall bug of
# docs/kernel-notes.md ("The receiver's socket"): Linux 6.14 and later, and
# the stable kernels it was backported to (Debian's 6.1.192 and 6.12.117
# have it). There, replies can come seconds late, or, at the end of a
# connection's traffic, not at all, whatever adn does.
strp_read_sock_kernel() { grep -q ' tcp_bpf_strp_read_sock$' /proc/kallsyms 2>/dev/null; }

# strp_stall_skip [WHEN] : exit SKIP (77) naming the kernel bug, with the
# stalled socket watch_strp_stall recorded.
strp_stall_skip() {
	echo "SKIP: kernel $(uname -r) stalled a strparser socket${1:+ $1} (tcp_bpf_strp_read_sock left copied_seq past rcv_nxt: $(head -1 "$TEST_TMP/strp_stall")); a kernel bug of Linux 6.14+ and of the stable kernels it was backported to, not adn's (docs/kernel-notes.md, \"The receiver's socket\")"
	exit 77
}

# receiver_state CHAIN PORT : what a stalled receiver test needs to be
# understood, on stdout: the sockets of PORT (queues, skmem), the
# receiver's and the sender's counters, the per-socket stream state.
receiver_state() {
	echo "--- ss (port $2)"
	ss -tmni "( sport = :$2 or dport = :$2 )" 2>&1 | head -40
	echo "--- adn_skb_stats"
	local n
	for n in frames requests dropped rewritten malformed bad_layout batches unrun; do
		printf '%s=%s ' $n "$(skb_stat "$1" $n)"
	done
	echo
	echo "--- adn_stats"
	"$ADN_LOAD" status "$1" --json | jq -c .stats
	echo "--- adn_strp"
	bpftool -j map dump pinned "$PIN_ROOT/$1/adn_strp" | jq -c '.[]' | head -20
}
