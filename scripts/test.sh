#!/usr/bin/env bash
# Ferrite's whole test suite, as CI runs it (.ci/run calls this script).
#
#   bash scripts/test.sh            # everything
#   FERRITE_DIFF_COMMANDS=50000 bash scripts/test.sh
#   FUZZ_SECONDS=10 bash scripts/test.sh
#
# Steps, in order: install missing tools, cargo fmt --check, cargo clippy -D warnings,
# cargo test --release (unit + integration + differential against a real redis-server),
# loom models, miri over src/store, a bounded run of every cargo-fuzz target. Every step runs even when an earlier
# one failed (so one run reports every problem); the script exits non-zero if any failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export FERRITE_DIFF_COMMANDS="${FERRITE_DIFF_COMMANDS:-10000}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"

# Per-step wall-clock limits (seconds), so that a hang fails the step instead of eating CI's
# 90 minutes; on top of that, no step may run past TEST_BUDGET seconds from the start.
T_FMT=300
T_CLIPPY=1200
T_TEST=2100
T_LOOM=900
T_MIRI=1500
T_FUZZ_BUILD=900
T_FUZZ_RUN=$((FUZZ_SECONDS + 120))
TEST_BUDGET="${TEST_BUDGET:-5100}"

START_ALL=$(date +%s)
declare -a SUMMARY=()
FAILED=0

header() {
    echo
    echo "=============================================================================="
    echo "== $*"
    echo "=============================================================================="
}

# run_step NAME LIMIT_SECONDS COMMAND...
run_step() {
    local name=$1 limit=$2
    shift 2
    local left=$((TEST_BUDGET - ($(date +%s) - START_ALL) - 30))
    if [ "$left" -lt "$limit" ]; then
        limit=$left
    fi
    if [ "$limit" -lt 30 ]; then
        header "$name"
        echo "not run: the time budget (TEST_BUDGET=${TEST_BUDGET}s) is spent"
        SUMMARY+=("FAIL  ${name} (not run: time budget spent)")
        FAILED=1
        return 0
    fi
    header "$name"
    echo "+ $*"
    local t0 rc
    t0=$(date +%s)
    set +e
    timeout --kill-after=30 "$limit" "$@"
    rc=$?
    set -e
    local dt=$(($(date +%s) - t0))
    if [ "$rc" -eq 0 ]; then
        SUMMARY+=("PASS  ${name} (${dt}s)")
    else
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            SUMMARY+=("FAIL  ${name} (timed out after ${limit}s)")
        else
            SUMMARY+=("FAIL  ${name} (exit ${rc}, ${dt}s)")
        fi
        FAILED=1
    fi
    return 0
}

note() {
    SUMMARY+=("$*")
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        echo "need root to run: $*" >&2
        return 1
    fi
}

# --------------------------------------------------------------------------------------------
header "setup: tools"

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    echo "redis-server not found: installing the Debian packages redis-server and redis-tools"
    # Keep the package's postinst from starting a system-wide redis-server (tests start their
    # own on ephemeral ports; a stray one on 6379 would do no harm, but isn't needed).
    policy_created=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d' &&
            policy_created=1 || true
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        redis-server redis-tools
    if [ "$policy_created" -eq 1 ]; then
        as_root rm -f /usr/sbin/policy-rc.d || true
    fi
fi
echo "redis-server: $(command -v redis-server) ($(redis-server --version | head -n1))"

if ! cargo fmt --version >/dev/null 2>&1; then
    rustup component add rustfmt
fi
if ! cargo clippy --version >/dev/null 2>&1; then
    rustup component add clippy
fi
echo "cargo: $(cargo --version)"

HAVE_NIGHTLY=0
if cargo +nightly --version >/dev/null 2>&1; then
    HAVE_NIGHTLY=1
    echo "nightly: $(cargo +nightly --version)"
else
    echo "WARNING: no nightly toolchain (cargo +nightly): the fuzz step will be skipped"
fi

HAVE_FUZZ=0
if [ -f fuzz/Cargo.toml ] && [ "$HAVE_NIGHTLY" -eq 1 ]; then
    if cargo fuzz --version >/dev/null 2>&1 ||
        timeout 900 cargo install cargo-fuzz --locked; then
        HAVE_FUZZ=1
        echo "cargo-fuzz: $(cargo fuzz --version)"
    else
        echo "cargo install cargo-fuzz failed"
        SUMMARY+=("FAIL  setup: cargo install cargo-fuzz")
        FAILED=1
    fi
fi

# --------------------------------------------------------------------------------------------
run_step "cargo fmt --all -- --check" "$T_FMT" cargo fmt --all -- --check

run_step "cargo clippy --all-targets --all-features -- -D warnings" "$T_CLIPPY" \
    cargo clippy --all-targets --all-features -- -D warnings

# Release build: concurrency tests are only meaningful with optimizations; the differential
# tests run FERRITE_DIFF_COMMANDS random commands per test against a real redis-server.
run_step "cargo test --release (FERRITE_DIFF_COMMANDS=${FERRITE_DIFF_COMMANDS})" "$T_TEST" \
    cargo test --release --no-fail-fast --features test-commands

# Loom: a separate target dir so --cfg loom does not invalidate the main build cache.
if [ -d loom-tests ]; then
    run_step "loom models (LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS})" "$T_LOOM" \
        env RUSTFLAGS="--cfg loom" cargo test --release -p ferrite-loom-tests --target-dir target/loom
else
    note "SKIP  loom models (no loom-tests/)"
fi

# Miri over the store's unsafe code (scripts/miri.sh explains its flags). Needs nightly's miri
# component; where it cannot be had, the step is reported as skipped.
if [ "$HAVE_NIGHTLY" -eq 1 ] && { cargo +nightly miri --version >/dev/null 2>&1 ||
    timeout 300 rustup +nightly component add miri >/dev/null 2>&1; }; then
    run_step "miri: store, raw_str (scripts/miri.sh)" "$T_MIRI" bash scripts/miri.sh
else
    note "SKIP  miri (no nightly toolchain with the miri component)"
fi

# Fuzz: build every target once, then run each for FUZZ_SECONDS.
if [ "$HAVE_FUZZ" -eq 1 ]; then
    targets=$(cargo +nightly fuzz list 2>/dev/null || true)
    if [ -z "$targets" ]; then
        note "SKIP  fuzz (no targets listed by cargo fuzz list)"
    else
        run_step "fuzz: build all targets" "$T_FUZZ_BUILD" cargo +nightly fuzz build
        if [[ "${SUMMARY[-1]}" == PASS* ]]; then
            for t in $targets; do
                mkdir -p "fuzz/corpus/$t"
                corpora=("fuzz/corpus/$t")
                [ -d "fuzz/seeds/$t" ] && corpora+=("fuzz/seeds/$t")
                extra=()
                [ -f "fuzz/dicts/$t.dict" ] && extra+=("-dict=fuzz/dicts/$t.dict")
                run_step "fuzz: $t (${FUZZ_SECONDS}s)" "$T_FUZZ_RUN" \
                    cargo +nightly fuzz run "$t" "${corpora[@]}" -- \
                    -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=4096 -timeout=10 "${extra[@]}"
                if [[ "${SUMMARY[-1]}" == FAIL* ]]; then
                    echo "crash inputs (if any) are under fuzz/artifacts/$t/:"
                    ls -l "fuzz/artifacts/$t" 2>/dev/null || true
                fi
            done
        fi
    fi
elif [ -f fuzz/Cargo.toml ]; then
    note "SKIP  fuzz (no nightly toolchain or cargo-fuzz)"
else
    note "SKIP  fuzz (no fuzz/ crate)"
fi

# --------------------------------------------------------------------------------------------
header "summary ($(($(date +%s) - START_ALL))s in all)"
for line in "${SUMMARY[@]}"; do
    echo "  $line"
done
if [ "$FAILED" -ne 0 ]; then
    echo "RESULT: FAILED"
    exit 1
fi
echo "RESULT: OK"
