#!/usr/bin/env bash
# Issue 6 "Performance": LMTP deliveries per second (durable) with 1 and 16
# concurrent senders, and import speed in messages per second, Roost side by
# side with Debian's Dovecot 2.3 on the same machine.
#
#   bench/lmtp.sh                # build, start both, measure both, stop both, print a table
#
# Env: WORK (/tmp/lmtpbench, wiped first), N (2000 deliveries per run), USERS
# (50 recipients, round robin), IMPORT_N (10000 messages in the Maildir to
# import), ROOST_LMTP (17024), LMTP_PORT (17124, Dovecot's; its other ports
# are moved to 171xx too, so a reference Dovecot on the default ports can
# keep running), PPROF=1 runs Roost as roost-prof with /debug/pprof on
# 127.0.0.1:6062 and saves a CPU profile of the 16-sender run.
#
# Deliveries: internal/bench/lmtpbench (Postfix's way: one connection per
# sender kept open, MAIL/RCPT/DATA pipelined, one recipient per message,
# mailgen's realistic ~7 KB messages). Both servers are durable: Roost
# fsyncs the message file and commits the SQLite WAL (synchronous=FULL)
# before 250; Dovecot's default mail_fsync = optimized fsyncs each saved
# Maildir file. A warm-up round delivers one message to every user first,
# so account creation is not measured. Import: roost import of a generated
# Dovecot Maildir (dovecot-uidlist included) vs doveadm import of a copy of
# it into a Maildir account. Needs root (Dovecot's mail user).
set -eu
cd "$(dirname "$0")/.."
DOVECOT_REF=${DOVECOT_REF:-$(cd .. && pwd)/shared/reference/dovecot-ref.sh}
WORK=${WORK:-/tmp/lmtpbench}; N=${N:-2000}; USERS=${USERS:-50}; IMPORT_N=${IMPORT_N:-10000}
ROOST_LMTP=${ROOST_LMTP:-17024}
export LMTP_PORT=${LMTP_PORT:-17124} IMAP_PORT=${IMAP_PORT:-17143} IMAPS_PORT=${IMAPS_PORT:-17993}
export POP3_PORT=${POP3_PORT:-17110} POP3S_PORT=${POP3S_PORT:-17995}

"$DOVECOT_REF" stop "$WORK/dovecot" 2>/dev/null || true
for port in "$ROOST_LMTP" "$LMTP_PORT" "$IMAP_PORT" "$IMAPS_PORT" "$POP3_PORT" "$POP3S_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is in use (another benchmark?); set ROOST_LMTP, LMTP_PORT, IMAP_PORT, IMAPS_PORT, POP3_PORT, POP3S_PORT" >&2
    exit 1
  fi
done
rm -rf "$WORK"
mkdir -p "$WORK/bin" "$WORK/roost"
go build -o "$WORK/bin/roost" ./cmd/roost
go build -o "$WORK/bin/lmtpbench" ./internal/bench/lmtpbench/cmd/lmtpbench
ROOST_BIN=$WORK/bin/roost
CURL=
if [ "${PPROF:-0}" = 1 ]; then
  go build -o "$WORK/bin/roost-prof" ./internal/bench/cmd/roost-prof
  ROOST_BIN=$WORK/bin/roost-prof
fi

# Users with a domain: Dovecot's LMTP wants RCPT addresses with one, and
# looks the whole address up.
for i in $(seq 1 "$USERS"); do echo "testuser$i@example.org:{PLAIN}pass::::::"; done > "$WORK/users"
echo "importroost:{PLAIN}pass::::::" >> "$WORK/users"
echo "importdovecot:{PLAIN}pass::::::" >> "$WORK/users"
cat > "$WORK/roost/roost.conf" <<CONF
protocols = lmtp
listen = 127.0.0.1
mail_location = sqlite:$WORK/roost/mail
default_internal_user = root
ssl = no
passdb {
  driver = passwd-file
  args = $WORK/users
}
service lmtp {
  inet_listener lmtp {
    port = $ROOST_LMTP
  }
}
CONF

cleanup() {
  [ -n "${ROOST_PID:-}" ] && kill "$ROOST_PID" 2>/dev/null && wait "$ROOST_PID" 2>/dev/null
  "$DOVECOT_REF" stop "$WORK/dovecot" >/dev/null 2>&1 || true
}
trap cleanup EXIT
if [ "${PPROF:-0}" = 1 ]; then
  "$ROOST_BIN" -c "$WORK/roost/roost.conf" -pprof 127.0.0.1:6062 2>"$WORK/roost.log" &
else
  "$ROOST_BIN" serve -c "$WORK/roost/roost.conf" 2>"$WORK/roost.log" &
fi
ROOST_PID=$!
USERS_FILE=$WORK/users "$DOVECOT_REF" start "$WORK/dovecot" >/dev/null || { echo "reference Dovecot did not start" >&2; exit 1; }
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$ROOST_LMTP) 2>/dev/null && break; sleep 0.1; done
kill -0 "$ROOST_PID" 2>/dev/null || { echo "roost did not start:" >&2; tail -3 "$WORK/roost.log" >&2; exit 1; }

run() { # name addr senders n
  "$WORK/bin/lmtpbench" deliver -addr "$2" -senders "$3" -n "$4" -users "$USERS" -rcpt 'testuser%d@example.org' -json
}
declare -A R
for s in roost dovecot; do
  addr=127.0.0.1:$ROOST_LMTP; [ $s = dovecot ] && addr=127.0.0.1:$LMTP_PORT
  run $s "$addr" 4 "$USERS" >/dev/null # warm-up: create every account
  for senders in 1 16; do
    if [ $s = roost ] && [ $senders = 16 ] && [ "${PPROF:-0}" = 1 ]; then
      curl -s -o "$WORK/lmtp16.pprof" "http://127.0.0.1:6062/debug/pprof/profile?seconds=8" &
      CURL=$!
    fi
    R[$s,$senders]=$(run $s "$addr" $senders "$N")
    [ -n "${CURL:-}" ] && { wait "$CURL"; CURL=; }
    echo "$s senders=$senders: ${R[$s,$senders]}"
  done
done

# Import: the same generated Dovecot Maildir into a fresh account on each.
"$WORK/bin/lmtpbench" maildir -dir "$WORK/src" -n "$IMPORT_N" >/dev/null
cp -a "$WORK/src" "$WORK/src-dovecot"
chown -R mail:mail "$WORK/src-dovecot"
sync
t0=$(date +%s.%N)
"$WORK/bin/roost" import -c "$WORK/roost/roost.conf" -u importroost maildir "$WORK/src" >"$WORK/import-roost.txt"
t1=$(date +%s.%N)
doveadm -c "$WORK/dovecot/dovecot.conf" import -u importdovecot "maildir:$WORK/src-dovecot" "" all
t2=$(date +%s.%N)
got=$(find "$WORK/dovecot/mail/importdovecot/Maildir" -path '*/cur/*' -o -path '*/new/*' -type f | wc -l)
echo "roost import: $(cat "$WORK/import-roost.txt")"
echo "dovecot import: $got messages"

pick() { sed -E "s/.*\"$2\":([0-9.e+]+).*/\1/" <<<"$1"; }
{
  echo
  echo "| LMTP, durable | Roost | Dovecot $(dovecot --version | cut -d' ' -f1) |"
  echo "|---|---|---|"
  for senders in 1 16; do
    r=${R[roost,$senders]}; d=${R[dovecot,$senders]}
    printf '| %s sender(s): deliveries/s | %.0f | %.0f |\n' $senders "$(pick "$r" per_second)" "$(pick "$d" per_second)"
    printf '| %s sender(s): p50 / p99 latency (ms) | %.1f / %.1f | %.1f / %.1f |\n' $senders \
      "$(echo "$(pick "$r" p50_ns)/1000000" | bc -l)" "$(echo "$(pick "$r" p99_ns)/1000000" | bc -l)" \
      "$(echo "$(pick "$d" p50_ns)/1000000" | bc -l)" "$(echo "$(pick "$d" p99_ns)/1000000" | bc -l)"
  done
  printf '| import of %d messages: messages/s | %.0f | %.0f |\n' "$IMPORT_N" \
    "$(echo "$IMPORT_N/($t1-$t0)" | bc -l)" "$(echo "$got/($t2-$t1)" | bc -l)"
} | tee "$WORK/results.md"
