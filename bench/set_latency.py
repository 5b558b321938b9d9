#!/usr/bin/env python3
"""Measure SET latency over one RESP connection, one request at a time.

Used by bench/shrink.sh to compare SET latency before and during an AOF
rewrite. Each request is `SET <key> <id> FIELD speed <n> POINT <lat> <lon>`
with a random id among p0..p<ids-1> (an overwrite of a loaded point), timed
from send to the complete reply.

Modes:
  --seconds S        measure for S seconds, then print the summary
  --during-rewrite   send AOFSHRINK first, then measure until INFO persistence
                     reports the rewrite finished (aof_rewrites grew)

Prints one line of `name=value` pairs: count, p50_us, p99_us, p999_us, max_us,
seconds, plus for --during-rewrite rewrite_seen=1.
"""

import argparse
import random
import socket
import sys
import time


def bulk(s: str) -> bytes:
    b = s.encode()
    return b"$%d\r\n%s\r\n" % (len(b), b)


def command(*args: str) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args)


class Conn:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b":"):
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode()
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected reply line {line!r}")

    def call(self, *args: str):
        self.sock.sendall(command(*args))
        return self.reply()


def info_field(conn: Conn, name: str) -> str:
    text = conn.call("INFO", "persistence")
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise RuntimeError(f"INFO persistence has no {name}")


def percentile(sorted_us, q: float) -> int:
    if not sorted_us:
        return 0
    i = min(len(sorted_us) - 1, int(q * len(sorted_us)))
    return sorted_us[i]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", default="bench")
    ap.add_argument("--ids", type=int, required=True, help="ids p0..p<ids-1>")
    ap.add_argument("--seconds", type=float, default=0.0)
    ap.add_argument("--during-rewrite", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=600.0)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    if not args.during_rewrite and args.seconds <= 0:
        ap.error("give --seconds S or --during-rewrite")

    rng = random.Random(args.seed)
    conn = Conn(args.port)
    probe = Conn(args.port) if args.during_rewrite else None
    rewrites_before = int(info_field(probe, "aof_rewrites")) if probe else 0
    if probe:
        if probe.call("AOFSHRINK") != "OK":
            raise RuntimeError("AOFSHRINK did not answer OK")

    lat_us = []
    start = time.perf_counter()
    next_check = start
    while True:
        now = time.perf_counter()
        if now - start > args.max_seconds:
            raise RuntimeError(f"gave up after {args.max_seconds}s")
        if probe is not None:
            if now >= next_check:
                next_check = now + 0.05
                if int(info_field(probe, "aof_rewrites")) > rewrites_before:
                    break
        elif now - start >= args.seconds:
            break
        req = command(
            "SET", args.key, f"p{rng.randrange(args.ids)}",
            "FIELD", "speed", str(rng.randint(1, 150)),
            "POINT", f"{rng.uniform(-85, 85):.6f}", f"{rng.uniform(-180, 180):.6f}",
        )
        t0 = time.perf_counter_ns()
        conn.sock.sendall(req)
        if conn.reply() != "OK":
            raise RuntimeError("SET did not answer OK")
        lat_us.append((time.perf_counter_ns() - t0) // 1000)
    elapsed = time.perf_counter() - start
    lat_us.sort()
    fields = {
        "count": len(lat_us),
        "p50_us": percentile(lat_us, 0.50),
        "p99_us": percentile(lat_us, 0.99),
        "p999_us": percentile(lat_us, 0.999),
        "max_us": lat_us[-1] if lat_us else 0,
        "seconds": f"{elapsed:.3f}",
    }
    if probe is not None:
        fields["rewrite_seen"] = 1
    print(" ".join(f"{k}={v}" for k, v in fields.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
