#!/usr/bin/env bash
# Issue 8 item 4: large FETCH bodies over plain IMAP, Roost (and optionally
# an older Roost) side by side with Debian's Dovecot.
#
#   bench/bigfetch.sh                    # Roost at HEAD and Dovecot
#   BEFORE=11682f3 bench/bigfetch.sh     # also Roost built from that revision
#
# For each server and each message size it appends one message (the same
# bytes for all) to testuser1's INBOX over IMAP, then runs "UID FETCH n
# (BODY.PEEK[])" on one plain-TCP connection, checks the bytes, and prints
# the wall time and the CPU time of the server process that owns the
# connection (Roost's process; Dovecot's imap process, found with ss) per
# FETCH, from /proc/PID/stat. A second, shorter pass runs under
# `strace -c -f -p PID` and prints the server's system calls per FETCH
# (strace slows the server, so its times are not used).
#
# Env: WORK (/tmp/roost-bigfetch), SIZES ("1048576 10485760"), COUNT_MIB
# (300: 300 FETCHes of 1 MiB, 30 of 10 MiB, at least 20), ROOST_PORT
# (15143), Dovecot's IMAP_PORT (15144; its other ports 1514x too). Needs
# root (Dovecot's mail user), python3 and strace.
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)
DOVECOT_REF=${DOVECOT_REF:-$(cd .. && pwd)/shared/reference/dovecot-ref.sh}
WORK=${WORK:-/tmp/roost-bigfetch}
SIZES=${SIZES:-"1048576 10485760"}
ROOST_PORT=${ROOST_PORT:-15143}
export IMAP_PORT=${IMAP_PORT:-15144} IMAPS_PORT=${IMAPS_PORT:-15993} POP3_PORT=${POP3_PORT:-15110} POP3S_PORT=${POP3S_PORT:-15995} LMTP_PORT=${LMTP_PORT:-15024}
for p in $ROOST_PORT $IMAP_PORT; do
  if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
    echo "port $p is in use: set ROOST_PORT or IMAP_PORT" >&2
    exit 1
  fi
done
command -v strace >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q strace >/dev/null

rm -rf "$WORK"
mkdir -p "$WORK/bin"
go build -o "$WORK/bin/roost-head" ./cmd/roost
servers="roost-head"
if [ -n "${BEFORE:-}" ]; then
  mkdir -p "$WORK/src-before"
  git archive "$BEFORE" | tar -x -C "$WORK/src-before"
  (cd "$WORK/src-before" && go build -o "$WORK/bin/roost-before" ./cmd/roost)
  servers="roost-before $servers"
fi
echo "testuser1:{PLAIN}pass::::::" > "$WORK/users"
chmod 0644 "$WORK/users"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  "$DOVECOT_REF" stop "$WORK/dovecot" || true
}
trap cleanup EXIT
USERS_FILE=$WORK/users "$DOVECOT_REF" start "$WORK/dovecot" >/dev/null

cat > "$WORK/client.py" <<'PY'
import imaplib, os, random, re, signal, subprocess, sys, time
port, sizes, label = int(sys.argv[1]), [int(s) for s in sys.argv[2].split()], sys.argv[3]
tick = os.sysconf("SC_CLK_TCK")

def message(size):
    r = random.Random(size)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    head = b"From: a@example.org\r\nTo: testuser1@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    out = [head]
    n = len(head)
    while n < size:
        line = "".join(r.choice(alphabet) for _ in range(76)).encode() + b"\r\n"
        out.append(line)
        n += len(line)
    return b"".join(out)[:size - 2] + b"\r\n"

def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick

c = imaplib.IMAP4("127.0.0.1", port)
c.login("testuser1", "pass")
lport = c.sock.getsockname()[1]
out = subprocess.run(["ss", "-tnpH", f"sport = :{port} and dport = :{lport}"], capture_output=True, text=True).stdout
pid = int(re.search(r"pid=(\d+)", out).group(1))
for size in sizes:
    msg = message(size)
    c.append("INBOX", None, None, msg)
    c.select("INBOX")
    uid = c.uid("SEARCH", None, "ALL")[1][0].split()[-1].decode()
    count = max(20, int(os.environ.get("COUNT_MIB", "300")) * 1048576 // size)
    def run(n):
        for _ in range(n):
            typ, data = c.uid("FETCH", uid, "(BODY.PEEK[])")
            if typ != "OK" or data[0][1] != msg:
                sys.exit(f"{label}: FETCH of {size} octets returned other bytes")
    run(3)
    c0, t0 = cpu(pid), time.perf_counter()
    run(count)
    c1, t1 = cpu(pid), time.perf_counter()
    st = subprocess.Popen(["strace", "-c", "-f", "-p", str(pid), "-o", f"/tmp/bigfetch-strace-{label}-{size}"], stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    n2 = 20
    run(n2)
    st.send_signal(signal.SIGINT)
    st.wait()
    calls = {}
    for line in open(f"/tmp/bigfetch-strace-{label}-{size}"):
        f = line.split()
        if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
            calls[f[-1]] = int(f[3])
    top = ", ".join(f"{k} {v / n2:.1f}" for k, v in sorted(calls.items(), key=lambda kv: -kv[1])[:6])
    print(f"| {label} | {size // 1024} KiB | {count} | {(t1 - t0) / count * 1000:.2f} | {(c1 - c0) / count * 1000:.2f} | {top} |", flush=True)
c.logout()
PY

echo "| server | message | FETCHes | wall ms/FETCH | server CPU ms/FETCH | server syscalls per FETCH (strace pass) |"
echo "|---|--:|--:|--:|--:|---|"
for s in $servers; do
  mkdir -p "$WORK/$s/data"
  cat > "$WORK/$s/roost.conf" <<CONF
protocols = imap
listen = 127.0.0.1
mail_location = sqlite:$WORK/$s/data
default_internal_user = mail
ssl = no
disable_plaintext_auth = no
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = $WORK/users
}
service imap-login {
  inet_listener imap {
    port = $ROOST_PORT
  }
}
CONF
  chown -R mail:mail "$WORK/$s"
  "$WORK/bin/$s" serve -c "$WORK/$s/roost.conf" 2>"$WORK/$s/log" &
  pid=$!
  pids+=("$pid")
  for i in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/$ROOST_PORT) 2>/dev/null && break
    sleep 0.1
  done
  python3 "$WORK/client.py" "$ROOST_PORT" "$SIZES" "$s"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
python3 "$WORK/client.py" "$IMAP_PORT" "$SIZES" dovecot
