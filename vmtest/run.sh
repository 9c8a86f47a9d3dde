#!/usr/bin/env bash
# vmtest: runs the kernel selftests (selftests/run_kernel_tests.sh) inside
# QEMU on Debian's kernels, one VM per kernel. The host root is shared
# read-only with the guest over virtio-9p, so the test scripts and the
# binaries already built under build/ run unchanged; the guest gets its own
# /tmp, /run, cgroup2 and bpffs. See vmtest/README.md.
#
#   vmtest/run.sh                  every kernel listed in vmtest/kernels
#   vmtest/run.sh 6.1 [6.12 ...]   those kernels (KERNEL=6.1,6.12 works too)
#
# Environment (all optional):
#   KERNEL=6.1         kernels to run: names from vmtest/kernels, or an exact
#                      package name (linux-image-6.1.0-56-amd64-unsigned)
#   ONLY=chain         a subset of the tests, as for run_kernel_tests.sh
#   VERBOSE=1          the guest console on stdout too (it is always in the log)
#   VMTEST_ACCEL=auto|kvm|tcg   auto: KVM if a probe boot of the kernel works
#   VMTEST_TIMEOUT=s   per boot (default 5400 under TCG, 1800 under KVM; the
#                      whole suite needs 35-45 min under TCG on 2 busy cores)
#   VMTEST_MEM=MiB VMTEST_CPUS=n   guest size (2048, all host cores up to 4)
#   VMTEST_CACHE=dir   downloads and unpacked kernels (vmtest/.cache)
#   VMTEST_OUT=dir     initramfs and console logs (build/vmtest)
#   VMTEST_CMD='cmd'   run this (from the work tree) instead of the tests
#   VMTEST_NETDEVSIM=1 build netdevsim.ko for each kernel (netdevsim-build.sh)
#                      and load it in the guest
#   VMTEST_SHELL=1     boot the first kernel to an interactive shell instead
#
# Exit status: 0 when every kernel booted and its tests passed (or skipped),
# 1 when a test failed or a kernel did not boot, 2 on a set-up error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
CACHE=${VMTEST_CACHE:-$here/.cache}
OUT=${VMTEST_OUT:-$root/build/vmtest}
ACCEL=${VMTEST_ACCEL:-auto}
MEM=${VMTEST_MEM:-2048}
CPUS=${VMTEST_CPUS:-$(n=$(nproc); echo $((n > 4 ? 4 : n)))}

die() { echo "vmtest: $*" >&2; exit 2; }
log() { echo "vmtest: $*"; }

# ---------------------------------------------------------------- checks
# QEMU is the one package installed on the host; busybox-static is only
# downloaded into the cache (it would replace a dynamic busybox).
check_host() {
	local missing=() t
	[ "$(id -u)" -eq 0 ] || die "run as root (9p must read the whole host root for the guest)"
	for t in qemu-system-x86_64:qemu-system-x86 xz:xz-utils zstd:zstd; do
		command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
			die "cannot install ${missing[*]}"
	fi
	for t in adnc adn-load adnctl kv-server kv-client malformed_client; do
		[ -x "$root/build/bin/$t" ] || die "build/bin/$t is missing: run 'make all check-kernel' first ('make vmtest' does)"
	done
}

# busybox_bin: prints the path of a static busybox (Debian's
# busybox-static, downloaded into the cache and unpacked there).
busybox_bin() {
	local bb=$CACHE/busybox/bin/busybox deb
	if [ ! -x "$bb" ]; then
		mkdir -p "$CACHE/debs"
		deb=$(ls "$CACHE"/debs/busybox-static_*.deb 2>/dev/null | tail -1 || true)
		if [ -z "$deb" ]; then
			log "downloading busybox-static" >&2
			(cd "$CACHE/debs" && apt-get download -q busybox-static 2>&1 | grep -v 'unsandboxed' >&2) ||
				die "apt-get download busybox-static failed"
			deb=$(ls "$CACHE"/debs/busybox-static_*.deb | tail -1)
		fi
		rm -rf "$CACHE/busybox.tmp"
		dpkg-deb -x "$deb" "$CACHE/busybox.tmp"
		mkdir -p "$CACHE/busybox/bin"
		mv "$CACHE/busybox.tmp/bin/busybox" "$bb"
		rm -rf "$CACHE/busybox.tmp"
	fi
	echo "$bb"
}

# ---------------------------------------------------------------- kernels
# kernel_regex NAME: the package regex of NAME in vmtest/kernels
kernel_regex() {
	awk -v n="$1" '!/^#/ && NF >= 2 && $1 == n { print $2; exit }' "$here/kernels"
}

all_kernel_names() {
	awk '!/^#/ && NF >= 2 { print $1 }' "$here/kernels"
}

# resolve_pkg NAME: prints the newest linux-image package that NAME selects
resolve_pkg() {
	local name=$1 re pkg
	if [[ $name == linux-image-* ]]; then
		re="^$(sed 's/[.+]/\\&/g' <<<"$name")\$"
	else
		re=$(kernel_regex "$name")
		[ -n "$re" ] || die "unknown kernel '$name' (not in vmtest/kernels: $(all_kernel_names | tr '\n' ' '))"
	fi
	pkg=$(apt-cache pkgnames linux-image- 2>/dev/null | grep -E "$re" | sort -V | tail -1 || true)
	if [ -z "$pkg" ] && [ -z "${_apt_updated:-}" ]; then
		_apt_updated=1
		log "no package for '$name' in the apt index; running apt-get update" >&2
		apt-get update -qq >&2 || true
		pkg=$(apt-cache pkgnames linux-image- 2>/dev/null | grep -E "$re" | sort -V | tail -1 || true)
	fi
	if [ -z "$pkg" ]; then # offline: the newest one already in the cache
		pkg=$(ls "$CACHE/debs" 2>/dev/null | sed 's/_.*//' | grep -E "$re" | sort -V | tail -1 || true)
	fi
	[ -n "$pkg" ] || die "no Debian package matches $re (apt index and $CACHE/debs)"
	echo "$pkg"
}

# fetch_deb PKG: prints the path of PKG's .deb in the cache, downloading it
# (apt-get download: nothing is installed) when it is not there.
fetch_deb() {
	local pkg=$1 deb
	mkdir -p "$CACHE/debs"
	deb=$(ls "$CACHE/debs/${pkg}"_*.deb 2>/dev/null | sort -V | tail -1 || true)
	if [ -z "$deb" ]; then
		log "downloading $pkg" >&2
		(cd "$CACHE/debs" && apt-get download -q "$pkg" 2>&1 | grep -v 'unsandboxed' >&2) ||
			die "apt-get download $pkg failed"
		deb=$(ls "$CACHE/debs/${pkg}"_*.deb 2>/dev/null | sort -V | tail -1 || true)
		[ -n "$deb" ] || die "apt-get download $pkg left no .deb in $CACHE/debs"
	fi
	echo "$deb"
}

# unpack_kernel PKG DEB: fills $CACHE/kernels/PKG/ with vmlinuz, config,
# release, modules/ (uncompressed .ko files of vmtest/modules and their
# dependencies) and modules.order (dependencies first). Redone when
# vmtest/modules changes. A module the kernel has built in is skipped (and
# listed in modules.builtin-or-missing).
unpack_kernel() {
	local pkg=$1 deb=$2 kdir=$CACHE/kernels/$1 tmp rel mods m f n
	mods=$(sed 's/#.*//' "$here/modules" | xargs)
	if [ -f "$kdir/vmlinuz" ] && [ "$(cat "$kdir/modules.want" 2>/dev/null)" = "$mods" ]; then
		return 0
	fi
	log "unpacking $(basename "$deb")"
	rm -rf "$kdir" "$kdir.tmp"
	tmp=$kdir.tmp
	mkdir -p "$tmp/x" "$tmp/k/modules"
	dpkg-deb -x "$deb" "$tmp/x"
	cp "$tmp/x"/boot/vmlinuz-* "$tmp/k/vmlinuz"
	cp "$tmp/x"/boot/config-* "$tmp/k/config"
	rel=$(ls "$tmp/x/lib/modules" | head -1)
	echo "$rel" >"$tmp/k/release"
	_mdir=$tmp/x/lib/modules/$rel _kout=$tmp/k
	declare -gA _kpath=() _seen=()
	while read -r f; do
		n=${f##*/}
		n=${n%%.ko*}
		_kpath[${n//-/_}]=$f
	done < <(cd "$_mdir" && find kernel -name '*.ko*')
	: >"$tmp/k/modules.order"
	: >"$tmp/k/modules.builtin-or-missing"
	for m in $mods; do visit_module "$m"; done
	echo "$mods" >"$tmp/k/modules.want"
	mv "$tmp/k" "$kdir"
	rm -rf "$tmp"
}

# visit_module NAME: NAME's dependencies (the depends= line of its
# .modinfo), then NAME, into $_kout/modules and $_kout/modules.order.
visit_module() {
	local n=${1//-/_} f base ko deps d
	[ -n "${_seen[$n]:-}" ] && return 0
	_seen[$n]=1
	f=${_kpath[$n]:-}
	if [ -z "$f" ]; then
		echo "$n" >>"$_kout/modules.builtin-or-missing"
		return 0
	fi
	base=${f##*/}
	base=${base%%.ko*}.ko
	ko=$_kout/modules/$base
	case $f in
	*.ko.xz) xz -dc "$_mdir/$f" >"$ko" ;;
	*.ko.zst) zstd -qdc "$_mdir/$f" >"$ko" ;;
	*.ko.gz) gzip -dc "$_mdir/$f" >"$ko" ;;
	*) cp "$_mdir/$f" "$ko" ;;
	esac
	deps=$(tr '\0' '\n' <"$ko" | sed -n 's/^depends=//p' | head -1)
	for d in ${deps//,/ }; do visit_module "$d"; done
	echo "$base" >>"$_kout/modules.order"
}

# ---------------------------------------------------------------- initramfs
# make_initramfs KDIR OUTFILE ENVFILE: busybox, /init, the modules, the env.
make_initramfs() {
	local kdir=$1 out=$2 envfile=$3 d
	d=$(mktemp -d "$OUT/initramfs.XXXXXX")
	mkdir -p "$d/bin" "$d/lib/modules" "$d/proc" "$d/sys" "$d/dev" "$d/newroot"
	cp "$BUSYBOX" "$d/bin/busybox"
	ln -s busybox "$d/bin/sh"
	cp "$here/init" "$d/init"
	chmod 0755 "$d/init"
	cp "$kdir"/modules/*.ko "$d/lib/modules/" 2>/dev/null || true
	cp "$kdir/modules.order" "$d/modules.order"
	cp "$envfile" "$d/vmtest.env"
	[ -f "$OUT/worktree.tar" ] && cp "$OUT/worktree.tar" "$d/worktree.tar"
	if [ -n "${NETDEVSIM_KO:-}" ]; then # loaded last, after its dependencies
		cp "$NETDEVSIM_KO" "$d/lib/modules/netdevsim.ko"
		echo netdevsim.ko >>"$d/modules.order"
	fi
	(cd "$d" && find . -mindepth 1 | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc 2>/dev/null) | gzip -1 >"$out"
	rm -rf "$d"
}

# ---------------------------------------------------------------- qemu
# qemu_args ACCEL KDIR INITRD LOG: the QEMU command line (one word per line)
qemu_args() {
	local accel=$1 kdir=$2 initrd=$3 log=$4 cpu=max
	[ "$accel" = kvm ] && cpu=host
	printf '%s\n' -nodefaults -no-user-config -no-reboot -display none \
		-machine pc -accel "$accel" -cpu "$cpu" -m "$MEM" -smp "$CPUS" \
		-kernel "$OUT/$(basename "$kdir").vmlinuz" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 oops=panic loglevel=4 mitigations=off" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
	if [ "$log" = stdio ]; then
		printf '%s\n' -serial mon:stdio
	else
		printf '%s\n' -serial "file:$log"
	fi
}

# The guest reports its status by writing it to the isa-debug-exit port;
# QEMU then exits with (status << 1) | 1. Any other exit is not a report.
decode_status() { # qemu-exit-code -> guest status, or a word
	local q=$1
	if [ "$q" -eq 124 ] || [ "$q" -eq 137 ]; then echo timeout
	elif [ $((q % 2)) -eq 1 ]; then echo $(((q - 1) / 2))
	elif [ "$q" -eq 0 ]; then echo no-status
	else echo "qemu-error-$q"
	fi
}

# boot KDIR ENVFILE ACCEL TIMEOUT LOG: boots once; prints the guest status
boot() {
	local kdir=$1 envfile=$2 accel=$3 tmo=$4 log=$5 initrd q
	initrd=$OUT/$(basename "$kdir").initramfs.gz
	make_initramfs "$kdir" "$initrd" "$envfile"
	: >"$log"
	set +e
	if [ "${VERBOSE:-0}" = 1 ] && [ "$log" != stdio ]; then
		tail -n +1 -f "$log" --pid=$$ >&2 &
		local tailpid=$!
	fi
	mapfile -t args < <(qemu_args "$accel" "$kdir" "$initrd" "$log")
	if [ "$log" = stdio ]; then
		qemu-system-x86_64 "${args[@]}"
	else
		timeout -k 10 "$tmo" qemu-system-x86_64 "${args[@]}" </dev/null >>"$log.qemu" 2>&1
	fi
	q=$?
	[ -n "${tailpid:-}" ] && { sleep 0.2; kill "$tailpid" 2>/dev/null; wait "$tailpid" 2>/dev/null; }
	set -e
	decode_status "$q"
}

# pick_accel KDIR: kvm when /dev/kvm is usable and a probe boot of this
# kernel reports back within 30 s; tcg otherwise.
pick_accel() {
	local kdir=$1 st env
	case $ACCEL in
	kvm | tcg) echo "$ACCEL"; return ;;
	esac
	if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then echo tcg; return; fi
	env=$OUT/probe.env
	printf 'VMTEST_PROBE=1\n' >"$env"
	st=$(boot "$kdir" "$env" kvm 30 "$OUT/$(basename "$kdir").kvm-probe.log")
	if [ "$st" = 0 ]; then echo kvm; else echo tcg; fi
}

# ---------------------------------------------------------------- main
[ $# -gt 0 ] && KERNEL=$(IFS=,; echo "$*")
KERNEL=${KERNEL:-all}
[ "$KERNEL" = all ] && KERNEL=$(all_kernel_names | paste -sd,)
check_host
mkdir -p "$CACHE" "$OUT"
BUSYBOX=$(busybox_bin)
# The work tree as it is now (sources, scripts, build/), for every guest.
tar -C "$root" --exclude=./.git --exclude=./vmtest/.cache --exclude=./build/vmtest \
	--exclude=./build/fuzz --ignore-failed-read --warning=none -cf "$OUT/worktree.tar" . ||
	die "cannot pack the work tree"

results=()
overall=0
first=1
for name in ${KERNEL//,/ }; do
	t0=$(date +%s)
	# the cache may be shared by runs in parallel: fill it under a lock
	exec 9>"$CACHE/.lock"
	flock 9
	pkg=$(resolve_pkg "$name")
	deb=$(fetch_deb "$pkg")
	unpack_kernel "$pkg" "$deb"
	kdir=$CACHE/kernels/$pkg
	ver=$(dpkg-deb -f "$deb" Version)
	echo "$ver" >"$kdir/version"
	NETDEVSIM_KO=
	if [ "${VMTEST_NETDEVSIM:-0}" = 1 ]; then
		NETDEVSIM_KO=$("$here/netdevsim-build.sh" "$kdir") || die "netdevsim build failed for $name"
	fi
	# the boot reads copies: the initramfs, and vmlinuz copied next to it
	cp "$kdir/vmlinuz" "$OUT/$pkg.vmlinuz"
	exec 9>&-
	accel=$(pick_accel "$kdir")
	if [ "$accel" = kvm ]; then tmo=${VMTEST_TIMEOUT:-1800}; else tmo=${VMTEST_TIMEOUT:-5400}; fi
	log "$name: $pkg $ver ($(cat "$kdir/release")), $accel, ${CPUS} CPUs, timeout ${tmo}s"
	env=$OUT/$name.env
	{
		printf 'ADN_HOST_ROOT=%q\n' "$root"
		[ -n "${VMTEST_CMD:-}" ] && printf 'VMTEST_CMD=%q\n' "$VMTEST_CMD"
		printf 'VMTEST_NAME=%q\n' "$name"
		printf 'VMTEST_RELEASE=%q\n' "$(cat "$kdir/release")"
		[ -n "${ONLY:-}" ] && printf 'ONLY=%q\n' "$ONLY"
		[ -n "${VERBOSE:-}" ] && printf 'VERBOSE=%q\n' "$VERBOSE"
		[ "${VMTEST_SHELL:-0}" = 1 ] && printf 'VMTEST_SHELL=1\n'
	} >"$env"
	if [ "${VMTEST_SHELL:-0}" = 1 ]; then
		[ $first = 1 ] || break
		log "interactive shell on $name; 'exit' powers the VM off (Ctrl-A X quits QEMU)"
		boot "$kdir" "$env" "$accel" 0 stdio >/dev/null
		exit 0
	fi
	first=0
	console=$OUT/$name.console.log
	rm -f "$console.qemu"
	t1=$(date +%s)
	st=$(boot "$kdir" "$env" "$accel" "$tmo" "$console")
	t2=$(date +%s)
	summary=$(grep -a -E '^kernel tests: ' "$console" | tail -1 | tr -d '\r' || true)
	# the guest's `bpftool feature probe kernel -j`, for docs/kernels.md
	grep -a '^vmtest-features: ' "$console" | tail -1 | tr -d '\r' |
		sed 's/^vmtest-features: //' >"$OUT/$name.features.json" || true
	case $st in
	0) verdict=PASS ;;
	*) verdict=FAIL overall=1 ;;
	esac
	[ "$st" = 0 ] || {
		echo "---- $name: guest status '$st'; last lines of $console:"
		tail -n 60 "$console" | tr -d '\r' | sed 's/^/    /'
		[ -s "$console.qemu" ] && { echo "---- qemu:"; sed 's/^/    /' "$console.qemu"; }
		echo "----"
	}
	# the per-test lines of the guest, for the summary
	grep -a -E '^(PASS|FAIL|SKIP) ' "$console" | tr -d '\r' | sed "s/^/  [$name] /" || true
	results+=("$(printf '%-5s %-5s %-42s %-4s boot+tests %4ss (set-up %ss)  %s' \
		"$verdict" "$name" "$pkg" "$accel" $((t2 - t1)) $((t1 - t0)) "${summary:-${VMTEST_CMD:-no test summary}: status $st}")")
done

echo "vmtest summary (console logs in $OUT):"
printf '  %s\n' "${results[@]}"
exit $overall
