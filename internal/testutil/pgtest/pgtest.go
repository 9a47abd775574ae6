// Package pgtest gives tests a fresh, empty PostgreSQL database each.
//
// Where the databases come from:
//
//   - If ROOST_TEST_POSTGRES is set (a postgres:// URL of a server where its
//     user may CREATE DATABASE), the databases are created there and
//     dropped when the test binary exits (Stop).
//   - Otherwise the first test that asks starts one private, throwaway
//     cluster for the whole test binary from Debian's binaries
//     (/usr/lib/postgresql/*/bin): initdb into a temporary directory, the
//     server listening only on a Unix socket in that directory (no TCP),
//     fsync off (tests only: a crash of the test machine loses nothing that
//     matters; ROOST_TEST_POSTGRES_FSYNC=on keeps PostgreSQL's defaults,
//     for benchmarks). When the test process runs as root, initdb and
//     postgres run as the "postgres" system user, which owns the
//     directory. The cluster is stopped and its directory removed by Stop,
//     which the package's TestMain must call (Main does).
//
// A database is reused by later tests of the binary once emptied (see
// NewDatabase): creating one costs far more than emptying it.
//
// Without PostgreSQL binaries and without ROOST_TEST_POSTGRES, tests that
// ask for a database are skipped, except under CI=true, where they fail:
// CI installs the postgresql package (.ci/run).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvServer names the environment variable with an external server's URL.
const EnvServer = "ROOST_TEST_POSTGRES"

// EnvDurable, set to "on", runs the private cluster with PostgreSQL's
// default durability (fsync, synchronous commit) instead of fsync=off:
// for benchmarks that compare with stores that fsync.
const EnvDurable = "ROOST_TEST_POSTGRES_FSYNC"

// superuser is the bootstrap superuser of the private cluster.
const superuser = "roost"

// startTimeout bounds initdb plus server start-up.
const startTimeout = 60 * time.Second

var (
	mu       sync.Mutex
	mainUsed bool    // Main or Stop is in charge of cleanup
	cluster  *server // the private cluster, once started
	startErr error   // why it could not be started (sticky)
	skipWhy  string  // non-empty: no PostgreSQL here (skip or fail)
	started  bool    // a start was attempted
)

// server is the private cluster.
type server struct {
	dir    string // temp dir: data/ and the socket
	bin    string // directory of initdb and postgres
	data   string // data directory
	cred   *syscall.Credential
	cmd    *exec.Cmd  // nil while halted
	done   chan error // receives the postgres process's exit
	stopCh chan struct{}
	admin  string // URL of the postgres database as superuser
}

// Main runs the tests and then stops the private cluster, if one was
// started. Use it as a package's TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	mu.Lock()
	mainUsed = true
	mu.Unlock()
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the private cluster and removes its directory. A TestMain
// that cannot use Main calls it (for example deferred) after m.Run.
func Stop() {
	dropFree()
	mu.Lock()
	s := cluster
	cluster = nil
	mainUsed = true
	mu.Unlock()
	if s != nil {
		s.stop()
	}
}

// Database is a fresh database for one test.
type Database struct {
	// Name is the database name.
	Name string
	// DSN is a postgres:// URL connecting to it as a user that owns it.
	DSN string
}

// DSN returns the URL of a fresh, empty database for t (see NewDatabase).
func DSN(t testing.TB) string {
	t.Helper()
	return NewDatabase(t).DSN
}

// NewDatabase gives t a fresh, empty database. It skips t when no
// PostgreSQL is available (fails it under CI=true).
//
// Creating a database costs 50-300 ms (PostgreSQL copies a template and
// checkpoints), too much for suites that start a server per test. So a
// database is created once and reused: when t ends, the connections still
// open to it are terminated (freeing their advisory locks and LISTENs) and
// its public schema is dropped and recreated, which leaves it as empty as
// a new one, sequences included. The next test takes it from the pool. A
// database whose reset fails is dropped instead.
func NewDatabase(t testing.TB) *Database {
	t.Helper()
	admin := serverURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mu.Lock()
	var name string
	if n := len(free); n > 0 {
		name, free = free[n-1], free[:n-1]
	}
	mu.Unlock()
	if name == "" {
		name = "roost_test_" + randHex(8)
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Fatalf("pgtest: connect to %s: %v", redact(admin), err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatalf("pgtest: create database: %v", err)
		}
	}
	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { release(t, admin, dsn, name) })
	return &Database{Name: name, DSN: dsn}
}

// free holds reset databases ready for the next test (guarded by mu).
var free []string

// release empties a test database and puts it back in the pool, or drops
// it if that fails.
func release(t testing.TB, admin, dsn, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := func() error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		// Connections the test left open (a store not closed, a
		// maildrop lock not released) would keep locks and tables busy.
		if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
			return err
		}
		_, err = conn.Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public; GRANT ALL ON SCHEMA public TO public`)
		return err
	}()
	if err == nil {
		mu.Lock()
		free = append(free, name)
		mu.Unlock()
		return
	}
	t.Logf("pgtest: reset %s: %v; dropping it", name, err)
	dropDatabase(t, admin, name)
}

// dropDatabase removes a test database, disconnecting what is left
// connected (PostgreSQL 13+). Failure is only logged: the database is
// garbage in a throwaway cluster, or visible by its name on a shared one.
func dropDatabase(t testing.TB, admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Logf("pgtest: drop %s: %v", name, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		t.Logf("pgtest: drop %s: %v", name, err)
	}
}

// dropFree drops the pooled databases (on an external server, at exit).
func dropFree() {
	mu.Lock()
	names := free
	free = nil
	mu.Unlock()
	u := os.Getenv(EnvServer)
	if u == "" || len(names) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	for _, n := range names {
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+n+" WITH (FORCE)")
	}
}

// serverURL returns the URL of a maintenance database on the server that
// holds the test databases, starting the private cluster if needed.
func serverURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvServer); u != "" {
		if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
			t.Fatalf("pgtest: %s must be a postgres:// URL", EnvServer)
		}
		return u
	}
	mu.Lock()
	defer mu.Unlock()
	if !mainUsed {
		t.Fatal("pgtest: the package's TestMain must call pgtest.Main(m) or defer pgtest.Stop(), so the private PostgreSQL cluster is stopped")
	}
	if !started {
		started = true
		cluster, skipWhy, startErr = start()
	}
	switch {
	case skipWhy != "":
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgtest: %s (CI must install the postgresql package)", skipWhy)
		}
		t.Skipf("pgtest: %s; install postgresql or set %s", skipWhy, EnvServer)
	case startErr != nil:
		t.Fatalf("pgtest: start private PostgreSQL: %v", startErr)
	}
	return cluster.admin
}

// binDir returns the newest /usr/lib/postgresql/<version>/bin holding
// initdb and postgres, or "".
func binDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	type cand struct {
		v   int
		dir string
	}
	var cs []cand
	for _, d := range dirs {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err != nil {
			continue
		}
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			cs = append(cs, cand{v, d})
		}
	}
	if len(cs) == 0 {
		return ""
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].v > cs[j].v })
	return cs[0].dir
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// start creates and starts the private cluster. skip is set when there are
// no binaries; err when starting failed.
func start() (s *server, skip string, err error) {
	bin := binDir()
	if bin == "" {
		return nil, "no PostgreSQL binaries in /usr/lib/postgresql/*/bin", nil
	}
	// A short path under /tmp: the socket path must fit in sun_path (108
	// bytes), and the postgres user must be able to reach it.
	dir, err := os.MkdirTemp("/tmp", "roost-pg-")
	if err != nil {
		return nil, "", err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, "", fmt.Errorf("running as root needs the postgres system user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, "", err
		}
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", data, "-U", superuser, "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("initdb: %v\n%s", err, out)
	}

	s = &server{dir: dir, bin: bin, data: data, cred: cred}
	s.admin = (&url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Path:     "/postgres",
		RawQuery: url.Values{"host": {dir}, "sslmode": {"disable"}}.Encode(),
	}).String()
	if err := s.launch(ctx); err != nil {
		s.halt(syscall.SIGQUIT)
		return nil, "", err
	}
	return s, "", nil
}

// launch starts the postgres process and waits until it accepts
// connections.
func (s *server) launch(ctx context.Context) error {
	logFile, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	s.done, s.stopCh = make(chan error, 1), make(chan struct{})
	durability := []string{"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"}
	if os.Getenv(EnvDurable) == "on" {
		durability = nil // PostgreSQL's defaults: what a benchmark should measure
	}
	args := append([]string{
		"-D", s.data,
		"-k", s.dir, // Unix socket in the private directory
		"-c", "listen_addresses=", // no TCP at all
		"-c", "max_connections=400",
		"-c", "shared_buffers=32MB",
		"-c", "log_min_messages=warning"}, durability...)
	s.cmd = exec.Command(filepath.Join(s.bin, "postgres"), args...)
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// The server goes down with the test binary, even when it is killed:
	// Pdeathsig fires when the thread that started the child exits, so it
	// is started from a goroutine locked to its thread that lives until
	// halt.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	startErr := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := s.cmd.Start(); err != nil {
			startErr <- err
			return
		}
		startErr <- nil
		go func() { s.done <- s.cmd.Wait(); logFile.Close() }()
		<-s.stopCh // keep this thread (and so Pdeathsig) until halt
	}()
	if err := <-startErr; err != nil {
		logFile.Close()
		close(s.stopCh)
		s.cmd = nil
		return fmt.Errorf("start postgres: %w", err)
	}
	if err := s.waitReady(ctx); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
		return fmt.Errorf("%w\n%s", err, log)
	}
	return nil
}

// waitReady waits until the server accepts connections.
func (s *server) waitReady(ctx context.Context) error {
	for {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("postgres exited during start-up: %v", err)
		default:
		}
		conn, err := pgx.Connect(ctx, s.admin)
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// halt stops the postgres process with sig (SIGQUIT: immediate shutdown,
// SIGINT: fast shutdown, which disconnects every client) and waits for it.
func (s *server) halt(sig syscall.Signal) {
	if s.cmd == nil {
		return
	}
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(sig)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	close(s.stopCh)
	s.cmd = nil
}

// stop shuts the server down at once and removes the directory.
func (s *server) stop() {
	s.halt(syscall.SIGQUIT)
	os.RemoveAll(s.dir)
}

// Restart shuts the private cluster down (fast shutdown: every client is
// disconnected, as in a PostgreSQL restart or failover), calls whileDown
// (checks of how clients behave without a server), then starts it again
// on the same data and waits until it accepts connections. Tests of reconnection use it; it fails the test
// when the databases come from ROOST_TEST_POSTGRES (a shared server is
// not ours to restart). Tests that restart should not run in parallel
// with other PostgreSQL tests of the same binary.
func Restart(t testing.TB, whileDown func()) {
	t.Helper()
	if os.Getenv(EnvServer) != "" {
		t.Fatalf("pgtest: Restart needs the private cluster; unset %s", EnvServer)
	}
	mu.Lock()
	defer mu.Unlock()
	if cluster == nil {
		t.Fatal("pgtest: Restart before any database was created")
	}
	cluster.halt(syscall.SIGINT)
	if whileDown != nil {
		whileDown()
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := cluster.launch(ctx); err != nil {
		t.Fatalf("pgtest: restart: %v", err)
	}
}

// withDatabase returns the server URL u with its database replaced by name.
func withDatabase(u, name string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", errors.New("invalid server URL")
	}
	p.Path = "/" + name
	p.RawPath = ""
	return p.String(), nil
}

// redact hides a password in a URL for messages.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	return p.Redacted()
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
