#!/bin/bash
# PID 1 of the vmtest guest, run by vmtest/init from the copy of the work
# tree in /tmp/adn, on the host root (read-only, over 9p). Mounts what the tests need, runs the kernel selftests
# and reports their status through the isa-debug-exit port. The variables
# (ADN_ROOT, ONLY, VERBOSE, VMTEST_NAME, VMTEST_CMD, VMTEST_SHELL) come
# from vmtest/run.sh via the initramfs.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8 TERM=${TERM:-dumb}
export ADN_VM=1

vm_exit() { # status
	sync
	printf "\\$(printf %03o "$1")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
	echo "vmtest: cannot write the isa-debug-exit port; powering off" >&2
	echo o >/proc/sysrq-trigger
	sleep 30
}
trap 'vm_exit 2' ERR

# /tmp is a tmpfs already: init unpacked the work tree into /tmp/adn
mount -t tmpfs -o mode=0755 tmpfs /run
# devtmpfs has no /dev/fd: bash's <(...) needs it
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
mkdir -p /dev/shm /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t devpts devpts /dev/pts
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
ip link set lo up
trap - ERR

echo "vmtest: $VMTEST_NAME: $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo)"
if [ "${VMTEST_SHELL:-0}" = 1 ]; then
	cd "$ADN_ROOT"
	setsid bash -c 'exec bash -i </dev/ttyS0 >/dev/ttyS0 2>&1'
	vm_exit 0
fi

start=$(date +%s)
cd "$ADN_ROOT" || vm_exit 2
# The kernel's BPF features, probed once: the tests read them (lib.sh,
# require_features) and vmtest/run.sh saves them from the console.
export ADN_FEATURES=/tmp/adn-features.json
bpftool feature probe kernel -j >"$ADN_FEATURES" 2>/dev/null &&
	echo "vmtest-features: $(cat "$ADN_FEATURES")"
# In the background, so that this shell (PID 1) reaps every orphan while
# the tests run: a zombie keeps its cgroup busy.
# VMTEST_CMD: a command line, run from the work tree (default: the tests)
bash -c "${VMTEST_CMD:-selftests/run_kernel_tests.sh}" </dev/null &
wait $!
rc=$?
echo "vmtest: $VMTEST_NAME: tests finished with status $rc in $(($(date +%s) - start))s"
vm_exit $rc
