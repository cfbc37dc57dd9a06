#!/usr/bin/env python3
"""Memory per element of large collections, Ferrite beside redis-server.

usage: benches/collection_memory.py [FERRITE_BIN] [N]
       MEMORY_CASES=list,hash benches/collection_memory.py     (some cases only)

For each case, starts a fresh ferrite-server and a fresh redis-server (no persistence) on
loopback ports, loads the same data into each (pipelined, 100 commands in flight), and prints
the growth of resident memory (VmRSS from /proc, after minus before) and of INFO used_memory,
per element, with the Ferrite/Redis ratio of RSS. Cases, N elements each (default 1,000,000):

* hash: one hash of N fields `field:<i>` -> `value:<i>` (HSET of 100 pairs per command);
* set: one set of N members `member:<i>` (SADD of 100);
* list: one list of N elements `element:<i>` (RPUSH of 100);
* zset: one sorted set of N members `member:<i>` with score i (ZADD of 100);
* small-hashes: N hashes `h:<i>` of 10 fields `f0..f9` -> 8-byte values each (one HSET
  per hash), 10 N fields in all; an element is a hash (divide by 10 for a field).

Before the baseline is read, each server runs the same kind of load on a scratch key (a tenth
of N elements; small-hashes: a hundredth of N hashes), which stays, and an INFO: the first load faults in the code it runs,
and those pages of the executable count in VmRSS once, not per element (Ferrite's executable is
larger than redis-server's, and a 1,000,000-element list load touched 192 KB of new code pages
in it). RSS growth is printed twice: VmRSS, and RssAnon (anonymous memory only: heap and
stacks, no file pages).

The issue's target is Ferrite at most 1.0x redis-server's RSS.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

FERRITE = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/ferrite-server")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000


def enc(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        for _ in range(100):
            try:
                self.s = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("server did not start on port %d" % port)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self):
        line = self.line()
        if line[:1] == b"-":
            raise RuntimeError(line.decode())
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(1 << 16)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        return line

    def call(self, *args):
        self.s.sendall(enc(args))
        return self.read()

    def pipeline(self, commands):
        """Sends commands in windows of 100, reading each window's replies."""
        for i in range(0, len(commands), 100):
            window = commands[i:i + 100]
            self.s.sendall(b"".join(enc(c) for c in window))
            for _ in window:
                self.read()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(kind, port, tmp):
    if kind == "ferrite":
        cmd = [FERRITE, "--port", str(port), "--bind", "127.0.0.1"]
    else:
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", tmp]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)


def rss(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no " + field)


def used_memory(conn):
    info = conn.call("INFO", "memory").decode()
    for line in info.split("\r\n"):
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise RuntimeError("no used_memory")


def commands(case, n=N, key="big"):
    """The load of `case`: `n` elements into `key` (small-hashes: `n` hashes `key:<i>`)."""
    if case == "hash":
        for i in range(0, n, 100):
            args = ["HSET", key]
            for j in range(i, min(i + 100, n)):
                args += ["field:%d" % j, "value:%d" % j]
            yield args
    elif case == "set":
        for i in range(0, n, 100):
            yield ["SADD", key] + ["member:%d" % j for j in range(i, min(i + 100, n))]
    elif case == "list":
        for i in range(0, n, 100):
            yield ["RPUSH", key] + ["element:%d" % j for j in range(i, min(i + 100, n))]
    elif case == "zset":
        for i in range(0, n, 100):
            args = ["ZADD", key]
            for j in range(i, min(i + 100, n)):
                args += [str(j), "member:%d" % j]
            yield args
    else:
        for i in range(n):
            args = ["HSET", "%s:%d" % (key, i)]
            for f in range(10):
                args += ["f%d" % f, "%08d" % i]
            yield args


def load(conn, cmds):
    batch = []
    for c in cmds:
        batch.append(c)
        if len(batch) == 10_000:
            conn.pipeline(batch)
            batch = []
    conn.pipeline(batch)


def measure(kind, case):
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start(kind, port, tmp)
        try:
            conn = Conn(port)
            conn.call("PING")
            # Small hashes warm up on a hundredth: their keys share the keyspace's table, and
            # a tenth more keys would move Redis's dict past a power of two.
            warm = N // 100 if case == "small-hashes" else N // 10
            load(conn, commands(case, max(warm, 1_000), "warmup"))
            used_memory(conn)  # INFO's code too, before the baseline
            time.sleep(1.0)
            conn.call("PING")
            rss0, anon0, used0 = rss(proc.pid), rss(proc.pid, "RssAnon"), used_memory(conn)
            t0 = time.time()
            load(conn, commands(case))
            secs = time.time() - t0
            time.sleep(1.0)  # let deferred frees run
            conn.call("PING")
            return (rss(proc.pid) - rss0, rss(proc.pid, "RssAnon") - anon0,
                    used_memory(conn) - used0, secs)
        finally:
            proc.terminate()
            proc.wait()


def main():
    cases = os.environ.get("MEMORY_CASES", "hash,set,list,zset,small-hashes").split(",")
    print("%-13s %-8s %12s %12s %12s %8s"
          % ("case", "server", "RSS B/elem", "anon B/elem", "used B/elem", "load s"))
    for case in cases:
        per = {}
        for kind in ["ferrite", "redis"]:
            d_rss, d_anon, d_used, secs = measure(kind, case)
            per[kind] = (d_rss / N, d_anon / N)
            print("%-13s %-8s %12.2f %12.2f %12.2f %8.1f"
                  % (case, kind, d_rss / N, d_anon / N, d_used / N, secs), flush=True)
            if case == "small-hashes":
                print("%-13s %-8s %12.2f %12.2f %12.2f   (per field)"
                      % ("", kind, d_rss / N / 10, d_anon / N / 10, d_used / N / 10), flush=True)
        print("%-13s ratio ferrite/redis: RSS %.3f, anonymous RSS %.3f"
              % (case, per["ferrite"][0] / per["redis"][0], per["ferrite"][1] / per["redis"][1]),
              flush=True)


if __name__ == "__main__":
    main()
