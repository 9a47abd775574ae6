package imapserver

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/roost-mail/roost/internal/bench/mailgen"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
)

// BenchmarkWireFetchBodyFsync: `UID FETCH n BODY[]` of an unseen message
// (which commits the implicit \Seen, RFC 9051 6.4.5) against BODY.PEEK[]
// (no commit), over loopback on 200 mailgen messages in the SQLite store,
// under mail_fsync = always and optimized. Every 200 fetches \Seen is
// cleared again with the timer stopped.
func BenchmarkWireFetchBodyFsync(b *testing.B) {
	const n = 200
	for _, mode := range []sqlstore.Fsync{sqlstore.FsyncAlways, sqlstore.FsyncOptimized} {
		ts := newTestServer(b, withStore(func(o *sqlite.Options) { o.Fsync = mode }))
		for i := range n {
			body := bytes.ReplaceAll(mailgen.Generate(1, i).Body, []byte("\n"), []byte("\r\n"))
			ts.deliver("alice", "INBOX", string(body))
		}
		c := ts.login("alice")
		c.do("s SELECT INBOX").contains(fmt.Sprintf("* %d EXISTS", n))
		for _, item := range []string{"BODY[]", "BODY.PEEK[]"} {
			b.Run(mode.String()+"/"+item, func(b *testing.B) {
				wireDo(b, c, `zr0 UID STORE 1:* -FLAGS.SILENT (\Seen)`)
				for i := 0; b.Loop(); i++ {
					if i > 0 && i%n == 0 {
						b.StopTimer()
						wireDo(b, c, `zr0 UID STORE 1:* -FLAGS.SILENT (\Seen)`)
						b.StartTimer()
					}
					wireDo(b, c, fmt.Sprintf("zf0 UID FETCH %d (UID RFC822.SIZE %s)", i%n+1, item))
				}
			})
		}
	}
}
