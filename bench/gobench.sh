#!/usr/bin/env bash
# Issue 8 item 5: the Go micro-benchmarks of the hot paths, in a file
# benchstat reads, so an optimisation is judged before/after:
#
#   bench/gobench.sh                      # -> /tmp/roost-gobench/<commit>.txt
#   git stash; bench/gobench.sh; git stash pop; bench/gobench.sh   (or two worktrees)
#   go run golang.org/x/perf/cmd/benchstat@latest /tmp/roost-gobench/OLD.txt /tmp/roost-gobench/NEW.txt
#
# Env: COUNT (6 runs of each benchmark; benchstat wants >= 6 for its
# confidence intervals), BENCHTIME (go test -benchtime, default 1s),
# FILTER (a go test -bench regexp applied to every package instead of the
# lists below), OUT (the output file). A package listed twice runs in two
# processes, so that a benchmark that panics does not take the others
# down. Benchmarks (see docs/BENCHMARKS.md):
#   internal/imap          command parser (FETCH, STORE, SEARCH, SELECT QRESYNC, IDLE, APPEND)
#   internal/imapwire      response encoder
#   internal/message       MIME parser (100 KB multipart, 20 MB attachment, mailgen corpus), ENVELOPE/BODYSTRUCTURE
#   internal/imapserver    FETCH FLAGS and SEARCH UNSEEN of 100k (rendering), body streaming,
#                          STORE and SEARCH on a 100k INBOX through the whole session (Wire*)
#   internal/mailstore/sqlstore/sqlite  flag update of 1000 in 100k, reading 100k, cache, changes, STATUS, durable APPEND
set -eu -o pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-6}; BENCHTIME=${BENCHTIME:-1s}
rev=$(git describe --always --dirty)
OUT=${OUT:-/tmp/roost-gobench/$rev.txt}
mkdir -p "$(dirname "$OUT")"
declare -a suites=(
  "./internal/imap|ReadCommand|ParseCommands"
  "./internal/imapwire|Encoder"
  "./internal/message|Parse|EnvelopeBodyStructure"
  "./internal/imapserver|FetchFlags100k|SearchUnseen100k|FetchBodyStream"
  "./internal/imapserver|Wire"
  "./internal/mailstore/sqlstore/sqlite|StoreFlags1000|Messages100k|Cache100k|ChangesSince|Status|Append$"
)
: > "$OUT"
failed=()
for s in "${suites[@]}"; do
  pkg=${s%%|*}; re=${FILTER:-${s#*|}}
  echo "== $pkg -bench '$re' -count $COUNT" >&2
  # Only the benchmark lines and the goos/goarch/pkg/cpu headers go to the
  # file (benchstat groups by pkg); test logs and PASS/ok lines do not.
  log=$(mktemp)
  if ! go test -run '^$' -bench "$re" -benchmem -count "$COUNT" -benchtime "$BENCHTIME" "$pkg" >"$log" 2>&1; then
    failed+=("$pkg")
    echo "FAILED: $pkg (its benchmarks before the failure are kept); the end of its output:" >&2
    tail -20 "$log" >&2
  fi
  grep -E '^(Benchmark|goos:|goarch:|pkg:|cpu:)' "$log" | tee -a "$OUT" >&2 || true
  rm -f "$log"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "benchmarks failed in: ${failed[*]}" >&2
  exit 1
fi
echo "wrote $OUT (commit $rev); compare with: go run golang.org/x/perf/cmd/benchstat@latest OLD.txt $OUT" >&2
