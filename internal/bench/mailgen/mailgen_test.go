package mailgen

import (
	"bytes"
	"net/mail"
	"testing"
)

func TestDeterministicAndParsable(t *testing.T) {
	var total, seen int
	n := 2000
	for i := 0; i < n; i++ {
		m := Generate(1, i)
		if !bytes.Equal(m.Body, Generate(1, i).Body) {
			t.Fatalf("message %d not deterministic", i)
		}
		if _, err := mail.ReadMessage(bytes.NewReader(m.Body)); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		total += len(m.Body)
		if m.Seen {
			seen++
		}
	}
	avg := total / n
	t.Logf("average %d bytes, %d%% seen", avg, seen*100/n)
	if avg < 4000 || avg > 12000 {
		t.Errorf("average size %d out of range", avg)
	}
	if seen < n/4 || seen > n*35/100 {
		t.Errorf("seen share %d/%d", seen, n)
	}
}
