// Package sqlite is the embedded mail store: one SQLite database per account
// (through modernc.org/sqlite) plus a blob directory for message bytes. It
// implements mailstore.Store and passes the storetest conformance suite.
//
// # On-disk layout
//
//	<Dir>/accounts/<safe-name>/index.db    metadata (WAL: also index.db-wal, index.db-shm)
//	<Dir>/accounts/<safe-name>/msg/        message bytes, see package blob
//	<Dir>/accounts/<safe-name>/changes     nonce rewritten after every commit (cross-process wake-up)
//
// <safe-name> is the user name encoded so that it can never act as a path:
// the bytes a-z 0-9 . _ + @ - are kept, every other byte (upper-case
// letters too, since user names are case-sensitive) becomes %XX with
// upper-case hex, and a leading '.' is encoded as well, so "." and ".." and
// hidden names cannot occur. The encoding is injective: two users never share
// a directory. Names whose encoding is longer than 200 bytes are refused.
//
// # Database
//
// Each account database runs in WAL mode with synchronous=FULL (NORMAL for
// flag-only commits under mail_fsync = optimized, OFF under never), foreign keys
// on and a busy timeout. Per account there is one writer *sql.DB limited to a
// single connection, whose transactions start with BEGIN IMMEDIATE (so a
// writer never fails upgrading a read lock), and a separate reader pool with
// query_only set; readers see a consistent snapshot per read transaction and
// never wait for the writer. Every connection has a page cache of up to
// 16 MiB (grown only as pages are read) and mmap enabled. Schema changes are
// numbered migrations recorded in the schema_version table and applied when
// an account is opened; an up-to-date account opens without writing.
//
// Tables: mailbox (with counters for STATUS kept up to date by triggers),
// subscription, keyword (first-use spelling of each keyword), message (the
// narrow per-message row: flags as a bit mask, keywords as a space-separated
// list, modseq, internal date, size and a reference to message_cache),
// message_cache (one row per blob: ENVELOPE, BODYSTRUCTURE, BODY, part tree,
// header size; keyed by blob, so that COPY and MOVE share it) and tombstone
// (uid and modseq of each expunged message). message and tombstone are
// indexed on (mailbox_id, modseq) for "changed since" queries.
//
// # Durability and blob lifetime
//
// Append streams the body into the blob store (fsynced file and directory)
// while the message package parses it in the same pass, then commits the
// metadata in one transaction; it returns only after both. If the
// transaction fails the blob is deleted. Expunge and DeleteMailbox delete a
// blob file only after the commit that removed the last message_cache row
// referencing it. A crash between commit and file removal leaks a file,
// never loses one: leaked files (and temp files of crashed appends) older
// than an hour are swept when an account is opened, at most once a day.
//
// # Accounts and sharing
//
// Store.Account opens an account lazily (creating it, with the default
// mailboxes subscribed, on first use); sessions of the same user share one
// open account, reference counted, and its databases are closed when the
// last reference is closed. Store.Close closes everything.
//
// # Notifications
//
// After every commit the store wakes the user's watchers in this process
// (non-blocking send on a channel with buffer 1). Commits by other processes
// on the same data directory (for example "roost deliver" while the server
// runs) are detected by polling the account's change file
// (<Dir>/accounts/<safe-name>/changes), into which every commit writes a
// fresh nonce afterwards (see Store.poll), every Options.PollInterval (default
// 300ms), but only while the user has at least one watcher; polling stops
// with the last watcher. No database connection is held for it, and an
// account's databases (both *sql.DB objects, every connection, the
// prepared statements) close after 2 seconds unused even while its
// sessions idle, and reopen on the next call (dbs.go).
//
// # Locks
//
// LockMaildrop is an in-process lock per account; it does not exclude a
// POP3 session in another process.
package sqlite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

// Options configure a Store. Zero values mean the documented defaults.
type Options struct {
	// Dir is the data directory; accounts live in Dir/accounts. Required.
	Dir string
	// MaxMessageSize is the largest message Append accepts, in octets;
	// larger ones fail with KindTooBig. 0 or less means no limit.
	MaxMessageSize int64
	// Logger receives problems that are not returned to a caller (failed
	// blob deletions, polling errors). Default: slog.Default().
	Logger *slog.Logger
	// PollInterval is how often the database files are polled for changes
	// made by other processes while a user has watchers. Default 300ms.
	PollInterval time.Duration
	// BusyTimeout is how long a statement waits for a lock held by another
	// connection or process before failing with KindUnavailable. Default 10s.
	BusyTimeout time.Duration
	// Quota returns each user's limits; nil means no limits. Append and
	// Copy check them (mailstore.Account.Append); usage is kept in the
	// account database whether or not there are limits.
	Quota mailstore.QuotaFunc
	// IdleClose is how long an account stays open after its last reference
	// is closed, so that back-to-back deliveries and reconnecting clients
	// don't reopen the databases every time. Default 30s; negative closes
	// at once.
	IdleClose time.Duration
	// Fsync is mail_fsync (sqlstore.Fsync); the zero value is optimized.
	Fsync sqlstore.Fsync
}

const (
	defaultPollInterval = 300 * time.Millisecond // DESIGN.md 7: wake other processes' sessions within ~0.5s
	defaultBusyTimeout  = 10 * time.Second       // writer transactions are short; a longer wait means trouble
	defaultIdleClose    = 30 * time.Second       // keeps a delivery burst's account open; short enough to free memory
	maxSafeName         = 200                    // below NAME_MAX (255) with room for nothing else; keeps paths sane
	readerConns         = 4                      // reader pool size per account
	sweepEvery          = 24 * time.Hour         // orphan sweep at most this often per account
	sweepMinAge         = time.Hour              // never sweep a blob younger than this: it may be about to be committed

	// connIdleTime closes an account's databases (dbs.go: both *sql.DB
	// objects, their connections, the prepared statements) unused this
	// long, while the account stays open (its sessions idle). Each
	// connection costs ~200 KiB of SQLite memory (page cache, lookaside,
	// schema) while open, and the C allocator keeps about 1/16 of the
	// peak after they close, so during a burst of logins by different
	// users the number of accounts whose databases are open at once is
	// what an idle server keeps (issue 8). Long enough to cover the gaps
	// between the commands of a client's burst; reopening costs ~1.5 ms
	// (BenchmarkReopenDBs).
	connIdleTime = 2 * time.Second
)

// Store is the SQLite mail store. It is safe for concurrent use.
type Store struct {
	opts        Options
	log         *slog.Logger
	accountsDir string
	connIdle    time.Duration // connIdleTime; tests shorten it

	liveDBs atomic.Int64 // account database sets (dbs) open now; tests read it
	dbOpens atomic.Int64 // database sets opened so far

	mu       sync.Mutex
	accounts map[string]*account // open accounts by user name
	closed   bool

	wmu      sync.Mutex
	watches  map[string]*watchGroup // by user name
	polling  bool                   // the poll goroutine runs; guarded by wmu
	pollStop chan struct{}          // closed by Close
	pollers  sync.WaitGroup
}

// Open opens the store in opts.Dir, creating the directory if needed.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("open sqlite store: no directory given")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	if strings.ContainsAny(dir, "?#") {
		// The SQLite driver splits file names at '?'.
		return nil, fmt.Errorf("open sqlite store: directory %q contains '?' or '#'", dir)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = defaultPollInterval
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = defaultBusyTimeout
	}
	if opts.IdleClose == 0 {
		opts.IdleClose = defaultIdleClose
	}
	opts.Dir = dir
	st := &Store{
		opts:        opts,
		log:         opts.Logger,
		accountsDir: filepath.Join(dir, "accounts"),
		connIdle:    connIdleTime,
		accounts:    map[string]*account{},
		watches:     map[string]*watchGroup{},
		pollStop:    make(chan struct{}),
	}
	if err := os.MkdirAll(st.accountsDir, 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	return st, nil
}

// SafeName returns the directory name used for user's account (see the
// package documentation), or a KindInvalid error.
func SafeName(user string) (string, error) {
	if user == "" {
		return "", mailstore.Errorf(mailstore.KindInvalid, "empty user name")
	}
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(user); i++ {
		c := user[i]
		keep := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '_' || c == '+' || c == '@' || c == '-' || c == '.' && i > 0
		if keep {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
		if b.Len() > maxSafeName {
			return "", mailstore.Errorf(mailstore.KindInvalid, "user name too long")
		}
	}
	return b.String(), nil
}

// AccountDir returns the directory of user's account.
func (st *Store) AccountDir(user string) (string, error) {
	safe, err := SafeName(user)
	if err != nil {
		return "", err
	}
	return filepath.Join(st.accountsDir, safe), nil
}

// Account opens user's account, creating it on first use. See
// mailstore.Store.
func (st *Store) Account(ctx context.Context, user string) (mailstore.Account, error) {
	dir, err := st.AccountDir(user)
	if err != nil {
		return nil, err
	}
	for {
		st.mu.Lock()
		if st.closed {
			st.mu.Unlock()
			return nil, mailstore.Errorf(mailstore.KindUnavailable, "store is closed")
		}
		a := st.accounts[user]
		if a == nil {
			a = newAccount(st, user, dir)
			st.accounts[user] = a
			st.mu.Unlock()
			a.err = a.open(ctx)
			if a.err != nil {
				st.mu.Lock()
				delete(st.accounts, user)
				st.mu.Unlock()
			}
			close(a.ready)
			if a.err != nil {
				return nil, a.err
			}
			return &accountRef{account: a}, nil
		}
		a.refs++
		st.mu.Unlock()
		select {
		case <-a.ready:
		case <-ctx.Done():
			a.release()
			return nil, mailstore.Errorf(mailstore.KindUnavailable, "opening account: %v", ctx.Err())
		}
		if a.err != nil {
			// The opener failed and removed the entry; try again ourselves.
			st.mu.Lock()
			a.refs--
			st.mu.Unlock()
			if ctx.Err() != nil {
				return nil, a.err
			}
			continue
		}
		return &accountRef{account: a}, nil
	}
}

// Close closes the store: open accounts become unusable and watchers stop
// being woken.
func (st *Store) Close() error {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return nil
	}
	st.closed = true
	accts := st.accounts
	st.accounts = map[string]*account{}
	for _, a := range accts {
		if a.idle != nil {
			a.idle.Stop()
		}
	}
	st.mu.Unlock()

	st.wmu.Lock()
	for user := range st.watches {
		delete(st.watches, user)
	}
	close(st.pollStop)
	st.wmu.Unlock()
	st.pollers.Wait()

	var errs []error
	for _, a := range accts {
		<-a.ready
		if a.err == nil {
			errs = append(errs, a.closeDBs())
		}
	}
	return errors.Join(errs...)
}

var _ mailstore.Store = (*Store)(nil)
