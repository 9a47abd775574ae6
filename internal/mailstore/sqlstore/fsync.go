package sqlstore

// Fsync is how durably a SQL store commits, Dovecot's mail_fsync. The zero
// value is FsyncOptimized, Dovecot's default.
//
// What each mode promises once a write call has returned without error:
//
//   - FsyncAlways: every commit is on stable storage (fsynced), whatever it
//     changed.
//   - FsyncOptimized: every commit that adds or removes mail (append,
//     delivery, copy, move, import, expunge, mailbox create, delete and
//     rename, and the quota counters they update) is on stable storage, as
//     with FsyncAlways. Flag-only commits (STORE and the implicit \Seen of
//     a body FETCH, both through Account.StoreFlags) are written to the
//     operating system but not fsynced: a power loss or OS crash may lose
//     the last of them, never a server crash (kill -9), and the database
//     stays consistent. The next durable commit makes them durable too,
//     since both stores log commits in order (SQLite's WAL, PostgreSQL's
//     WAL).
//   - FsyncNever: nothing is fsynced, not even message files. For tests and
//     benchmarks only: a power loss can lose acknowledged mail.
type Fsync int

const (
	FsyncOptimized Fsync = iota
	FsyncAlways
	FsyncNever
)

// String returns the mail_fsync value of f.
func (f Fsync) String() string {
	switch f {
	case FsyncOptimized:
		return "optimized"
	case FsyncAlways:
		return "always"
	case FsyncNever:
		return "never"
	}
	return "invalid"
}
