#!/usr/bin/env bash
# Side-by-side network benchmark: redis-benchmark against a freshly started ferrite-server
# (release build) and a freshly started real redis-server, on loopback ephemeral ports, in one
# run, alternating between the two (for each pipeline depth, round and test: one run on each,
# ferrite first in odd rounds and redis first in even ones), then a table of the median
# throughput and median server CPU time per request of each per test and pipeline depth, with
# the ratios Ferrite/Redis.
#
#   bash benches/compare.sh
#   BENCH_REQUESTS=100000 BENCH_ROUNDS=3 bash benches/compare.sh      # quick run
#   BENCH_KEYSPACE=1000000 bash benches/compare.sh                    # random keys, 1M preloaded
#   BENCH_KEYSPACE=1000000 BENCH_TESTS= BENCH_PIPELINES=16 BENCH_FERRITE_ARGS="--threads 2" \
#       BENCH_COMMANDS="SET key:__rand_int__ xxx EX 60" bash benches/compare.sh
#
# Each test runs as its own redis-benchmark invocation (-t TEST, or a custom command), so that
# the server's CPU time can be charged to it: the first field of /proc/PID/task/TID/schedstat
# (ns on CPU) of each of the server's threads is read before and after the run; the sum of the
# per-thread differences (a thread started during the run counts from zero), divided by the
# number of requests (-n; one MSET of 10 keys is one request), is the "us/req" column. It counts
# every thread of the server (workers, background threads). A thread that exits during the run
# takes its time with it (Ferrite's tokio workers do: a latch wait runs in block_in_place, which
# moves the worker to a new thread, and idle threads exit after 10 s); for such a run the
# process's utime+stime from /proc/PID/stat (which keeps exited threads' time, in clock ticks of
# 10 ms) is used instead, and the table says how many runs that was.
#
# MSET: redis-benchmark's built-in mset test sends MSET key:__rand_int__ x 10 times; without -r
# the ten keys are all the literal "key:__rand_int__". The mset test therefore always runs with
# -r (BENCH_KEYSPACE, else BENCH_MSET_KEYSPACE), and redis-benchmark draws each of the ten
# __rand_int__ independently: ten distinct random keys per MSET (a repeat within one MSET has
# probability ~45/keyspace).
#
# Random keys (BENCH_KEYSPACE=N): before the runs, each server gets N keys key:000000000000 ..
# key:<N-1, 12 digits> (the names redis-benchmark's -r N gives key:__rand_int__; 16 bytes) with
# values of BENCH_DATA_SIZE bytes "x", as generated SET commands in RESP piped through
# redis-cli --pipe (the same on both servers; no DEBUG POPULATE). Then its DBSIZE, used_memory
# (INFO) and resident memory (VmRSS from /proc, minus the RSS of the empty server before the
# preload) are printed, with bytes per key and the Ferrite/Redis ratio, and written to
# memory.csv. Every redis-benchmark run then uses -r N, so GETs hit preloaded keys and SETs
# overwrite them (incr uses counter:__rand_int__, which adds keys).
#
# Environment (all optional):
#   BENCH_REQUESTS      requests per redis-benchmark run (-n)            default 1000000
#   BENCH_ROUNDS        runs per server, test and pipeline depth          default 3
#   BENCH_CLIENTS       parallel connections (-c)                         default 50
#   BENCH_DATA_SIZE     value size in bytes (-d, and the preload)         default 32
#   BENCH_TESTS         redis-benchmark -t list (comma-separated; may be empty)
#                                                                         default set,get,incr,mset
#   BENCH_COMMANDS      custom commands, ';'-separated, each run like a test after BENCH_TESTS,
#                       e.g. "SET key:__rand_int__ xxx;SET key:__rand_int__ xxx EX 60"
#   BENCH_PIPELINES     pipeline depths (-P), space-separated             default "1 16"
#   BENCH_KEYSPACE      preload this many keys and pass -r to every run   default: none
#   BENCH_MSET_KEYSPACE -r for the mset test when BENCH_KEYSPACE is unset default 1000000
#   BENCH_EXTRA_ARGS    more redis-benchmark arguments, e.g. "--threads 2" (they come after
#                       the script's own -r, so an -r here overrides it)
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
#
# Output in BENCH_OUT: results.csv (side,pipeline,round,test,rps,cpu_us_per_req,cpu_source
# = schedstat or stat), memory.csv
# (with BENCH_KEYSPACE), and each run's raw redis-benchmark CSV.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

N=${BENCH_REQUESTS:-1000000}
ROUNDS=${BENCH_ROUNDS:-3}
CLIENTS=${BENCH_CLIENTS:-50}
DATA=${BENCH_DATA_SIZE:-32}
TESTS=${BENCH_TESTS-set,get,incr,mset}
COMMANDS=${BENCH_COMMANDS:-}
KEYSPACE=${BENCH_KEYSPACE:-}
MSET_KEYSPACE=${BENCH_MSET_KEYSPACE:-1000000}
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

if [ -n "$KEYSPACE" ]; then
    [[ "$KEYSPACE" =~ ^[1-9][0-9]*$ ]] && [ "$KEYSPACE" -le 1000000000000 ] ||
        die "BENCH_KEYSPACE must be a key count from 1 to 10^12"
fi
[[ "$MSET_KEYSPACE" =~ ^[1-9][0-9]*$ ]] || die "BENCH_MSET_KEYSPACE must be a positive number"

# The runs: "t:NAME" for a redis-benchmark -t test, "c:COMMAND" for a custom command.
RUNS=()
IFS=, read -ra _tests <<<"$TESTS"
for t in "${_tests[@]}"; do
    t=${t// /}
    [ -n "$t" ] && RUNS+=("t:$t")
done
IFS=';' read -ra _cmds <<<"$COMMANDS"
for c in "${_cmds[@]}"; do
    read -ra _words <<<"$c"
    [ "${#_words[@]}" -gt 0 ] && RUNS+=("c:${_words[*]}")
done
[ "${#RUNS[@]}" -gt 0 ] || die "nothing to run: BENCH_TESTS and BENCH_COMMANDS are both empty"

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
FERRITE_PID=$STARTED_PID
start_server redis "$REDIS_BIN" "$REDIS_ARGS"
REDIS_PORT=$STARTED_PORT
REDIS_PID=$STARTED_PID

mkdir -p "$OUT"
RESULTS=$OUT/results.csv
echo "side,pipeline,round,test,rps,cpu_us_per_req,cpu_source" >"$RESULTS"
CLK_TCK=$(getconf CLK_TCK)

# cpu_snapshot PID FILE: "TID NS_ON_CPU" for each live thread of PID, then "stat TICKS", the
# process's utime+stime (exited threads included). Fields after the ")" that closes the command
# name: state is field 3 of stat, utime field 14, stime field 15.
cpu_snapshot() {
    local f tid ns rest
    for f in /proc/"$1"/task/*/schedstat; do
        tid=${f%/schedstat}
        { read -r ns rest <"$f" && echo "${tid##*/} $ns"; } 2>/dev/null || true
    done >"$2"
    awk '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); print "stat", f[12] + f[13] }' /proc/"$1"/stat >>"$2"
}

# cpu_delta BEFORE AFTER: "NS SOURCE" spent between two snapshots (see the header).
cpu_delta() {
    awk -v hz="$CLK_TCK" '
        FNR == NR { before[$1] = $2; next }
        $1 == "stat" { ticks = $2 - before["stat"]; delete before["stat"]; next }
        { ns += $2 - ($1 in before ? before[$1] : 0); delete before[$1] }
        END {
            for (t in before) gone++
            if (gone) printf "%.0f stat\n", ticks * 1e9 / hz
            else printf "%.0f schedstat\n", ns
        }' "$1" "$2"
}

# Resident memory of PID in bytes.
rss_bytes() {
    awk '/^VmRSS:/ { printf "%.0f\n", $2 * 1024 }' /proc/"$1"/status
}

info_field() { # PORT FIELD
    redis-cli -h 127.0.0.1 -p "$1" info memory | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

# SET key:%012d <DATA bytes of x> for 0..KEYSPACE-1, in RESP.
preload_commands() {
    awk -v n="$KEYSPACE" -v d="$DATA" 'BEGIN {
        v = sprintf("%" d "s", ""); gsub(/ /, "x", v)
        tail = sprintf("\r\n$%d\r\n%s\r\n", d, v)
        for (i = 0; i < n; i++) printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012.0f%s", i, tail
    }'
}

# preload SIDE PORT PID: fills the server and appends its memory figures to memory.csv.
preload() {
    local side=$1 port=$2 pid=$3
    local rss0 rss1 used dbsize t0 t1 out
    rss0=$(rss_bytes "$pid")
    t0=$(date +%s.%N)
    out=$(preload_commands | redis-cli -h 127.0.0.1 -p "$port" --pipe 2>&1) ||
        die "$side: preload failed: $out"
    t1=$(date +%s.%N)
    grep -q "errors: 0," <<<"$out" || die "$side: preload errors: $out"
    sleep 1 # let background work (lazy frees, epoch reclamation) settle
    dbsize=$(redis-cli -h 127.0.0.1 -p "$port" dbsize)
    [ "$dbsize" = "$KEYSPACE" ] || echo "   WARNING: $side DBSIZE is $dbsize, not $KEYSPACE" >&2
    used=$(info_field "$port" used_memory)
    rss1=$(rss_bytes "$pid")
    echo "$side,$KEYSPACE,$DATA,$dbsize,$used,$rss0,$rss1" >>"$MEMORY"
    awk -v side="$side" -v t0="$t0" -v t1="$t1" -v n="$KEYSPACE" -v db="$dbsize" -v used="$used" \
        -v r0="$rss0" -v r1="$rss1" 'BEGIN {
        printf "   %-8s %6.1f s  DBSIZE %d  used_memory %.1f MiB (%.1f B/key)  RSS %.1f -> %.1f MiB (%.1f B/key over the empty server)\n",
            side, t1 - t0, db, used / 1048576, used / n, r0 / 1048576, r1 / 1048576, (r1 - r0) / n
    }'
}

echo "== machine: $(nproc) CPUs, $(uname -sr)"
echo "== ferrite side: $FERRITE_BIN $FERRITE_ARGS (127.0.0.1:$FERRITE_PORT)"
echo "== redis side:   $REDIS_BIN $REDIS_ARGS (127.0.0.1:$REDIS_PORT) $("$REDIS_BIN" --version | head -n1)"
RANGE=()
[ -n "$KEYSPACE" ] && RANGE=(-r "$KEYSPACE")
echo "== redis-benchmark -n $N -c $CLIENTS -d $DATA -P {$PIPELINES} ${RANGE[*]} $EXTRA; $ROUNDS rounds of:"
for run in "${RUNS[@]}"; do
    case $run in
    t:mset) echo "   -t mset -r ${KEYSPACE:-$MSET_KEYSPACE} (10 random keys per MSET)" ;;
    t:*) echo "   -t ${run#t:}" ;;
    c:*) echo "   ${run#c:}" ;;
    esac
done

MEMORY=
if [ -n "$KEYSPACE" ]; then
    MEMORY=$OUT/memory.csv
    echo "side,keys,value_bytes,dbsize,used_memory,rss_empty,rss_loaded" >"$MEMORY"
    echo "== preload: $KEYSPACE keys key:%012d, $DATA-byte values, via redis-cli --pipe"
    preload ferrite "$FERRITE_PORT" "$FERRITE_PID"
    preload redis "$REDIS_PORT" "$REDIS_PID"
    awk -F, 'NR > 1 { per[$1] = ($7 - $6) / $2 } END {
        if (per["redis"] > 0)
            printf "   RSS per key ferrite/redis: %.2f (issue 7 target: <= 0.90 at 1M keys, 16-byte names, 32-byte values)\n",
                per["ferrite"] / per["redis"]
    }' "$MEMORY"
fi

# bench SIDE PORT PID PIPELINE ROUND RUN
bench() {
    local side=$1 port=$2 pid=$3 p=$4 r=$5 run=$6
    local -a what=() words=()
    local label raw t0 rc cpu
    case $run in
    t:*)
        label=${run#t:}
        what=(-t "$label")
        # Distinct keys in each MSET (see the header).
        [ "$label" = mset ] && [ -z "$KEYSPACE" ] && what+=(-r "$MSET_KEYSPACE")
        ;;
    c:*)
        read -ra words <<<"${run#c:}"
        label=$(IFS=_ && echo "${words[*]}" | tr -c 'A-Za-z0-9_\n' _)
        ;;
    esac
    raw=$OUT/raw-$side-P$p-round$r-$label.csv
    t0=$(date +%s)
    cpu_snapshot "$pid" "$WORK/cpu0"
    set +e
    # shellcheck disable=SC2086 # word splitting of EXTRA is intended
    timeout "$RUN_TIMEOUT" "${CLIENT_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -n "$N" \
        -c "$CLIENTS" -P "$p" -d "$DATA" --csv "${what[@]}" "${RANGE[@]}" $EXTRA "${words[@]}" >"$raw" 2>"$raw.err"
    rc=$?
    set -e
    cpu_snapshot "$pid" "$WORK/cpu1"
    cpu=$(cpu_delta "$WORK/cpu0" "$WORK/cpu1")
    if [ "$rc" -ne 0 ]; then
        echo "   $side P=$p round $r $label: redis-benchmark failed (exit $rc); see $raw.err" >&2
        tail -n 5 "$raw.err" >&2 || true
    fi
    # CSV: "test","rps","avg_latency_ms",... ; keep rows whose rps is a number. A -t that runs
    # several tests (ping, lrange) shares its CPU time equally among them.
    awk -F'","' -v side="$side" -v p="$p" -v r="$r" -v n="$N" -v cpu="${cpu% *}" -v src="${cpu#* }" '
        NR > 1 && NF >= 2 {
            t = $1; sub(/^"/, "", t); gsub(/,/, ";", t); rps = $2; gsub(/"/, "", rps)
            if (rps ~ /^[0-9.]+$/) { rows[++k] = side "," p "," r "," t "," rps }
        }
        END { for (i = 1; i <= k; i++) printf "%s,%.3f,%s\n", rows[i], cpu / 1000 / (n * k), src }' "$raw" >>"$RESULTS"
    echo "   $side P=$p round $r $label: $(($(date +%s) - t0))s"
}

for p in $PIPELINES; do
    for r in $(seq 1 "$ROUNDS"); do
        for run in "${RUNS[@]}"; do
            # Ferrite first in odd rounds, Redis first in even ones.
            if [ $((r % 2)) -eq 1 ]; then
                bench ferrite "$FERRITE_PORT" "$FERRITE_PID" "$p" "$r" "$run"
                bench redis "$REDIS_PORT" "$REDIS_PID" "$p" "$r" "$run"
            else
                bench redis "$REDIS_PORT" "$REDIS_PID" "$p" "$r" "$run"
                bench ferrite "$FERRITE_PORT" "$FERRITE_PID" "$p" "$r" "$run"
            fi
        done
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
    function num(x, fmt) { return x == "" ? "n/a" : sprintf(fmt, x) }
    function ratio(f, r) { return (f != "" && r != "" && r > 0) ? sprintf("%.2f", f / r) : "n/a" }
    NR > 1 {
        key = $2 SUBSEP $4
        if (!(key in seen)) { seen[key] = 1; order[++count] = key }
        vals[key, $1] = vals[key, $1] " " $5
        cpus[key, $1] = cpus[key, $1] " " $6
        runs++
        if ($7 == "stat") fallback++
    }
    END {
        np = split(pipelines, ps, " ")
        for (k = 1; k <= np; k++) {
            printf "pipeline %s (medians over the rounds: requests/s, and server CPU us per request)\n", ps[k]
            printf "  %-32s %11s %11s %8s %11s %11s %8s\n", "test", "ferrite/s", "redis/s", "f/r", "ferrite us", "redis us", "f/r"
            for (i = 1; i <= count; i++) {
                split(order[i], parts, SUBSEP)
                if (parts[1] != ps[k]) continue
                f = median(vals[order[i], "ferrite"]); r = median(vals[order[i], "redis"])
                fc = median(cpus[order[i], "ferrite"]); rc = median(cpus[order[i], "redis"])
                printf "  %-32s %11s %11s %8s %11s %11s %8s\n", parts[2], num(f, "%.0f"), num(r, "%.0f"), ratio(f, r),
                    num(fc, "%.3f"), num(rc, "%.3f"), ratio(fc, rc)
            }
            print ""
        }
        if (fallback) printf "(%d of %d runs took their CPU time from /proc/PID/stat: a server thread exited during the run)\n\n", fallback, runs
    }' "$RESULTS"
echo "raw results: $RESULTS${MEMORY:+, $MEMORY}"
