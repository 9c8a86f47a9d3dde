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
grep -q ' /sys/fs/bpf bpf ' /proc/mounts || mount -t bpf bpf /sys/fs/bpf
cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cgroot" ] || { echo "demo: no cgroup2 mount found in /proc/mounts" >&2; exit 1; }
cg=$cgroot/adn-demo-$$
tmp=$(mktemp -d /tmp/adn-demo.XXXXXX)
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	"$bin/adn-load" detach $chain >/dev/null 2>&1 || true
	rmdir "$cg" 2>/dev/null || true
	rm -rf "$tmp"
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
"$bin/adnctl" log $chain -o "$tmp/log.jsonl" --follow &
pids+=($!)
in_cg "$bin/kv-server" --listen 127.0.0.1 --port "$port" --stats-file "$tmp/server.json" >"$tmp/server.out" 2>&1 &
server=$!
pids+=($server)
for _ in $(seq 100); do grep -q listening "$tmp/server.out" 2>/dev/null && break; sleep 0.05; done

run() { # label user count outstanding
	echo "-- $1: user=$2, $3 RPCs, $4 outstanding"
	in_cg "$bin/kv-client" --host 127.0.0.1 --port "$port" --user "$2" --count "$3" --outstanding "$4" --method mixed
}
run "alice (permission W)" alice 20000 128
run "mallory (not in the ACL)" mallory 1000 128
run "bob (permission R)" bob 100 1

step "5. change the ACL while the chain runs: give mallory W"
"$bin/adnctl" table $chain acl.ac_tab insert username=mallory permission=W
"$bin/adnctl" table $chain acl.ac_tab list
run "mallory (now allowed)" mallory 1000 128

step "6. what the kernel counted"
"$bin/adn-load" status $chain
kill -TERM $server; wait $server 2>/dev/null || true
echo "server handled: $(cat "$tmp/server.json")"

kill -TERM "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
lines=$(wc -l <"$tmp/log.jsonl")
step "7. the log: $lines records drained from the ring buffer (first 3, last 2)"
head -3 "$tmp/log.jsonl"
tail -2 "$tmp/log.jsonl"

step "8. detach: nothing of the chain remains"
"$bin/adn-load" detach $chain
ls /sys/fs/bpf/adn 2>/dev/null | grep -qx $chain && { echo "pins remain" >&2; exit 1; }
echo "detached; cgroup $cg removed at exit"
