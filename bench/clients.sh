#!/usr/bin/env bash
# Issue 8, latency audit: the same scripted scenario with real clients against
# Roost and Debian's Dovecot side by side on loopback, printed as one table of
# median milliseconds per client and step (Roost vs Dovecot).
#
#   bench/clients.sh              # build, start both, load, measure, stop, print the table
#
# Clients: Python imaplib, poplib and a raw LMTP client (every call timed on
# its own), curl (imap, imaps, pop3, pop3s, STARTTLS), mbsync (full and
# incremental sync), offlineimap (full and incremental), fetchmail and getmail
# (POP3 and IMAP, plain and TLS, keeping the mail), swaks over LMTP (one and
# four recipients, 6 KB and 1 MB) and openssl s_client (TLS handshake). The
# external clients are timed as whole runs, so their figures include the
# client's own start-up (tens of ms for perl and python); compare the two
# columns, not the absolute values.
#
# Env: WORK (/tmp/clientsbench, wiped first), REPS (5 timed runs per step,
# after one warm-up for the Python clients), N (200 messages loaded per
# mailbox), ROOST_PORT_BASE (19000: imap +143, imaps +993, pop3 +110, pop3s
# +995, lmtp +24), DOVECOT_PORT_BASE (19100, same offsets), ONLY (a regular
# expression: run only the clients whose name matches, e.g. ONLY='imaplib|curl'),
# TIMEOUT (30 s: a run of an external client that takes longer is killed
# and counted as failed; getmail 6.18 sometimes hangs in its own
# child-process handling, against either server).
# Needs root (Dovecot's mail user; getmail is run as nobody, since it refuses
# to deliver as root) and the Debian packages named in README.md.
#
# Reading the figures: a step that costs about 40 ms more on one server, with
# little CPU, is the signature of a delayed ACK under the client's Nagle
# algorithm (see internal/netserver/quickack.go); 200 ms or 500 ms are
# timers. docs/BENCHMARKS.md ("Real clients, step by step") has a recorded run
# and what was found.
set -eu
cd "$(dirname "$0")/.."
DOVECOT_REF=${DOVECOT_REF:-$(cd .. && pwd)/shared/reference/dovecot-ref.sh}
WORK=${WORK:-/tmp/clientsbench}; REPS=${REPS:-5}; N=${N:-200}; ONLY=${ONLY:-.}; TIMEOUT=${TIMEOUT:-30}
RB=${ROOST_PORT_BASE:-19000}; DB=${DOVECOT_PORT_BASE:-19100}
export IMAP_PORT=$((DB + 143)) IMAPS_PORT=$((DB + 993)) POP3_PORT=$((DB + 110)) POP3S_PORT=$((DB + 995)) LMTP_PORT=$((DB + 24))

for tool in python3 curl mbsync offlineimap fetchmail getmail swaks openssl runuser; do
  command -v "$tool" >/dev/null || { echo "clients.sh: $tool is missing (see README.md for the Debian packages)" >&2; exit 1; }
done
"$DOVECOT_REF" stop "$WORK/dovecot" 2>/dev/null || true
for off in 143 993 110 995 24; do
  for port in $((RB + off)) $((DB + off)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "port $port is in use (another benchmark?); set ROOST_PORT_BASE / DOVECOT_PORT_BASE" >&2
      exit 1
    fi
  done
done
rm -rf "$WORK"
mkdir -p "$WORK/bin" "$WORK/roost"
chmod 755 "$WORK"
go build -o "$WORK/bin/roost" ./cmd/roost

# Users with a domain: Dovecot's LMTP looks the whole address up. u1: imaplib,
# u2: poplib, u3..u6: LMTP recipients, u7: the sync and fetch clients.
for i in $(seq 1 8); do echo "u$i@example.org:{PLAIN}pass::::::"; done > "$WORK/users"
USERS_FILE=$WORK/users "$DOVECOT_REF" start "$WORK/dovecot" >/dev/null || { echo "reference Dovecot did not start" >&2; exit 1; }
CA=$WORK/dovecot/ssl/cert.pem
chmod 644 "$CA"
cat > "$WORK/roost/roost.conf" <<CONF
protocols = imap pop3 lmtp
listen = 127.0.0.1
mail_location = sqlite:$WORK/roost/mail
default_internal_user = root
ssl = yes
ssl_cert = <$WORK/dovecot/ssl/cert.pem
ssl_key = <$WORK/dovecot/ssl/key.pem
disable_plaintext_auth = no
auth_failure_delay = 0
mail_max_userip_connections = 1000
passdb {
  driver = passwd-file
  args = $WORK/users
}
service imap-login {
  inet_listener imap {
    port = $((RB + 143))
  }
  inet_listener imaps {
    port = $((RB + 993))
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $((RB + 110))
  }
  inet_listener pop3s {
    port = $((RB + 995))
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    port = $((RB + 24))
  }
}
CONF
cleanup() {
  [ -n "${ROOST_PID:-}" ] && kill "$ROOST_PID" 2>/dev/null && wait "$ROOST_PID" 2>/dev/null
  "$DOVECOT_REF" stop "$WORK/dovecot" >/dev/null 2>&1 || true
}
trap cleanup EXIT
"$WORK/bin/roost" serve -c "$WORK/roost/roost.conf" 2>"$WORK/roost.log" &
ROOST_PID=$!
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$((RB + 24))) 2>/dev/null && break; sleep 0.1; done
kill -0 "$ROOST_PID" 2>/dev/null || { echo "roost did not start:" >&2; tail -3 "$WORK/roost.log" >&2; exit 1; }

port() { # server offset
  if [ "$1" = roost ]; then echo $((RB + $2)); else echo $((DB + $2)); fi
}

# The Python clients: each call timed on its own, one TSV line per call
# (client, step, server, ms) on stdout.
cat > "$WORK/steps.py" <<'PY'
import imaplib, poplib, random, socket, ssl, sys, time

scen, server, host, port, tls, user, cafile = sys.argv[1:8]
port, tls = int(port), tls == "1"
reps = int(sys.argv[8]) if len(sys.argv) > 8 else 5
ctx = ssl.create_default_context(cafile=cafile)
client = {"imap": "imaplib", "pop3": "poplib", "lmtp": "LMTP (python)"}.get(scen, scen)
client += " TLS" if tls else ""


def msg(i, size=6000):
    r = random.Random(i)
    words = ["lorem", "ipsum", "dolor", "sit", "amet", "mail", "server", "latency", "roost"]
    body, n = [], 0
    while n < size:
        line = " ".join(r.choice(words) for _ in range(10))
        body.append(line)
        n += len(line) + 2
    return ("From: Sender %d <s%d@example.org>\r\nTo: %s\r\nSubject: message %d\r\n"
            "Date: Thu, 26 Nov 2026 10:%02d:00 +0000\r\nMessage-ID: <m%d-%d@example.org>\r\n"
            "Content-Type: text/plain\r\n\r\n" % (i, i, user, i, i % 60, i, r.randint(0, 1 << 30))
            + "\r\n".join(body) + "\r\n").encode()


times = {}
order = []


def rec(step, ms):
    if step not in times:
        order.append(step)
    times.setdefault(step, []).append(ms)


def t(step, f, *a):
    t0 = time.perf_counter()
    r = f(*a)
    rec(step, (time.perf_counter() - t0) * 1000)
    return r


def check(r):
    if r[0] != "OK":
        raise SystemExit("%s %s: %r" % (server, scen, r))
    return r


def imap_conn():
    if tls:
        return imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
    return imaplib.IMAP4(host, port)


def imap_rep():
    if not tls:
        def starttls():
            M = imaplib.IMAP4(host, port)
            M.starttls(ssl_context=ctx)
            return M
        t("connect + STARTTLS", starttls).logout()
    M = t("connect", imap_conn)
    t("LOGIN", lambda: check(M.login(user, "pass")))
    t("SELECT", lambda: check(M.select("INBOX")))
    t("NOOP", lambda: check(M.noop()))
    t("FETCH 1:* headers", lambda: check(M.fetch("1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)])")))
    t("FETCH 1:* ENVELOPE", lambda: check(M.fetch("1:*", "(UID FLAGS ENVELOPE)")))
    t("FETCH 1 BODY[]", lambda: check(M.fetch("5", "(BODY.PEEK[])")))
    t("FETCH 1:20 BODY[]", lambda: check(M.fetch("1:20", "(BODY.PEEK[])")))
    t("STORE 1:50 +\\Seen", lambda: check(M.store("1:50", "+FLAGS", "(\\Seen)")))
    t("STORE 1:50 -\\Seen silent", lambda: check(M.store("1:50", "-FLAGS.SILENT", "(\\Seen)")))
    t("SEARCH UNSEEN", lambda: check(M.search(None, "UNSEEN")))
    t("SEARCH FROM", lambda: check(M.search(None, "FROM", "s17@")))
    t("SEARCH BODY (no match)", lambda: check(M.search(None, "BODY", "nonexistentword")))
    # imaplib writes the literal and its closing CRLF in separate writes.
    t("APPEND 6 KB", lambda: check(M.append("INBOX", None, None, msg(1000 + random.randint(0, 99999)))))
    t("APPEND 1 MB", lambda: check(M.append("INBOX", None, None, msg(77, 1 << 20))))
    ids = check(M.search(None, "ALL"))[1][0].split()
    a, b = ids[-2].decode(), ids[-1].decode()
    t("COPY", lambda: check(M.copy(a, "Archive")))
    t("MOVE", lambda: check(M._simple_command("MOVE", b, "Archive")))
    t("STORE +\\Deleted", lambda: check(M.store(a, "+FLAGS.SILENT", "(\\Deleted)")))
    t("EXPUNGE", lambda: check(M.expunge()))
    # IDLE: from the other connection's tagged OK of an APPEND to the
    # EXISTS here; then DONE to the tagged OK.
    O = imap_conn()
    check(O.login(user, "pass"))
    tag = M._new_tag()
    M.send(tag + b" IDLE\r\n")
    if not M.readline().startswith(b"+"):
        raise SystemExit("%s: IDLE refused" % server)
    check(O.append("INBOX", None, None, msg(99999)))
    t0 = time.perf_counter()
    while b"EXISTS" not in M.readline():
        pass
    rec("IDLE: EXISTS after other's APPEND", (time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    M.send(b"DONE\r\n")
    while not M.readline().startswith(tag):
        pass
    rec("IDLE: DONE", (time.perf_counter() - t0) * 1000)
    # Back to N messages in INBOX and an empty Archive, untimed.
    check(M.select("Archive"))
    check(M.store("1:*", "+FLAGS.SILENT", "(\\Deleted)"))
    check(M.expunge())
    check(M.select("INBOX"))
    ids = check(M.search(None, "ALL"))[1][0].split()
    if len(ids) > N:
        check(M.store("%d:*" % (N + 1), "+FLAGS.SILENT", "(\\Deleted)"))
        check(M.expunge())
    O.logout()
    t("LOGOUT", M.logout)


def pop_conn():
    if tls:
        return poplib.POP3_SSL(host, port, context=ctx)
    return poplib.POP3(host, port)


def pop_rep():
    if not tls:
        def stls():
            P = poplib.POP3(host, port)
            P.stls(context=ctx)
            return P
        t("connect + STLS", stls).quit()
    P = t("connect", pop_conn)
    t("USER", P.user, user)
    t("PASS", P.pass_, "pass")
    t("STAT", P.stat)
    t("LIST", P.list)
    t("UIDL", P.uidl)
    t("RETR 1", P.retr, 1)
    t("RETR x20", lambda: [P.retr(i) for i in range(1, 21)])
    t("TOP n 0", P.top, 2, 0)
    t("TOP n 5 x20", lambda: [P.top(i, 5) for i in range(1, 21)])
    t("NOOP", P.noop)
    t("DELE", P.dele, 3)
    t("RSET", P.rset)
    P.dele(3)
    t("QUIT (commits DELE)", P.quit)
    # Put one message back over plain IMAP (argument 10), untimed: N
    # messages for the next round.
    M = imaplib.IMAP4(host, int(sys.argv[10]))
    check(M.login(user, "pass"))
    check(M.append("INBOX", None, None, msg(random.randint(0, 1 << 30))))
    M.logout()


def lmtp_send(f, rcpts, data):
    # As smtplib does it (no PIPELINING): each command waits for its reply;
    # then one reply per recipient after the message (RFC 2033 section 4.2).
    def reply():
        while True:
            l = f.readline()
            if not l:
                raise SystemExit("%s lmtp: connection closed" % server)
            if l[3:4] != b"-":
                if l[:1] not in (b"2", b"3"):
                    raise SystemExit("%s lmtp: %r" % (server, l))
                return l

    def cmd(line):
        f.write(line + b"\r\n")
        f.flush()
        return reply()

    cmd(b"MAIL FROM:<s@example.org>")
    for r in rcpts:
        cmd(b"RCPT TO:<" + r.encode() + b">")
    cmd(b"DATA")
    f.write(data.replace(b"\r\n.", b"\r\n..") + b".\r\n")
    f.flush()
    for _ in rcpts:
        reply()


def lmtp_rep():
    big, small = msg(5, 1 << 20), msg(6)
    s = t("connect", lambda: socket.create_connection((host, port)))
    f = s.makefile("rwb")
    f.readline()

    def lhlo():
        f.write(b"LHLO client.example.org\r\n")
        f.flush()
        while f.readline()[3:4] == b"-":
            pass
    t("LHLO", lhlo)
    rcpts = ["u%d@example.org" % i for i in range(3, 7)]
    t("1 rcpt, 6 KB", lmtp_send, f, rcpts[:1], small)
    t("4 rcpts, 6 KB", lmtp_send, f, rcpts, small)
    t("1 rcpt, 1 MB", lmtp_send, f, rcpts[:1], big)
    t("4 rcpts, 1 MB", lmtp_send, f, rcpts, big)

    def quit():
        f.write(b"QUIT\r\n")
        f.flush()
        f.readline()
        s.close()
    t("QUIT", quit)


N = int(sys.argv[9]) if len(sys.argv) > 9 else 200
if scen == "load":
    M = imap_conn()
    check(M.login(user, "pass"))
    for i in range(reps):
        check(M.append("INBOX", None, None, msg(i)))
    M.logout()
    sys.exit(0)
f = {"imap": imap_rep, "pop3": pop_rep, "lmtp": lmtp_rep}[scen]
f()  # warm-up
times.clear()
order.clear()
for _ in range(reps):
    f()
for k in order:
    for v in times[k]:
        print("%s\t%s\t%s\t%.3f" % (client, k, server, v))
PY

RES=$WORK/results.tsv
: > "$RES"
want() { [[ "$1" =~ $ONLY ]]; }
# timed CLIENT STEP SERVER CMD...: one run, its wall time in ms appended to
# the results; a failed or hung run is counted, not timed.
timed() {
  local c=$1 s=$2 srv=$3; shift 3
  local t0 t1 rc=0
  t0=$(date +%s%N)
  timeout "$TIMEOUT" "$@" >>"$WORK/clients.log" 2>&1 || rc=$?
  t1=$(date +%s%N)
  if [ $rc = 0 ]; then
    printf '%s\t%s\t%s\t%s\n' "$c" "$s" "$srv" "$(echo "($t1 - $t0) / 1000000" | bc -l)" >>"$RES"
  else
    printf '%s\t%s\t%s\tfail\n' "$c" "$s" "$srv" >>"$RES"
    echo "$c / $s / $srv: exit $rc (see $WORK/clients.log)" >&2
  fi
}

for s in roost dovecot; do
  for u in u1 u2 u7; do
    python3 "$WORK/steps.py" load $s 127.0.0.1 "$(port $s 143)" 0 "$u@example.org" "$CA" "$N"
  done
done
echo "loaded $N messages into u1, u2, u7 on both servers" >&2

# Python clients, server by server, each call timed.
for s in roost dovecot; do
  for tls in 0 1; do
    if want imaplib; then
      p=$(port $s 143); [ $tls = 1 ] && p=$(port $s 993)
      python3 "$WORK/steps.py" imap $s 127.0.0.1 "$p" $tls u1@example.org "$CA" "$REPS" "$N" >>"$RES"
    fi
    if want poplib; then
      p=$(port $s 110); [ $tls = 1 ] && p=$(port $s 995)
      python3 "$WORK/steps.py" pop3 $s 127.0.0.1 "$p" $tls u2@example.org "$CA" "$REPS" "$N" "$(port $s 143)" >>"$RES"
    fi
  done
  want LMTP && python3 "$WORK/steps.py" lmtp $s 127.0.0.1 "$(port $s 24)" 0 u3@example.org "$CA" "$REPS" >>"$RES"
done
echo "python clients done" >&2

# curl: time_total of each transfer.
if want curl; then
  for s in roost dovecot; do
    for i in $(seq "$REPS"); do
      for spec in "imap LIST|imap://127.0.0.1:$(port $s 143)/" "imap UID FETCH|imap://127.0.0.1:$(port $s 143)/INBOX;UID=7" \
        "imaps LIST|imaps://localhost:$(port $s 993)/" "imaps UID FETCH|imaps://localhost:$(port $s 993)/INBOX;UID=7" \
        "imap STARTTLS UID FETCH|imap://localhost:$(port $s 143)/INBOX;UID=7|--ssl-reqd" \
        "pop3 LIST|pop3://127.0.0.1:$(port $s 110)/" "pop3 RETR|pop3://127.0.0.1:$(port $s 110)/7" \
        "pop3s LIST|pop3s://localhost:$(port $s 995)/" "pop3s RETR|pop3s://localhost:$(port $s 995)/7" \
        "pop3 STLS RETR|pop3://localhost:$(port $s 110)/7|--ssl-reqd"; do
        IFS='|' read -r step url extra <<<"$spec"
        ms=$(curl -s -o /dev/null --cacert "$CA" -u u7@example.org:pass ${extra:+"$extra"} -w '%{time_total}' "$url" | awk '{printf "%.3f", $1*1000}')
        printf 'curl\t%s\t%s\t%s\n' "$step" "$s" "$ms" >>"$RES"
      done
    done
  done
fi

# openssl s_client: a full TLS handshake, then close.
if want openssl; then
  for s in roost dovecot; do
    for i in $(seq "$REPS"); do
      timed "openssl s_client" "imaps handshake" $s sh -c "openssl s_client -connect 127.0.0.1:$(port $s 993) -CAfile $CA -verify_return_error -brief </dev/null"
      timed "openssl s_client" "pop3s handshake" $s sh -c "openssl s_client -connect 127.0.0.1:$(port $s 995) -CAfile $CA -verify_return_error -brief </dev/null"
    done
  done
fi

# mbsync: a full sync of INBOX into an empty Maildir, then an incremental
# sync with nothing new.
if want mbsync; then
  for s in roost dovecot; do
    for mode in plain tls; do
      p=$(port $s 143); ssltype=None
      [ $mode = tls ] && { p=$(port $s 993); ssltype=IMAPS; }
      rc=$WORK/mbsync-$s-$mode.rc
      cat > "$rc" <<EOF
IMAPAccount a
Host localhost
Port $p
User u7@example.org
Pass pass
SSLType $ssltype
CertificateFile $CA
AuthMechs LOGIN

IMAPStore remote
Account a

MaildirStore local
Path $WORK/mbsync-$s-$mode/
Inbox $WORK/mbsync-$s-$mode/INBOX

Channel c
Far :remote:
Near :local:
Patterns INBOX
Create Near
SyncState *
Sync Pull
EOF
      for i in $(seq "$REPS"); do
        rm -rf "$WORK/mbsync-$s-$mode"; mkdir -p "$WORK/mbsync-$s-$mode"
        timed "mbsync $mode" "full sync" $s mbsync -q -c "$rc" c
        # The first run after new mail sleeps one second in mbsync itself
        # (clock_nanosleep in its Maildir code, seen with strace), so the
        # incremental sync timed is the one after it.
        mbsync -q -c "$rc" c >>"$WORK/clients.log" 2>&1
        timed "mbsync $mode" "incremental sync" $s mbsync -q -c "$rc" c
      done
    done
  done
fi

if want offlineimap; then
  for s in roost dovecot; do
    for mode in plain tls; do
      p=$(port $s 143); ssl=no
      [ $mode = tls ] && { p=$(port $s 993); ssl=yes; }
      d=$WORK/offlineimap-$s-$mode
      cat > "$d.rc" <<EOF
[general]
accounts = a
metadata = $d/meta
[Account a]
localrepository = l
remoterepository = r
[Repository l]
type = Maildir
localfolders = $d/mail
[Repository r]
type = IMAP
remotehost = localhost
remoteport = $p
remoteuser = u7@example.org
remotepass = pass
ssl = $ssl
sslcacertfile = $CA
starttls = no
folderfilter = lambda f: f == 'INBOX'
readonly = True
EOF
      for i in $(seq "$REPS"); do
        rm -rf "$d"; mkdir -p "$d/mail"
        timed "offlineimap $mode" "full sync" $s offlineimap -o -u quiet -c "$d.rc"
        timed "offlineimap $mode" "incremental sync" $s offlineimap -o -u quiet -c "$d.rc"
      done
    done
  done
fi

if want fetchmail; then
  for s in roost dovecot; do
    for proto in pop3 imap; do
      for mode in plain tls; do
        off=$([ $proto = pop3 ] && echo 110 || echo 143)
        opt="sslproto ''"
        if [ $mode = tls ]; then
          off=$([ $proto = pop3 ] && echo 995 || echo 993)
          opt="ssl sslcertck sslcertfile $CA"
        fi
        rc=$WORK/fetchmail-$s-$proto-$mode.rc
        printf 'set no bouncemail\npoll localhost service %s protocol %s user "u7@example.org" password "pass" keep fetchall %s mda "/bin/cat >/dev/null"\n' \
          "$(port $s $off)" "$proto" "$opt" >"$rc"
        chmod 600 "$rc"
        for i in $(seq "$REPS"); do
          timed "fetchmail $mode" "$proto: fetch $N, keep" $s fetchmail -s -N -f "$rc" --pidfile "$WORK/fetchmail.pid" --idfile "$WORK/fetchmail.ids"
        done
      done
    done
  done
fi

if want getmail; then
  for s in roost dovecot; do
    for proto in pop3 imap; do
      for mode in plain tls; do
        off=$([ $proto = pop3 ] && echo 110 || echo 143); ssl=
        [ $mode = tls ] && { off=$([ $proto = pop3 ] && echo 995 || echo 993); ssl=SSL; }
        d=$WORK/getmail-$s-$proto-$mode
        mkdir -p "$d/md/cur" "$d/md/new" "$d/md/tmp"
        cat > "$d/rc" <<EOF
[retriever]
type = Simple$(echo $proto | tr a-z A-Z)${ssl}Retriever
server = localhost
port = $(port $s $off)
username = u7@example.org
password = pass
$([ $mode = tls ] && echo "ca_certs = $CA")
[destination]
type = Maildir
path = $d/md/
[options]
read_all = true
delete = false
verbose = 0
EOF
        chown -R nobody "$d"
        for i in $(seq "$REPS"); do
          rm -f "$d"/md/new/*
          timed "getmail $mode" "$proto: fetch $N, keep" $s runuser -u nobody -- getmail --rcfile=rc --getmaildir="$d"
        done
      done
    done
  done
fi

if want swaks; then
  head -c 750000 /dev/urandom | base64 -w 76 >"$WORK/big.txt" # about 1 MB once encoded again
  for s in roost dovecot; do
    for i in $(seq "$REPS"); do
      four=u3@example.org,u4@example.org,u5@example.org,u6@example.org
      timed swaks "LMTP 1 rcpt" $s swaks --protocol LMTP --server "127.0.0.1:$(port $s 24)" --from s@example.org --to u3@example.org
      timed swaks "LMTP 4 rcpts" $s swaks --protocol LMTP --server "127.0.0.1:$(port $s 24)" --from s@example.org --to $four
      timed swaks "LMTP 1 rcpt, 1 MB" $s swaks --protocol LMTP --server "127.0.0.1:$(port $s 24)" --from s@example.org --to u3@example.org \
        --attach-type text/plain --attach @"$WORK/big.txt"
      timed swaks "LMTP 4 rcpts, 1 MB" $s swaks --protocol LMTP --server "127.0.0.1:$(port $s 24)" --from s@example.org --to $four \
        --attach-type text/plain --attach @"$WORK/big.txt"
    done
  done
fi

# The table: median ms per client and step, Roost vs Dovecot, in the order
# first measured; failed or hung runs are counted.
python3 - "$RES" "$(dovecot --version | cut -d' ' -f1)" "$REPS" <<'PY' | tee "$WORK/results.md"
import statistics, sys
rows, order = {}, []
for line in open(sys.argv[1]):
    c, step, srv, v = line.rstrip("\n").split("\t")
    key = (c, step)
    if key not in rows:
        rows[key] = {"roost": [], "dovecot": [], "fail": {"roost": 0, "dovecot": 0}}
        order.append(key)
    if v == "fail":
        rows[key]["fail"][srv] += 1
    else:
        rows[key][srv].append(float(v))
def cell(r, srv):
    v = r[srv]
    s = "%.2f" % statistics.median(v) if v else "-"
    if r["fail"][srv]:
        s += " (%d failed)" % r["fail"][srv]
    return s
print("| client | step | Roost ms | Dovecot %s ms | Roost/Dovecot |" % sys.argv[2])
print("|---|---|---:|---:|---:|")
for key in order:
    r = rows[key]
    ratio = "%.2f" % (statistics.median(r["roost"]) / statistics.median(r["dovecot"])) if r["roost"] and r["dovecot"] and statistics.median(r["dovecot"]) > 0 else "-"
    print("| %s | %s | %s | %s | %s |" % (key[0], key[1], cell(r, "roost"), cell(r, "dovecot"), ratio))
print("\nmedians of %s runs; external clients timed as whole runs (client start-up included)" % sys.argv[3])
PY
