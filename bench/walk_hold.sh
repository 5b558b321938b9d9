#!/usr/bin/env bash
# Usage: python3 bench/gen_resp.py --n 1000000 --meridian /tmp/m1/m.resp --redis /tmp/m1/r.resp; bash bench/walk_hold.sh
# (RESP=file to load another file of SETs into key `bench`.)
# (writes nothing; prints the times and the INFO walk counters).
# 1M points: big walks in a hold per batch (search-walk-yield-always), by default (holds end
# only when a writer waits; also with a writer running), and in one hold.
set -u
BIN=${BIN:-target/release/meridian}
D=$(mktemp -d)
PORT=19851
$BIN -p $PORT -d $D --appendonly no > $D/log 2>&1 &
PID=$!
sleep 1
redis-cli -p $PORT --pipe < "${RESP:-/tmp/m1/m.resp}" | tail -1
c() { redis-cli -p $PORT "$@"; }
stat() { c INFO stats | tr -d '\r' | grep "^$1:" | cut -d: -f2; }
run() {
  for q in "SCAN bench WHERE speed 999 999 COUNT" "WITHIN bench LIMIT 1000000 IDS BOUNDS -90 -180 90 180" \
      "INTERSECTS bench WHERE speed 999 999 COUNT BOUNDS -90 -180 90 180" \
      "NEARBY bench WHERE speed 999 999 COUNT POINT 60 0" "NEARBY bench LIMIT 1000000 IDS POINT 60 0" \
      "INTERSECTS bench SPARSE 8 COUNT BOUNDS -90 -180 90 180"; do
    for k in 1 2 3; do
      s=$(date +%s%N); c $q | tail -1 >/dev/null; e=$(date +%s%N)
      echo "  $q: $(( (e-s)/1000000 )) ms"
    done
  done
}
echo "search-walk-batch 4096, search-walk-yield-always yes (a hold per batch):"
c CONFIG SET search-walk-batch 4096 >/dev/null; c CONFIG SET search-walk-yield-always yes >/dev/null
run
echo "  walk_max_hold_us=$(stat walk_max_hold_us) walk_holds=$(stat walk_holds) walk_restarts=$(stat walk_restarts)"
echo "search-walk-batch 4096, default (later holds go on until a writer waits), no writer:"
c CONFIG SET search-walk-yield-always no >/dev/null
run
echo "  walk_max_hold_us=$(stat walk_max_hold_us) walk_holds=$(stat walk_holds)"
echo "the same with a writer (redis-benchmark -c 1 SET) during a NEARBY WHERE … COUNT:"
redis-benchmark -p $PORT -c 1 -n 3000000 SET bench w0 POINT 1 1 > $D/writer 2>&1 &
W=$!
sleep 0.5
for k in 1 2 3; do
  s=$(date +%s%N); c NEARBY bench WHERE speed 999 999 COUNT POINT 60 0 | tail -1 >/dev/null; e=$(date +%s%N)
  echo "  NEARBY bench WHERE speed 999 999 COUNT POINT 60 0: $(( (e-s)/1000000 )) ms"
done
kill -INT $W; wait $W 2>/dev/null
echo "  writer latency (ms): $(tr '\r' '\n' < $D/writer | grep -A1 'avg ' | tail -1)"
echo "search-walk-batch 1000000000 (one hold):"; c CONFIG SET search-walk-batch 1000000000 >/dev/null
run
echo "  walk_max_hold_us=$(stat walk_max_hold_us) walk_holds=$(stat walk_holds)"
kill $PID; wait $PID 2>/dev/null; rm -rf $D
