#!/usr/bin/env bash
# Issue 8 item 3: server memory per idle IMAP connection, Roost side by side
# with Dovecot 2.3 (Debian's, through shared/reference/dovecot-ref.sh).
#
#   bench/idle.sh                 # as root: N=10000 connections to each server, then a table
#
# Every connection logs in, SELECTs INBOX and IDLEs (internal/bench/cmd/idleconns),
# from a source address of its own in 127.0.0.0/8. Memory is VmRSS and PSS
# (/proc/PID/smaps_rollup) summed over the server's process tree, before and
# after, divided by N. Then one APPEND to testuser1's INBOX must wake every
# session idling on testuser1 (all of them with USERS=1).
#
# Env: N (10000), USERS (1: every connection is testuser1; the per-account
# cost of the store is then paid once), WORK (/tmp/idlebench), SERVERS
# ("roost dovecot"), TLS=1 (implicit TLS on both), SETTLE (10s, wait before
# measuring), HOLD (0: keep the connections open this long after measuring),
# PPROF=1 (run Roost as roost-prof: /debug/pprof on 127.0.0.1:PPROF_PORT,
# 46061; take a heap profile during HOLD), ROOST_PORT (41143/41993), IMAP_PORT (41243,
# Dovecot), DOVECOT_PROCS (N+100: Dovecot's imap process_limit).
set -eu
cd "$(dirname "$0")/.."
DOVECOT_REF=${DOVECOT_REF:-$(cd .. && pwd)/shared/reference/dovecot-ref.sh}
N=${N:-10000}; USERS=${USERS:-1}; WORK=${WORK:-/tmp/idlebench}; SERVERS=${SERVERS:-roost dovecot}
TLS=${TLS:-0}; SETTLE=${SETTLE:-10s}; HOLD=${HOLD:-0}; DOVECOT_PROCS=${DOVECOT_PROCS:-$((N + 100))}
PPROF_PORT=${PPROF_PORT:-46061}; ROOST_PORT=${ROOST_PORT:-41143}; ROOST_TLS_PORT=${ROOST_TLS_PORT:-41993}
export IMAP_PORT=${IMAP_PORT:-41243} IMAPS_PORT=${IMAPS_PORT:-41293}
export POP3_PORT=${POP3_PORT:-41210} POP3S_PORT=${POP3S_PORT:-41295} LMTP_PORT=${LMTP_PORT:-41224}
[ "$(id -u)" = 0 ] || { echo "idle.sh: run as root (Dovecot's processes, smaps_rollup of other users)" >&2; exit 1; }
mkdir -p "$WORK/bin" "$WORK/roost"

# The server process (Roost; Dovecot's imap-login for TLS, which proxies)
# and idleconns each need an open file per connection: raise the soft limit
# to the hard one, and the hard one if it is too low and we may.
nofile=$((N + 1024))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt $nofile ]; then
  ulimit -Hn $nofile || { echo "idle.sh: open-file hard limit $(ulimit -Hn) < $nofile" >&2; exit 1; }
fi
ulimit -n "$(ulimit -Hn)"

go build -o "$WORK/bin/roost" ./cmd/roost
go build -o "$WORK/bin/roost-prof" ./internal/bench/cmd/roost-prof
go build -o "$WORK/bin/idleconns" ./internal/bench/cmd/idleconns

tlsflag=
[ "$TLS" = 1 ] && tlsflag=-tls
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(uname -r)"
  echo "versions: $(go version | cut -d' ' -f3), Dovecot $(dovecot --version 2>/dev/null || echo -), Roost $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- internal cmd || echo +uncommitted)"
  echo "connections: $N over $USERS user(s), TLS=$TLS"
} | tee "$WORK/info.txt"

roost_pid=
cleanup() {
  if [ -n "$roost_pid" ]; then kill "$roost_pid" 2>/dev/null; wait "$roost_pid" 2>/dev/null || true; fi
  "$DOVECOT_REF" stop "$WORK/dovecot"
}
trap cleanup EXIT

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

for p in $ROOST_PORT $ROOST_TLS_PORT $IMAP_PORT $IMAPS_PORT; do
  if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
    echo "idle.sh: port $p is in use (another run?); set ROOST_PORT, IMAP_PORT..." >&2
    exit 1
  fi
done
for server in $SERVERS; do
  case $server in
  roost)
    rm -rf "$WORK/roost/data"
    : > "$WORK/roost/users"
    for i in $(seq 1 "$USERS"); do echo "testuser$i:{PLAIN}pass::::::" >> "$WORK/roost/users"; done
    [ -f "$WORK/roost/cert.pem" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -days 30 -subj /CN=localhost -keyout "$WORK/roost/key.pem" -out "$WORK/roost/cert.pem" 2>/dev/null
    cat > "$WORK/roost/roost.conf" <<CONF
protocols = imap
listen = 127.0.0.1
mail_location = sqlite:$WORK/roost/data
ssl = yes
ssl_cert = <$WORK/roost/cert.pem
ssl_key = <$WORK/roost/key.pem
disable_plaintext_auth = no
auth_failure_delay = 0
default_internal_user = root
passdb {
  driver = passwd-file
  args = $WORK/roost/users
}
service imap-login {
  inet_listener imap {
    port = $ROOST_PORT
  }
  inet_listener imaps {
    port = $ROOST_TLS_PORT
    ssl = yes
  }
}
CONF
    if [ "${PPROF:-}" = 1 ]; then
      "$WORK/bin/roost-prof" -c "$WORK/roost/roost.conf" -pprof "127.0.0.1:$PPROF_PORT" 2>"$WORK/roost/log" &
    else
      "$WORK/bin/roost" serve -c "$WORK/roost/roost.conf" 2>"$WORK/roost/log" &
    fi
    roost_pid=$!
    wait_port "$ROOST_PORT"
    kill -0 "$roost_pid" 2>/dev/null || { echo "roost did not start:" >&2; tail -3 "$WORK/roost/log" >&2; exit 1; }
    port=$ROOST_PORT; [ "$TLS" = 1 ] && port=$ROOST_TLS_PORT
    "$WORK/bin/idleconns" -name Roost -addr 127.0.0.1:$port -pid "$roost_pid" -n "$N" -users "$USERS" \
      -settle "$SETTLE" -hold "$HOLD" -wake $tlsflag -json "$WORK/roost.json" || true
    [ "${PPROF:-}" = 1 ] && sleep 15 # time to finish a CPU profile of the wake-up
    kill "$roost_pid"; wait "$roost_pid" 2>/dev/null || true; roost_pid=
    ;;
  dovecot)
    USERS=$USERS "$DOVECOT_REF" start "$WORK/dovecot" >/dev/null
    # The reference allows 3000 imap processes (one per session); raise
    # that so N fit, and restart it under this shell's open-file limit.
    conf=$WORK/dovecot/dovecot.conf
    doveadm -c "$conf" stop
    sed -i -e "s/^default_process_limit = .*/default_process_limit = $DOVECOT_PROCS/" \
      -e "s/^  process_limit = .*/  process_limit = $DOVECOT_PROCS/" \
      -e "s/^default_client_limit = .*/default_client_limit = $((N * 2 + 1000))/" \
      -e "s/^  client_limit = 20000/  client_limit = $((N * 2 + 1000))/" "$conf"
    for _ in $(seq 50); do [ -e "$WORK/dovecot/run/master.pid" ] || break; sleep 0.1; done
    dovecot -c "$conf" </dev/null
    port=$IMAP_PORT; [ "$TLS" = 1 ] && port=$IMAPS_PORT
    wait_port "$port"
    sleep 1
    "$WORK/bin/idleconns" -name Dovecot -addr 127.0.0.1:$port -pid "$(cat "$WORK/dovecot/run/master.pid")" \
      -n "$N" -users "$USERS" -settle "$SETTLE" -hold "$HOLD" -wake $tlsflag -json "$WORK/dovecot.json" || true
    "$DOVECOT_REF" stop "$WORK/dovecot"
    ;;
  esac
done
