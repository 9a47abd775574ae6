// Package passwdfile reads and edits Dovecot's passwd-file format:
//
//	user:password:uid:gid:gecos:home:shell:extra_fields
//
// Every field after the user name is optional. Blank lines, lines starting
// with '#' and lines starting with ':' (no user name) are skipped, as in
// Dovecot's db-passwd-file.c. Everything after the shell field is joined back
// with ':' and split on spaces into extra fields ("key=value" or a bare
// "key"), so "userdb_quota_rule=*:storage=1G" keeps its colon.
//
// Lookups are exact and case-sensitive, like Dovecot's passwd-file hash
// table; case folding (auth_username_format = %Lu) is the auth service's
// job. When a user appears twice the first entry wins, as in Dovecot.
//
// A File re-reads its path when the file changes (checked with stat on
// every lookup: inode, size, mtime and ctime). The editing functions (Add,
// SetPassword, Delete) replace the file atomically, keep every other line
// byte for byte, and serialize concurrent editors with flock(2) on
// "PATH.lock".
package passwdfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Errors returned by the editing functions (wrapped).
var (
	ErrExists   = errors.New("user already exists")
	ErrNotFound = errors.New("user not found")
	ErrInvalid  = errors.New("invalid passwd-file entry")
)

// Entry is one user line.
type Entry struct {
	User     string
	Password string // stored form: "{SCHEME}..." or bare (the passdb's default scheme)
	UID      string // fields are kept as text; empty when absent
	GID      string
	Gecos    string
	Home     string
	Shell    string
	// Extra holds the extra fields; a field without '=' maps to "".
	// Examples: "userdb_quota_rule" -> "*:storage=1G", "nopassword" -> "".
	Extra map[string]string
	// Line is the 1-based line number the entry was read from (0 when the
	// entry did not come from a file).
	Line int
}

func (e Entry) clone() Entry {
	e.Extra = maps.Clone(e.Extra)
	return e
}

// Parse parses a whole passwd-file. It never fails on odd lines: they are
// skipped or read the way Dovecot reads them.
func Parse(data []byte) []Entry {
	var out []Entry
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if e, ok := parseLine(string(line)); ok {
			e.Line = lineNo
			out = append(out, e)
		}
	}
	return out
}

// parseLine parses one line without its terminator; ok is false for lines
// Dovecot skips.
func parseLine(line string) (Entry, bool) {
	if line == "" || line[0] == '#' || line[0] == ':' {
		return Entry{}, false
	}
	f := strings.Split(line, ":")
	var e Entry
	dst := []*string{&e.User, &e.Password, &e.UID, &e.GID, &e.Gecos, &e.Home, &e.Shell}
	for i, p := range dst {
		if i < len(f) {
			*p = f[i]
		}
	}
	if len(f) > len(dst) {
		for field := range strings.SplitSeq(strings.Join(f[len(dst):], ":"), " ") {
			if field == "" {
				continue
			}
			if e.Extra == nil {
				e.Extra = make(map[string]string)
			}
			k, v, _ := strings.Cut(field, "=")
			if _, dup := e.Extra[k]; !dup {
				e.Extra[k] = v
			}
		}
	}
	return e, true
}

// lineUser returns the user name of a line, or "" for a line Dovecot skips.
func lineUser(line string) string {
	line = strings.TrimRight(line, "\r\n")
	if line == "" || line[0] == '#' || line[0] == ':' {
		return ""
	}
	u, _, _ := strings.Cut(line, ":")
	return u
}

// File is a passwd-file that reloads itself when it changes on disk. It is
// safe for concurrent use.
type File struct {
	path string

	mu      sync.RWMutex
	stamp   fileStamp
	entries map[string]Entry
	order   []string // user names in file order, first occurrence only
}

type fileStamp struct {
	ino, dev     uint64
	size         int64
	mtime, ctime int64 // nanoseconds since the epoch
}

// Open reads path. A missing or unreadable file is an error.
func Open(path string) (*File, error) {
	f := &File{path: path}
	if err := f.refresh(); err != nil {
		return nil, err
	}
	return f, nil
}

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// refresh re-reads the file if its stat stamp changed.
func (f *File) refresh() error {
	st, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("passwd-file: %w", err)
	}
	stamp := stampOf(st)
	f.mu.RLock()
	same := f.entries != nil && stamp == f.stamp
	f.mu.RUnlock()
	if same {
		return nil
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	// Open and stat the opened file, so the stamp matches the data read
	// even if the path is replaced meanwhile.
	fh, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("passwd-file: %w", err)
	}
	defer fh.Close()
	st, err = fh.Stat()
	if err != nil {
		return fmt.Errorf("passwd-file: %w", err)
	}
	stamp = stampOf(st)
	if f.entries != nil && stamp == f.stamp {
		return nil
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(bufio.NewReader(fh)); err != nil {
		return fmt.Errorf("passwd-file: read %s: %w", f.path, err)
	}
	entries := make(map[string]Entry)
	var order []string
	for _, e := range Parse(buf.Bytes()) {
		if _, dup := entries[e.User]; dup {
			continue // first one wins, as in Dovecot
		}
		entries[e.User] = e
		order = append(order, e.User)
	}
	f.entries, f.order, f.stamp = entries, order, stamp
	return nil
}

// Lookup returns the entry for user (exact match). The error is non-nil
// only when the file cannot be read; the previous contents are not used
// then, so that a removed file cannot keep old passwords alive.
func (f *File) Lookup(user string) (Entry, bool, error) {
	if err := f.refresh(); err != nil {
		return Entry{}, false, err
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	e, ok := f.entries[user]
	if !ok {
		return Entry{}, false, nil
	}
	return e.clone(), true, nil
}

// Users returns all entries in file order (first occurrence of each user).
func (f *File) Users() ([]Entry, error) {
	if err := f.refresh(); err != nil {
		return nil, err
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Entry, 0, len(f.order))
	for _, u := range f.order {
		out = append(out, f.entries[u].clone())
	}
	return out, nil
}

// ValidUser reports whether name can be written to a passwd-file: not empty,
// no ':', no whitespace or control characters, and not starting with '#'.
func ValidUser(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty user name", ErrInvalid)
	}
	if name[0] == '#' {
		return fmt.Errorf("%w: user name %q starts with '#'", ErrInvalid, name)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: user name %q is not valid UTF-8", ErrInvalid, name)
	}
	for _, r := range name {
		if r == ':' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%w: user name %q contains ':', whitespace or a control character", ErrInvalid, name)
		}
	}
	return nil
}

// validField rejects what would break the line structure.
func validField(what, v string, allowSpace bool) error {
	for _, r := range v {
		if r == ':' || r < ' ' || r == 0x7f || (!allowSpace && r == ' ') {
			return fmt.Errorf("%w: %s contains ':' or a control character", ErrInvalid, what)
		}
	}
	return nil
}

// Format renders e as one line without a terminator. Extra fields are
// written sorted by key; trailing empty fields are left out.
func Format(e Entry) (string, error) {
	if err := ValidUser(e.User); err != nil {
		return "", err
	}
	if err := validField("password", e.Password, true); err != nil {
		return "", err
	}
	for _, f := range []struct{ name, v string }{{"uid", e.UID}, {"gid", e.GID}, {"gecos", e.Gecos}, {"home", e.Home}, {"shell", e.Shell}} {
		if err := validField(f.name, f.v, f.name == "gecos"); err != nil {
			return "", err
		}
	}
	var extra []string
	for _, k := range slices.Sorted(maps.Keys(e.Extra)) {
		v := e.Extra[k]
		if k == "" || strings.ContainsAny(k, "= ") {
			return "", fmt.Errorf("%w: extra field name %q", ErrInvalid, k)
		}
		for _, r := range k + v {
			if r <= ' ' || r == 0x7f {
				return "", fmt.Errorf("%w: extra field %q contains whitespace or a control character", ErrInvalid, k)
			}
		}
		if v == "" {
			extra = append(extra, k)
		} else {
			extra = append(extra, k+"="+v)
		}
	}
	fields := []string{e.User, e.Password, e.UID, e.GID, e.Gecos, e.Home, e.Shell, strings.Join(extra, " ")}
	for len(fields) > 2 && fields[len(fields)-1] == "" {
		fields = fields[:len(fields)-1]
	}
	return strings.Join(fields, ":"), nil
}

// First returns the first entry of the file, if any. The auth service uses
// its stored password for a dummy verification when a user is unknown, so
// that unknown users cost the same time as known ones.
func (f *File) First() (Entry, bool, error) {
	if err := f.refresh(); err != nil {
		return Entry{}, false, err
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if len(f.order) == 0 {
		return Entry{}, false, nil
	}
	return f.entries[f.order[0]].clone(), true, nil
}
