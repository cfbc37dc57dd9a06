#!/usr/bin/env bash
# Side-by-side network benchmark: redis-benchmark against a freshly started ferrite-server
# (release build) and a freshly started real redis-server, on loopback ephemeral ports, in one
# run, alternating between the two (ferrite, redis, ferrite, redis, ...), then a table of the
# median throughput of each per test and pipeline depth, with the ratio Ferrite/Redis.
#
#   bash benches/compare.sh
#   BENCH_REQUESTS=100000 BENCH_ROUNDS=3 bash benches/compare.sh      # quick run
#
# Environment (all optional):
#   BENCH_REQUESTS      requests per redis-benchmark run (-n)            default 1000000
#   BENCH_ROUNDS        runs per server, test set and pipeline depth      default 3
#   BENCH_CLIENTS       parallel connections (-c)                         default 50
#   BENCH_DATA_SIZE     value size in bytes (-d)                          default 32
#   BENCH_TESTS         redis-benchmark -t list                           default set,get,incr,mset
#   BENCH_PIPELINES     pipeline depths (-P), space-separated             default "1 16"
#   BENCH_EXTRA_ARGS    more redis-benchmark arguments, e.g. "-r 100000 --threads 2"
#   BENCH_FERRITE_BIN   server binary for the "ferrite" side (skips the cargo build); e.g.
#                       /usr/bin/redis-server to check this script with redis vs redis
#   BENCH_FERRITE_ARGS  extra arguments for the ferrite side, e.g. "--threads 4"
#   BENCH_REDIS_BIN     redis-server binary                               default: from PATH
#   BENCH_REDIS_ARGS    extra arguments for redis-server, e.g. "--io-threads 2"
#   BENCH_OUT           directory for raw CSV output                      default target/bench-compare
#   BENCH_TIMEOUT       seconds one redis-benchmark run may take          default 900
#   BENCH_SERVER_CPUS   CPU list (taskset -c) for both servers, e.g. "1"  default: unpinned
#   BENCH_CLIENT_CPUS   CPU list for redis-benchmark, e.g. "0"            default: unpinned
#                       Pinning client and servers to different cores removes the scheduler's
#                       noise on a small machine; Ferrite sizes its default worker count to the
#                       CPUs it may run on, so with BENCH_SERVER_CPUS=1 it runs one worker.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

N=${BENCH_REQUESTS:-1000000}
ROUNDS=${BENCH_ROUNDS:-3}
CLIENTS=${BENCH_CLIENTS:-50}
DATA=${BENCH_DATA_SIZE:-32}
TESTS=${BENCH_TESTS:-set,get,incr,mset}
PIPELINES=${BENCH_PIPELINES:-1 16}
EXTRA=${BENCH_EXTRA_ARGS:-}
FERRITE_BIN=${BENCH_FERRITE_BIN:-}
FERRITE_ARGS=${BENCH_FERRITE_ARGS:-}
REDIS_BIN=${BENCH_REDIS_BIN:-$(command -v redis-server || true)}
REDIS_ARGS=${BENCH_REDIS_ARGS:-}
OUT=${BENCH_OUT:-$ROOT/target/bench-compare}
RUN_TIMEOUT=${BENCH_TIMEOUT:-900}
SERVER_PIN=()
CLIENT_PIN=()
[ -n "${BENCH_SERVER_CPUS:-}" ] && SERVER_PIN=(taskset -c "$BENCH_SERVER_CPUS")
[ -n "${BENCH_CLIENT_CPUS:-}" ] && CLIENT_PIN=(taskset -c "$BENCH_CLIENT_CPUS")

die() {
    echo "compare.sh: $*" >&2
    exit 1
}

for tool in redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool not found: install the Debian packages redis-server and redis-tools"
done
[ -n "$REDIS_BIN" ] && [ -x "$REDIS_BIN" ] ||
    die "redis-server not found: install the Debian package redis-server"

if [ -z "$FERRITE_BIN" ]; then
    echo "== cargo build --release --bin ferrite-server"
    cargo build --release --bin ferrite-server
    FERRITE_BIN=$ROOT/target/release/ferrite-server
fi
[ -x "$FERRITE_BIN" ] || die "no executable at $FERRITE_BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferrite-compare.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port in 20000-32767 (below Linux's ephemeral range, so outgoing connections don't take it)
# on which nothing listens now.
free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 12768))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    die "no free port found"
}

# start_server NAME BINARY EXTRA_ARGS -> sets STARTED_PORT, STARTED_PID
start_server() {
    local name=$1 bin=$2 extra=$3
    local attempt port pid dir log i
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        dir=$WORK/$name-$attempt
        mkdir -p "$dir"
        log=$dir/server.log
        local -a args=(--port "$port" --bind 127.0.0.1 --save '')
        if [ "$(basename "$bin")" = redis-server ]; then
            args+=(--appendonly no --daemonize no --dir "$dir")
        fi
        # shellcheck disable=SC2206 # word splitting of the extra arguments is intended
        args+=($extra)
        (cd "$dir" && exec "${SERVER_PIN[@]}" "$bin" "${args[@]}") >"$log" 2>&1 &
        pid=$!
        for i in $(seq 1 200); do
            if ! kill -0 "$pid" 2>/dev/null; then
                break
            fi
            if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
                PIDS+=("$pid")
                STARTED_PORT=$port
                STARTED_PID=$pid
                return 0
            fi
            sleep 0.05
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null || true
            echo "--- $name log ---" >&2
            cat "$log" >&2
            die "$name did not answer PING on port $port within 10 s"
        fi
        wait "$pid" 2>/dev/null || true
        if grep -qi "in use" "$log"; then
            continue
        fi
        echo "--- $name log ---" >&2
        cat "$log" >&2
        die "$name exited before answering PING"
    done
    die "could not start $name (ports in use)"
}

start_server ferrite "$FERRITE_BIN" "$FERRITE_ARGS"
FERRITE_PORT=$STARTED_PORT
start_server redis "$REDIS_BIN" "$REDIS_ARGS"
REDIS_PORT=$STARTED_PORT

mkdir -p "$OUT"
RESULTS=$OUT/results.csv
echo "side,pipeline,round,test,rps" >"$RESULTS"

echo "== machine: $(nproc) CPUs, $(uname -sr)"
echo "== ferrite side: $FERRITE_BIN $FERRITE_ARGS (127.0.0.1:$FERRITE_PORT)"
echo "== redis side:   $REDIS_BIN $REDIS_ARGS (127.0.0.1:$REDIS_PORT) $("$REDIS_BIN" --version | head -n1)"
echo "== redis-benchmark -t $TESTS -n $N -c $CLIENTS -d $DATA -P {$PIPELINES} $EXTRA; $ROUNDS rounds"

# bench SIDE PORT PIPELINE ROUND
bench() {
    local side=$1 port=$2 p=$3 r=$4
    local raw=$OUT/raw-$side-P$p-round$r.csv
    local t0 rc
    t0=$(date +%s)
    set +e
    # shellcheck disable=SC2086 # word splitting of EXTRA is intended
    timeout "$RUN_TIMEOUT" "${CLIENT_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -t "$TESTS" -n "$N" \
        -c "$CLIENTS" -P "$p" -d "$DATA" --csv $EXTRA >"$raw" 2>"$raw.err"
    rc=$?
    set -e
    if [ "$rc" -ne 0 ]; then
        echo "   $side P=$p round $r: redis-benchmark failed (exit $rc); see $raw.err" >&2
        tail -n 5 "$raw.err" >&2 || true
    fi
    # CSV: "test","rps","avg_latency_ms",... ; keep rows whose rps is a number.
    awk -F'","' -v side="$side" -v p="$p" -v r="$r" '
        NR > 1 && NF >= 2 {
            t = $1; sub(/^"/, "", t); rps = $2; gsub(/"/, "", rps)
            if (rps ~ /^[0-9.]+$/) printf "%s,%s,%s,%s,%s\n", side, p, r, t, rps
        }' "$raw" >>"$RESULTS"
    echo "   $side P=$p round $r: $(($(date +%s) - t0))s"
}

for p in $PIPELINES; do
    for r in $(seq 1 "$ROUNDS"); do
        bench ferrite "$FERRITE_PORT" "$p" "$r"
        bench redis "$REDIS_PORT" "$p" "$r"
    done
done

for pid in "${PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || die "a server died during the benchmark (see $WORK)"
done

echo
awk -F, -v pipelines="$PIPELINES" '
    function median(list,    a, n, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        if (n == 0) return ""
        if (n % 2) return a[(n + 1) / 2]
        return (a[n / 2] + a[n / 2 + 1]) / 2
    }
    NR > 1 {
        key = $2 SUBSEP $4
        if (!(key in seen)) { seen[key] = 1; order[++count] = key }
        vals[key, $1] = vals[key, $1] " " $5
    }
    END {
        np = split(pipelines, ps, " ")
        for (k = 1; k <= np; k++) {
            printf "pipeline %s (median requests/s over the rounds)\n", ps[k]
            printf "  %-18s %14s %14s %14s\n", "test", "ferrite", "redis", "ferrite/redis"
            for (i = 1; i <= count; i++) {
                split(order[i], parts, SUBSEP)
                if (parts[1] != ps[k]) continue
                f = median(vals[order[i], "ferrite"]); r = median(vals[order[i], "redis"])
                ratio = (f != "" && r != "" && r > 0) ? sprintf("%.2f", f / r) : "n/a"
                printf "  %-18s %14s %14s %14s\n", parts[2], (f == "" ? "n/a" : sprintf("%.0f", f)), (r == "" ? "n/a" : sprintf("%.0f", r)), ratio
            }
            print ""
        }
    }' "$RESULTS"
echo "raw results: $RESULTS"
