package e2e

import (
	"bytes"
	"fmt"
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

// checkByName matches retrieved messages to msgs by their X-Corpus-Id and
// compares each with want(m).
func checkByName(t *testing.T, client string, got [][]byte, msgs []corpusMsg, want func(corpusMsg) []byte) {
	t.Helper()
	checkByNameNorm(t, client, got, msgs, want, nil)
}

// checkByNameNorm is checkByName comparing norm(retrieved) when norm is set.
func checkByNameNorm(t *testing.T, client string, got [][]byte, msgs []corpusMsg, want func(corpusMsg) []byte, norm func([]byte) []byte) {
	t.Helper()
	if len(got) != len(msgs) {
		t.Errorf("%s: retrieved %d messages, want %d", client, len(got), len(msgs))
	}
	byName := map[string][]byte{}
	for i, g := range got {
		n := corpusName(g)
		if n == "" {
			t.Errorf("%s: retrieved message %d has no %s header: %.300q", client, i, corpusID, g)
			continue
		}
		byName[n] = g
	}
	for _, m := range msgs {
		g, ok := byName[m.name]
		if !ok {
			t.Errorf("%s: %s not retrieved", client, m.name)
			continue
		}
		if norm != nil {
			g = norm(g)
		}
		if w := want(m); !bytes.Equal(g, w) {
			t.Errorf("%s: %s differs: %s", client, m.name, diffAt(g, w))
		}
	}
}

func wantExact(m corpusMsg) []byte   { return m.want() }
func wantGetmail(m corpusMsg) []byte { return getmailWant(m.want()) }

// TestCurlCorpus reads every corpus message with curl, over STLS and pop3s.
func TestCurlCorpus(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	msgs := corpus()
	s.deliverCorpus(msgs)
	for _, mode := range []string{"stls", "ssl"} {
		var got [][]byte
		for i := range msgs {
			got = append(got, s.curlRetr(mode, i+1))
		}
		checkByName(t, "curl/"+mode, got, msgs, wantExact)
	}
}

// TestFetchmailCorpus reads the corpus with fetchmail (keep), over STLS and
// pop3s.
func TestFetchmailCorpus(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	msgs := corpus()
	s.deliverCorpus(msgs)
	for _, mode := range []string{"stls", "ssl"} {
		checkByName(t, "fetchmail/"+mode, s.fetchmailRun(mode, true), msgs, wantExact)
	}
}

// TestGetmailCorpus reads the corpus with getmail6, over plain POP3 on
// loopback and over pop3s.
func TestGetmailCorpus(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	msgs := corpus()
	s.deliverCorpus(msgs)
	for _, ssl := range []bool{false, true} {
		checkByNameNorm(t, fmt.Sprintf("getmail/ssl=%t", ssl), s.getmailRun(ssl, false), msgs, wantGetmail, unfoldHeaders)
	}
}

// TestBigMessage delivers a 20 MB message and reads it with poplib, curl
// and fetchmail (one transport each, to keep the run short).
func TestBigMessage(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	big := bigMessage()
	small := corpus()[0]
	msgs := []corpusMsg{small, big}
	s.deliverCorpus(msgs)
	checkPOP(t, "poplib/ssl", s.popFetch("ssl"), msgs)
	if got, want := s.curlRetr("stls", 2), big.want(); !bytes.Equal(got, want) {
		t.Errorf("curl/stls: big message differs: %s", diffAt(got, want))
	}
	checkByName(t, "fetchmail/ssl", s.fetchmailRun("ssl", true), msgs, wantExact)
}
