#!/usr/bin/env bash
# Model-checks the store's protocols with loom: loom-tests/ compiles src/store/
# as is (the table, slot latches, keyspace, multi-key latching and reads,
# lazy expiry, snapshots) through the src/sync.rs facade, which gives it
# loom's atomics under --cfg loom. See loom-tests/src/lib.rs.
# Separate target dir: `--cfg loom` changes how every dependency compiles.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="${RUSTFLAGS:-} --cfg loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
exec cargo test --release -p ferrite-loom-tests --target-dir target/loom "$@"
