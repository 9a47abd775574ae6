package sqlite

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/message"
)

// TestHeaders checks the batched header read against the per-message path
// it replaces (Cache for the header size, Open and ReadAt) for every
// message of the shared MIME corpus, plus a message without a blank line,
// a limit smaller than a header, an expunged UID and a missing mailbox.
func TestHeaders(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, t.TempDir())
	defer st.Close()
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	files, _ := filepath.Glob("../../../../../shared/corpus/mime/*.raw")
	if len(files) < 20 {
		t.Fatalf("MIME corpus not found (%d files in ../shared/corpus/mime)", len(files))
	}
	var inbox mailstore.Mailbox
	var uids []mailstore.UID
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		mb, uid, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, message.NewCRLFReader(bytes.NewReader(raw)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		inbox, uids = mb, append(uids, uid)
	}
	// No blank line: the header is the whole message.
	_, uid, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: no body\r\nFrom: a@example.org\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	uids = append(uids, uid)
	// Expunged: asked for, never returned.
	_, gone, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: gone\r\n\r\nx\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Expunge(ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{gone}}); err != nil {
		t.Fatal(err)
	}
	want := map[mailstore.UID]string{}
	caches, err := acc.Cache(ctx, inbox.ID, uids)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range caches {
		b, err := acc.Open(ctx, inbox.ID, c.UID)
		if err != nil {
			t.Fatal(err)
		}
		h := make([]byte, min(c.HeaderSize, b.Size()))
		if _, err := b.ReadAt(h, 0); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		b.Close()
		want[c.UID] = string(h)
	}
	if want[uid] != "Subject: no body\r\nFrom: a@example.org\r\n" {
		t.Fatalf("reference header of the bodyless message: %q", want[uid])
	}
	hr := acc.(mailstore.HeaderReader)
	for _, ask := range [][]mailstore.UID{append(uids, gone), {uids[0], uids[len(uids)/2], gone, uid}} {
		var got []mailstore.UID
		err := hr.Headers(ctx, inbox.ID, ask, 8<<20, func(u mailstore.UID, hdr []byte) error {
			if len(got) > 0 && u <= got[len(got)-1] {
				t.Errorf("UID %d after %d", u, got[len(got)-1])
			}
			got = append(got, u)
			if string(hdr) != want[u] {
				t.Errorf("UID %d: header %q, want %q", u, hdr, want[u])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ask)-1 {
			t.Fatalf("asked %d UIDs (one expunged), got %d", len(ask), len(got))
		}
	}
	// The limit cuts the header.
	err = hr.Headers(ctx, inbox.ID, uids[:1], 10, func(u mailstore.UID, hdr []byte) error {
		if string(hdr) != want[u][:10] {
			t.Errorf("limited header %q", hdr)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := hr.Headers(ctx, 9999, uids, 100, func(mailstore.UID, []byte) error { return nil }); mailstore.KindOf(err) != mailstore.KindNotFound {
		t.Fatalf("missing mailbox: %v", err)
	}
}
