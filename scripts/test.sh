#!/usr/bin/env bash
# The README's test command: set up, build once, run every test.
# Works on a fresh clone (no ../shared needed). Tests bind 127.0.0.1 on ports the OS picks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --workspace --all-targets --locked
cargo test --workspace --locked --no-fail-fast
