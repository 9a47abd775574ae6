#!/usr/bin/env bash
# Issue 8: Roost side by side with Debian's Dovecot under `roost bench`.
#
#   bench/compare.sh            # ~12 minutes: every profile at 10, 50, 200 users against both servers
#   QUICK=1 bench/compare.sh    # ~2 minutes smoke run (fewer users, levels and seconds; table not written)
#
# What it does: builds roost once; installs Dovecot (and jq) from Debian if
# missing; starts Dovecot through the reference script
# (../shared/reference/dovecot-ref.sh, or $DOVECOT_REF) and Roost on
# loopback with equivalent settings: the same passwd-file (testuser1..N,
# password "pass"), TLS on both (the runs use IMAPS and POP3S), fsync on
# both (mail_fsync = optimized, the default of both: flag changes are not
# fsynced; MAIL_FSYNC=always sets Roost's), no connection caps in the way; loads the same generated
# corpus into both with `roost bench --prepare` (message i of mailgen seed 1
# is the i-th message of every INBOX); then runs each profile at each
# concurrency for DURATION against Roost and then Dovecot, topping the
# INBOXes up again before each pop3 run (it deletes mail), and last the idle
# profile (IDLE_CONNS connections held, memory of each server's process
# tree). It writes the table of ratios Roost/Dovecot with machine, versions
# and date into docs/BENCHMARKS.md between the compare.sh markers
# (replacing the previous table), and keeps every JSON report in
# $WORK/results.
#
# Env: WORK (/tmp/roost-compare), USERS (200), MESSAGES (100 per INBOX),
# LEVELS ("10 50 200"), DURATION (15s), PROFILES ("caching webmail append
# pop3"), IDLE_CONNS (1000), IDLE_HOLD (15s), ROOST_BASE_PORT (13000: imaps
# +993, pop3s +995, imap +143, pop3 +110), Dovecot's IMAP_PORT (14143),
# IMAPS_PORT (14993), POP3_PORT (14110), POP3S_PORT (14995), LMTP_PORT
# (14024), WRITE_DOC (1; 0 to leave docs/BENCHMARKS.md alone),
# SSL_CURVE_LIST (Roost's ssl_curve_list; empty: Go's default, which
# negotiates X25519MLKEM768 with roost bench's Go client, while Debian's
# Dovecot 2.3 with OpenSSL 3.0 negotiates X25519; X25519 compares like
# with like), MAIL_FSYNC (Roost's mail_fsync; empty: the default,
# optimized), BENCH_EXTRA (more `roost bench` flags for every profile run,
# e.g. "--idle-hold 20ms" to give the caching client think time).
# Needs root (Dovecot's mail user, binding Roost's and Dovecot's ports).
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)
DOVECOT_REF=${DOVECOT_REF:-$(cd .. && pwd)/shared/reference/dovecot-ref.sh}
WORK=${WORK:-/tmp/roost-compare}
if [ "${QUICK:-}" = 1 ]; then
  USERS=${USERS:-50}; MESSAGES=${MESSAGES:-30}; LEVELS=${LEVELS:-"10 50"}; DURATION=${DURATION:-3s}
  IDLE_CONNS=${IDLE_CONNS:-200}; IDLE_HOLD=${IDLE_HOLD:-4s}; WRITE_DOC=${WRITE_DOC:-0}
fi
USERS=${USERS:-200}; MESSAGES=${MESSAGES:-100}; LEVELS=${LEVELS:-"10 50 200"}; DURATION=${DURATION:-15s}
PROFILES=${PROFILES:-"caching webmail append pop3"}
IDLE_CONNS=${IDLE_CONNS:-1000}; IDLE_HOLD=${IDLE_HOLD:-15s}; WRITE_DOC=${WRITE_DOC:-1}
base=${ROOST_BASE_PORT:-13000}
R_IMAPS=$((base + 993)); R_POP3S=$((base + 995)); R_IMAP=$((base + 143)); R_POP3=$((base + 110))
# Dovecot's ports (the reference script's variables), away from its
# defaults so that another Dovecot started with them does not clash.
export IMAP_PORT=${IMAP_PORT:-14143} IMAPS_PORT=${IMAPS_PORT:-14993} POP3_PORT=${POP3_PORT:-14110} POP3S_PORT=${POP3S_PORT:-14995} LMTP_PORT=${LMTP_PORT:-14024}
for p in $R_IMAP $R_IMAPS $R_POP3 $R_POP3S $IMAP_PORT $IMAPS_PORT $POP3_PORT $POP3S_PORT $LMTP_PORT; do
  if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
    echo "port $p is in use: pick others with ROOST_BASE_PORT (Roost) or IMAP_PORT, IMAPS_PORT, POP3_PORT, POP3S_PORT, LMTP_PORT (Dovecot)" >&2
    exit 1
  fi
done

need=()
command -v dovecot >/dev/null || need+=(dovecot-imapd dovecot-pop3d dovecot-lmtpd)
command -v jq >/dev/null || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi

rm -rf "$WORK"
mkdir -p "$WORK/bin" "$WORK/roost/data" "$WORK/results"
go build -o "$WORK/bin/roost" ./cmd/roost
roost=$WORK/bin/roost

# One passwd-file for both servers.
: > "$WORK/users"
for i in $(seq 1 "$USERS"); do echo "testuser$i:{PLAIN}pass::::::" >> "$WORK/users"; done
# Test accounts with PLAIN passwords: readable by Dovecot's auth process
# (user dovecot) and by Roost after it switched to mail.
chmod 0644 "$WORK/users"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$WORK/roost/key.pem" -out "$WORK/roost/cert.pem" 2>/dev/null
cat > "$WORK/roost/roost.conf" <<CONF
protocols = imap pop3
listen = 127.0.0.1
mail_location = sqlite:$WORK/roost/data
default_internal_user = mail
ssl = yes
ssl_cert = <$WORK/roost/cert.pem
ssl_key = <$WORK/roost/key.pem
${SSL_CURVE_LIST:+ssl_curve_list = $SSL_CURVE_LIST}
${MAIL_FSYNC:+mail_fsync = $MAIL_FSYNC}
# As the reference Dovecot: no per-user/IP connection cap, no preauth cap
# (the load comes from one machine), no failure delay (no login fails).
mail_max_userip_connections = 100000
login_max_preauth_per_ip = 0
login_max_preauth = 0
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = $WORK/users
}
service imap-login {
  inet_listener imap {
    port = $R_IMAP
  }
  inet_listener imaps {
    port = $R_IMAPS
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $R_POP3
  }
  inet_listener pop3s {
    port = $R_POP3S
    ssl = yes
  }
}
CONF
chown -R mail:mail "$WORK/roost"

roost_pid=
cleanup() {
  [ -n "$roost_pid" ] && kill "$roost_pid" 2>/dev/null && wait "$roost_pid" 2>/dev/null
  "$DOVECOT_REF" stop "$WORK/dovecot" || true
}
trap cleanup EXIT
"$DOVECOT_REF" stop "$WORK/dovecot" 2>/dev/null || true
USERS_FILE=$WORK/users "$DOVECOT_REF" start "$WORK/dovecot" >/dev/null
ulimit -n 65536 2>/dev/null || ulimit -n 20000
"$roost" serve -c "$WORK/roost/roost.conf" 2>"$WORK/roost/log" &
roost_pid=$!
up=no
for i in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$R_IMAPS) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/$R_POP3S) 2>/dev/null && { up=yes; break; }
  kill -0 "$roost_pid" 2>/dev/null || break
  sleep 0.1
done
if [ $up = no ]; then
  echo "roost did not start; its log:" >&2; tail -5 "$WORK/roost/log" >&2; exit 1
fi

echo "$roost_pid" > "$WORK/roost/pid"
declare -A PIDFILE=([roost]=$WORK/roost/pid [dovecot]=$WORK/dovecot/run/master.pid)
declare -A IMAPS=([roost]=127.0.0.1:$R_IMAPS [dovecot]=127.0.0.1:$IMAPS_PORT)
declare -A POP3S=([roost]=127.0.0.1:$R_POP3S [dovecot]=127.0.0.1:$POP3S_PORT)
bench() { # SERVER OUT ARGS...: run roost bench, JSON to OUT; errors do not stop the script
  local server=$1 out=$2; shift 2
  # shellcheck disable=SC2086 # BENCH_EXTRA is a list of flags
  "$roost" bench --json --quiet --tls --insecure --users 'testuser%d:pass' --nusers "$USERS" "$@" ${BENCH_EXTRA:-} >"$out" 2>"$out.err" || true
  if ! jq -e . "$out" >/dev/null 2>&1; then
    echo "roost bench against $server failed:" >&2; cat "$out.err" >&2; exit 1
  fi
}
prepare() {
  for s in roost dovecot; do
    bench "$s" "$WORK/results/prepare-$s.json" --addr "${IMAPS[$s]}" --prepare --messages "$MESSAGES" -n 20
  done
}

echo "loading $MESSAGES messages into $USERS INBOXes on each server"
prepare
for p in $PROFILES; do
  for n in $LEVELS; do
    [ "$p" = pop3 ] && prepare
    for s in roost dovecot; do
      addr=${IMAPS[$s]}; [ "$p" = pop3 ] && addr=${POP3S[$s]}
      out=$WORK/results/$s-$p-$n.json
      bench "$s" "$out" --addr "$addr" --profile "$p" -n "$n" --duration "$DURATION" --server-pidfile "${PIDFILE[$s]}"
      jq -r --arg s "$s" '"\($s) \(.profile) n=\(.concurrency): \(.ops_per_sec|floor) ops/s, p99 \(.all.p99_ms) ms, server CPU \(.server_cpu_ms_per_op) ms/op, errors \(.errors)"' "$out"
    done
  done
done
if [ "$IDLE_CONNS" -gt 0 ]; then
  bench roost "$WORK/results/roost-idle.json" --addr "${IMAPS[roost]}" --profile idle -n "$IDLE_CONNS" --duration "$IDLE_HOLD" --server-pidfile "$WORK/roost/pid"
  bench dovecot "$WORK/results/dovecot-idle.json" --addr "${IMAPS[dovecot]}" --profile idle -n "$IDLE_CONNS" --duration "$IDLE_HOLD" --server-pidfile "$WORK/dovecot/run/master.pid"
  for s in roost dovecot; do
    jq -r --arg s "$s" '"\($s) idle \(.concurrency): PSS \(.memory.pss_kib_per_connection // "?") KiB/conn, RSS \(.memory.rss_kib_per_connection // "?") KiB/conn, errors \(.errors)"' "$WORK/results/$s-idle.json"
  done
fi

# The table.
table=$WORK/table.md
{
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  echo "Run of \`bench/compare.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) CPUs ($cpu), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, Linux $(uname -r);"
  echo "Roost $(git -C "$repo" describe --always --dirty) built with $(go version | awk '{print $3}'), Dovecot $(dovecot --version | awk '{print $1}') (Debian)."
  echo "$USERS users with $MESSAGES messages each (mailgen seed 1), IMAPS/POP3S, $DURATION per run, client and servers on the same machine;"
  echo "TLS key exchange: Roost ${SSL_CURVE_LIST:-X25519MLKEM768, the Go default}, Dovecot X25519 (OpenSSL 3.0);"
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "Throughput is successful commands per second; p99 is over all commands; server CPU is the CPU time of the server's whole process tree per command."
  echo
  echo "| profile | users | Roost ops/s | Dovecot ops/s | throughput Roost/Dovecot | Roost p99 ms | Dovecot p99 ms | p99 Roost/Dovecot | Roost CPU ms/op | Dovecot CPU ms/op | CPU Roost/Dovecot | errors Roost / Dovecot |"
  echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  for p in $PROFILES; do
    for n in $LEVELS; do
      r=$WORK/results/roost-$p-$n.json; d=$WORK/results/dovecot-$p-$n.json
      jq -rn --slurpfile r "$r" --slurpfile d "$d" --arg p "$p" --arg n "$n" '
        def f(x): (x*10|round)/10;
        def ratio(a; b): if b > 0 then ((a/b)*100|round)/100 else "-" end;
        def c(x): if x == null then "?" else (x*1000|round)/1000 end;
        "| \($p) | \($n) | \(f($r[0].ops_per_sec)) | \(f($d[0].ops_per_sec)) | \(ratio($r[0].ops_per_sec; $d[0].ops_per_sec)) | \($r[0].all.p99_ms) | \($d[0].all.p99_ms) | \(ratio($r[0].all.p99_ms; $d[0].all.p99_ms)) | \(c($r[0].server_cpu_ms_per_op)) | \(c($d[0].server_cpu_ms_per_op)) | \(ratio($r[0].server_cpu_ms_per_op // 0; $d[0].server_cpu_ms_per_op // 0)) | \($r[0].errors) / \($d[0].errors) |"'
    done
  done
  if [ "$IDLE_CONNS" -gt 0 ]; then
    echo
    echo "| idle connections | Roost PSS KiB/conn | Dovecot PSS KiB/conn | PSS Roost/Dovecot | Roost RSS KiB/conn | Dovecot RSS KiB/conn | errors Roost / Dovecot |"
    echo "|--:|--:|--:|--:|--:|--:|--:|"
    jq -rn --slurpfile r "$WORK/results/roost-idle.json" --slurpfile d "$WORK/results/dovecot-idle.json" '
      def f(x): if x == null then "?" else (x*10|round)/10 end;
      def ratio(a; b): if a != null and b != null and b > 0 then ((a/b)*100|round)/100 else "-" end;
      "| \($r[0].concurrency) | \(f($r[0].memory.pss_kib_per_connection)) | \(f($d[0].memory.pss_kib_per_connection)) | \(ratio($r[0].memory.pss_kib_per_connection; $d[0].memory.pss_kib_per_connection)) | \(f($r[0].memory.rss_kib_per_connection)) | \(f($d[0].memory.rss_kib_per_connection)) | \($r[0].errors) / \($d[0].errors) |"'
  fi
} > "$table"
echo; cat "$table"

if [ "$WRITE_DOC" = 1 ]; then
  python3 - "$repo/docs/BENCHMARKS.md" "$table" <<'PY'
import sys
doc, table = sys.argv[1], open(sys.argv[2]).read()
begin, end = "<!-- compare.sh: begin -->", "<!-- compare.sh: end -->"
s = open(doc).read()
block = begin + "\n" + table.rstrip("\n") + "\n" + end
if begin in s and end in s:
    s = s[:s.index(begin)] + block + s[s.index(end) + len(end):]
else:
    s = s.rstrip("\n") + "\n\n## Roost and Dovecot under `roost bench` (bench/compare.sh)\n\n" + block + "\n"
open(doc, "w").write(s)
PY
  echo "table written to docs/BENCHMARKS.md"
fi
