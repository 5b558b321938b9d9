#!/usr/bin/env python3
"""Generate benchmark load files as raw RESP, for `redis-cli --pipe`.

Writes the same N random points twice:

  meridian file:  SET bench p<i> FIELD speed <n> POINT <lat> <lon>
  redis file:     GEOADD bench <lon> <lat> p<i>

Points are deterministic for a given --seed. Latitudes stay inside Redis'
GEOADD limit (+-85.05112878), longitudes span -180..180.

Usage: gen_resp.py --n 1000000 --meridian m.resp --redis r.resp [--seed 1]
"""

import argparse
import random
import sys


def bulk(s: str) -> str:
    # All generated strings are ASCII, so len() is the byte length.
    return f"${len(s)}\r\n{s}\r\n"


def generate(n: int, seed: int, meridian_path: str, redis_path: str, key: str) -> None:
    rng = random.Random(seed)
    uniform = rng.uniform
    randint = rng.randint
    key_b = bulk(key)
    # Constant prefixes, precomputed.
    m_head = "*9\r\n" + bulk("SET") + key_b
    m_field = bulk("FIELD") + bulk("speed")
    m_point = bulk("POINT")
    r_head = "*5\r\n" + bulk("GEOADD") + key_b

    chunk = 50_000
    with open(meridian_path, "w", encoding="ascii", newline="") as mf, open(
        redis_path, "w", encoding="ascii", newline=""
    ) as rf:
        for start in range(0, n, chunk):
            m_parts = []
            r_parts = []
            for i in range(start, min(start + chunk, n)):
                lat = f"{uniform(-85.0, 85.0):.6f}"
                lon = f"{uniform(-180.0, 180.0):.6f}"
                speed = str(randint(0, 150))
                pid = f"p{i}"
                lat_b = bulk(lat)
                lon_b = bulk(lon)
                pid_b = bulk(pid)
                m_parts.append(
                    m_head + pid_b + m_field + bulk(speed) + m_point + lat_b + lon_b
                )
                r_parts.append(r_head + lon_b + lat_b + pid_b)
            mf.write("".join(m_parts))
            rf.write("".join(r_parts))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, required=True, help="number of points")
    ap.add_argument("--meridian", required=True, help="output file for meridian (SET ... POINT)")
    ap.add_argument("--redis", required=True, help="output file for redis (GEOADD)")
    ap.add_argument("--seed", type=int, default=1, help="RNG seed (default 1)")
    ap.add_argument("--key", default="bench", help="collection / key name (default bench)")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error("--n must be >= 1")
    generate(args.n, args.seed, args.meridian, args.redis, args.key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
