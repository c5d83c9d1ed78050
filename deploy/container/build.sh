#!/usr/bin/env bash
# Builds a local socktap image from the release binary, with Podman or
# Docker, with no registry: the image's base is this machine's glibc (the
# dynamic loader and the libraries `ldd` names), imported as a local image,
# and the Containerfile's `prebuilt` stage copies the binary onto it.
# Prints the image reference as its last line.
#
#   deploy/container/build.sh
#   podman run --rm --privileged --pid host -v /sys:/sys:ro "$(deploy/container/build.sh | tail -n1)" trace
#
# Settings (environment):
#   SOCKTAP_BIN       the binary to put in the image [cargo build --release,
#                     then target/release/socktap]
#   SOCKTAP_IMAGE     the image reference [localhost/socktap:<version>]
#   CONTAINER_ENGINE  podman or docker [podman when installed, else docker]
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

engine=${CONTAINER_ENGINE:-}
if [ -z "$engine" ]; then
	if command -v podman >/dev/null; then engine=podman; else engine=docker; fi
fi
command -v "$engine" >/dev/null || {
	echo "build.sh: neither podman nor docker is installed" >&2
	exit 1
}

bin=$("$ROOT/scripts/release-binary.sh")
version=$("$bin" --version | awk '{print $2}')
image=${SOCKTAP_IMAGE:-localhost/socktap:$version}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The base: the loader and libraries the binary needs, at the paths ldd
# names, and the users the -u flag can name.
rootfs=$work/rootfs
mkdir -p "$rootfs/etc" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
	install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
done
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
# The same files make the same tar, so an unchanged base keeps its tag.
tar -C "$rootfs" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$work/base.tar" .
base=localhost/socktap-base:$(sha256sum "$work/base.tar" | cut -c1-12)
if ! "$engine" image inspect "$base" >/dev/null 2>&1; then
	"$engine" import "$work/base.tar" "$base" >&2
fi

mkdir "$work/context"
cp "$bin" "$work/context/socktap"
"$engine" build --target prebuilt --build-arg "RUNTIME_IMAGE=$base" \
	-f "$HERE/Containerfile" -t "$image" "$work/context" >&2
echo "$image"
