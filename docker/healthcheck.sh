#!/usr/bin/env bash
# shellcheck disable=SC2016  # literal $ in RESP bulk-string headers is intended
# Container healthcheck for meridian: no redis-cli/curl needed.
#
# Opens a TCP connection to 127.0.0.1:${MERIDIAN_PORT:-9851} with bash's
# /dev/tcp, sends HEALTHZ as a RESP array (preceded by AUTH when
# MERIDIAN_REQUIREPASS is set) and succeeds only if the reply is +OK.
#
# Exit 0 = healthy, 1 = unhealthy.
set -u
export LC_ALL=C   # so ${#var} counts bytes, as RESP bulk lengths require

host=${MERIDIAN_HEALTHCHECK_HOST:-127.0.0.1}
port=${MERIDIAN_PORT:-9851}
pass=${MERIDIAN_REQUIREPASS:-}
wait_secs=${MERIDIAN_HEALTHCHECK_TIMEOUT:-3}

exec 3<>"/dev/tcp/${host}/${port}" || exit 1

{
    if [ -n "$pass" ]; then
        printf '*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n' "${#pass}" "$pass"
    fi
    printf '*1\r\n$7\r\nHEALTHZ\r\n'
} >&3 || exit 1

if [ -n "$pass" ]; then
    IFS= read -r -t "$wait_secs" line <&3 || { echo "AUTH: no reply" >&2; exit 1; }
    case "$line" in
        +OK*) ;;
        *) echo "AUTH failed: ${line%$'\r'}" >&2; exit 1 ;;
    esac
fi

IFS= read -r -t "$wait_secs" line <&3 || { echo "HEALTHZ: no reply" >&2; exit 1; }
exec 3>&-
case "$line" in
    +OK*) exit 0 ;;
    *) echo "HEALTHZ: ${line%$'\r'}" >&2; exit 1 ;;
esac
