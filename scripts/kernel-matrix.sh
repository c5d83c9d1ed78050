#!/usr/bin/env bash
# Runs socktap inside stock Debian kernels booted under QEMU (TCG) and checks
# `socktap conformance` on each, against scripts/kernel-matrix.expected.
#
# Run as root on a Debian machine:  ./scripts/kernel-matrix.sh
#
# Settings (environment):
#   SOCKTAP_KERNELS        kernel series to boot          [5.10 6.1 6.12 7.2]
#   SOCKTAP_BACKENDS       backends to run conformance on [auto]; "auto" runs
#                          `socktap conformance --json`, X runs it with --backend X
#   SOCKTAP_BIN            socktap binary to test [built with cargo into
#                          $SOCKTAP_MATRIX_TARGET_DIR, default /tmp/matrix-target]
#   SOCKTAP_KERNEL_CACHE   downloaded kernels and per-kernel results
#                          [/var/cache/socktap-kernels]
#   SOCKTAP_KERNEL_REFRESH 1: look for newer kernels even when some are cached
#   SOCKTAP_CMD_TIMEOUT    seconds one command may take inside a VM [600]; one
#                          conformance run took 5-70 s under TCG (Nov 2026), but
#                          5.10's verifier took over 300 s to refuse the syscall
#                          backend on a loaded machine
#   SOCKTAP_VM_TIMEOUT     seconds one VM may take, boot to power-off
#                          [120 + SOCKTAP_CMD_TIMEOUT per backend]
#   SOCKTAP_VM_JOBS        VMs run side by side [2]: each takes one core under TCG
#   SOCKTAP_VM_MEMORY      memory per VM [1G]
#   SOCKTAP_VM_APPEND      more kernel command-line arguments []
#   SOCKTAP_GUEST_ENV      VAR=value words exported to socktap in the VMs [],
#                          e.g. SOCKTAP_DEBUG=1 for libbpf's log
#   SOCKTAP_EXPECTED       expected-failures file [scripts/kernel-matrix.expected]
#   SOCKTAP_DEBIAN_MIRROR, SOCKTAP_SECURITY_MIRROR
#                          mirror URIs, when the machine's own apt sources lack them
#
# Exit status: 0 only when every kernel x backend ran and matched its
# expectations exactly: an unexpected failure, a VM without results, and an
# expected failure that now passes all fail the run.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${SOCKTAP_KERNEL_CACHE:-/var/cache/socktap-kernels}
KERNELS=${SOCKTAP_KERNELS:-5.10 6.1 6.12 7.2}
BACKENDS=${SOCKTAP_BACKENDS:-auto}
CMD_TIMEOUT=${SOCKTAP_CMD_TIMEOUT:-600}
# Boot, `list` and `dmesg` take seconds; each conformance run up to CMD_TIMEOUT.
VM_TIMEOUT=${SOCKTAP_VM_TIMEOUT:-$((120 + CMD_TIMEOUT * $(wc -w <<<"$BACKENDS")))}
VM_JOBS=${SOCKTAP_VM_JOBS:-2}
VM_MEMORY=${SOCKTAP_VM_MEMORY:-1G}
VM_APPEND=${SOCKTAP_VM_APPEND:-}
GUEST_ENV=${SOCKTAP_GUEST_ENV:-}
EXPECTED=${SOCKTAP_EXPECTED:-$ROOT/scripts/kernel-matrix.expected}
REFRESH=${SOCKTAP_KERNEL_REFRESH:-0}
TARGET_DIR=${SOCKTAP_MATRIX_TARGET_DIR:-/tmp/matrix-target}

# Where each series is published. 6.12 is in several suites; the newest
# version among them wins. Security suites live on the security mirror.
declare -A SERIES_SUITES=(
	[5.10]="bullseye-security"
	[6.1]="bookworm-security"
	[6.12]="trixie trixie-security bookworm-backports"
	[7.2]="sid"
)

log() { printf '%s kernel-matrix: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 2; }
# Milliseconds since the epoch; and the time since such a stamp, as "12.3".
now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
secs_since() { local ms=$(($(now_ms) - $1)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }

# --- host tools --------------------------------------------------------------

install_host_packages() {
	local pkgs=(qemu-system-x86 busybox-static cpio gzip debian-archive-keyring python3)
	local missing=() p
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Only the machine's own apt setup here, not the private one below.
	env -u APT_CONFIG apt-get update -qq
	env -u APT_CONFIG apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- kernels: a private apt setup over the machine's own mirrors --------------

# Prints "URI SUITE" for every enabled deb source the machine has, from both
# the deb822 *.sources files and one-line *.list files.
machine_sources() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		# Paragraph mode: one stanza per record; comment lines are skipped.
		awk 'BEGIN { RS = ""; FS = "\n" }
		{
			types = ""; uris = ""; suites = ""; enabled = "yes"
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^[ \t]*#/) continue
				split($i, kv, ":"); key = tolower(kv[1])
				val = substr($i, index($i, ":") + 1)
				if (key == "types") types = val
				else if (key == "uris") uris = val
				else if (key == "suites") suites = val
				else if (key == "enabled") enabled = tolower(val)
			}
			if (types !~ /(^|[ \t])deb([ \t]|$)/ || enabled ~ /no/) next
			nu = split(uris, u, /[ \t]+/); ns = split(suites, s, /[ \t]+/)
			for (a = 1; a <= nu; a++) for (b = 1; b <= ns; b++)
				if (u[a] != "" && s[b] != "") print u[a], s[b]
		}' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -e "$f" ] || continue
		# deb [options] URI SUITE COMPONENTS...
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" { print $2, $3 }'
	done
}

# Sets MAIN_URI and SECURITY_URI from the machine's sources. No mirror host is
# written into this repository: they come from the machine (or the caller).
find_mirrors() {
	local sources
	sources=$(machine_sources)
	MAIN_URI=${SOCKTAP_DEBIAN_MIRROR:-$(awk '$1 ~ /^https?:/ && $2 !~ /-security$/ { print $1; exit }' <<<"$sources")}
	SECURITY_URI=${SOCKTAP_SECURITY_MIRROR:-$(awk '$1 ~ /^https?:/ && $2 ~ /-security$/ { print $1; exit }' <<<"$sources")}
	[ -n "$MAIN_URI" ] || die "no Debian mirror in /etc/apt/sources.list{,.d}; set SOCKTAP_DEBIAN_MIRROR"
	if [ -z "$SECURITY_URI" ]; then
		# Debian's mirrors serve the security archive beside the main one as
		# .../debian-security; a guess, said out loud, not a fact.
		SECURITY_URI="${MAIN_URI%/}-security"
		log "warning: the machine has no security mirror configured; trying $SECURITY_URI" \
			"(set SOCKTAP_SECURITY_MIRROR if that fails)"
	fi
}

# Writes $CACHE/apt/apt.conf: its own sources, lists, package cache and an
# empty dpkg status, so nothing of the machine's apt state is touched.
setup_private_apt() {
	local apt=$CACHE/apt s main_suites="" security_suites=""
	mkdir -p "$apt"/{state/lists/partial,cache/archives/partial,sources.list.d,preferences.d}
	: >"$apt/state/status"
	for s in $(for k in $KERNELS; do echo "${SERIES_SUITES[$k]}"; done | tr ' ' '\n' | sort -u); do
		case $s in
		*-security) security_suites+=" $s" ;;
		*) main_suites+=" $s" ;;
		esac
	done
	cat >"$apt/apt.conf" <<-EOF
		Dir::State "$apt/state";
		Dir::State::status "$apt/state/status";
		Dir::Cache "$apt/cache";
		Dir::Etc::SourceList "/dev/null";
		Dir::Etc::SourceParts "$apt/sources.list.d";
		Dir::Etc::Preferences "/dev/null";
		Dir::Etc::PreferencesParts "$apt/preferences.d";
		APT::Architecture "amd64";
		APT::Architectures { "amd64"; };
		Acquire::Languages "none";
		Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";
		Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
	EOF
	{
		for s in main security; do
			local uri suites
			if [ $s = main ]; then uri=$MAIN_URI suites=$main_suites; else uri=$SECURITY_URI suites=$security_suites; fi
			[ -n "$suites" ] || continue
			printf 'Types: deb\nURIs: %s\nSuites:%s\nComponents: main\n' "$uri" "$suites"
			printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n'
		done
	} >"$apt/sources.list.d/kernels.sources"
	export APT_CONFIG=$apt/apt.conf
}

APT_UPDATED=0
private_apt_update() {
	[ $APT_UPDATED = 1 ] && return
	find_mirrors
	setup_private_apt
	log "apt-get update (private lists: $CACHE/apt; main $MAIN_URI, security $SECURITY_URI)"
	# A suite that fails is reported when its kernel is looked for, so one
	# missing suite does not stop the others.
	apt-get update -q 2>&1 | grep -E '^(E|W):' >&2 || true
	APT_UPDATED=1
}

# Prints "PACKAGE VERSION" of the newest kernel image of series $1.
# Monolithic packages are linux-image-<ver>-amd64-unsigned; from 7.x Debian
# splits them, and linux-binary-<ver>-amd64 holds the vmlinuz.
newest_kernel_package() {
	local series=${1//./\\.} best="" best_ver="" p v
	local re="^linux-(image-$series\.[0-9][^ ]*[0-9]-amd64-unsigned|binary-$series\.[0-9][^ ]*[0-9]-amd64)\$"
	local names
	mapfile -t names < <(apt-cache search --names-only "$re" | awk '{ print $1 }')
	[ ${#names[@]} -gt 0 ] || return 1
	# One policy call for all names: "NAME VERSION" of each candidate.
	while read -r p v; do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best_ver"; then
			best=$p best_ver=$v
		fi
	done < <(apt-cache policy "${names[@]}" | awk '/^[^ ]/ { p = $1; sub(/:$/, "", p) }
		/Candidate:/ && $2 != "(none)" { print p, $2 }')
	[ -n "$best" ] && echo "$best $best_ver"
}

# Makes $CACHE/kernels/$1/{vmlinuz,config,package} exist. The .debs stay in
# $CACHE/debs; a series already extracted is reused without any network
# unless SOCKTAP_KERNEL_REFRESH=1. Needs private_apt_update done first.
fetch_kernel() {
	local series=$1 dir=$CACHE/kernels/$1 pkg ver t0
	if [ -s "$dir/vmlinuz" ] && [ "$REFRESH" != 1 ]; then
		log "$series: cached $(cat "$dir/package")"
		return
	fi
	read -r pkg ver < <(newest_kernel_package "$series") ||
		die "$series: no kernel package in suites '${SERIES_SUITES[$series]}' (see apt errors above)"
	if [ -s "$dir/vmlinuz" ] && [ "$(cat "$dir/package")" = "$pkg $ver" ]; then
		log "$series: cached $pkg $ver is the newest"
		return
	fi
	t0=$(now_ms)
	mkdir -p "$CACHE/debs"
	# Split packages: the config is in linux-base-<ver>, beside linux-binary.
	local wanted=("$pkg=$ver")
	[[ $pkg == linux-binary-* ]] && wanted+=("${pkg/linux-binary-/linux-base-}=$ver")
	local out
	out=$(cd "$CACHE/debs" && apt-get download -q "${wanted[@]}" 2>&1) ||
		die "$series: apt-get download ${wanted[*]} failed: $out"
	rm -rf "$dir.new" && mkdir -p "$dir.new/x"
	local w debs
	for w in "${wanted[@]}"; do
		# apt-get download names files NAME_VERSION_ARCH.deb, an epoch's ':' as %3a.
		debs=("$CACHE/debs/${w%%=*}_${ver/:/%3a}_"*.deb)
		[ -f "${debs[0]}" ] || die "$series: no .deb of ${w%%=*} $ver after the download"
		dpkg-deb -x "${debs[0]}" "$dir.new/x"
	done
	# /boot/vmlinuz-<release> in the old layout, /usr/lib/modules/<release>/vmlinuz in the split one.
	local f
	for f in "$dir.new"/x/boot/vmlinuz-* "$dir.new"/x/usr/lib/modules/*/vmlinuz; do
		if [ -f "$f" ]; then mv "$f" "$dir.new/vmlinuz"; fi
	done
	for f in "$dir.new"/x/boot/config-* "$dir.new"/x/usr/lib/modules/*/config; do
		if [ -f "$f" ]; then mv "$f" "$dir.new/config"; fi
	done
	rm -rf "$dir.new/x"
	[ -s "$dir.new/vmlinuz" ] || die "$series: no vmlinuz in $pkg"
	echo "$pkg $ver" >"$dir.new/package"
	# The .debs of the version replaced go: each is 15-110 MB.
	local old
	if [ -s "$dir/package" ]; then
		old=$(cut -d' ' -f1 "$dir/package")
		rm -f "$CACHE/debs/${old}_"*.deb "$CACHE/debs/${old/linux-binary-/linux-base-}_"*.deb
	fi
	rm -rf "$dir" && mv "$dir.new" "$dir"
	log "$series: fetched $pkg $ver in $(secs_since "$t0") s"
}

# --- the initramfs --------------------------------------------------------------

socktap_binary() {
	if [ -n "${SOCKTAP_BIN:-}" ]; then
		[ -x "$SOCKTAP_BIN" ] || die "SOCKTAP_BIN=$SOCKTAP_BIN is not an executable"
		echo "$SOCKTAP_BIN"
		return
	fi
	log "building socktap (cargo build --release into $TARGET_DIR)"
	(cd "$ROOT" && cargo build --release --locked --target-dir "$TARGET_DIR" -p socktap-cli >&2)
	echo "$TARGET_DIR/release/socktap"
}

# Copies binary $1 to $2 in the tree $3, with every shared library ldd names
# (and the dynamic loader) at the same paths as on this machine.
copy_with_libs() {
	local bin=$1 dest=$2 tree=$3 lib
	install -D -m 0755 "$bin" "$tree$dest"
	for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
		install -D -m 0755 "$(readlink -f "$lib")" "$tree$lib"
	done
}

# The payload's /init: mounts what socktap needs, runs each command between
# markers on the console, dumps the kernel log, and powers off.
write_init() {
	local init=$1 b
	cat >"$init" <<-'EOF'
		#!/bin/sh
		/bin/busybox --install -s /bin
		export PATH=/usr/local/bin:/bin TMPDIR=/tmp
		mkdir -p /proc /sys /dev /tmp /run
		mount -t proc proc /proc
		mount -t sysfs sysfs /sys
		mount -t devtmpfs devtmpfs /dev
		mount -t tmpfs tmpfs /tmp
		mount -t tracefs tracefs /sys/kernel/tracing
		mount -t debugfs debugfs /sys/kernel/debug
		mount -t bpf bpf /sys/fs/bpf
		mount -t cgroup2 cgroup2 /sys/fs/cgroup
		ip link set lo up
		# Kernel messages would land in the middle of result lines: keep them
		# off the console while the payload runs; the dmesg block has them.
		dmesg -n 1
		echo "@@SOCKTAP-KERNEL $(uname -r)@@"
		run() {
		    name=$1; shift
		    echo "@@SOCKTAP-BEGIN $name@@"
		    start=$(cut -d' ' -f1 /proc/uptime)
		    timeout -s KILL "$CMD_TIMEOUT" "$@" 2>&1
		    rc=$?
		    echo "@@SOCKTAP-END $name rc=$rc start=$start end=$(cut -d' ' -f1 /proc/uptime) limit=$CMD_TIMEOUT@@"
		}
	EOF
	echo "CMD_TIMEOUT=$CMD_TIMEOUT" >>"$init"
	for b in $GUEST_ENV; do echo "export $(printf '%q' "$b")" >>"$init"; done
	echo "run list socktap list -v" >>"$init"
	# The script runner's pass 4: parse, resolve, load and verify the BPF side
	# of a socktop-like script without running it: its send and receive
	# handlers counted in the kernel (aggregator keyed by pid, uid, comm,
	# protocol and family), create and close traced, the devices counted.
	echo "run stap-p4 socktap stap -p4 -e 'global execname, user, sk_tx, sk_rx, sk_pid, if_tx, n; probe socket.send { if (!success) next; execname[pid()] = execname(); user[pid()] = uid(); sk_tx[pid(), protocol, family] <<< size; sk_pid[pid(), protocol, family] += size } probe socket.receive { if (!success) next; execname[pid()] = execname(); user[pid()] = uid(); sk_rx[pid(), protocol, family] <<< size; sk_pid[pid(), protocol, family] += size } probe netdev.transmit { if_tx[dev_name] <<< length } probe socket.create, socket.close { n[name]++ } probe timer.s(5) { foreach ([p, pr, f] in sk_pid- limit 10) printf(\"%d %s %d %d %d %d\\n\", p, execname[p], user[p], @count(sk_tx[p, pr, f]), @sum(sk_rx[p, pr, f]), sk_pid[p, pr, f]); delete sk_tx; delete sk_rx; delete sk_pid }'" >>"$init"
	for b in $BACKENDS; do
		if [ "$b" = auto ]; then
			echo "run conformance-$b socktap conformance --json" >>"$init"
		else
			echo "run conformance-$b socktap conformance --json --backend $b" >>"$init"
		fi
	done
	cat >>"$init" <<-'EOF'
		run dmesg dmesg
		echo "@@SOCKTAP-DONE@@"
		poweroff -f
	EOF
	chmod 0755 "$init"
}

build_initramfs() {
	local out=$1 bin=$2 tree
	tree=$(mktemp -d)
	mkdir -p "$tree"/{bin,dev,proc,sys,tmp,run,usr/local/bin}
	install -m 0755 /bin/busybox "$tree/bin/busybox"
	ln -s busybox "$tree/bin/sh"
	# The kernel opens /dev/console for /init before devtmpfs is mounted.
	mknod -m 0600 "$tree/dev/console" c 5 1
	copy_with_libs "$bin" /usr/local/bin/socktap "$tree"
	write_init "$tree/init"
	(cd "$tree" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$out"
	rm -rf "$tree"
}

# --- the VMs -------------------------------------------------------------------

# Boots series $1 with initramfs $2; leaves serial.log, qemu.log and
# vm-seconds in $CACHE/runs/$1 (results of older runs are replaced).
run_vm() {
	local series=$1 initrd=$2 dir=$CACHE/runs/$1 t0 rc=0
	rm -rf "$dir" && mkdir -p "$dir"
	cp "$CACHE/kernels/$series/package" "$dir/package"
	t0=$(now_ms)
	# -cpu max under TCG, no KVM: see docs/kernel-facilities.md §5. -no-reboot
	# with panic=-1 turns a panic (or /init dying) into a prompt exit.
	timeout --kill-after=10 "$VM_TIMEOUT" qemu-system-x86_64 \
		-accel tcg,thread=multi -cpu max -m "$VM_MEMORY" -smp 1 \
		-nodefaults -no-user-config -display none -no-reboot \
		-bios /usr/share/qemu/qboot.rom \
		-serial "file:$dir/serial.log" \
		-kernel "$CACHE/kernels/$series/vmlinuz" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 rdinit=/init $VM_APPEND" \
		</dev/null >"$dir/qemu.log" 2>&1 || rc=$?
	echo "$rc" >"$dir/qemu-rc"
	secs_since "$t0" >"$dir/vm-seconds"
	local why=""
	[ "$rc" = 124 ] && why=", timed out after $VM_TIMEOUT s"
	log "$series: VM done in $(cat "$dir/vm-seconds") s (qemu rc=$rc$why)"
}

main() {
	[ "$(id -u)" = 0 ] || die "run as root (apt, mknod)"
	install_host_packages
	mkdir -p "$CACHE"
	# One matrix at a time per cache: two would replace each other's files.
	exec 9>"$CACHE/.lock"
	flock -n 9 || die "another kernel-matrix run holds $CACHE/.lock"
	local t_start series bin
	t_start=$(now_ms)
	local need_lists=0 ready=""
	for series in $KERNELS; do
		[ -n "${SERIES_SUITES[$series]:-}" ] || die "unknown kernel series $series (known: ${!SERIES_SUITES[*]})"
		[ -s "$CACHE/kernels/$series/vmlinuz" ] && [ "$REFRESH" != 1 ] || need_lists=1
	done
	[ $need_lists = 0 ] || private_apt_update
	for series in $KERNELS; do
		# A kernel that cannot be had fails its own row, not the whole matrix.
		# Run as a job and waited for: `if ! f` or `f || x` would switch off
		# set -e inside f.
		fetch_kernel "$series" &
		if wait $!; then
			ready+=" $series"
		else
			rm -rf "$CACHE/runs/$series" && mkdir -p "$CACHE/runs/$series"
			echo "the $series kernel could not be fetched (see the log above)" >"$CACHE/runs/$series/error"
		fi
	done
	bin=$(socktap_binary)
	WORK=$(mktemp -d)
	trap 'rm -rf "$WORK"' EXIT
	build_initramfs "$WORK/initramfs.cpio.gz" "$bin"
	log "initramfs $(du -h "$WORK/initramfs.cpio.gz" | cut -f1); booting$ready, $VM_JOBS at a time"
	for series in $ready; do
		while [ "$(jobs -rp | wc -l)" -ge "$VM_JOBS" ]; do wait -n || true; done
		run_vm "$series" "$WORK/initramfs.cpio.gz" &
	done
	wait
	log "all VMs done; $(secs_since "$t_start") s since the start"
	local dirs=()
	for series in $KERNELS; do dirs+=("$CACHE/runs/$series"); done
	python3 "$ROOT/scripts/kernel-matrix-report.py" --expected "$EXPECTED" \
		--backends "$BACKENDS" "${dirs[@]}"
}

# On one line, so that bash never reads past it: editing this file while it
# runs cannot change what the running copy does next.
main "$@"; exit
