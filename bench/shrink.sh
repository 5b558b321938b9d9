#!/usr/bin/env bash
# Whole-server benchmark of the AOF rewrite (AOFSHRINK) on N points.
#
#   bash bench/shrink.sh               # N=1000000 points, N/2 of them overwritten
#   N=100000 bash bench/shrink.sh      # smaller run
#
# Environment: N, SEED, SKIP_BUILD=1, MERIDIAN_BIN, KEEP_TMP=1, TMPDIR,
# START_TIMEOUT, LOAD_TIMEOUT, RESTART_TIMEOUT (as in bench/load.sh), and
# LATENCY_SECONDS (length of the "before" latency run, default 10).
#
# What it does:
#   1. builds meridian, installs redis-tools from Debian if redis-cli is missing;
#   2. loads N points with one field (`redis-cli --pipe`), then overwrites the
#      first N/2 with new positions, so the AOF holds 1.5 N SETs for N objects;
#   3. measures SET latency (one connection, one request at a time,
#      bench/set_latency.py) for LATENCY_SECONDS before the rewrite;
#   4. sends AOFSHRINK and measures SET latency the same way until the rewrite
#      ends, while sampling the server's RSS every 10 ms;
#   5. reads INFO persistence (duration, longest lock hold, chunks, bytes),
#      the AOF size before and after, checks SCAN COUNT = N, restarts the
#      server from the rewritten AOF and checks the DIGEST survived;
#   6. prints a Markdown report and writes it to bench/results/shrink-<date>.md.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

LATENCY_SECONDS=${LATENCY_SECONDS:-10}

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$ROOT/bench/lib.sh"

prepare redis-cli
make_workdir
generate_points
HALF=$((N / 2))
log "generating $HALF overwrites (seed $((SEED + 1)))"
python3 "$ROOT/bench/gen_resp.py" --n "$HALF" --seed "$((SEED + 1))" --key "$KEY" \
    --meridian "$TMP/overwrite.resp" --redis /dev/null
pick_ports

# No automatic rewrite: the one measured is the one AOFSHRINK starts.
export MERIDIAN_AUTO_AOF_REWRITE_PERCENTAGE=0
MERIDIAN_ARGS=(-h 127.0.0.1 -p "$MPORT" -d "$MDIR")
start_meridian() {
    "$MERIDIAN_BIN" "${MERIDIAN_ARGS[@]}" >>"$TMP/meridian.log" 2>&1 &
    MPID=$!
    PIDS+=("$MPID")
}
info_field() { # name -> value from INFO persistence
    rcli "$MPORT" INFO persistence | tr -d '\r' | awk -F: -v k="$1" '$1 == k { print $2 }'
}
aof_bytes() { stat -c %s "$MDIR/appendonly.aof"; }

start_meridian
wait_pong meridian "$MPORT" "$MPID" "$START_TIMEOUT" || { show_log "$TMP/meridian.log"; exit 1; }
pipe_load meridian "$MPORT" "$TMP/meridian.resp"
LOAD1_S=$LOAD_S
N_ALL=$N
N=$HALF pipe_load meridian "$MPORT" "$TMP/overwrite.resp"
N=$N_ALL

sleep 1 # let the everysec fsync and allocator settle before the baseline
AOF_BEFORE=$(aof_bytes)
RSS_BEFORE=$(rss_kb "$MPID")
log "latency before the rewrite (${LATENCY_SECONDS}s)"
LAT_BEFORE=$(python3 "$ROOT/bench/set_latency.py" --port "$MPORT" --ids "$N" --seconds "$LATENCY_SECONDS")
log "before: $LAT_BEFORE"

RSS_BASE=$(rss_kb "$MPID")
RSS_LOG=$TMP/rss.log
( while alive "$MPID"; do rss_kb "$MPID"; sleep 0.01; done ) >"$RSS_LOG" &
SAMPLER=$!
PIDS+=("$SAMPLER")
log "AOFSHRINK, latency during the rewrite"
t0=$(now)
LAT_DURING=$(python3 "$ROOT/bench/set_latency.py" --port "$MPORT" --ids "$N" --during-rewrite)
WALL_S=$(elapsed "$t0" "$(now)")
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
log "during: $LAT_DURING"
RSS_PEAK=$(sort -n "$RSS_LOG" | tail -n 1)
RSS_SAMPLES=$(wc -l <"$RSS_LOG")

STATUS=$(info_field aof_last_rewrite_status)
[ "$STATUS" = ok ] || die "rewrite status '$STATUS'"
DURATION_MS=$(info_field aof_last_rewrite_duration_ms)
HOLD_US=$(info_field aof_last_rewrite_max_lock_hold_us)
SWAP_US=$(info_field aof_last_rewrite_swap_us)
CHUNKS=$(info_field aof_last_rewrite_chunks)
OBJECTS=$(info_field aof_last_rewrite_objects)
WRITTEN=$(info_field aof_last_rewrite_bytes_written)
AOF_AFTER=$(aof_bytes)
[ "$(info_field aof_current_size)" = "$AOF_AFTER" ] || die "aof_current_size disagrees with the file"
COUNT=$(rcli "$MPORT" SCAN "$KEY" COUNT | tr -d '\r' | tail -n 1)
[ "$COUNT" = "$N" ] || die "SCAN COUNT after the rewrite = '$COUNT', expected $N"
DIGEST=$(rcli "$MPORT" DIGEST "$KEY" | sed -n 2p)

kill -TERM "$MPID"
wait_exit meridian "$MPID" "$RESTART_TIMEOUT" || { show_log "$TMP/meridian.log"; exit 1; }
t0=$(now)
start_meridian
wait_pong meridian "$MPORT" "$MPID" "$RESTART_TIMEOUT" || { show_log "$TMP/meridian.log"; exit 1; }
RESTART_S=$(elapsed "$t0" "$(now)")
DIGEST_RESTART=$(rcli "$MPORT" DIGEST "$KEY" | sed -n 2p)
[ "$DIGEST" = "$DIGEST_RESTART" ] || die "digest changed across the restart: $DIGEST -> $DIGEST_RESTART"
kill -TERM "$MPID"
wait_exit meridian "$MPID" "$RESTART_TIMEOUT" || true

kv() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }
ms() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000 }'; }
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git -C "$ROOT" diff --quiet HEAD 2>/dev/null; then REV="$REV (dirty)"; fi

REPORT=$(cat <<MD
# AOF rewrite benchmark (AOFSHRINK)

- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ)
- Machine: ${CPU:-unknown CPU}, $(nproc) cores, $(uname -sr)
- Meridian: $REV, default rewrite settings (\`aof-rewrite-chunk-objects\`, \`aof-rewrite-chunk-bytes\`)
- Data: $N points with one field (loaded in ${LOAD1_S}s), then $HALF of them overwritten:
  the AOF holds $((N + HALF)) SETs for $N objects.
- Latency: one connection, one \`SET $KEY p<random> FIELD speed <n> POINT <lat> <lon>\` at a time
  (bench/set_latency.py, Python client, so absolute numbers include its overhead);
  "before" is ${LATENCY_SECONDS}s before AOFSHRINK, "during" is from AOFSHRINK until INFO shows it done.
- RSS sampled every 10 ms during the rewrite ($RSS_SAMPLES samples).
- Checks: SCAN COUNT = $N after the rewrite; DIGEST $KEY equal before and after a restart from the rewritten AOF.

| Metric | Value |
|---|---:|
| AOF size before (MiB) | $(mib "$((AOF_BEFORE / 1024))") |
| AOF size after (MiB) | $(mib "$((AOF_AFTER / 1024))") |
| After / before | $(fdiv "$AOF_AFTER" "$AOF_BEFORE") |
| Rewrite duration, server (ms) | $DURATION_MS |
| Rewrite wall time, AOFSHRINK → done seen (s) | $WALL_S |
| Objects / chunks written | $OBJECTS / $CHUNKS |
| Longest data-lock hold (µs) | $HOLD_US |
| Final swap: appends wait (µs) | $SWAP_US |
| Bytes written | $WRITTEN |
| RSS after load (MiB) | $(mib "$RSS_BEFORE") |
| RSS at rewrite start (MiB) | $(mib "$RSS_BASE") |
| Peak RSS during rewrite (MiB) | $(mib "$RSS_PEAK") |
| Peak RSS increase (MiB) | $(mib "$((RSS_PEAK - RSS_BASE))") |
| SET before: count / p50 / p99 / p99.9 / max (ms) | $(kv "$LAT_BEFORE" count) / $(ms "$(kv "$LAT_BEFORE" p50_us)") / $(ms "$(kv "$LAT_BEFORE" p99_us)") / $(ms "$(kv "$LAT_BEFORE" p999_us)") / $(ms "$(kv "$LAT_BEFORE" max_us)") |
| SET during: count / p50 / p99 / p99.9 / max (ms) | $(kv "$LAT_DURING" count) / $(ms "$(kv "$LAT_DURING" p50_us)") / $(ms "$(kv "$LAT_DURING" p99_us)") / $(ms "$(kv "$LAT_DURING" p999_us)") / $(ms "$(kv "$LAT_DURING" max_us)") |
| p99 during / p99 before | $(fdiv "$(kv "$LAT_DURING" p99_us)" "$(kv "$LAT_BEFORE" p99_us)") |
| Restart from the rewritten AOF, exec → PONG (s) | $RESTART_S |
MD
)

mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/shrink-$(date -u +%Y%m%d-%H%M%S).md"
printf '%s\n' "$REPORT" >"$OUT"
printf '%s\n' "$REPORT"
log "report written to ${OUT#"$ROOT"/}"
