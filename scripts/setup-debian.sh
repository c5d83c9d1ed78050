#!/usr/bin/env bash
# Installs what building and testing socktap needs on Debian/Ubuntu, as root.
# Rust itself (cargo, rustc >= 1.85) is expected to be installed already.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
	clang llvm           # compiles the BPF programs
	libelf-dev zlib1g-dev pkg-config make  # libbpf, built by libbpf-sys; libelf.a and libz.a linked in
	linux-libc-dev       # <linux/bpf.h> for the BPF programs
	python3 strace       # test workloads and the independent oracle
	python3-prometheus-client  # parses socktap serve's exposition in a test
	prometheus           # promtool checks socktap serve's exposition in a test
	tmux curl            # drives the live view in a test
	util-linux           # setpriv, unshare, nsenter: the no-privilege and socktop tests
	bpftrace             # an independent oracle and the benchmark peer
	man-db zsh fish      # render the man pages and parse the completions in a test
	systemd prometheus   # systemd-analyze and promtool check deploy/ in a test
	python3-yaml         # parses the Kubernetes manifest in a test
	podman runc          # builds and runs the container image in a test
	busybox-static       # the one program in the test containers (tests/containers.rs)
	dpkg-dev binutils    # dpkg-shlibdeps and strip for scripts/package-deb.sh
	systemtap-doc        # SystemTap's own socktop, run unchanged through a `stap` link in a test
	iproute2             # a veth pair in a namespace of its own for socktop -d's test
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
