#!/usr/bin/env bash
# The whole test suite: unit tests, and the privileged tests that load BPF
# and make real socket traffic. Run as root (or with CAP_BPF+CAP_PERFMON).
# With SOCKTAP_REQUIRE_BPF=1 a privileged test that cannot load BPF fails
# instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-debian.sh
cargo test --workspace --locked
