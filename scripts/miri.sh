#!/usr/bin/env bash
# Runs the keyspace's unit tests under miri: the epoch-deferred frees and the
# pointer loads under a guard in src/store are checked for use after free,
# data races and undefined behaviour while several threads insert, overwrite,
# delete, expire and scan (src/store/stress_tests.rs shrinks itself under miri).
#
# Needs the nightly toolchain with the miri component:
#   rustup toolchain install nightly && rustup +nightly component add miri
#
# Flags, each for a known limitation of crossbeam's released crates rather than
# of Ferrite (crossbeam's own CI used the same ones for these versions):
# -Zmiri-disable-stacked-borrows: crossbeam-epoch 0.9's intrusive list breaks
#   Stacked Borrows (crossbeam-rs/crossbeam#545), and crossbeam-skiplist 0.1.3
#   frees nodes through a shared reference, which Tree Borrows rejects (fixed
#   on crossbeam's master, unreleased). Use-after-free, data races, invalid
#   values and alignment are still checked.
# -Zmiri-ignore-leaks: crossbeam-epoch never frees its own bookkeeping at exit
#   (crossbeam-rs/crossbeam#579). With the leak check on, the only leaks left
#   after stress_tests drains the epoch are crossbeam-epoch's queue nodes and
#   thread records; every value, slot and skiplist node is freed.
# -Zmiri-permissive-provenance: crossbeam-epoch packs tags into pointers with
#   integer casts, which miri otherwise warns about.
# -Zmiri-many-seeds: runs each test under several thread schedules.
set -euo pipefail
cd "$(dirname "$0")/.."
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-stacked-borrows -Zmiri-ignore-leaks -Zmiri-permissive-provenance -Zmiri-many-seeds=0..4}"
# Test-name filters (default: the store and the raw string buffer, the
# modules with unsafe code).
[ "$#" -gt 0 ] || set -- store raw_str
exec cargo +nightly miri test --lib -- "$@"
