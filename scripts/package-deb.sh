#!/usr/bin/env bash
# Builds target/debian/socktap_<version>_<arch>.deb with dpkg-deb: the
# release binary, its man pages, bash, zsh and fish completions, and the
# systemd unit of `socktap serve` (installed, not enabled). Prints the
# package's path as its last line.
#
#   ./scripts/package-deb.sh && dpkg -i target/debian/socktap_*.deb
#
# Settings (environment):
#   SOCKTAP_BIN  the binary to package [cargo build --release, then
#                target/release/socktap]
# Needs dpkg-dev (dpkg-shlibdeps), as scripts/setup-debian.sh installs.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
bin=$("$ROOT/scripts/release-binary.sh")
version=$("$bin" --version | awk '{print $2}')
arch=$(dpkg --print-architecture)
out=$ROOT/target/debian
deb=$out/socktap_${version}_${arch}.deb

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 022
# Where dpkg-shlibdeps expects a package's files: debian/<package>.
pkg=$work/debian/socktap

install -D -m 0755 "$bin" "$pkg/usr/bin/socktap"
strip --strip-unneeded "$pkg/usr/bin/socktap"
socktap=$pkg/usr/bin/socktap

mkdir -p "$work/man" "$pkg/usr/share/man/man1"
"$socktap" man --out-dir "$work/man"
for page in "$work"/man/*.1; do
	gzip -9n <"$page" >"$pkg/usr/share/man/man1/$(basename "$page").gz"
done

install -d "$pkg/usr/share/bash-completion/completions" \
	"$pkg/usr/share/zsh/vendor-completions" "$pkg/usr/share/fish/vendor_completions.d"
"$socktap" completions bash >"$pkg/usr/share/bash-completion/completions/socktap"
"$socktap" completions zsh >"$pkg/usr/share/zsh/vendor-completions/_socktap"
"$socktap" completions fish >"$pkg/usr/share/fish/vendor_completions.d/socktap.fish"

install -D -m 0644 "$ROOT/deploy/systemd/socktap-serve.service" \
	"$pkg/usr/lib/systemd/system/socktap-serve.service"

install -d "$pkg/usr/share/doc/socktap"
cat >"$pkg/usr/share/doc/socktap/copyright" <<-'COPYRIGHT'
	Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
	Upstream-Name: socktap

	Files: *
	Copyright: the socktap authors
	License: GPL-2.0-only
	 On Debian systems, the complete text of the GNU General Public License
	 version 2 can be found in /usr/share/common-licenses/GPL-2.
COPYRIGHT

# The shared libraries the binary needs, as package dependencies.
install -d "$pkg/DEBIAN"
printf 'Source: socktap\n\nPackage: socktap\nArchitecture: any\n' >"$work/debian/control"
# (It warns that this is not a debhelper build tree: its errors alone are shown.)
if ! shlibs=$(cd "$work" && dpkg-shlibdeps -O -e debian/socktap/usr/bin/socktap 2>"$work/shlibdeps.log"); then
	cat "$work/shlibdeps.log" >&2
	exit 1
fi
depends=$(sed -n 's/^shlibs:Depends=//p' <<<"$shlibs")
[ -n "$depends" ] || {
	echo "package-deb.sh: dpkg-shlibdeps found no dependencies: $shlibs" >&2
	exit 1
}

cat >"$pkg/DEBIAN/control" <<-CONTROL
	Package: socktap
	Version: $version
	Architecture: $arch
	Maintainer: socktap developers <socktap@localhost>
	Installed-Size: $(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
	Depends: $depends
	Section: net
	Priority: optional
	Description: which process is sending and receiving what, on which sockets
	 SystemTap's socket tapset rebuilt on eBPF: the tapset's probes
	 (socket.send, socket.receive, socket.create, socket.close, ...) with the
	 tapset's variables and process context, for every socket family, each
	 message counted once. socktap list, trace, top (socktop), stat, serve
	 (Prometheus metrics) and conformance. Needs Linux 5.10 or newer with BTF.
	 .
	 The unit socktap-serve.service is installed but not enabled:
	 systemctl enable --now socktap-serve
CONTROL

# The unit: systemd told of it, and stopped and disabled on removal.
cat >"$pkg/DEBIAN/postinst" <<-'SCRIPT'
	#!/bin/sh
	set -e
	if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || true
		# An upgrade restarts a running service on the new binary.
		if [ -n "$2" ]; then
			systemctl try-restart socktap-serve.service >/dev/null 2>&1 || true
		fi
	fi
SCRIPT
cat >"$pkg/DEBIAN/prerm" <<-'SCRIPT'
	#!/bin/sh
	set -e
	if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
		systemctl stop socktap-serve.service >/dev/null 2>&1 || true
	fi
SCRIPT
cat >"$pkg/DEBIAN/postrm" <<-'SCRIPT'
	#!/bin/sh
	set -e
	if [ "$1" = remove ] || [ "$1" = purge ]; then
		# A unit enabled by hand leaves its link behind otherwise.
		rm -f /etc/systemd/system/multi-user.target.wants/socktap-serve.service
		if [ -d /run/systemd/system ]; then
			systemctl daemon-reload >/dev/null 2>&1 || true
		fi
	fi
SCRIPT
chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"

mkdir -p "$out"
dpkg-deb --root-owner-group --build "$pkg" "$deb" >&2
echo "$deb"
