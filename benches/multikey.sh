#!/usr/bin/env bash
# Big multi-key commands, Ferrite against Redis: the wall time of one MSET of 50,000 distinct
# keys and of one DEL of those keys, and the longest a GET from another connection waited
# while that MSET or DEL ran.
#
# Starts a ferrite-server (release build) and a redis-server on loopback ephemeral ports and
# drives both with the same client (the Python 3 script below, plain sockets, no packages):
# for each run, alternating ferrite, redis, ferrite, redis, ...:
#   * connection A sends `MSET bench:mk:0 v ... bench:mk:49999 v` (one multibulk) and waits
#     for +OK, then `DEL bench:mk:0 ... bench:mk:49999` and waits for :50000;
#   * a second process on connection B sends `GET bench:probe` in a tight loop all the while;
#     every GET whose round trip overlaps the MSET (or DEL) counts, and the longest one is
#     "max GET delay". Its own GETs are timed from send to complete reply.
# Prints one line per run, then the median over the runs of each number for each server and
# the ratio Ferrite/Redis.
#
#   bash benches/multikey.sh
#   BENCH_KEYS=10000 BENCH_RUNS=3 bash benches/multikey.sh      # quick run
#
# Environment (all optional):
#   BENCH_KEYS          keys per MSET / DEL                               default 50000
#   BENCH_RUNS          runs per server (the table shows medians)         default 5
#   BENCH_CMD_TIMEOUT   seconds one command may take before giving up     default 120
#   BENCH_TIMEOUT       seconds the whole measurement may take            default 900
#   BENCH_FERRITE_BIN   server binary for the "ferrite" side (skips the cargo build)
#   BENCH_FERRITE_ARGS  extra arguments for the ferrite side, e.g. "--threads 4"
#   BENCH_REDIS_BIN     redis-server binary                               default: from PATH
#   BENCH_REDIS_ARGS    extra arguments for redis-server
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

KEYS=${BENCH_KEYS:-50000}
RUNS=${BENCH_RUNS:-5}
CMD_TIMEOUT=${BENCH_CMD_TIMEOUT:-120}
TOTAL_TIMEOUT=${BENCH_TIMEOUT:-900}
FERRITE_BIN=${BENCH_FERRITE_BIN:-}
FERRITE_ARGS=${BENCH_FERRITE_ARGS:-}
REDIS_BIN=${BENCH_REDIS_BIN:-$(command -v redis-server || true)}
REDIS_ARGS=${BENCH_REDIS_ARGS:-}
PYTHON=$(command -v python3 || true)

die() {
    echo "multikey.sh: $*" >&2
    exit 1
}

[ -n "$PYTHON" ] || die "python3 not found: install the Debian package python3"
[ -n "$REDIS_BIN" ] && [ -x "$REDIS_BIN" ] ||
    die "redis-server not found: install the Debian package redis-server"

if [ -z "$FERRITE_BIN" ]; then
    FERRITE_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/ferrite-server
    if [ ! -x "$FERRITE_BIN" ]; then
        echo "== cargo build --release --bin ferrite-server"
        cargo build --release --bin ferrite-server
    fi
fi
[ -x "$FERRITE_BIN" ] || die "no executable at $FERRITE_BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferrite-multikey.XXXXXX")
PIDS=()        # every server process started (killed on exit)
SERVER_PIDS=() # the two servers in use
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

# The client. Plain sockets and RESP by hand, so both servers see exactly the same bytes.
cat >"$WORK/multikey.py" <<'PYTHON'
import multiprocessing as mp
import socket
import statistics
import sys
import time
from array import array


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RespError(Exception):
    pass


class Conn:
    def __init__(self, port, timeout):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.s.makefile("rb")

    def send(self, data):
        self.s.sendall(data)

    def reply(self):
        line = self.f.readline()
        if not line.endswith(b"\r\n"):
            raise EOFError("connection closed by the server")
        kind, body = line[:1], line[1:-2]
        if kind == b"+":
            return body.decode()
        if kind == b"-":
            raise RespError(body.decode())
        if kind == b":":
            return int(body)
        if kind == b"$":
            n = int(body)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if kind == b"*":
            n = int(body)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError("unexpected reply %r" % line)

    def call(self, *args):
        self.send(enc(*args))
        return self.reply()


def probe(port, pipe, timeout):
    """On "go": GET bench:probe in a loop until the next message ("stop", t0, t1); then
    answers (longest round trip overlapping [t0, t1], number of such GETs)."""
    conn = Conn(port, timeout)
    get = enc("GET", "bench:probe")
    while True:
        msg = pipe.recv()
        if msg == "quit":
            return
        starts, ends = array("d"), array("d")
        while not pipe.poll():
            a = time.monotonic()
            conn.send(get)
            r = conn.reply()
            b = time.monotonic()
            if r != b"x":
                raise SystemExit("probe: GET bench:probe replied %r" % (r,))
            if not starts:
                pipe.send("running")
            starts.append(a)
            ends.append(b)
        _, t0, t1 = pipe.recv()
        worst, count = 0.0, 0
        for a, b in zip(starts, ends):
            if b > t0 and a < t1:
                count += 1
                worst = max(worst, b - a)
        pipe.send((worst, count))


class Side:
    def __init__(self, name, port, timeout):
        self.name = name
        self.conn = Conn(port, timeout)
        assert self.conn.call("FLUSHALL") == "OK"
        assert self.conn.call("SET", "bench:probe", "x") == "OK"
        self.pipe, child = mp.Pipe()
        self.proc = mp.Process(target=probe, args=(port, child, timeout), daemon=True)
        self.proc.start()
        child.close()
        self.results = {"mset": [], "del": [], "get_mset": [], "get_del": []}

    def big(self, payload, expect, what):
        self.pipe.send("go")
        if self.pipe.recv() != "running":
            raise SystemExit("%s: the probe did not start" % self.name)
        time.sleep(0.02)
        t0 = time.monotonic()
        self.conn.send(payload)
        r = self.conn.reply()
        t1 = time.monotonic()
        time.sleep(0.02)
        self.pipe.send(("stop", t0, t1))
        worst, count = self.pipe.recv()
        if r != expect:
            raise SystemExit("%s: %s replied %r, expected %r" % (self.name, what, r, expect))
        return t1 - t0, worst, count

    def close(self):
        self.pipe.send("quit")
        self.proc.join(5)


def main():
    keys_n, runs, timeout = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    sides = []
    for spec in sys.argv[4:]:
        name, port = spec.split(":")
        sides.append(Side(name, int(port), timeout))
    keys = ["bench:mk:%d" % i for i in range(keys_n)]
    mset_args = ["MSET"]
    for k in keys:
        mset_args += [k, "v"]
    mset = enc(*mset_args)
    dele = enc("DEL", *keys)
    print("== MSET: %d keys, %d bytes; DEL: %d bytes; %d runs per server"
          % (keys_n, len(mset), len(dele), runs), flush=True)
    ms = lambda s: s * 1000.0
    for run in range(1, runs + 1):
        for side in sides:
            t_set, g_set, n_set = side.big(mset, "OK", "MSET")
            t_del, g_del, n_del = side.big(dele, keys_n, "DEL")
            side.results["mset"].append(ms(t_set))
            side.results["del"].append(ms(t_del))
            side.results["get_mset"].append(ms(g_set))
            side.results["get_del"].append(ms(g_del))
            print("   run %d %-8s MSET %9.1f ms (max GET %8.1f ms over %6d GETs)   "
                  "DEL %9.1f ms (max GET %8.1f ms over %6d GETs)"
                  % (run, side.name, ms(t_set), ms(g_set), n_set, ms(t_del), ms(g_del), n_del),
                  flush=True)
    for side in sides:
        side.close()

    cols = [("mset", "MSET ms"), ("del", "DEL ms"),
            ("get_mset", "max GET ms during MSET"), ("get_del", "max GET ms during DEL")]
    med = {s.name: {c: statistics.median(s.results[c]) for c, _ in cols} for s in sides}
    print()
    print("median of %d runs, %d keys" % (runs, keys_n))
    header = "%-16s" % "server" + "".join("%24s" % title for _, title in cols)
    print(header)
    print("-" * len(header))
    for s in sides:
        print("%-16s" % s.name + "".join("%24.1f" % med[s.name][c] for c, _ in cols))
    if "ferrite" in med and "redis" in med:
        f, r = med["ferrite"], med["redis"]
        ratio = lambda c: ("%23.1fx" % (f[c] / r[c])) if r[c] > 0 else "%24s" % "-"
        print("%-16s" % "ferrite/redis" + "".join(ratio(c) for c, _ in cols))
    # A stall may hit only some runs (it depends on which worker serves which connection).
    print()
    print("worst of %d runs" % runs)
    print(header)
    print("-" * len(header))
    for s in sides:
        print("%-16s" % s.name + "".join("%24.1f" % max(s.results[c]) for c, _ in cols))


if __name__ == "__main__":
    main()
PYTHON

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

# Whether something on 127.0.0.1:PORT answers PING with +PONG.
pings() {
    "$PYTHON" - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(b"*1\r\n$4\r\nPING\r\n")
sys.exit(0 if s.recv(64).startswith(b"+PONG") else 1)
PY
}

# start_server NAME BINARY EXTRA_ARGS -> sets STARTED_PORT
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
        (cd "$dir" && exec "$bin" "${args[@]}") >"$log" 2>&1 &
        pid=$!
        PIDS+=("$pid")
        for i in $(seq 1 200); do
            kill -0 "$pid" 2>/dev/null || break
            if pings "$port"; then
                SERVER_PIDS+=("$pid")
                STARTED_PORT=$port
                return 0
            fi
            sleep 0.05
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "--- $name log ---" >&2
            cat "$log" >&2
            die "$name did not answer PING on port $port within 10 s"
        fi
        wait "$pid" 2>/dev/null || true
        grep -qi "in use" "$log" && continue
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

echo "== machine: $(nproc) CPUs, $(uname -sr)"
echo "== ferrite: $FERRITE_BIN $FERRITE_ARGS (127.0.0.1:$FERRITE_PORT)"
echo "== redis:   $REDIS_BIN $REDIS_ARGS (127.0.0.1:$REDIS_PORT) $("$REDIS_BIN" --version | head -n1)"

timeout "$TOTAL_TIMEOUT" "$PYTHON" "$WORK/multikey.py" "$KEYS" "$RUNS" "$CMD_TIMEOUT" \
    "ferrite:$FERRITE_PORT" "redis:$REDIS_PORT" ||
    die "the measurement failed or ran past ${TOTAL_TIMEOUT} s (exit $?)"

for pid in "${SERVER_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || die "a server died during the benchmark (see $WORK)"
done
