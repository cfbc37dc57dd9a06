#!/usr/bin/env python3
"""Memory per element and load time of a 1,000,000-element list, for Ferrite or redis-server.

usage: benches/list_memory.py PORT [N]

Loads a warm-up list of N elements first, then a second list of N elements `v0`..`v<N-1>`
(RPUSH of 100 elements, 100 commands pipelined) and prints the INFO used_memory delta per
element and the load rate. Run it against both servers on the same machine (docs/ARCHITECTURE.md,
"Lists").
"""
import socket
import sys
import time


def enc(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self):
        line = self.line()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if line[:1] == b"*":
            n = int(line[1:])
            return None if n < 0 else [self.read() for _ in range(n)]
        return line[1:]

    def cmd(self, *args):
        self.s.sendall(enc(args))
        return self.read()


def used_memory(c):
    """INFO used_memory once Ferrite's garbage pending reclamation (if reported) is under
    1 MB, or after 5 s."""
    deadline = time.time() + 5
    while True:
        fields = dict(
            line.split(":", 1)
            for line in c.cmd("INFO", "memory").decode().split("\r\n")
            if ":" in line
        )
        pending = int(fields.get("ferrite_reclaim_pending", "0"))
        if pending < 1 << 20 or time.time() > deadline:
            return int(fields["used_memory"])
        time.sleep(0.1)


def load(c, key, n):
    start = time.time()
    batch = []
    for i in range(0, n, 100):
        batch.append(enc(["RPUSH", key] + ["v%d" % j for j in range(i, min(i + 100, n))]))
        if len(batch) == 100:
            c.s.sendall(b"".join(batch))
            for _ in batch:
                c.read()
            batch = []
    if batch:
        c.s.sendall(b"".join(batch))
        for _ in batch:
            c.read()
    return time.time() - start


def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    c = Conn(port)
    c.cmd("DEL", "list_memory:warm", "list_memory:big")
    load(c, "list_memory:warm", n)
    time.sleep(1)
    before = used_memory(c)
    secs = load(c, "list_memory:big", n)
    time.sleep(1)
    after = used_memory(c)
    print(f"port {port}: {(after - before) / n:.2f} B/element (used_memory), "
          f"{n} elements in {secs:.2f} s ({n / secs:.0f}/s)")
    c.cmd("DEL", "list_memory:warm", "list_memory:big")


if __name__ == "__main__":
    main()
