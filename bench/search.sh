#!/usr/bin/env bash
# Whole-server search benchmark: Meridian vs Redis, driven by redis-benchmark.
#
#   bash bench/search.sh                 # N=1000000 points
#   N=100000 bash bench/search.sh        # smaller run
#
# Environment (see bench/README.md for the full list):
#   N, SEED, SKIP_BUILD, MERIDIAN_BIN, KEEP_TMP, TMPDIR   as for bench/load.sh
#   CLIENTS             redis-benchmark connections (default 50)
#   PIPELINE            pipeline depth of the second run of every line (16)
#   REQUESTS            most requests of a -P 1 run (500000)
#   REQUESTS_PIPELINED  most requests of a -P $PIPELINE run (2000000)
#   RUN_SECONDS         aim for about this long per run (6): requests are
#                       adaptive (-n), within the two caps above
#   RUN_TIMEOUT         hard limit of one redis-benchmark run in seconds (600)
#   ROUNDS              measure every line this many times (3), Meridian and
#                       Redis in turn; the tables give the medians
#   SLOW_MS             a query taking this long or more (5) on a server is
#                       run on one connection there (see "benchmark runs")
#   CAL_N               requests of the one-connection calibration run (10)
#   OTHER_WARN          flag runs during which other processes used more than
#                       this % of a core (15)
#   CENTER_LAT/LON      where to search (60 / 0); SNAP_CENTER=1 (default)
#                       moves the centre onto the stored point nearest to it
#   NEARBY_K, CIRCLE_KM, BOX_KM   the lines ("1 10 100", "1 10 100", "20 200")
#   NEARBY_RADIUS_KM    Redis radius for the k-nearest lines (20000)
#   TIGHT_NEARBY=0      skip the extra Redis k-nearest rows with a tight radius
#   PIN=1               pin the servers to CPU 1 and redis-benchmark to CPU 0
#
# What it does:
#   1. builds meridian and installs redis-server/redis-tools if missing;
#   2. generates N points with gen_resp.py (as bench/load.sh does) and loads
#      them into meridian (default flags, AOF in a temporary directory) and
#      redis-server (--save '' --appendonly no) with `redis-cli --pipe`; both
#      servers stay up for the query phase, which only ever drives one of them
#      at a time;
#   3. for every line (k-nearest, circles, boxes) runs the query once with
#      redis-cli on both servers to count (and compare) the results, then
#      redis-benchmark -c $CLIENTS -P 1 and -P $PIPELINE against each server;
#   4. prints Markdown tables and writes them to bench/results/search-<date>.md.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

CLIENTS=${CLIENTS:-50}
PIPELINE=${PIPELINE:-16}
REQUESTS=${REQUESTS:-500000}
REQUESTS_PIPELINED=${REQUESTS_PIPELINED:-2000000}
RUN_SECONDS=${RUN_SECONDS:-6}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
ROUNDS=${ROUNDS:-3}
QUERY_TIMEOUT=${QUERY_TIMEOUT:-120}
SLOW_MS=${SLOW_MS:-5}
CAL_N=${CAL_N:-10}
OTHER_WARN=${OTHER_WARN:-15}
CENTER_LAT=${CENTER_LAT:-60}
CENTER_LON=${CENTER_LON:-0}
SNAP_CENTER=${SNAP_CENTER:-1}
NEARBY_K=${NEARBY_K:-1 10 100}
CIRCLE_KM=${CIRCLE_KM:-1 10 100}
BOX_KM=${BOX_KM:-20 200}
NEARBY_RADIUS_KM=${NEARBY_RADIUS_KM:-20000}
TIGHT_NEARBY=${TIGHT_NEARBY:-1}
PIN=${PIN:-0}

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$ROOT/bench/lib.sh"

posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer (got '$2')"; }
posint N "$N"
for v in CLIENTS PIPELINE REQUESTS REQUESTS_PIPELINED RUN_SECONDS RUN_TIMEOUT QUERY_TIMEOUT \
    NEARBY_RADIUS_KM SLOW_MS CAL_N OTHER_WARN ROUNDS; do
    posint "$v" "${!v}"
done
for k in $NEARBY_K; do posint NEARBY_K "$k"; done
for r in $CIRCLE_KM $BOX_KM; do
    if ! [[ $r =~ ^[0-9]+([.][0-9]+)?$ ]] || ! awk -v r="$r" 'BEGIN { exit !(r > 0) }'; then
        die "CIRCLE_KM / BOX_KM take positive numbers (got '$r')"
    fi
done
for v in CENTER_LAT CENTER_LON; do
    [[ ${!v} =~ ^-?[0-9]+([.][0-9]+)?$ ]] || die "$v must be a decimal number (got '${!v}')"
done

SERVER_PIN=()
CLIENT_PIN=()
if [ "$PIN" = 1 ]; then
    command -v taskset >/dev/null 2>&1 || die "PIN=1 needs taskset (util-linux)"
    [ "$(nproc)" -ge 2 ] || die "PIN=1 needs at least 2 CPUs"
    SERVER_PIN=(taskset -c 1)
    CLIENT_PIN=(taskset -c 0)
fi

# ---------------------------------------------------------------------------
# 1. prerequisites, 2. data
# ---------------------------------------------------------------------------
prepare redis-server redis-cli redis-benchmark
make_workdir
generate_points
pick_ports

MERIDIAN_ARGS=(-h 127.0.0.1 -p "$MPORT" -d "$MDIR" -q)
"${SERVER_PIN[@]}" "$MERIDIAN_BIN" "${MERIDIAN_ARGS[@]}" >>"$TMP/meridian.log" 2>&1 &
MPID=$!
PIDS+=("$MPID")
wait_pong meridian "$MPORT" "$MPID" "$START_TIMEOUT" || { show_log "$TMP/meridian.log"; exit 1; }
pipe_load meridian "$MPORT" "$TMP/meridian.resp"
M_LOAD_S=$LOAD_S

# Redis needs no durability for a read benchmark.
REDIS_ARGS=(--bind 127.0.0.1 --port "$RPORT" --dir "$RDIR" --save '' --appendonly no
    --daemonize no --logfile "$TMP/redis.log")
"${SERVER_PIN[@]}" redis-server "${REDIS_ARGS[@]}" >>"$TMP/redis.log" 2>&1 &
RPID=$!
PIDS+=("$RPID")
wait_pong redis "$RPORT" "$RPID" "$START_TIMEOUT" || { show_log "$TMP/redis.log"; exit 1; }
pipe_load redis "$RPORT" "$TMP/redis.resp"
R_LOAD_S=$LOAD_S
rm -f "$TMP/meridian.resp" "$TMP/redis.resp"

M_COUNT=$(rcli "$MPORT" SCAN "$KEY" COUNT | tr -d '\r' | tail -n 1 || true)
R_COUNT=$(rcli "$RPORT" ZCARD "$KEY" | tail -n 1 || true)
[ "$R_COUNT" = "$N" ] || die "redis ZCARD $KEY = '$R_COUNT', expected $N"
if [ "$M_COUNT" = "$N" ]; then
    M_CHECK="SCAN $KEY COUNT = $N"
else
    M_CHECK="NOT verified: SCAN $KEY COUNT replied '$M_COUNT', expected $N"
    log "WARNING: meridian $M_CHECK"
fi
M_RSS=$(rss_kb "$MPID")
R_RSS=$(rss_kb "$RPID")
M_THREADS=$(find "/proc/$MPID/task" -mindepth 1 -maxdepth 1 | wc -l)
# The connection-loop settings (environment overrides included), for the report.
M_LOOPS=""
for key in threads loop-spin-us loop-spin-busy-permille; do
    M_LOOPS+="$key $(rcli "$MPORT" CONFIG GET "$key" | tr -d '\r' | sed -n 2p), "
done

# ---------------------------------------------------------------------------
# 3. the query centre and the lines
# ---------------------------------------------------------------------------
# qcli PORT ARGS...: one query with a longer deadline than rcli (a whole-key
# GEOSEARCH over N points takes a while).
qcli() {
    local port=$1; shift
    timeout "$QUERY_TIMEOUT" redis-cli -h 127.0.0.1 -p "$port" "$@" 2>&1
}
isnum() { [[ $1 =~ ^-?[0-9]+([.][0-9]+)?$ ]]; }

LAT=$CENTER_LAT
LON=$CENTER_LON
CENTER_NOTE="($LAT, $LON) as given"
if [ "$SNAP_CENTER" = 1 ]; then
    reply=$(rcli "$MPORT" NEARBY "$KEY" LIMIT 1 IDS POINT "$CENTER_LAT" "$CENTER_LON" | tr -d '\r')
    CENTER_ID=$(sed -n 2p <<<"$reply")
    [[ $CENTER_ID =~ ^p[0-9]+$ ]] || die "meridian NEARBY for the centre replied: $reply"
    reply=$(rcli "$MPORT" GET "$KEY" "$CENTER_ID" POINT | tr -d '\r')
    LAT=$(sed -n 1p <<<"$reply")
    LON=$(sed -n 2p <<<"$reply")
    if ! isnum "$LAT" || ! isnum "$LON"; then die "meridian GET $KEY $CENTER_ID POINT replied: $reply"; fi
    R_POS=$(rcli "$RPORT" GEOPOS "$KEY" "$CENTER_ID" | tr '\n' ' ')
    CENTER_NOTE="stored point $CENTER_ID, the nearest to ($CENTER_LAT, $CENTER_LON); Redis GEOPOS (lon lat): ${R_POS% }"
fi
log "query centre: lat $LAT lon $LON — $CENTER_NOTE"
# Redis' GEOSEARCH picks coarser geohash cells beyond 66° and again beyond 80°
# of latitude (geohashEstimateStepsByRadius), i.e. scans many more candidates.
LAT_NOTE=""
if awk -v l="$LAT" 'BEGIN { exit !(l > 66 || l < -66) }'; then
    LAT_NOTE=". Note: above 66° of latitude (and again above 80°) Redis' GEOSEARCH walks geohash cells
  twice (four times) as wide and tall, so it examines up to 4× (16×) more members than at lower latitudes"
    log "WARNING: |lat| > 66: Redis uses coarser geohash cells here (slower than at lower latitudes)"
fi

# Parallel arrays, one entry per line of the report.
LABEL=()     # row label
MCMD=()      # meridian command (words separated by single spaces)
RCMD=()      # redis command

add_line() { # label meridian-cmd redis-cmd
    LABEL+=("$1")
    MCMD+=("$2")
    RCMD+=("$3")
}

NEARBY_IDX=()
for k in $NEARBY_K; do
    NEARBY_IDX+=("${#LABEL[@]}")
    add_line "NEARBY k=$k" \
        "NEARBY $KEY LIMIT $k IDS POINT $LAT $LON" \
        "GEOSEARCH $KEY FROMLONLAT $LON $LAT BYRADIUS $NEARBY_RADIUS_KM km ASC COUNT $k"
done
if [ "$TIGHT_NEARBY" = 1 ]; then
    # Redis' GEOSEARCH ... COUNT k collects and sorts every member in the radius
    # before it keeps k, so a whole-earth radius costs O(N) per query. As Redis'
    # best case, repeat each k-nearest line with a radius just above the k-th
    # neighbour's distance (known from the data beforehand, which a real client
    # would not know). Meridian runs the same query as the line above again, in
    # the same rounds as these Redis runs: reusing the runs above compared runs
    # minutes apart, and this host's speed drifts by 15-20% over minutes.
    i=0
    for k in $NEARBY_K; do
        reply=$(qcli "$RPORT" GEOSEARCH "$KEY" FROMLONLAT "$LON" "$LAT" BYRADIUS "$NEARBY_RADIUS_KM" km \
            ASC COUNT "$k" WITHDIST | tr -d '\r')
        dk=$(tail -n 1 <<<"$reply")
        isnum "$dk" || die "redis GEOSEARCH ... WITHDIST replied: $(head -n 3 <<<"$reply")"
        rk=$(awk -v d="$dk" 'BEGIN { r = d * 1.1; r = (r == int(r)) ? r : int(r) + 1; if (r < 1) r = 1; print r }')
        idx=${NEARBY_IDX[$i]}
        add_line "↳ NEARBY k=$k, Redis radius $rk km (k-th at $dk km)" \
            "${MCMD[$idx]}" \
            "GEOSEARCH $KEY FROMLONLAT $LON $LAT BYRADIUS $rk km ASC COUNT $k"
        i=$((i + 1))
    done
fi
for r in $CIRCLE_KM; do
    m=$(awk -v r="$r" 'BEGIN { printf "%.0f", r * 1000 }')
    add_line "WITHIN circle $r km" \
        "WITHIN $KEY LIMIT 1000000 IDS CIRCLE $LAT $LON $m" \
        "GEOSEARCH $KEY FROMLONLAT $LON $LAT BYRADIUS $r km"
done
for b in $BOX_KM; do
    # Meridian BOUNDS with the same extent as Redis' BYBOX b b km: latitude
    # +-(b/2)/R, longitude such that the great-circle distance along the centre's
    # parallel is b/2 (R = Redis' 6372797.560856 m). Redis measures the
    # longitude distance at each member's own latitude, so its box is a slightly
    # curved lon/lat shape: counts can differ a little near the east/west edges.
    bounds=$(python3 - "$LAT" "$LON" "$b" <<'PY'
import math, sys
lat, lon, km = (float(x) for x in sys.argv[1:4])
R = 6372797.560856
half = km * 1000 / 2
dlat = math.degrees(half / R)
s = math.sin(half / (2 * R)) / math.cos(math.radians(lat))
if s >= 1:
    sys.exit("box too wide at this latitude")
dlon = math.degrees(2 * math.asin(s))
b = (lat - dlat, lon - dlon, lat + dlat, lon + dlon)
if b[0] < -85.05112878 or b[2] > 85.05112878 or b[1] < -180 or b[3] > 180:
    sys.exit("box leaves the lon/lat range (antimeridian or poles): %r" % (b,))
print("%.6f %.6f %.6f %.6f" % b)
PY
) || die "cannot compute a ${b} km box around ($LAT, $LON)"
    add_line "WITHIN bounds ${b}x${b} km" \
        "WITHIN $KEY LIMIT 1000000 IDS BOUNDS $bounds" \
        "GEOSEARCH $KEY FROMLONLAT $LON $LAT BYBOX $b $b km"
done

# ---------------------------------------------------------------------------
# result counts: every query once with redis-cli on both servers
# ---------------------------------------------------------------------------
# count_ids NAME PORT IDFILE CMD...: runs the query, writes the sorted ids to
# IDFILE, sets CNT (or CNT_ERR to the reply when it is not a plain list of ids).
count_ids() {
    local name=$1 port=$2 file=$3 out; shift 3
    CNT="" CNT_ERR=""
    out=$(qcli "$port" "$@" | tr -d '\r') || true
    # A reply is: an optional cursor (meridian), then ids; anything else is an error.
    if grep -qvE '^(p[0-9]+|[0-9]+|)$' <<<"$out"; then
        CNT_ERR=$(grep -vE '^(p[0-9]+|[0-9]+|)$' <<<"$out" | head -n 1 | cut -c1-200)
        log "$name error: $* -> $CNT_ERR"
        : >"$file"
        return 0
    fi
    { grep -E '^p[0-9]+$' <<<"$out" || true; } | sort >"$file"
    CNT=$(wc -l <"$file")
}

declare -A RES   # "<line>:m" / "<line>:r" / "<line>:common" / "<line>:merr" / "<line>:rerr"
for i in "${!LABEL[@]}"; do
    read -ra mc <<<"${MCMD[$i]}"
    read -ra rcmd <<<"${RCMD[$i]}"
    count_ids meridian "$MPORT" "$TMP/m.ids" "${mc[@]}"
    RES[$i:m]=$CNT RES[$i:merr]=$CNT_ERR
    count_ids redis "$RPORT" "$TMP/r.ids" "${rcmd[@]}"
    RES[$i:r]=$CNT RES[$i:rerr]=$CNT_ERR
    RES[$i:common]=$(comm -12 "$TMP/m.ids" "$TMP/r.ids" | wc -l)
    log "results ${LABEL[$i]}: meridian ${RES[$i:m]:-error} / redis ${RES[$i:r]:-error} (${RES[$i:common]} ids in common)"
done

# ---------------------------------------------------------------------------
# benchmark runs
# ---------------------------------------------------------------------------
# redis-benchmark 7.0 caveat: once every request of a run has been sent, each
# connection with nothing left to send busy-loops in its write handler, adding
# the pipeline depth to a 32-bit "requests issued" counter on every turn. When
# the last replies take long (slow queries, deep pipelines) the counter wraps
# within tens of seconds, the idle connections send more requests, and the
# server still executes those after redis-benchmark has exited, stalling the
# next run. Hence: a query slower than SLOW_MS on a server is run on a single
# connection (nothing idles), request counts are multiples of the pipeline
# depth, and after every run the server must answer PING promptly (drain).

HZ=$(getconf CLK_TCK)
# cpu_sample -> "BUSY OURS" in clock ticks: user+nice+system of the machine plus
# its steal time (what the hypervisor gave other machines while this one wanted
# to run), and what the two servers, this shell and its reaped children
# (redis-benchmark, redis-cli, awk, ...) used. BUSY - OURS is other processes'
# CPU time and steal.
cpu_sample() {
    local busy ours
    busy=$(awk '/^cpu / { print $2 + $3 + $4 + $9 }' /proc/stat)
    ours=$(cat "/proc/$MPID/stat" "/proc/$RPID/stat" "/proc/$$/stat" 2>/dev/null |
        awk '{ sub(/^.*\) /, ""); t += $12 + $13 + $14 + $15 } END { print t + 0 }')
    printf '%s %s\n' "$busy" "$ours"
}
# other_pct B0 O0 B1 O1 SECONDS -> other processes' CPU, % of one core
other_pct() {
    awk -v b0="$1" -v o0="$2" -v b1="$3" -v o1="$4" -v w="$5" -v hz="$HZ" 'BEGIN {
        f = ((b1 - b0) - (o1 - o0)) / hz; if (f < 0) f = 0
        printf "%.0f", (w > 0) ? 100 * f / w : 0 }'
}
# ticks PID -> the process' CPU time (user + system) in clock ticks; ticks_children:
# this shell's reaped children's (redis-benchmark is one, through timeout).
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
ticks_children() { awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$$/stat"; }
# per_req T0 T1 N -> microseconds of CPU per request
per_req() { awk -v a="$1" -v b="$2" -v n="$3" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) * 1e6 / hz / n }'; }
round_up() { awk -v n="$1" -v p="$2" 'BEGIN { n = int(n); if (n < p) n = p; print int((n + p - 1) / p) * p }'; }

# drain PORT: wait (up to RUN_TIMEOUT) until PING is answered within 0.2 s;
# sets RB_WARN when it was not at once.
drain() {
    local port=$1 t0 dt deadline
    deadline=$(awk -v t="$(now)" -v l="$RUN_TIMEOUT" 'BEGIN { printf "%.6f", t + l }')
    while :; do
        t0=$(now)
        timeout 10 redis-cli -h 127.0.0.1 -p "$port" PING >/dev/null 2>&1 || true
        dt=$(elapsed "$t0" "$(now)")
        awk -v d="$dt" 'BEGIN { exit !(d < 0.2) }' && return 0
        if [ -z "$RB_WARN" ]; then
            RB_WARN="server still busy after the run"
            log "    WARNING: PING took ${dt}s after the run (requests left over?); waiting"
        fi
        if awk -v t="$(now)" -v d="$deadline" 'BEGIN { exit !(t > d) }'; then
            die "server on port $port still busy ${RUN_TIMEOUT}s after a run"
        fi
        sleep 0.5
    done
}

# rb_once PORT CLIENTS PIPELINE N CMD...: one redis-benchmark run; sets RB_RPS,
# RB_P50, RB_P99 (ms), RB_WALL (s), RB_OTHER (% of a core used by other
# processes meanwhile), RB_SCPU / RB_CCPU (server's / redis-benchmark's CPU
# time per request, µs), RB_ERR on failure, RB_WARN (see drain).
rb_once() {
    local port=$1 c=$2 p=$3 n=$4 t0 rc=0 line b0 o0 b1 o1 spid=$MPID s0 k0; shift 4
    RB_RPS="" RB_P50="" RB_P99="" RB_ERR="" RB_WALL="" RB_OTHER="" RB_SCPU="" RB_CCPU=""
    [ "$port" = "$MPORT" ] || spid=$RPID
    read -r b0 o0 < <(cpu_sample)
    s0=$(ticks "$spid") k0=$(ticks_children)
    t0=$(now)
    timeout "$RUN_TIMEOUT" "${CLIENT_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$port" \
        -c "$c" -n "$n" -P "$p" --csv "$@" >"$TMP/rb.out" 2>"$TMP/rb.err" || rc=$?
    RB_WALL=$(elapsed "$t0" "$(now)")
    RB_SCPU=$(per_req "$s0" "$(ticks "$spid")" "$n") RB_CCPU=$(per_req "$k0" "$(ticks_children)" "$n")
    read -r b1 o1 < <(cpu_sample)
    RB_OTHER=$(other_pct "$b0" "$o0" "$b1" "$o1" "$RB_WALL")
    if [ "$rc" -ne 0 ]; then
        if [ "$rc" -eq 124 ]; then
            RB_ERR="timed out: $n requests not done in ${RUN_TIMEOUT}s"
        else
            RB_ERR=$(grep -m 1 'Error from server' "$TMP/rb.err" || true)
            RB_ERR=${RB_ERR:-redis-benchmark exit $rc: $(head -c 200 "$TMP/rb.err" | tr '\n' ' ')}
        fi
    else
        # "test","rps","avg","min","p50","p95","p99","max" (the test name is the command)
        line=$(grep '^"' "$TMP/rb.out" | grep -v '^"test"' | tail -n 1 || true)
        if [ -z "$line" ]; then
            RB_ERR="no result line from redis-benchmark: $(head -c 200 "$TMP/rb.err" | tr '\n' ' ')"
        else
            read -r RB_RPS RB_P50 RB_P99 < <(tr -d '"' <<<"$line" | awk -F, '{ print $(NF-6), $(NF-3), $(NF-1) }')
        fi
    fi
    drain "$port"
}

# calibrate PORT CMD...: CAL_N requests on one connection; sets CAL_RPS (or
# CAL_ERR) and SLOW=1 when a query takes SLOW_MS or more.
calibrate() {
    local port=$1; shift
    RB_WARN=""
    rb_once "$port" 1 1 "$CAL_N" "$@"
    CAL_RPS=$RB_RPS CAL_ERR=$RB_ERR SLOW=0
    [ -z "$CAL_ERR" ] || return 0
    if [[ $CAL_RPS =~ ^[0-9]+([.][0-9]*)?$ ]] && awk -v r="$CAL_RPS" -v s="$SLOW_MS" 'BEGIN { exit !(r * s < 1000) }'; then
        SLOW=1
    fi
    log "    calibration, one connection: ${CAL_RPS} ops/s$([ "$SLOW" = 0 ] || echo " (slow: one connection for this server and line)")"
}

# bench_mode PORT PIPELINE MAXN CMD...: the measured run, after calibrate.
# Normal: CLIENTS connections; adaptive request count: start at about half a
# second's worth (from the calibration, at least CLIENTS), and while a run takes
# less than RUN_SECONDS/2 run again with min(MAXN, ops/s * RUN_SECONDS) (at
# least double), at most 6 runs; the last one counts. Slow (SLOW=1): one run on
# one connection of about RUN_SECONDS. Sets RB_* (as rb_once), RB_N, RB_C.
bench_mode() {
    local port=$1 p=$2 maxn=$3 n next; shift 3
    RB_WARN=""
    maxn=$(round_up "$maxn" "$p")
    if [ "$SLOW" = 1 ]; then
        RB_C=1
        n=$(awk -v r="$CAL_RPS" -v t="$RUN_SECONDS" -v m="$maxn" 'BEGIN { x = r * t; print (x > m) ? m : x }')
        RB_N=$(round_up "$n" "$p")
        rb_once "$port" 1 "$p" "$RB_N" "$@"
        [ -n "$RB_ERR" ] || log "    -c 1 -n $RB_N: ${RB_RPS} ops/s, p50 ${RB_P50} ms (${RB_WALL}s, other CPU ${RB_OTHER}%)"
        return 0
    fi
    RB_C=$CLIENTS
    n=$(awk -v r="$CAL_RPS" -v c="$CLIENTS" -v m="$maxn" 'BEGIN {
        x = (r ~ /^[0-9]+([.][0-9]*)?$/) ? int(r / 2) : m; if (x < c) x = c; print (x > m) ? m : x }')
    n=$(round_up "$n" "$p")
    for _ in 1 2 3 4 5 6; do
        RB_N=$n
        rb_once "$port" "$CLIENTS" "$p" "$n" "$@"
        [ -z "$RB_ERR" ] || return 0
        log "    -n $n: ${RB_RPS} ops/s, p50 ${RB_P50} ms (${RB_WALL}s, other CPU ${RB_OTHER}%)"
        if [ "$n" -ge "$maxn" ] || awk -v w="$RB_WALL" -v t="$RUN_SECONDS" 'BEGIN { exit !(w >= t / 2) }'; then
            return 0
        fi
        # redis-benchmark prints "inf" ops/s when a run took under its clock's
        # resolution; then grow tenfold.
        next=$(awk -v r="$RB_RPS" -v t="$RUN_SECONDS" -v n="$n" -v m="$maxn" 'BEGIN {
            x = (r ~ /^[0-9]+([.][0-9]*)?$/) ? int(r * t) : 10 * n
            if (x < 2 * n) x = 2 * n; if (x > m) x = m; print x }')
        n=$(round_up "$next" "$p")
    done
}

# median_of "V1 V2 ..." -> the median (the mean of the middle two for an even count)
median_of() {
    tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) exit; m = int((NR + 1) / 2)
        printf "%.2f", (NR % 2) ? v[m] : (v[m] + v[m + 1]) / 2 }'
}
# ratio_range "M1 M2 ..." "R1 R2 ..." -> "min–max" of the per-round ratios Mk/Rk
ratio_range() {
    awk -v m="$1" -v r="$2" 'BEGIN { n = split(m, a, " "); split(r, b, " ")
        for (k = 1; k <= n; k++) if (b[k] > 0) { x = a[k] / b[k]
            if (lo == "" || x < lo) lo = x; if (hi == "" || x > hi) hi = x }
        if (lo != "") printf "%.2f–%.2f", lo, hi }'
}

# measure LINE SRV ROUND MODE CMD...: one measured run of a line on a server;
# round 1 adapts the request count (bench_mode), later rounds repeat round 1's.
measure() {
    local i=$1 srv=$2 round=$3 mode=$4 p maxn; shift 4
    if [ "$mode" = 1 ]; then p=1 maxn=$REQUESTS; else p=$PIPELINE maxn=$REQUESTS_PIPELINED; fi
    if [ -n "${RUN[$i:$srv:cal_err]:-}" ]; then
        RB_RPS="" RB_N="" RB_C="" RB_P50="" RB_P99="" RB_OTHER="" RB_WARN="" RB_ERR=${RUN[$i:$srv:cal_err]:-}
    elif [ "$round" = 1 ]; then
        log "  -P $p"
        CAL_RPS=${RUN[$i:$srv:cal_rps]:-} SLOW=${RUN[$i:$srv:slow]:-}
        bench_mode "$port" "$p" "$maxn" "$@"
    else
        RB_WARN="" RB_N=${RUN[$i:$srv:$mode:n]:-} RB_C=${RUN[$i:$srv:$mode:c]:-}
        rb_once "$port" "$RB_C" "$p" "$RB_N" "$@"
        [ -n "$RB_ERR" ] || log "  -P $p -c $RB_C -n $RB_N: ${RB_RPS} ops/s (${RB_WALL}s, other CPU ${RB_OTHER}%)"
    fi
}

# keep LINE SRV MODE: records the run just made (rb_once's RB_*) as one round.
keep() {
    local k=$1:$2:$3 other=${RB_OTHER:-0}
    [ -z "$RB_ERR" ] || log "    ERROR: $RB_ERR"
    [ -n "${RUN[$k:err]:-}" ] || RUN[$k:err]=$RB_ERR
    if [ -z "$RB_ERR" ]; then
        RUN[$k:rounds]="${RUN[$k:rounds]:-} $RB_RPS"
        RUN[$k:scpu_rounds]="${RUN[$k:scpu_rounds]:-} $RB_SCPU"
        RUN[$k:ccpu_rounds]="${RUN[$k:ccpu_rounds]:-} $RB_CCPU"
    fi
    RUN[$k:n]=$RB_N RUN[$k:c]=$RB_C RUN[$k:p50]=$RB_P50 RUN[$k:p99]=$RB_P99
    [ -n "${RUN[$k:warn]:-}" ] || RUN[$k:warn]=$RB_WARN
    RUN[$k:other]=${RUN[$k:other]:-0}
    awk -v o="$other" -v w="${RUN[$k:other]}" 'BEGIN { exit !(o > w) }' && RUN[$k:other]=$other
    RUN[$k:rps]=$(median_of "${RUN[$k:rounds]:-}")
    RUN[$k:scpu]=$(median_of "${RUN[$k:scpu_rounds]:-}")
    RUN[$k:ccpu]=$(median_of "${RUN[$k:ccpu_rounds]:-}")
}

declare -A RUN   # "<line>:<m|r>:<1|P>:<rps|rounds|n|c|p50|p99|other|warn|err>", "<line>:<m|r>:<cal_*|slow>"
T_QUERIES=$(now)
for i in "${!LABEL[@]}"; do
    read -ra mc <<<"${MCMD[$i]}"
    read -ra rcmd <<<"${RCMD[$i]}"
    for round in $(seq 1 "$ROUNDS"); do
        for srv in m r; do
            if [ "$srv" = m ]; then name=meridian port=$MPORT pid=$MPID cmd=("${mc[@]}")
            else name=redis port=$RPORT pid=$RPID cmd=("${rcmd[@]}"); fi
            log "${LABEL[$i]}: $name, round $round of $ROUNDS"
            if [ "$round" = 1 ]; then
                calibrate "$port" "${cmd[@]}"
                RUN[$i:$srv:cal_err]=$CAL_ERR RUN[$i:$srv:cal_rps]=$CAL_RPS RUN[$i:$srv:slow]=$SLOW
            fi
            for mode in 1 P; do
                measure "$i" "$srv" "$round" "$mode" "${cmd[@]}"
                alive "$pid" || { show_log "$TMP/$name.log"; die "$name died during '${cmd[*]}'"; }
                keep "$i" "$srv" "$mode"
            done
        done
    done
done
QUERY_S=$(elapsed "$T_QUERIES" "$(now)")

# ---------------------------------------------------------------------------
# 4. report
# ---------------------------------------------------------------------------
md_escape() { printf '%s' "${1//|/\\|}"; }
marks() { # line srv mode -> footnote marks of a run
    local m=""
    [ "${RUN[$1:$2:$3:c]}" != 1 ] || m+=" †"
    awk -v o="${RUN[$1:$2:$3:other]:-0}" -v w="$OTHER_WARN" 'BEGIN { exit !(o > w) }' && m+=" ‡"
    [ -z "${RUN[$1:$2:$3:warn]}" ] || m+=" (!)"
    printf '%s' "$m"
}
ops_cell() { # line srv mode
    local err=${RUN[$1:$2:$3:err]}
    if [ -n "$err" ]; then printf 'ERROR: %s' "$(md_escape "$err")"; return; fi
    printf '%s%s' "$(awk -v r="${RUN[$1:$2:$3:rps]}" 'BEGIN { printf "%.0f", r }')" "$(marks "$@")"
}
ratio_cell() { # line mode
    [ -z "${RUN[$1:m:$2:err]}${RUN[$1:r:$2:err]}" ] || { printf 'n/a'; return; }
    fdiv "${RUN[$1:m:$2:rps]}" "${RUN[$1:r:$2:rps]}"
}
range_cell() { # line mode
    [ -z "${RUN[$1:m:$2:err]}${RUN[$1:r:$2:err]}" ] || { printf 'n/a'; return; }
    ratio_range "${RUN[$1:m:$2:rounds]:-}" "${RUN[$1:r:$2:rounds]:-}"
}
rounds_cell() { # line srv mode: every round's ops/s
    awk -v l="${RUN[$1:$2:$3:rounds]:-}" 'BEGIN { n = split(l, a, " ")
        for (k = 1; k <= n; k++) printf "%s%.0f", (k > 1) ? " / " : "", a[k] }'
}
count_cell() { # line
    local m=${RES[$1:m]} r=${RES[$1:r]}
    [ -n "$m" ] || m="ERROR: $(md_escape "${RES[$1:merr]}")"
    [ -n "$r" ] || r="ERROR: $(md_escape "${RES[$1:rerr]}")"
    printf '%s / %s (%s common)' "$m" "$r" "${RES[$1:common]}"
}
table() { # mode
    local i
    printf '| Line | Meridian ops/s | Redis ops/s | Meridian / Redis | Round by round | Server CPU µs/req (M / R) | Client CPU µs/req (M / R) | Requests (M / R) | Results (M / R) |\n'
    printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
    for i in "${!LABEL[@]}"; do
        printf '| %s | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s | %s |\n' "${LABEL[$i]}" \
            "$(ops_cell "$i" m "$1")" "$(ops_cell "$i" r "$1")" "$(ratio_cell "$i" "$1")" \
            "$(range_cell "$i" "$1")" "${RUN[$i:m:$1:scpu]:-–}" "${RUN[$i:r:$1:scpu]:-–}" \
            "${RUN[$i:m:$1:ccpu]:-–}" "${RUN[$i:r:$1:ccpu]:-–}" \
            "${RUN[$i:m:$1:n]:-–}" "${RUN[$i:r:$1:n]:-–}" "$(count_cell "$i")"
    done
}
details_table() {
    local i srv mode name p
    printf '| Line | Server | -P | Connections | Requests | ops/s (median) | ops/s by round | p50 ms | p99 ms | Other CPU %% |\n'
    printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
    for i in "${!LABEL[@]}"; do
        for mode in 1 P; do
            if [ "$mode" = 1 ]; then p=1; else p=$PIPELINE; fi
            for srv in m r; do
                if [ "$srv" = m ]; then name=Meridian; else name=Redis; fi
                if [ -n "${RUN[$i:$srv:$mode:err]}" ]; then
                    printf '| %s | %s | %s | | | ERROR: %s | | | | |\n' "${LABEL[$i]}" "$name" "$p" \
                        "$(md_escape "${RUN[$i:$srv:$mode:err]}")"
                    continue
                fi
                printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${LABEL[$i]}" "$name" "$p" \
                    "${RUN[$i:$srv:$mode:c]}" "${RUN[$i:$srv:$mode:n]}" "$(ops_cell "$i" "$srv" "$mode")" \
                    "$(rounds_cell "$i" "$srv" "$mode")" \
                    "${RUN[$i:$srv:$mode:p50]}" "${RUN[$i:$srv:$mode:p99]}" "${RUN[$i:$srv:$mode:other]}"
            done
        done
    done
}
commands_table() {
    local i bt='`'
    printf '| Line | Meridian | Redis |\n|---|---|---|\n'
    for i in "${!LABEL[@]}"; do
        printf '| %s | %s | %s |\n' "${LABEL[$i]}" "$bt${MCMD[$i]}$bt" "$bt${RCMD[$i]}$bt"
    done
}
# Runs during which other processes used more than OTHER_WARN % of a core.
BUSY_RUNS=0
for key in "${!RUN[@]}"; do
    [[ $key == *:other ]] || continue
    if awk -v o="${RUN[$key]:-0}" -v w="$OTHER_WARN" 'BEGIN { exit !(o > w) }'; then
        BUSY_RUNS=$((BUSY_RUNS + 1))
    fi
done

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git -C "$ROOT" diff --quiet HEAD 2>/dev/null; then REV="$REV (dirty)"; fi
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
if [ "$PIN" = 1 ]; then
    PIN_NOTE="PIN=1: the server under test runs on CPU 1 (meridian therefore with one connection loop), redis-benchmark on CPU 0."
else
    PIN_NOTE="Not pinned: meridian has a connection loop per core; connections start packed on the first loop and spread to the second only while the first is saturated and the machine has idle CPU (shared with redis-benchmark); redis-server executes commands on one thread."
fi

REPORT=$(cat <<MD
# Search benchmark: Meridian vs Redis

- Date: $DATE
- Points: $N (seed $SEED), \`bench/gen_resp.py\`: uniform in lat (±85) and lon (±180) degrees, so
  points per km² grow as 1/cos(lat): $(awk -v l="$LAT" 'BEGIN { printf "%.1f", 1 / cos(l * atan2(0, -1) / 180) }')× the equator's density at the query centre$LAT_NOTE
- Machine: ${CPU:-unknown CPU}, $(nproc) cores, $(uname -sr)
- Meridian: $REV, \`$(basename "$MERIDIAN_BIN") ${MERIDIAN_ARGS[*]}\` (default flags: AOF on), $M_THREADS threads; ${M_LOOPS%, };
  loaded in ${M_LOAD_S}s, RSS $(mib "$M_RSS") MiB; data check: $M_CHECK
- Redis: $(redis-server --version | awk '{ print $3 }' | sed 's/^v=//'), \`--save '' --appendonly no\`;
  loaded in ${R_LOAD_S}s, RSS $(mib "$R_RSS") MiB; ZCARD $KEY = $N
- Query centre: lat $LAT, lon $LON — $CENTER_NOTE
- Client: \`redis-benchmark -h 127.0.0.1 -c $CLIENTS -P 1|$PIPELINE -n <requests> --csv <command>\`, the same
  command every request. Both servers stay up; one server is driven at a time, line by line.
  Each line and server first gets $CAL_N requests on one connection (calibration). Requests per run are
  then adaptive: about half a second's worth first, re-run with more until a run takes at least
  $(awk -v t="$RUN_SECONDS" 'BEGIN { print t / 2 }')s or reaches $REQUESTS (-P 1) / $REQUESTS_PIPELINED (-P $PIPELINE) requests. That is round 1; every line is
  then measured $ROUNDS times in all (Meridian, then Redis, per round, with round 1's request counts),
  and the tables give each server's median ops/s, their ratio, and the range of the per-round ratios.
- $PIN_NOTE
- Results: ids returned by one \`redis-cli\` run of the same command on each server, and how many ids both
  returned. Meridian: IDS output (the reply is a cursor and the ids); Redis: member names.
- Query phase: ${QUERY_S}s. Runs during which other processes used more than ${OTHER_WARN}% of a core: $BUSY_RUNS.

## -c $CLIENTS, -P 1

$(table 1)

## -c $CLIENTS, -P $PIPELINE

$(table P)

Meridian / Redis above 1 means Meridian answered more queries per second. Server and client CPU: the
server process' and redis-benchmark's CPU time (user + system, from /proc) per request, medians of the
rounds: on a machine where the client and the server share the CPUs, a run is bound by whichever of
the two saturates a core, and CPU per request is the steadier measure of what each server costs.

- † One connection (\`-c 1\`): one query took ${SLOW_MS} ms or more in the calibration. With many connections
  redis-benchmark 7.0 misbehaves on such queries: once all requests are sent, its idle connections
  busy-loop and wrap a 32-bit request counter, then send extra requests that the server executes after
  the run. A single-threaded server's throughput on a slow query does not depend on the connection count
  (it would for a multi-threaded one).
- ‡ Other processes (or the hypervisor, as steal time) used more than ${OTHER_WARN}% of a core during a round
  (see "Other CPU %"): the number is disturbed.
- (!) The server did not answer PING within 0.2 s after the run (requests left over); the script waited.

Redis' \`GEOSEARCH ... BYRADIUS $NEARBY_RADIUS_KM km ASC COUNT k\` (k-nearest with a radius that lets COUNT decide)
gathers every member within the radius — here all $N — and sorts them before keeping k, so its cost is
O(N) per query. The ↳ rows give Redis its best case instead: a radius just above the k-th neighbour's
distance (1.1 ×, rounded up to a whole km), which needs the answer in advance; their Meridian column repeats
the row above.

## Runs

Latencies as measured by redis-benchmark (with -P $PIPELINE, per batch). Other CPU %: CPU time of processes
other than the two servers and this script's own (redis-benchmark, redis-cli, ...) during the run, plus
the machine's steal time (CPU its hypervisor gave to others), in % of one core (from /proc; the machine
has $(nproc) cores); the highest of the rounds.

$(details_table)

## Commands

$(commands_table)
MD
)

mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/search-$(date -u +%Y%m%d-%H%M%S).md"
printf '%s\n' "$REPORT" >"$OUT"
printf '%s\n' "$REPORT"
log "report written to ${OUT#"$ROOT"/}"
