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

N=${N:-1000000}
SEED=${SEED:-1}
START_TIMEOUT=${START_TIMEOUT:-60}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-1800}
RESTART_TIMEOUT=${RESTART_TIMEOUT:-900}
MERIDIAN_BIN=${MERIDIAN_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/meridian}
KEY=bench

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer (got '$N')"
if [ "${BASH_VERSINFO[0]}" -lt 5 ]; then die "bash >= 5 needed (EPOCHREALTIME)"; fi

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
now() { printf '%s' "$EPOCHREALTIME"; }
# elapsed T0 T1 -> seconds with 3 decimals
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# fdiv A B [decimals] -> A/B ("n/a" when not computable)
fdiv() {
    awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {
        if (a == "" || b == "" || a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) { print "n/a"; exit }
        printf "%.*f", d, a / b }'
}
mib() { awk -v k="$1" 'BEGIN { if (k == "") print "n/a"; else printf "%.1f", k / 1024 }'; }

free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

alive() { # pid -> running and not a zombie
    kill -0 "$1" 2>/dev/null || return 1
    ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

rcli() { # port args... ; bounded so a stuck server cannot hang the script
    local port=$1; shift
    timeout 10 redis-cli -h 127.0.0.1 -p "$port" "$@" 2>&1
}

# wait_pong NAME PORT PID TIMEOUT: poll PING until the reply is exactly PONG
# (a LOADING error or a refused connection keeps polling).
wait_pong() {
    local name=$1 port=$2 pid=$3 limit=$4 deadline reply
    deadline=$(awk -v t="$(now)" -v l="$limit" 'BEGIN { printf "%.6f", t + l }')
    while :; do
        reply=$(timeout 5 redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null || true)
        [ "$reply" = PONG ] && return 0
        alive "$pid" || { log "$name (pid $pid) exited while waiting for PONG"; return 1; }
        if awk -v t="$(now)" -v d="$deadline" 'BEGIN { exit !(t > d) }'; then
            log "$name did not answer PONG within ${limit}s (last reply: ${reply:-none})"
            return 1
        fi
        sleep 0.01
    done
}

# wait_exit NAME PID TIMEOUT: wait for the process to exit; sets EXIT_RC.
wait_exit() {
    local name=$1 pid=$2 limit=$3 deadline
    deadline=$(awk -v t="$(now)" -v l="$limit" 'BEGIN { printf "%.6f", t + l }')
    while alive "$pid"; do
        if awk -v t="$(now)" -v d="$deadline" 'BEGIN { exit !(t > d) }'; then
            log "$name (pid $pid) still running ${limit}s after SIGTERM"
            return 1
        fi
        sleep 0.01
    done
    EXIT_RC=0
    wait "$pid" 2>/dev/null || EXIT_RC=$?
}

PIDS=()
TMP=""
cleanup() {
    local rc=$? pid
    for pid in "${PIDS[@]}"; do
        if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 500); do alive "$pid" || break; sleep 0.02; done
        if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$TMP" ] && [ -d "$TMP" ]; then
        # Keep the files for a look after a failure (not after Ctrl-C / SIGTERM).
        if [ "${KEEP_TMP:-0}" = 1 ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 130 ] && [ "$rc" -ne 143 ]; }; then
            log "kept temporary files in $TMP"
        else
            rm -rf "$TMP"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_log() { # file
    [ -f "$1" ] || return 0
    log "--- last lines of $1:"
    tail -n 20 "$1" >&2 || true
}

# ---------------------------------------------------------------------------
# 1. prerequisites
# ---------------------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    log "installing redis-server and redis-tools from Debian"
    [ "$(id -u)" -eq 0 ] || die "redis-server/redis-cli missing and not root: apt-get install redis-server redis-tools"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi
command -v python3 >/dev/null 2>&1 || die "python3 is required"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "cargo build --release"
    cargo build --release
fi
[ -x "$MERIDIAN_BIN" ] || die "meridian binary not found at $MERIDIAN_BIN"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/meridian-bench.XXXXXX")
MDIR=$TMP/meridian-data
RDIR=$TMP/redis-data
mkdir -p "$MDIR" "$RDIR"

# ---------------------------------------------------------------------------
# 2. generate the load files (not timed as part of the load)
# ---------------------------------------------------------------------------
log "generating $N points (seed $SEED)"
t0=$(now)
python3 "$ROOT/bench/gen_resp.py" --n "$N" --seed "$SEED" --key "$KEY" \
    --meridian "$TMP/meridian.resp" --redis "$TMP/redis.resp"
GEN_S=$(elapsed "$t0" "$(now)")
log "generated in ${GEN_S}s: meridian $(du -h "$TMP/meridian.resp" | cut -f1), redis $(du -h "$TMP/redis.resp" | cut -f1)"

MPORT=$(free_port)
RPORT=$(free_port)
while [ "$RPORT" = "$MPORT" ]; do RPORT=$(free_port); done

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

# load NAME PORT FILE -> sets LOAD_S
load() {
    local name=$1 port=$2 file=$3 t0 t1 rc=0 summary errors replies
    log "loading $name (port $port)"
    t0=$(now)
    timeout "$LOAD_TIMEOUT" redis-cli -h 127.0.0.1 -p "$port" --pipe --pipe-timeout 120 \
        <"$file" >"$TMP/$name-pipe.log" 2>&1 || rc=$?
    t1=$(now)
    LOAD_S=$(elapsed "$t0" "$t1")
    summary=$(grep -E '^errors: [0-9]+, replies: [0-9]+' "$TMP/$name-pipe.log" | tail -n 1 || true)
    errors=$(sed -E 's/^errors: ([0-9]+), replies: ([0-9]+).*/\1/' <<<"$summary")
    replies=$(sed -E 's/^errors: ([0-9]+), replies: ([0-9]+).*/\2/' <<<"$summary")
    if [ "$rc" -ne 0 ] || [ -z "$summary" ] || [ "$errors" != 0 ] || [ "$replies" != "$N" ]; then
        log "$name load failed (exit $rc, '${summary:-no summary}', expected $N replies and 0 errors)"
        log "note: redis-cli --pipe ends with an ECHO command and waits for its reply"
        head -n 5 "$TMP/$name-pipe.log" >&2 || true
        show_log "$TMP/$name.log"
        exit 1
    fi
    log "$name: $N commands in ${LOAD_S}s"
}

# ---------------------------------------------------------------------------
# 3. meridian: load, RSS, shutdown, restart
# ---------------------------------------------------------------------------
start_meridian
wait_pong meridian "$MPORT" "$MPID" "$START_TIMEOUT" || { show_log "$TMP/meridian.log"; exit 1; }
M_RSS_IDLE=$(rss_kb "$MPID")
load meridian "$MPORT" "$TMP/meridian.resp"
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
load redis "$RPORT" "$TMP/redis.resp"
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
