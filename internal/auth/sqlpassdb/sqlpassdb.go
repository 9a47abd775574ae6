// Package sqlpassdb is passdb driver sql on PostgreSQL: users and password
// hashes live in a table of the site's database, looked up by a query
// written as Dovecot writes it (doc/dovecot-sql.conf.ext):
//
//	passdb {
//	  driver = sql
//	  args = /etc/roost/sql.conf
//	}
//
// and in /etc/roost/sql.conf:
//
//	driver = pgsql
//	connect = host=db1 dbname=mail user=roost password=secret
//	default_pass_scheme = BLF-CRYPT
//	password_query = SELECT username AS user, password FROM users WHERE username = '%u'
//	iterate_query = SELECT username AS user FROM users
//
// Safety: Dovecot substitutes %u into the SQL text after escaping it;
// Roost never puts a user name into SQL text. The query is rewritten once,
// at start, into a parameterized statement: every %-variable becomes a
// bind parameter ($1, $2, ...), and a quoted literal made of variables
// and text ('%u', '%n@%d') becomes an expression over parameters and
// literals. A user name such as "x' OR '1'='1" is therefore just a value
// that matches no row.
//
// Variables: %u / %{user} (the full user name), %n / %{username} (the part
// before "@"), %d / %{domain} (the part after "@", empty without one), each
// optionally with Dovecot's L modifier (%Lu: lowercased). %% is a literal %.
//
// Result columns: "password" is the stored password ("{SCHEME}..." or bare
// in default_pass_scheme; NULL or empty with a "nopassword" column means
// any password); "user" replaces the login name (as Dovecot's user field;
// without it, "username" and "domain" give username@domain, as in Dovecot);
// every other column becomes an extra field of that name (nopassword,
// deny, userdb_quota_rule, ...), as in Dovecot. More than one row for a
// user is an error (Dovecot refuses such a lookup too).
//
// The connection is a pool that reconnects by itself after a database
// restart; a lookup that cannot reach the database fails (the auth service
// turns that into a temporary failure), it never counts as "unknown user".
package sqlpassdb

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roost-mail/roost/internal/auth/passwdfile"
	"github.com/roost-mail/roost/internal/auth/password"
)

// LookupTimeout bounds one query, connecting included.
const LookupTimeout = 5 * time.Second

// Config is the parsed args file.
type Config struct {
	Driver            string // "pgsql"
	Connect           string // libpq key=value string or postgres:// URL
	DefaultPassScheme string // "" means password.DefaultScheme
	PasswordQuery     string
	IterateQuery      string // "" : the user list is not available
}

// settings that Dovecot's sql.conf may carry and that Roost has no use for
// (it has no separate userdb and no write-back of credentials).
var ignored = map[string]bool{"user_query": true, "update_query": true}

// ParseConfig reads a Dovecot-style SQL args file: "key = value" lines,
// "#" comments, a trailing "\" continues a value on the next line.
func ParseConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("sql passdb: %w", err)
	}
	defer f.Close()
	var c Config
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lineNo, start := 0, 0
	var pending strings.Builder
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if pending.Len() == 0 {
			start = lineNo
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			pending.WriteString(strings.TrimSpace(cont))
			pending.WriteByte(' ')
			continue
		}
		pending.WriteString(line)
		full := pending.String()
		pending.Reset()
		key, val, ok := strings.Cut(full, "=")
		if !ok {
			return Config{}, fmt.Errorf("sql passdb: %s:%d: want key = value", path, start)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		switch key {
		case "driver":
			c.Driver = val
		case "connect":
			c.Connect = val
		case "default_pass_scheme":
			c.DefaultPassScheme = val
		case "password_query":
			c.PasswordQuery = val
		case "iterate_query":
			c.IterateQuery = val
		default:
			if !ignored[key] {
				return Config{}, fmt.Errorf("sql passdb: %s:%d: unknown setting %q", path, start, key)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Config{}, fmt.Errorf("sql passdb: %s: %w", path, err)
	}
	if pending.Len() > 0 {
		return Config{}, fmt.Errorf("sql passdb: %s:%d: file ends after a continuation line", path, start)
	}
	switch {
	case c.Driver != "pgsql":
		return Config{}, fmt.Errorf("sql passdb: %s: driver = %q is not supported (only pgsql)", path, c.Driver)
	case c.Connect == "":
		return Config{}, fmt.Errorf("sql passdb: %s: no connect setting", path)
	case c.PasswordQuery == "":
		return Config{}, fmt.Errorf("sql passdb: %s: no password_query", path)
	case c.DefaultPassScheme != "" && !password.Supported(c.DefaultPassScheme):
		return Config{}, fmt.Errorf("sql passdb: %s: unknown default_pass_scheme %q", path, c.DefaultPassScheme)
	}
	return c, nil
}

// variable is one user-derived value a query may use.
type variable struct {
	part  byte // 'u', 'n' or 'd'
	lower bool
}

func (v variable) value(user string) string {
	var s string
	switch v.part {
	case 'u':
		s = user
	case 'n':
		s, _, _ = strings.Cut(user, "@")
	case 'd':
		if i := strings.LastIndexByte(user, '@'); i >= 0 {
			s = user[i+1:]
		}
	}
	if v.lower {
		s = strings.ToLower(s)
	}
	return s
}

// Query is a Dovecot query rewritten with bind parameters.
type Query struct {
	SQL  string     // with $1, $2, ...
	vars []variable // the value of $i+1
}

// Args returns the bind parameters for user.
func (q Query) Args(user string) []any {
	out := make([]any, len(q.vars))
	for i, v := range q.vars {
		out[i] = v.value(user)
	}
	return out
}

// Parameterize rewrites a Dovecot query: %-variables outside literals
// become $n; a single-quoted literal with variables becomes $n if it is
// just one variable, else a parenthesized concatenation of parameters and
// literals ('%n@%d' -> ($1::text || '@' || $2::text)). Literals without
// variables stay as written, quoted identifiers are copied. A dollar sign
// outside a literal, an escape-string literal (E'...') or an unterminated
// literal is refused: each could make the rewriting disagree with how
// PostgreSQL reads the text.
func Parameterize(q string) (Query, error) {
	var out strings.Builder
	var vars []variable
	param := func(v variable) string {
		for i, have := range vars {
			if have == v {
				return "$" + strconv.Itoa(i+1)
			}
		}
		vars = append(vars, v)
		return "$" + strconv.Itoa(len(vars))
	}
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '$':
			return Query{}, errors.New("'$' outside a string literal (bind parameters and dollar quoting are not allowed; use %u, %n, %d)")
		case c == '"':
			// A quoted identifier: copied as it is.
			end := strings.IndexByte(q[i+1:], '"')
			if end < 0 {
				return Query{}, errors.New("unterminated quoted identifier")
			}
			out.WriteString(q[i : i+end+2])
			i += end + 2
		case c == '\'' && i > 0 && (q[i-1] == 'E' || q[i-1] == 'e' || q[i-1] == 'U' || q[i-1] == 'u' || q[i-1] == '&'):
			// E'...' and U&'...' have their own escape rules.
			return Query{}, errors.New("escape string literals (E'...', U&'...') are not allowed")
		case c == '\'':
			// A literal, '' inside is a quote.
			j := i + 1
			var lit strings.Builder
			closed := false
			for j < len(q) {
				if q[j] == '\'' {
					if j+1 < len(q) && q[j+1] == '\'' {
						lit.WriteByte('\'')
						j += 2
						continue
					}
					closed = true
					break
				}
				lit.WriteByte(q[j])
				j++
			}
			if !closed {
				return Query{}, errors.New("unterminated string literal")
			}
			pieces, err := splitVars(lit.String())
			if err != nil {
				return Query{}, err
			}
			out.WriteString(literalExpr(pieces, param))
			i = j + 1
		case c == '%':
			v, n, err := parseVar(q[i:])
			if err != nil {
				return Query{}, err
			}
			if v == nil {
				out.WriteByte('%')
			} else {
				out.WriteString(param(*v))
			}
			i += n
		default:
			out.WriteByte(c)
			i++
		}
	}
	return Query{SQL: out.String(), vars: vars}, nil
}

// piece is a run of literal text or one variable.
type piece struct {
	text string
	v    *variable
}

// splitVars splits the content of a literal into text and variables.
func splitVars(s string) ([]piece, error) {
	var out []piece
	var text strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '%' {
			text.WriteByte(s[i])
			i++
			continue
		}
		v, n, err := parseVar(s[i:])
		if err != nil {
			return nil, err
		}
		i += n
		if v == nil {
			text.WriteByte('%')
			continue
		}
		if text.Len() > 0 {
			out = append(out, piece{text: text.String()})
			text.Reset()
		}
		out = append(out, piece{v: v})
	}
	if text.Len() > 0 || len(out) == 0 {
		out = append(out, piece{text: text.String()})
	}
	return out, nil
}

// literalExpr renders the pieces of one literal as SQL.
func literalExpr(pieces []piece, param func(variable) string) string {
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	if len(pieces) == 1 {
		if pieces[0].v == nil {
			return quote(pieces[0].text)
		}
		return param(*pieces[0].v) + "::text"
	}
	parts := make([]string, len(pieces))
	for i, p := range pieces {
		if p.v == nil {
			parts[i] = quote(p.text)
		} else {
			parts[i] = param(*p.v) + "::text"
		}
	}
	return "(" + strings.Join(parts, " || ") + ")"
}

// parseVar reads the variable at the start of s (which begins with %). It
// returns nil for "%%" and the number of bytes consumed.
func parseVar(s string) (*variable, int, error) {
	if len(s) < 2 {
		return nil, 0, errors.New("query ends with a lone %")
	}
	if s[1] == '%' {
		return nil, 2, nil
	}
	v := variable{}
	i := 1
	if s[i] == 'L' {
		v.lower = true
		i++
	}
	if i >= len(s) {
		return nil, 0, errors.New("query ends inside a %-variable")
	}
	if s[i] == '{' {
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, 0, errors.New("unterminated %{...} variable")
		}
		name := s[i+1 : i+end]
		switch name {
		case "user":
			v.part = 'u'
		case "username":
			v.part = 'n'
		case "domain":
			v.part = 'd'
		default:
			return nil, 0, fmt.Errorf("variable %%{%s} is not supported (supported: %%{user}, %%{username}, %%{domain})", name)
		}
		return &v, i + end + 1, nil
	}
	switch s[i] {
	case 'u', 'n', 'd':
		v.part = s[i]
	default:
		r, _ := utf8.DecodeRuneInString(s[i:])
		return nil, 0, fmt.Errorf("variable %%%c is not supported (supported: %%u, %%n, %%d, %%Lu, ...)", r)
	}
	return &v, i + 1, nil
}

// DB is an open sql passdb. It is safe for concurrent use.
type DB struct {
	path          string
	pool          *pgxpool.Pool
	passwordQuery Query
	iterateQuery  string
	scheme        string

	mu    sync.Mutex
	dummy passwdfile.Entry // for First: the last stored password seen
}

// Open parses the args file and prepares the connection pool. It does not
// wait for the database: a database that is down at start makes lookups
// fail temporarily until it is back.
func Open(path string) (*DB, error) {
	c, err := ParseConfig(path)
	if err != nil {
		return nil, err
	}
	q, err := Parameterize(c.PasswordQuery)
	if err != nil {
		return nil, fmt.Errorf("sql passdb: %s: password_query: %w", path, err)
	}
	if strings.Contains(c.IterateQuery, "%") || strings.Contains(c.IterateQuery, "$") {
		return nil, fmt.Errorf("sql passdb: %s: iterate_query takes no variables", path)
	}
	pc, err := pgxpool.ParseConfig(c.Connect)
	if err != nil {
		// pgx's message may quote the string, password included.
		return nil, fmt.Errorf("sql passdb: %s: connect setting is not a valid PostgreSQL connection string", path)
	}
	pc.MaxConns = 8
	pc.ConnConfig.ConnectTimeout = LookupTimeout
	if pc.ConnConfig.RuntimeParams == nil {
		pc.ConnConfig.RuntimeParams = map[string]string{}
	}
	pc.ConnConfig.RuntimeParams["application_name"] = "roost-passdb"
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("sql passdb: %s: %w", path, err)
	}
	db := &DB{path: path, pool: pool, passwordQuery: q, iterateQuery: c.IterateQuery, scheme: c.DefaultPassScheme}
	if db.scheme == "" {
		db.scheme = password.DefaultScheme
	}
	db.scheme = strings.ToUpper(db.scheme)
	// Until a real user is seen, unknown users are verified against a hash
	// of a random password in the default scheme (same cost).
	var rnd [16]byte
	rand.Read(rnd[:])
	h, err := password.Hash(db.scheme, hex.EncodeToString(rnd[:]))
	if err != nil {
		h, _ = password.Hash(password.DefaultScheme, hex.EncodeToString(rnd[:]))
	}
	db.dummy = passwdfile.Entry{User: "", Password: h}
	return db, nil
}

// Close closes the connection pool.
func (db *DB) Close() { db.pool.Close() }

// Path is the args file (for log messages).
func (db *DB) Path() string { return db.path }

// DefaultScheme is default_pass_scheme (upper case).
func (db *DB) DefaultScheme() string { return db.scheme }

// Ping checks that the database answers (health checks).
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	return db.pool.Ping(ctx)
}

// Healthy is the passdb's health check (admin health, roost who
// --health): the database accepts a connection within LookupTimeout, and
// password_query still compiles against it (its tables and columns
// exist), checked by preparing it as an unnamed statement, never running
// it. Privileges are checked by PostgreSQL only when a query runs, so a
// revoked SELECT shows at the first login, not here.
func (db *DB) Healthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("sql passdb %s: %w", db.path, err)
	}
	defer c.Release()
	// The unnamed statement: pgx's statement cache uses named ones.
	if _, err := c.Conn().PgConn().Prepare(ctx, "", db.passwordQuery.SQL, nil); err != nil {
		return fmt.Errorf("sql passdb %s: password_query: %w", db.path, err)
	}
	return nil
}

// Lookup runs password_query for user. ok is false when no row matches.
// Any database error (down, query wrong, several rows) is an error.
func (db *DB) Lookup(user string) (passwdfile.Entry, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), LookupTimeout)
	defer cancel()
	rows, err := db.pool.Query(ctx, db.passwordQuery.SQL, db.passwordQuery.Args(user)...)
	if err != nil {
		return passwdfile.Entry{}, false, fmt.Errorf("sql passdb %s: password_query: %w", db.path, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return passwdfile.Entry{}, false, fmt.Errorf("sql passdb %s: password_query: %w", db.path, err)
		}
		return passwdfile.Entry{}, false, nil
	}
	e, err := entry(rows)
	if err != nil {
		return passwdfile.Entry{}, false, fmt.Errorf("sql passdb %s: password_query: %w", db.path, err)
	}
	if rows.Next() {
		return passwdfile.Entry{}, false, fmt.Errorf("sql passdb %s: password_query returned more than one row for one user", db.path)
	}
	if err := rows.Err(); err != nil {
		return passwdfile.Entry{}, false, fmt.Errorf("sql passdb %s: password_query: %w", db.path, err)
	}
	if e.User == "" {
		e.User = user
	}
	if e.Password != "" {
		db.mu.Lock()
		db.dummy = passwdfile.Entry{User: e.User, Password: e.Password}
		db.mu.Unlock()
	}
	return e, true, nil
}

// entry turns the current row into an Entry: password, user, and every
// other non-NULL column as an extra field.
func entry(rows pgx.Rows) (passwdfile.Entry, error) {
	vals, err := rows.Values()
	if err != nil {
		return passwdfile.Entry{}, err
	}
	e := passwdfile.Entry{Extra: map[string]string{}}
	for i, fd := range rows.FieldDescriptions() {
		if vals[i] == nil {
			continue
		}
		var s string
		switch v := vals[i].(type) {
		case string:
			s = v
		case []byte:
			s = string(v)
		default:
			s = fmt.Sprint(v)
		}
		switch name := strings.ToLower(fd.Name); name {
		case "password":
			e.Password = s
		case "user":
			e.Extra["user"] = s
			e.User = s
		default:
			e.Extra[name] = s
		}
	}
	// Dovecot: "username" and "domain" columns instead of "user" make the
	// user name username@domain.
	if _, ok := e.Extra["user"]; !ok {
		if n, ok := e.Extra["username"]; ok && n != "" {
			if d := e.Extra["domain"]; d != "" {
				n += "@" + d
			}
			e.Extra["user"], e.User = n, n
		}
	}
	return e, nil
}

// First returns an entry whose stored password has the cost of a real
// one: the last one a lookup returned, else a hash in the default scheme.
// The auth service verifies unknown users against it, so that an unknown
// user takes as long as a wrong password.
func (db *DB) First() (passwdfile.Entry, bool, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.dummy, true, nil
}

// Users runs iterate_query: its "user" column (or first column) lists the
// users.
func (db *DB) Users() ([]passwdfile.Entry, error) {
	if db.iterateQuery == "" {
		return nil, fmt.Errorf("sql passdb %s: no iterate_query, users cannot be listed", db.path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*LookupTimeout)
	defer cancel()
	rows, err := db.pool.Query(ctx, db.iterateQuery)
	if err != nil {
		return nil, fmt.Errorf("sql passdb %s: iterate_query: %w", db.path, err)
	}
	defer rows.Close()
	col := 0
	for i, fd := range rows.FieldDescriptions() {
		if strings.EqualFold(fd.Name, "user") {
			col = i
		}
	}
	var out []passwdfile.Entry
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, fmt.Errorf("sql passdb %s: iterate_query: %w", db.path, err)
		}
		if s, ok := vals[col].(string); ok && s != "" {
			out = append(out, passwdfile.Entry{User: s})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sql passdb %s: iterate_query: %w", db.path, err)
	}
	return out, nil
}
