#!/usr/bin/env bash
# Prints the path of the socktap binary to package: $SOCKTAP_BIN when set,
# else target/release/socktap, built (or found up to date) by
# `cargo build --release --locked`, the README's build. Used by
# scripts/package-deb.sh and deploy/container/build.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
bin=${SOCKTAP_BIN:-}
if [ -z "$bin" ]; then
	(cd "$ROOT" && "${CARGO:-cargo}" build --release --locked >&2)
	bin=$ROOT/target/release/socktap
fi
[ -x "$bin" ] || {
	echo "release-binary.sh: $bin is not an executable" >&2
	exit 1
}
echo "$bin"
