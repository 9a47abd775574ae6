package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// Limits that keep a hostile or broken configuration from exhausting memory
// or recursing forever. Dovecot has the same include-loop protection.
const (
	maxIncludeDepth = 32       // nested !include levels
	maxSectionDepth = 32       // nested "type name {" levels
	maxIncludeFiles = 1000     // files read through !include, in total
	maxConfigBytes  = 16 << 20 // bytes read through !include, in total
)

// Entry is one node of the generic configuration tree that ParseTree
// produces: either a setting (`key = value`) or a section (`type [name] {`
// ... `}`). Includes are already resolved: their entries appear in place of
// the !include line. File and Line say where the entry was written (for a
// line continued with a trailing backslash, the first line).
type Entry struct {
	File string // file the entry was read from, as opened
	Line int    // 1-based line number in File

	// Key is the setting name, or the section type ("service", "passdb").
	Key string
	// Value is the setting's value with quotes removed and escapes resolved;
	// for a `<file` value it is the path as written (not yet resolved or
	// read). For a section it is the section name ("" when absent).
	Value string
	// Quoted reports that the value (or section name) was written in quotes.
	Quoted bool
	// IsFile reports a `key = <path` value.
	IsFile bool

	// Section reports that the entry is a section; Children are its
	// entries in file order. Settings have no children.
	Section  bool
	Children []*Entry
}

// ParseOptions supply file access to ParseTree. Both functions receive
// paths already resolved against the including file's directory.
type ParseOptions struct {
	// ReadFile returns a file's contents. nil makes every !include fail
	// (and !include_try do nothing). An error wrapping fs.ErrNotExist lets
	// !include_try skip the file.
	ReadFile func(path string) ([]byte, error)
	// Glob expands a pattern with shell metacharacters, like
	// filepath.Glob, returning matches in sorted order. nil makes an
	// !include with a pattern an error.
	Glob func(pattern string) ([]string, error)
}

// ParseTree parses Dovecot-syntax configuration text into a tree. name is
// the file name used in errors and as the base for relative !include paths.
// It does not know any setting names; Parse and Load decode the tree.
// Every error it returns is a *LineError naming file and line.
func ParseTree(name string, data []byte, opts ParseOptions) ([]*Entry, error) {
	p := &treeParser{opts: opts}
	return p.file(name, data, nil)
}

type treeParser struct {
	opts  ParseOptions
	files int
	bytes int
}

// file parses one file's text. stack holds the files that include it, to
// detect include loops.
func (p *treeParser) file(name string, data []byte, stack []string) ([]*Entry, error) {
	if len(stack) >= maxIncludeDepth {
		return nil, fmt.Errorf("includes nested deeper than %d levels", maxIncludeDepth)
	}
	stack = append(stack, filepath.Clean(name))

	root := &Entry{Section: true}
	open := []*Entry{root} // open sections; open[0] is the file level
	lines := strings.Split(string(data), "\n")
	var cont strings.Builder // text of a line continued with a backslash
	contStart := 0

	for i, raw := range lines {
		lineNo := i + 1
		text, ok := stripLine(raw)
		if !ok {
			continue // as in Dovecot, also inside a continued line
		}
		if strings.HasSuffix(text, `\`) {
			// Dovecot: a trailing backslash joins the next line, with one space.
			if cont.Len() == 0 {
				contStart = lineNo
			}
			part := strings.TrimRight(strings.TrimSuffix(text, `\`), " \t")
			if part != "" {
				cont.WriteString(part)
				cont.WriteByte(' ')
			}
			continue
		}
		start := lineNo
		if cont.Len() > 0 {
			text = cont.String() + text
			cont.Reset()
			start = contStart
		}
		if text == "" {
			continue
		}
		if j := strings.IndexFunc(text, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }); j >= 0 {
			return nil, &LineError{File: name, Line: start, Msg: fmt.Sprintf("control character %q in line", text[j])}
		}
		lerr := func(format string, args ...any) error {
			return &LineError{File: name, Line: start, Msg: fmt.Sprintf(format, args...)}
		}

		l, err := splitLine(text)
		if err != nil {
			return nil, lerr("%v", err)
		}
		cur := open[len(open)-1]
		switch l.kind {
		case lineSetting:
			cur.Children = append(cur.Children, &Entry{
				File: name, Line: start, Key: l.key, Value: l.value,
				Quoted: l.quoted, IsFile: l.isFile,
			})
		case lineSectionBegin:
			if len(open) > maxSectionDepth {
				return nil, lerr("sections nested deeper than %d levels", maxSectionDepth)
			}
			sec := &Entry{File: name, Line: start, Key: l.key, Value: l.value, Quoted: l.quoted, Section: true}
			cur.Children = append(cur.Children, sec)
			open = append(open, sec)
		case lineSectionEnd:
			if len(open) == 1 {
				return nil, lerr("unexpected '}'")
			}
			open = open[:len(open)-1]
		case lineInclude, lineIncludeTry:
			entries, err := p.include(name, l.value, l.kind == lineIncludeTry, stack)
			if le, ok := err.(*LineError); ok {
				return nil, le // from inside the included file
			}
			if err != nil {
				return nil, lerr("%s %s: %v", l.key, l.value, err)
			}
			cur.Children = append(cur.Children, entries...)
		}
	}
	if cont.Len() > 0 {
		return nil, &LineError{File: name, Line: contStart, Msg: "line continued with '\\' at end of file"}
	}
	if len(open) > 1 {
		sec := open[len(open)-1]
		return nil, &LineError{File: name, Line: sec.Line, Msg: fmt.Sprintf("section %q has no closing '}'", sec.Key)}
	}
	return root.Children, nil
}

// include reads the file(s) named by an !include line. pattern is relative
// to the including file's directory unless absolute.
func (p *treeParser) include(from, pattern string, try bool, stack []string) ([]*Entry, error) {
	if pattern == "" {
		return nil, errors.New("missing file name")
	}
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(from), pattern)
	}
	paths := []string{pattern}
	if strings.ContainsAny(pattern, "*?[") {
		if p.opts.Glob == nil {
			return nil, errors.New("glob patterns are not available here")
		}
		var err error
		paths, err = p.opts.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("glob: %w", err)
		}
		if len(paths) == 0 {
			if try {
				return nil, nil
			}
			return nil, errors.New("no files match")
		}
	}
	var out []*Entry
	for _, path := range paths {
		for _, s := range stack {
			if s == filepath.Clean(path) {
				return nil, fmt.Errorf("recursive include of %s", path)
			}
		}
		if p.opts.ReadFile == nil {
			if try {
				continue
			}
			return nil, errors.New("file access is not available here")
		}
		data, err := p.opts.ReadFile(path)
		if err != nil {
			if try && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("read: %w", err)
		}
		p.files++
		p.bytes += len(data)
		if p.files > maxIncludeFiles || p.bytes > maxConfigBytes {
			return nil, errors.New("too many or too large included files")
		}
		entries, err := p.file(path, data, stack)
		if err != nil {
			return nil, err
		}
		out = append(out, entries...)
	}
	return out, nil
}

type lineKind int

const (
	lineSetting lineKind = iota
	lineSectionBegin
	lineSectionEnd
	lineInclude
	lineIncludeTry
)

type parsedLine struct {
	kind   lineKind
	key    string
	value  string
	quoted bool
	isFile bool
}

func isWhite(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

// stripLine removes leading and trailing white space and a comment. A '#'
// starts a comment at the start of the line or after white space, outside
// quotes. It reports false for lines with nothing left.
func stripLine(s string) (string, bool) {
	s = strings.TrimLeft(s, " \t\r")
	if s == "" || s[0] == '#' {
		return "", false
	}
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && i+1 < len(s) {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && isWhite(s[i-1]):
			s = s[:i]
		}
	}
	s = strings.TrimRight(s, " \t\r")
	return s, s != ""
}

// splitLine classifies one comment-free, trimmed, non-empty line, following
// Dovecot's config-parser: `key = value`, `key = <path`, `type [name] {`,
// `}`, `!include path`, `!include_try path`.
func splitLine(s string) (parsedLine, error) {
	i := 0
	for i < len(s) && !isWhite(s[i]) && s[i] != '=' {
		i++
	}
	key := s[:i]
	rest := strings.TrimLeft(s[i:], " \t\r")

	switch key {
	case "!include", "!include_try":
		kind := lineInclude
		if key == "!include_try" {
			kind = lineIncludeTry
		}
		v, _, err := unquote(rest)
		return parsedLine{kind: kind, key: key, value: v}, err
	case "}":
		if rest != "" {
			return parsedLine{}, fmt.Errorf("unexpected text after '}': %q", rest)
		}
		return parsedLine{kind: lineSectionEnd}, nil
	case "":
		return parsedLine{}, errors.New("missing setting name before '='")
	}

	if strings.HasPrefix(rest, "=") {
		v := strings.TrimLeft(rest[1:], " \t\r")
		if strings.HasPrefix(v, "<") {
			path := strings.TrimLeft(v[1:], " \t\r")
			if path == "" {
				return parsedLine{}, fmt.Errorf("%s: missing file name after '<'", key)
			}
			return parsedLine{kind: lineSetting, key: key, value: path, isFile: true}, nil
		}
		v, quoted, err := unquote(v)
		if err != nil {
			return parsedLine{}, fmt.Errorf("%s: %w", key, err)
		}
		return parsedLine{kind: lineSetting, key: key, value: v, quoted: quoted}, nil
	}

	// Section: type [name] {
	if !strings.HasSuffix(rest, "{") {
		if rest == "" || !strings.Contains(rest, "{") {
			return parsedLine{}, fmt.Errorf("expecting '=' or '{' after %q", key)
		}
		return parsedLine{}, fmt.Errorf("unexpected text after '{' (put each setting on its own line)")
	}
	name := strings.TrimRight(strings.TrimSuffix(rest, "{"), " \t\r")
	name, quoted, err := unquote(name)
	if err != nil {
		return parsedLine{}, fmt.Errorf("section %s: %w", key, err)
	}
	if !quoted && strings.ContainsAny(name, " \t{}") {
		return parsedLine{}, fmt.Errorf("section %s: name %q must be one word or quoted", key, name)
	}
	return parsedLine{kind: lineSectionBegin, key: key, value: name, quoted: quoted}, nil
}

// unquote removes surrounding double or single quotes and resolves
// backslash escapes: as in Dovecot's str_unescape, a backslash makes the
// next character literal. A value that is not quoted is returned as is.
func unquote(s string) (string, bool, error) {
	if s == "" || (s[0] != '"' && s[0] != '\'') {
		return s, false, nil
	}
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == q:
			if i != len(s)-1 {
				return "", false, fmt.Errorf("unexpected text after closing quote: %q", s[i+1:])
			}
			return b.String(), true, nil
		default:
			b.WriteByte(c)
		}
	}
	return "", false, errors.New("unterminated quoted value")
}
