#!/usr/bin/env bash
# Issue 3: IMAP on a 100,000-message INBOX, Roost side by side with Dovecot 2.3.
#
#   bench/imap100k.sh            # build, load (once), start both, measure both, stop both, print a table
#
# Env: WORK (/tmp/imap100k: data, logs, reports; loaded data is reused when
# the message count matches), N (100000), ROUNDS (7 measured rounds after
# WARMUP=1 unmeasured), ROOST_PORT (11143), IMAP_PORT (10143, Dovecot),
# PPROF=1 runs Roost as bench/roost-prof with /debug/pprof on 127.0.0.1:6061.
#
# Issue 4 (resync at 1,000,000 messages, docs/BENCHMARKS.md "1,000,000 messages"):
#
#   WORK=/tmp/imap1m N=1000000 DISTINCT=1000 SYNC=1 bench/imap100k.sh
#
# DISTINCT=D generates only D distinct messages; the others are copies
# (Maildir hard links, shared bodies in Roost; see imap100k-load). SYNC=1
# runs imap100k-sync (QRESYNC SELECT after 100 changes, CHANGEDSINCE, SEARCH
# LARGER/SINCE, memory with SESSIONS=100 sessions selected) instead of the
# issue-3 rounds.
#
# Both servers get the same generated messages (internal/bench/mailgen) with
# the same ~30% \Seen: Dovecot as Maildir files written directly (indexed by
# Dovecot on the warm-up SELECT), Roost through its store API (durable
# Append, in order). Needs root (Dovecot's mail user owns the Maildir).
set -eu
cd "$(dirname "$0")/.."
# The reference Dovecot script lives in shared/ beside the repository.
DOVECOT_REF=${DOVECOT_REF:-$(cd .. && pwd)/shared/reference/dovecot-ref.sh}
WORK=${WORK:-/tmp/imap100k}; N=${N:-100000}; ROUNDS=${ROUNDS:-7}; WARMUP=${WARMUP:-1}
DISTINCT=${DISTINCT:-0}; SYNC=${SYNC:-0}; SESSIONS=${SESSIONS:-100}
ROOST_PORT=${ROOST_PORT:-11143}; export IMAP_PORT=${IMAP_PORT:-10143}
export IMAPS_PORT=${IMAPS_PORT:-10993} POP3_PORT=${POP3_PORT:-10110} POP3S_PORT=${POP3S_PORT:-10995} LMTP_PORT=${LMTP_PORT:-10024}
mkdir -p "$WORK/bin" "$WORK/roost"

go build -o "$WORK/bin/roost" ./cmd/roost
go build -o "$WORK/bin/imap100k-load" ./internal/bench/cmd/imap100k-load
go build -o "$WORK/bin/imap100k" ./internal/bench/cmd/imap100k
go build -o "$WORK/bin/imap100k-sync" ./internal/bench/cmd/imap100k-sync
go build -o "$WORK/bin/roost-prof" ./internal/bench/cmd/roost-prof

maildir=$WORK/dovecot/mail/testuser1/Maildir
if [ "$(cat "$WORK/dovecot/loaded" 2>/dev/null)" != "$N" ]; then
  "$DOVECOT_REF" stop "$WORK/dovecot"
  rm -rf "$WORK/dovecot"
  "$WORK/bin/imap100k-load" -n "$N" -distinct "$DISTINCT" -maildir "$maildir"
  chown -R mail:mail "$WORK/dovecot/mail"
  echo "$N" > "$WORK/dovecot/loaded"
fi
if [ "$(cat "$WORK/roost/loaded" 2>/dev/null)" != "$N" ]; then
  rm -rf "$WORK/roost/data"
  "$WORK/bin/imap100k-load" -n "$N" -distinct "$DISTINCT" -roost "$WORK/roost/data" -user testuser1
  echo "$N" > "$WORK/roost/loaded"
fi

cat > "$WORK/roost/roost.conf" <<CONF
protocols = imap
listen = 127.0.0.1
mail_location = sqlite:$WORK/roost/data
default_internal_user = mail
mail_max_userip_connections = 100000
ssl = no
disable_plaintext_auth = no
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = $WORK/roost/users
}
service imap-login {
  inet_listener imap {
    port = $ROOST_PORT
  }
}
CONF
echo 'testuser1:{PLAIN}pass::::::' > "$WORK/roost/users"
# Roost runs as mail, as Dovecot's mail processes do.
chown -R mail:mail "$WORK/roost/data" "$WORK/roost/users"

roost_pid=
cleanup() {
  [ -n "$roost_pid" ] && kill "$roost_pid" 2>/dev/null && wait "$roost_pid" 2>/dev/null
  "$DOVECOT_REF" stop "$WORK/dovecot"
}
trap cleanup EXIT
USERS=1 "$DOVECOT_REF" start "$WORK/dovecot" >/dev/null
if [ "${PPROF:-}" = 1 ]; then
  "$WORK/bin/roost-prof" -c "$WORK/roost/roost.conf" 2>"$WORK/roost/log" &
else
  "$WORK/bin/roost" serve -c "$WORK/roost/roost.conf" 2>"$WORK/roost/log" &
fi
roost_pid=$!
for i in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$ROOST_PORT) 2>/dev/null && break
  sleep 0.1
done

size() { du -sb "$1" | cut -f1; }
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(free -g | awk '/Mem:/{print $2}') GiB RAM"
  echo "versions: $(go version | cut -d' ' -f3), Dovecot $(dovecot --version), Roost $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- internal cmd || echo +uncommitted)"
  echo "messages: $N; Maildir $(size "$maildir") bytes; Roost data $(size "$WORK/roost/data") bytes"
} | tee "$WORK/info.txt"

if [ "$SYNC" = 1 ]; then
  # SKIP_DOVECOT=1 reuses the last Dovecot report (its run takes minutes at 1M).
  [ "${SKIP_DOVECOT:-}" = 1 ] && [ -f "$WORK/dovecot-sync.json" ] ||
  "$WORK/bin/imap100k-sync" -addr 127.0.0.1:$IMAP_PORT -name Dovecot -rounds "$ROUNDS" -sessions "$SESSIONS" \
    -rss-tree "$(cat "$WORK/dovecot/run/master.pid")" -json "$WORK/dovecot-sync.json"
  "$WORK/bin/imap100k-sync" -addr 127.0.0.1:$ROOST_PORT -name Roost -rounds "$ROUNDS" -sessions "$SESSIONS" \
    -rss-tree "$roost_pid" -json "$WORK/roost-sync.json"
  echo
  "$WORK/bin/imap100k-sync" -table "$WORK/roost-sync.json" "$WORK/dovecot-sync.json" | tee "$WORK/sync-table.md"
  exit 0
fi
"$WORK/bin/imap100k" -addr 127.0.0.1:$IMAP_PORT -name Dovecot -warmup "$WARMUP" -rounds "$ROUNDS" \
  -rss-match dovecot -json "$WORK/dovecot.json"
"$WORK/bin/imap100k" -addr 127.0.0.1:$ROOST_PORT -name Roost -warmup "$WARMUP" -rounds "$ROUNDS" \
  -rss-pids "$roost_pid" -json "$WORK/roost.json"
echo
"$WORK/bin/imap100k" -table "$WORK/roost.json" "$WORK/dovecot.json" | tee "$WORK/table.md"
