package message

import (
	"bytes"
	"testing"

	"github.com/roost-mail/roost/internal/bench/mailgen"
)

// mailgenCorpus returns n realistic messages (internal/bench/mailgen, the corpus
// `roost bench --prepare` loads) with CRLF line ends, and their total size.
func mailgenCorpus(n int) ([][]byte, int64) {
	msgs := make([][]byte, n)
	var total int64
	for i := range msgs {
		msgs[i] = bytes.ReplaceAll(mailgen.Generate(1, i).Body, []byte("\n"), []byte("\r\n"))
		total += int64(len(msgs[i]))
	}
	return msgs, total
}

// BenchmarkParseCorpus parses 200 corpus messages (text, alternative,
// attachments; ~8 KB on average) per op: what APPEND and delivery pay.
func BenchmarkParseCorpus(b *testing.B) {
	msgs, total := mailgenCorpus(200)
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			if _, err := Parse(bytes.NewReader(m)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkEnvelopeBodyStructure renders ENVELOPE and extended
// BODYSTRUCTURE of 200 parsed corpus messages per op: what the cache
// stores at APPEND time.
func BenchmarkEnvelopeBodyStructure(b *testing.B) {
	raw, _ := mailgenCorpus(200)
	parsed := make([]*Message, len(raw))
	for i, m := range raw {
		p, err := Parse(bytes.NewReader(m))
		if err != nil {
			b.Fatal(err)
		}
		parsed[i] = p
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range parsed {
			if m.Envelope() == "" || m.BodyStructure(true) == "" {
				b.Fatal("empty ENVELOPE or BODYSTRUCTURE")
			}
		}
	}
}
