#!/usr/bin/env bash
# Model-checks the slot latch protocol (src/store/latch.rs, compiled into
# loom-tests/ as is), the keyspace protocols built on it, and the hash table
# (src/store/table.rs, also compiled in as is), with loom.
# Separate target dir: `--cfg loom` changes how every dependency compiles.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="${RUSTFLAGS:-} --cfg loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
exec cargo test --release -p ferrite-loom-tests --target-dir target/loom "$@"
