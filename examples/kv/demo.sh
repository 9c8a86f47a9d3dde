#!/usr/bin/env bash
# The demo of `make demo`: compile the paper's chain (logging, ACL, fault
# injection), attach it to a fresh cgroup, run the kv server and clients in
# it, show what the kernel decided, and remove everything it created.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/build/bin
out=$root/build/kv
port=${PORT:-7070}
chain=kv-demo

[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (it loads eBPF programs and makes a cgroup)" >&2; exit 1; }
mounted_bpffs=0
if ! grep -q ' /sys/fs/bpf bpf ' /proc/mounts; then
	mount -t bpf bpf /sys/fs/bpf
	mounted_bpffs=1
fi
cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cgroot" ] || { echo "demo: no cgroup2 mount found in /proc/mounts" >&2; exit 1; }
cg=$cgroot/adn-demo-$$
tmp=$(mktemp -d /tmp/adn-demo.XXXXXX)
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	"$bin/adn-load" detach $chain >/dev/null 2>&1 || true
	# a cgroup stays busy for a moment after its last process exits
	[ -e "$cg/cgroup.kill" ] && echo 1 >"$cg/cgroup.kill" 2>/dev/null || true
	for _ in $(seq 100); do rmdir "$cg" 2>/dev/null && break; sleep 0.05; done
	rm -rf "$tmp"
	# bpffs, if the demo mounted it and nothing else pinned there since
	[ $mounted_bpffs = 1 ] && [ -z "$(ls -A /sys/fs/bpf 2>/dev/null)" ] && umount /sys/fs/bpf
	true
}
trap cleanup EXIT

in_cg() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. compile examples/kv/kv.adn"
"$bin/adnc" "$root/examples/kv/kv.adn" -o "$out/" --explain

step "2. attach the chain to cgroup $cg (port $port)"
mkdir "$cg"
"$bin/adn-load" attach --cgroup "$cg" --port "$port" --name $chain "$out/kv.bpf.o"
"$bin/adn-load" status $chain

step "3. the ACL table, as bpftool sees it (BTF field names)"
bpftool map dump pinned /sys/fs/bpf/adn/$chain/acl/ac_tab

step "4. run the kv server and clients inside the cgroup"
"$bin/adnctl" log $chain -o "$tmp/log.jsonl" --follow --interval-ms 5 &
pids+=($!)
# sh execs kv-server, so $! is the server itself
sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" \
	"$bin/kv-server" --listen 127.0.0.1 --port "$port" --stats-file "$tmp/server.json" >"$tmp/server.out" 2>&1 &
server=$!
pids+=($server)
for _ in $(seq 100); do grep -q listening "$tmp/server.out" 2>/dev/null && break; sleep 0.05; done
grep -q listening "$tmp/server.out" || { echo "demo: kv-server did not start: $(cat "$tmp/server.out")" >&2; exit 1; }

totals='{"sent":0,"ok":0,"status":{}}'
run() { # label user outstanding kv-client-args...
	local label=$1 user=$2 k=$3 j
	shift 3
	j=$(in_cg "$bin/kv-client" --host 127.0.0.1 --port "$port" --user "$user" \
		--outstanding "$k" --method mixed --json "$@")
	jq -r --arg l "$label" '"-- \($l): \(.sent) RPCs, \(.ok) OK, " +
		([.status | to_entries[] | "\(.value) \(.key)"] | join(", ")) +
		" (\(.net_replies) answered by the kernel); \(.rps | floor) req/s, p50 \(.p50_us) us, p99 \(.p99_us) us"' <<<"$j"
	totals=$(jq -c --argjson r "$j" '.sent += $r.sent | .ok += $r.ok |
		reduce ($r.status | to_entries[]) as $e (.; .status[$e.key] += $e.value)' <<<"$totals")
}
run "alice (permission W), 128 outstanding" alice 128 --count 50000
run "mallory (not in the ACL), 128 outstanding" mallory 128 --count 5000
run "bob (permission R), one at a time" bob 1 --count 1000

step "5. change the ACL while the chain runs: give mallory W"
"$bin/adnctl" table $chain acl.ac_tab insert username=mallory permission=W
"$bin/adnctl" table $chain acl.ac_tab list
run "mallory (now allowed), 128 outstanding" mallory 128 --count 5000

step "6. what the kernel counted"
"$bin/adn-load" status $chain
if ! kill -TERM $server 2>/dev/null; then echo "demo: the server died: $(tail -3 "$tmp/server.out")" >&2; exit 1; fi
wait $server 2>/dev/null || true
echo "server handled: $(cat "$tmp/server.json")"

kill -TERM "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
lines=$(wc -l <"$tmp/log.jsonl")
step "7. the log: $lines records drained from the ring buffer (first 3, last 2)"
head -3 "$tmp/log.jsonl"
tail -2 "$tmp/log.jsonl"

step "8. summary: decided in the kernel, at the client's socket"
jq -r --arg lines "$lines" '"RPCs sent \(.sent): OK \(.ok), denied \(.status.permission_denied // 0), aborted \(.status.aborted // 0); log records written \($lines)"' <<<"$totals"

step "9. detach: nothing of the chain remains"
"$bin/adn-load" detach $chain
ls /sys/fs/bpf/adn 2>/dev/null | grep -qx $chain && { echo "pins remain" >&2; exit 1; }
echo "detached; cgroup $cg removed at exit"
