package e2e

import (
	"bytes"
	"slices"
	"strconv"
	"testing"
)

// deliverCorpus delivers msgs to alice in order.
func (s *server) deliverCorpus(msgs []corpusMsg) {
	s.t.Helper()
	for _, m := range msgs {
		s.deliver("alice", m.raw)
	}
}

// checkPOP compares what poplib saw with msgs, delivered in that order:
// STAT, LIST sizes, unique UIDLs and every message byte for byte.
func checkPOP(t *testing.T, client string, res popRes, msgs []corpusMsg) {
	t.Helper()
	if len(res.Stat) != 2 || res.Stat[0] != len(msgs) {
		t.Fatalf("%s: STAT = %v, want %d messages", client, res.Stat, len(msgs))
	}
	total := 0
	for i, m := range msgs {
		n := strconv.Itoa(i + 1)
		size := res.List[n]
		total += size
		if !slices.Contains(m.storedSizes(), size) {
			t.Errorf("%s: LIST %s (%s) = %d, want %v", client, n, m.name, size, m.storedSizes())
		}
	}
	if res.Stat[1] != total {
		t.Errorf("%s: STAT size %d != sum of LIST sizes %d", client, res.Stat[1], total)
	}
	seen := map[string]string{}
	for i, m := range msgs {
		u := res.UIDL[strconv.Itoa(i+1)]
		if u == "" {
			t.Errorf("%s: no UIDL for message %d (%s)", client, i+1, m.name)
		} else if other, dup := seen[u]; dup {
			t.Errorf("%s: UIDL %q of %s also belongs to %s", client, u, m.name, other)
		}
		seen[u] = m.name
	}
	for i, m := range msgs {
		if i >= len(res.Msgs) {
			t.Errorf("%s: message %d (%s) not retrieved", client, i+1, m.name)
			continue
		}
		if got, want := res.Msgs[i], m.want(); !bytes.Equal(got, want) {
			t.Errorf("%s: message %d (%s) differs: %s", client, i+1, m.name, diffAt(got, want))
		}
	}
}

// TestPoplibCorpus delivers the corpus and reads it back with poplib over
// STLS and over implicit TLS.
func TestPoplibCorpus(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	msgs := corpus()
	s.deliverCorpus(msgs)
	for _, mode := range []string{"stls", "ssl"} {
		checkPOP(t, "poplib/"+mode, s.popFetch(mode), msgs)
	}
}
