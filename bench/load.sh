#!/usr/bin/env bash
# Whole-server benchmark: bulk load + restart, Meridian vs Redis.
#
#   bash bench/load.sh                 # N=1000000 points
#   N=100000 bash bench/load.sh        # smaller run
#
# Environment:
#   N               number of points (default 1000000)
#   SEED            RNG seed for the generator (default 1)
#   SKIP_BUILD=1    do not run `cargo build --release`; use MERIDIAN_BIN as is
#   MERIDIAN_BIN    server binary (default target/release/meridian)
#   KEEP_TMP=1      keep the temporary directory (data files, logs)
#   TMPDIR          where the temporary directory is created (needs ~4x
#                   the load files: about 0.7 GB for N=1000000)
#   START_TIMEOUT   seconds to wait for an empty server to answer PING (60)
#   LOAD_TIMEOUT    seconds allowed for one `redis-cli --pipe` load (1800)
#   RESTART_TIMEOUT seconds allowed for a restart/shutdown (900)
#
# What it does (see bench/README.md):
#   1. builds meridian (cargo build --release) and installs redis-server and
#      redis-tools from Debian if missing;
#   2. pre-generates N points as raw RESP (not timed): for meridian
#      `SET bench p<i> FIELD speed <n> POINT <lat> <lon>`, for redis
#      `GEOADD bench <lon> <lat> p<i>`;
#   3. starts both servers on free loopback ports, both appending to an AOF
#      with appendfsync everysec, and loads each with `redis-cli --pipe`;
#   4. measures load time, throughput and RSS, then SIGTERM + restart time
#      (exec -> first PONG), and for redis additionally a restart from an RDB
#      snapshot (SAVE);
#   5. prints a Markdown table and writes it to bench/results/load-<date>.md.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------------------
# 1. prerequisites
# ---------------------------------------------------------------------------
prepare redis-server redis-cli
make_workdir

# ---------------------------------------------------------------------------
# 2. generate the load files (not timed as part of the load)
# ---------------------------------------------------------------------------
generate_points
pick_ports

# ---------------------------------------------------------------------------
# servers
# ---------------------------------------------------------------------------
MERIDIAN_ARGS=(-h 127.0.0.1 -p "$MPORT" -d "$MDIR" -q)
start_meridian() {
    "$MERIDIAN_BIN" "${MERIDIAN_ARGS[@]}" >>"$TMP/meridian.log" 2>&1 &
    MPID=$!
    PIDS+=("$MPID")
}

# Redis with the same durability as meridian's defaults: AOF on, fsync
# everysec. The AOF is kept a plain command log (no RDB preamble, no automatic
# rewrite) so a restart replays N commands, like meridian does.
REDIS_COMMON=(--bind 127.0.0.1 --port "$RPORT" --dir "$RDIR" --save ''
    --daemonize no --logfile "$TMP/redis.log" --dbfilename dump.rdb)
REDIS_AOF=(--appendonly yes --appendfsync everysec --aof-use-rdb-preamble no
    --auto-aof-rewrite-percentage 0)
start_redis() { # extra args...
    redis-server "${REDIS_COMMON[@]}" "$@" >>"$TMP/redis.log" 2>&1 &
    RPID=$!
    PIDS+=("$RPID")
}

# ---------------------------------------------------------------------------
# 3. meridian: load, RSS, shutdown, restart
# ---------------------------------------------------------------------------
start_meridian
wait_pong meridian "$MPORT" "$MPID" "$START_TIMEOUT" || { show_log "$TMP/meridian.log"; exit 1; }
M_RSS_IDLE=$(rss_kb "$MPID")
pipe_load meridian "$MPORT" "$TMP/meridian.resp"
M_LOAD_S=$LOAD_S
M_RSS=$(rss_kb "$MPID")
M_COUNT=$(rcli "$MPORT" SCAN "$KEY" COUNT | tr -d '\r' | tail -n 1 || true)

log "meridian: SIGTERM"
t0=$(now)
kill -TERM "$MPID"
wait_exit meridian "$MPID" "$RESTART_TIMEOUT" || { show_log "$TMP/meridian.log"; exit 1; }
M_STOP_S=$(elapsed "$t0" "$(now)")
M_STOP_RC=$EXIT_RC
M_AOF_KB=$(du -sk "$MDIR" | cut -f1)

log "meridian: restart"
t0=$(now)
start_meridian
wait_pong meridian "$MPORT" "$MPID" "$RESTART_TIMEOUT" || { show_log "$TMP/meridian.log"; exit 1; }
M_RESTART_S=$(elapsed "$t0" "$(now)")
M_RSS_RESTART=$(rss_kb "$MPID")
M_COUNT_RESTART=$(rcli "$MPORT" SCAN "$KEY" COUNT | tr -d '\r' | tail -n 1 || true)
kill -TERM "$MPID"
wait_exit meridian "$MPID" "$RESTART_TIMEOUT" || true

# ---------------------------------------------------------------------------
# 4. redis: load (AOF everysec), RSS, shutdown, restart from AOF, from RDB
# ---------------------------------------------------------------------------
start_redis "${REDIS_AOF[@]}"
wait_pong redis "$RPORT" "$RPID" "$START_TIMEOUT" || { show_log "$TMP/redis.log"; exit 1; }
R_RSS_IDLE=$(rss_kb "$RPID")
pipe_load redis "$RPORT" "$TMP/redis.resp"
R_LOAD_S=$LOAD_S
R_RSS=$(rss_kb "$RPID")
R_COUNT=$(rcli "$RPORT" ZCARD "$KEY" | tail -n 1 || true)
[ "$R_COUNT" = "$N" ] || die "redis ZCARD $KEY = '$R_COUNT', expected $N"

log "redis: SIGTERM"
t0=$(now)
kill -TERM "$RPID"
wait_exit redis "$RPID" "$RESTART_TIMEOUT" || { show_log "$TMP/redis.log"; exit 1; }
R_STOP_S=$(elapsed "$t0" "$(now)")
R_STOP_RC=$EXIT_RC
R_AOF_KB=$(du -sk "$RDIR" | cut -f1)

log "redis: restart from AOF"
t0=$(now)
start_redis "${REDIS_AOF[@]}"
wait_pong redis "$RPORT" "$RPID" "$RESTART_TIMEOUT" || { show_log "$TMP/redis.log"; exit 1; }
R_RESTART_S=$(elapsed "$t0" "$(now)")
R_RSS_RESTART=$(rss_kb "$RPID")
R_COUNT_RESTART=$(rcli "$RPORT" ZCARD "$KEY" | tail -n 1 || true)
[ "$R_COUNT_RESTART" = "$N" ] || die "redis after AOF restart: ZCARD = '$R_COUNT_RESTART', expected $N"

log "redis: SAVE (RDB snapshot)"
t0=$(now)
save_reply=$(timeout "$RESTART_TIMEOUT" redis-cli -h 127.0.0.1 -p "$RPORT" SAVE 2>&1 || true)
R_SAVE_S=$(elapsed "$t0" "$(now)")
[ "$save_reply" = OK ] || die "redis SAVE failed: $save_reply"
R_RDB_KB=$(du -k "$RDIR/dump.rdb" | cut -f1)
kill -TERM "$RPID"
wait_exit redis "$RPID" "$RESTART_TIMEOUT" || { show_log "$TMP/redis.log"; exit 1; }

log "redis: restart from RDB"
t0=$(now)
start_redis --appendonly no
wait_pong redis "$RPORT" "$RPID" "$RESTART_TIMEOUT" || { show_log "$TMP/redis.log"; exit 1; }
R_RDB_RESTART_S=$(elapsed "$t0" "$(now)")
R_COUNT_RDB=$(rcli "$RPORT" ZCARD "$KEY" | tail -n 1 || true)
[ "$R_COUNT_RDB" = "$N" ] || die "redis after RDB restart: ZCARD = '$R_COUNT_RDB', expected $N"
kill -TERM "$RPID"
wait_exit redis "$RPID" "$RESTART_TIMEOUT" || true

# ---------------------------------------------------------------------------
# 5. report
# ---------------------------------------------------------------------------
M_OPS=$(fdiv "$N" "$M_LOAD_S" 0)
R_OPS=$(fdiv "$N" "$R_LOAD_S" 0)
count_note() { # value after-load value after-restart
    if [ "$1" = "$N" ] && [ "$2" = "$N" ]; then echo "verified: SCAN $KEY COUNT = $N after load and after restart";
    else echo "not verified: SCAN $KEY COUNT replied '$1' after load, '$2' after restart (expected $N)"; fi
}
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git -C "$ROOT" diff --quiet HEAD 2>/dev/null; then REV="$REV (dirty)"; fi
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)

REPORT=$(cat <<MD
# Load benchmark: Meridian vs Redis

- Date: $DATE
- Points: $N (seed $SEED), one field each; generated in ${GEN_S}s (not timed below)
- Machine: ${CPU:-unknown CPU}, $(nproc) cores, $(uname -sr)
- Meridian: $REV, \`$(basename "$MERIDIAN_BIN") ${MERIDIAN_ARGS[*]}\` (AOF on, appendfsync everysec by default)
- Redis: $(redis-server --version | awk '{ print $3 }' | sed 's/^v=//'), \`--save '' ${REDIS_AOF[*]}\`
- Load: \`redis-cli --pipe\` of pre-generated RESP over loopback, one connection.
  Meridian: \`SET $KEY p<i> FIELD speed <n> POINT <lat> <lon>\`; Redis: \`GEOADD $KEY <lon> <lat> p<i>\`.
- Restart: SIGTERM, wait for exit, start the same command again, time from exec to first \`PONG\`
  (LOADING errors and refused connections keep polling). Files are in the page cache (warm restart).
- Meridian data check: $(count_note "$M_COUNT" "$M_COUNT_RESTART")
- Redis data check: ZCARD $KEY = $N after load, after AOF restart and after RDB restart

| Metric | Meridian | Redis | Meridian / Redis |
|---|---:|---:|---:|
| Load time (s) | $M_LOAD_S | $R_LOAD_S | $(fdiv "$M_LOAD_S" "$R_LOAD_S") |
| Load throughput (ops/s) | $M_OPS | $R_OPS | $(fdiv "$M_OPS" "$R_OPS") |
| RSS idle, before load (MiB) | $(mib "$M_RSS_IDLE") | $(mib "$R_RSS_IDLE") | $(fdiv "$M_RSS_IDLE" "$R_RSS_IDLE") |
| RSS after load (MiB) | $(mib "$M_RSS") | $(mib "$R_RSS") | $(fdiv "$M_RSS" "$R_RSS") |
| RSS after load per point (bytes) | $(fdiv "$((${M_RSS:-0} * 1024))" "$N" 0) | $(fdiv "$((${R_RSS:-0} * 1024))" "$N" 0) | |
| AOF size on disk (MiB) | $(mib "$M_AOF_KB") | $(mib "$R_AOF_KB") | $(fdiv "$M_AOF_KB" "$R_AOF_KB") |
| Shutdown, SIGTERM → exit (s) | $M_STOP_S (exit $M_STOP_RC) | $R_STOP_S (exit $R_STOP_RC) | $(fdiv "$M_STOP_S" "$R_STOP_S") |
| Restart from AOF, exec → PONG (s) | $M_RESTART_S | $R_RESTART_S | $(fdiv "$M_RESTART_S" "$R_RESTART_S") |
| RSS after restart (MiB) | $(mib "$M_RSS_RESTART") | $(mib "$R_RSS_RESTART") | $(fdiv "$M_RSS_RESTART" "$R_RSS_RESTART") |
| Redis: SAVE (RDB) time (s) | – | $R_SAVE_S | |
| Redis: RDB size (MiB) | – | $(mib "$R_RDB_KB") | |
| Restart, Meridian AOF vs Redis RDB (s) | $M_RESTART_S | $R_RDB_RESTART_S | $(fdiv "$M_RESTART_S" "$R_RDB_RESTART_S") |

Ratios: below 1 means Meridian took less time / memory / disk; for throughput, above 1 means Meridian is faster.
MD
)

mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/load-$(date -u +%Y%m%d-%H%M%S).md"
printf '%s\n' "$REPORT" >"$OUT"
printf '%s\n' "$REPORT"
log "report written to ${OUT#"$ROOT"/}"
