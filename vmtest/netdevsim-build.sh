#!/usr/bin/env bash
# Builds netdevsim.ko out of tree for one vmtest kernel (Debian's kernels
# do not build it): drivers/net/netdevsim/ from linux-source-<series> and
# the kernel's linux-headers-<release> (+ -common, + linux-kbuild), all of
# the exact version of the kernel image, fetched with `apt-get download`
# (nothing is installed). The result is cached: later calls print its path
# at once. Called by vmtest/run.sh when VMTEST_NETDEVSIM=1.
#
#   vmtest/netdevsim-build.sh KDIR    KDIR: $VMTEST_CACHE/kernels/<package>
#                                     (made by run.sh); prints the .ko path
set -euo pipefail
kdir=${1:?usage: netdevsim-build.sh CACHE/kernels/PACKAGE}
CACHE=$(cd "$kdir/../.." && pwd)
rel=$(cat "$kdir/release")
ver=$(cat "$kdir/version")
out=$CACHE/netdevsim/$rel
[ -f "$out/netdevsim.ko" ] && { echo "$out/netdevsim.ko"; exit 0; }

log() { echo "netdevsim: $*" >&2; }
die() { echo "netdevsim: $*" >&2; exit 2; }
command -v gcc-12 >/dev/null || die "gcc-12 is needed (Debian's kernels are built with it)"

# 6.1.192-2 -> 6.1 ; 6.12.117-1~deb12u1 -> 6.12
series=$(sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<<"$ver")
work=$(mktemp -d "$CACHE/netdevsim.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

get() { # package=version...
	apt-get download -q "$@" 2>&1 | grep -v unsandboxed >&2 || die "apt-get download $* failed"
}
log "fetching linux-headers-$rel and linux-source-$series $ver"
get "linux-headers-$rel=$ver"
# the headers' own dependencies: -common and linux-kbuild, same version
deps=$(dpkg-deb -f linux-headers-"$rel"_*.deb Depends | tr ',|' '\n\n' |
	sed -E 's/^ *([^ ]+).*/\1/' | grep -E '^linux-(headers|kbuild)-' | sort -u)
get $(sed "s/\$/=$ver/" <<<"$deps")
get "linux-source-$series=$ver"

mkdir root
for d in linux-headers-*.deb linux-kbuild-*.deb; do dpkg-deb -x "$d" root; done
# only drivers/net/netdevsim of the source tarball
tarball=./usr/src/linux-source-$series.tar.xz
dpkg-deb --fsys-tarfile linux-source-"$series"_*.deb | tar -xO "$tarball" |
	tar -xJ "linux-source-$series/drivers/net/netdevsim"
rm -f linux-source-*.deb
src=$work/linux-source-$series/drivers/net/netdevsim

# the headers' Makefile includes the -common tree by absolute path
hdr=$work/root/usr/src/linux-headers-$rel
sed -i "s|/usr/src/|$work/root/usr/src/|g" "$hdr/Makefile"
log "building netdevsim.ko for $rel"
# no BTF for the module: that would need pahole (dwarves) and vmlinux
make -s -C "$hdr" M="$src" CONFIG_NETDEVSIM=m CONFIG_DEBUG_INFO_BTF_MODULES= -j"$(nproc)" modules >&2 ||
	die "netdevsim build failed for $rel"
mkdir -p "$out"
cp "$src/netdevsim.ko" "$out/netdevsim.ko"
echo "$out/netdevsim.ko"
