# shellcheck shell=bash disable=SC2034  # globals set here (EXIT_RC, MDIR, ...) are read by the caller
# Helpers shared by bench/load.sh, bench/search.sh and bench/shrink.sh;
# sourced, not run.
#
# The caller sets `set -euo pipefail` and ROOT (repository root). Sourcing sets
# the defaults the scripts share (each can be overridden from the environment):
# N, SEED, MERIDIAN_BIN, START_TIMEOUT, LOAD_TIMEOUT, RESTART_TIMEOUT, and
# checks N and the bash version. The collection is always KEY=bench.
# Sourcing installs the EXIT/INT/TERM traps: every pid appended to PIDS is
# stopped on exit, and the work directory TMP is removed (kept after a failure
# or with KEEP_TMP=1).

N=${N:-1000000}
SEED=${SEED:-1}
KEY=bench
START_TIMEOUT=${START_TIMEOUT:-60}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-1800}
RESTART_TIMEOUT=${RESTART_TIMEOUT:-900}
MERIDIAN_BIN=${MERIDIAN_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/meridian}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

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
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer (got '$N')"
if [ "${BASH_VERSINFO[0]}" -lt 5 ]; then die "bash >= 5 needed (EPOCHREALTIME)"; fi

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_log() { # file
    [ -f "$1" ] || return 0
    log "--- last lines of $1:"
    tail -n 20 "$1" >&2 || true
}

# prepare TOOL...: install redis-server + redis-tools from Debian when one of
# the TOOLs is missing, check python3, build meridian (unless SKIP_BUILD=1)
# and check MERIDIAN_BIN.
prepare() {
    local tool missing=0
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || missing=1
    done
    if [ "$missing" = 1 ]; then
        log "installing redis-server and redis-tools from Debian"
        [ "$(id -u)" -eq 0 ] || die "$* missing and not root: apt-get install redis-server redis-tools"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
    fi
    command -v python3 >/dev/null 2>&1 || die "python3 is required"

    if [ "${SKIP_BUILD:-0}" != 1 ]; then
        log "cargo build --release"
        cargo build --release
    fi
    [ -x "$MERIDIAN_BIN" ] || die "meridian binary not found at $MERIDIAN_BIN"
}

# make_workdir: creates TMP (removed on exit) with MDIR and RDIR inside.
make_workdir() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/meridian-bench.XXXXXX")
    MDIR=$TMP/meridian-data
    RDIR=$TMP/redis-data
    mkdir -p "$MDIR" "$RDIR"
}

# generate_points: writes $TMP/meridian.resp and $TMP/redis.resp (N points,
# SEED, KEY) with gen_resp.py; sets GEN_S.
generate_points() {
    local t0
    log "generating $N points (seed $SEED)"
    t0=$(now)
    python3 "$ROOT/bench/gen_resp.py" --n "$N" --seed "$SEED" --key "$KEY" \
        --meridian "$TMP/meridian.resp" --redis "$TMP/redis.resp"
    GEN_S=$(elapsed "$t0" "$(now)")
    log "generated in ${GEN_S}s: meridian $(du -h "$TMP/meridian.resp" | cut -f1), redis $(du -h "$TMP/redis.resp" | cut -f1)"
}

# pick_ports: sets MPORT and RPORT, two distinct free loopback ports.
pick_ports() {
    MPORT=$(free_port)
    RPORT=$(free_port)
    while [ "$RPORT" = "$MPORT" ]; do RPORT=$(free_port); done
}

# pipe_load NAME PORT FILE -> sets LOAD_S; exits unless all N commands got a
# non-error reply. Logs go to $TMP/NAME-pipe.log (server log: $TMP/NAME.log).
pipe_load() {
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
