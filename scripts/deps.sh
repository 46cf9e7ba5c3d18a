#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages sluice builds and tests with, when missing, and
# mounts bpffs. Run by `make test`, `make demo` and `make bench`; a no-op on a
# machine that has everything.
set -euo pipefail

# Each package and why it is here (the README says the same):
packages=(
	clang llvm            # compiles the BPF programs (clang -target bpf)
	libbpf-dev            # loads, pins and attaches the BPF programs; skeletons
	bpftool               # generates the skeletons; inspects pinned maps
	libelf-dev zlib1g-dev # libbpf's own link dependencies
	libcmocka-dev         # unit-test framework
	make gcc pkg-config
	iproute2              # ip netns / veth / tc for the namespace tests
	hping3                # crafted SYN floods in the namespace tests and demo
	nftables              # the nftables baseline in the benchmarks
	libuv1-dev            # libuv's threadpool, a baseline in the pool benchmark
	ethtool               # turns TSO off on test veths
	socat                 # real TCP listeners and echo services in the namespace tests
	jq                    # reads sluicectl -j output in the namespace tests
	python3               # test services: the action test, the HTTP front, the proxy's scripted upstream
	curl                  # HTTP requests and metrics reads in the daemon's end-to-end test
	util-linux            # nsenter (sluicectl/sluiced in a test host's netns), setpriv
	binutils              # nm and readelf: the installed library's exports in the install test
	systemd               # systemd-analyze verify of the unit in the install test (no running systemd needed)
	golang-go             # the Go net/http service of the overload benchmark and demo; Go baselines
	gnuplot-nox           # the overload benchmark's plots
	libhiredis-dev        # sluiced's Redis client for fleet quotas (--fleet)
	redis-server          # the Redis of the fleet-quota namespace test (redis-server, redis-cli)
	nodejs                # the Node.js event-loop service of guard mode's test and bench
	openjdk-17-jdk-headless # the JDK thread-pool service of guard mode's test and bench
	wrk                   # keep-alive load: the cost of guard mode's probes (bench-guard)
	xdp-tools             # xdp-filter, the data-plane benchmark's peer (make bench)
	haproxy               # a peer in the overload and proxy benchmarks (what users would pick instead); scripts/proxy-vs-haproxy.sh
	nginx-light           # a peer in the overload and proxy benchmarks; the proxy benchmark's upstream
	wrk                   # keep-alive HTTP load for the proxy benchmark
	valgrind              # instructions per request (callgrind) in the proxy benchmark
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done

if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "deps: missing packages: ${missing[*]}; run as root or install them" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ $(id -u) -eq 0 ]] && ! mountpoint -q /sys/fs/bpf; then
	echo "deps: mounting bpffs on /sys/fs/bpf"
	mount -t bpf bpffs /sys/fs/bpf
fi
exit 0
