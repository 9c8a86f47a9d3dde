#!/usr/bin/env bash
# Installs the Debian packages adn needs to build, test and run, if any is
# missing. Called by `make check`, `make demo` and `make bench`; safe to
# run again (it does nothing when all are present).
set -euo pipefail

packages=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libssl-dev check
	  pkg-config iproute2 make gcc jq bc libclang-rt-14-dev)
[ "${ADN_BENCH:-0}" = 1 ] && packages+=(haproxy gnuplot-nox)
[ "${ADN_PROFILE:-0}" = 1 ] && packages+=(haproxy gnuplot-nox linux-perf)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
