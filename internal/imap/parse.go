package imap

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/roost-mail/roost/internal/imapwire"
	"github.com/roost-mail/roost/internal/mailstore"
)

// DefaultMaxSearchDepth is the default ParseOptions.MaxSearchDepth.
const DefaultMaxSearchDepth = 64

// DefaultSpoolMemory is the default ParseOptions.SpoolMemory: APPEND
// bodies up to this size stay in memory, larger ones go to a temp file.
const DefaultSpoolMemory = 1 << 20

// ErrTooBig is the refusal of an APPEND literal larger than
// ParseOptions.MaxAppendSize (RFC 7889 APPENDLIMIT).
var ErrTooBig = errors.New("message exceeds APPENDLIMIT")

// ParseOptions configures ReadCommand.
type ParseOptions struct {
	// TempDir is where APPEND bodies larger than SpoolMemory are spooled
	// ("" = os.TempDir()).
	TempDir string
	// MaxAppendSize is the APPENDLIMIT (RFC 7889); 0 = none. A larger
	// APPEND literal is refused before any of its bytes are read: the
	// result is a *SyntaxError with Code "TOOBIG" and Err wrapping
	// ErrTooBig.
	MaxAppendSize int64
	// MaxSearchDepth limits the nesting of search keys (parentheses, NOT,
	// OR); default DefaultMaxSearchDepth.
	MaxSearchDepth int
	// SpoolMemory is the largest APPEND body kept in memory; default
	// DefaultSpoolMemory.
	SpoolMemory int64
}

// abort unwinds the parser after the decoder recorded an error.
type abort struct{}

type parser struct {
	dec   *imapwire.Decoder
	opts  ParseOptions
	tag   string
	name  string
	depth int
	lits  []Literal // spooled APPEND bodies, closed on error
	// memUsed is the size of the APPEND bodies spooled in memory.
	memUsed int64
}

// ReadCommand reads exactly one command (tag SP command [SP args] CRLF)
// and returns it typed (see Command.Args), or a *SyntaxError after
// consuming the rest of the command so the stream stays in sync, or an
// I/O error (io.EOF when the connection ended between commands,
// io.ErrUnexpectedEOF inside one). Empty lines before a command are
// skipped. It checks no state: the server checks the command's allowed
// states.
func ReadCommand(dec *imapwire.Decoder, opts ParseOptions) (cmd *Command, err error) {
	if opts.MaxSearchDepth <= 0 {
		opts.MaxSearchDepth = DefaultMaxSearchDepth
	}
	if opts.SpoolMemory <= 0 {
		opts.SpoolMemory = DefaultSpoolMemory
	}
	p := &parser{dec: dec, opts: opts, tag: "*"}
	defer func() {
		if err != nil {
			for _, l := range p.lits {
				l.Close()
			}
		}
	}()
	for {
		dec.Reset()
		if !dec.CRLF() {
			break
		}
	}
	if err := dec.Err(); err != nil {
		return nil, p.result(err)
	}
	cmd, ok := p.run()
	if !ok {
		return nil, p.result(dec.Err())
	}
	return cmd, nil
}

func (p *parser) run() (cmd *Command, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, isAbort := r.(abort); !isAbort {
				panic(r)
			}
			cmd, ok = nil, false
		}
	}()
	return p.command(), true
}

// result turns the decoder's error into ReadCommand's error, discarding
// the rest of the command.
func (p *parser) result(err error) error {
	if err == nil {
		err = &imapwire.SyntaxError{Msg: "syntax error"} // not reached
	}
	var ioe *imapwire.IOError
	if errors.As(err, &ioe) {
		return ioe.Err
	}
	if derr := p.dec.DiscardCommand(); derr != nil {
		if errors.As(derr, &ioe) {
			return ioe.Err
		}
		return derr
	}
	se := &SyntaxError{Tag: p.tag, Name: p.name}
	var le *imapwire.LiteralError
	var wse *imapwire.SyntaxError
	switch {
	case errors.Is(err, imapwire.ErrLineTooLong):
		se.Msg, se.Err = "Command line too long", err
	case errors.As(err, &le):
		se.Msg, se.Code, se.Literal, se.Err = "Literal too large", "TOOBIG", le, le.Err
		if errors.Is(le.Err, ErrTooBig) {
			se.Msg = "Message too large"
		}
	case errors.As(err, &wse):
		se.Msg = wse.Msg
	default:
		// A spooling failure (temp file): the stream is in sync, the
		// command failed for a server reason.
		se.Msg, se.Err = "Cannot store literal", err
	}
	return se
}

func (p *parser) fail() { panic(abort{}) }

func (p *parser) failf(format string, args ...any) {
	p.dec.Errorf(format, args...)
	panic(abort{})
}

func (p *parser) check() {
	if p.dec.Err() != nil {
		panic(abort{})
	}
}

func (p *parser) sp() {
	if !p.dec.ExpectSP() {
		p.fail()
	}
}

func (p *parser) crlf() {
	if !p.dec.ExpectCRLF() {
		p.fail()
	}
}

func (p *parser) special(c byte) {
	if !p.dec.ExpectSpecial(c) {
		p.fail()
	}
}

func (p *parser) atom() string {
	var s string
	if !p.dec.ExpectAtom(&s) {
		p.fail()
	}
	return s
}

// keyword reads an atom and returns it in upper case.
func (p *parser) keyword() string { return strings.ToUpper(p.atom()) }

func (p *parser) astring() string {
	var s string
	if !p.dec.ExpectAString(&s) {
		p.fail()
	}
	return s
}

func (p *parser) string() string {
	var s string
	if !p.dec.ExpectString(&s) {
		p.fail()
	}
	return s
}

func (p *parser) mailbox() string {
	var s string
	if !p.dec.ExpectMailbox(&s) {
		p.fail()
	}
	return s
}

func (p *parser) listMailbox() string {
	var s string
	if !p.dec.ExpectListMailbox(&s) {
		p.fail()
	}
	return s
}

func (p *parser) number() uint32 {
	var n uint32
	if !p.dec.ExpectNumber(&n) {
		p.fail()
	}
	return n
}

func (p *parser) nzNumber() uint32 {
	var n uint32
	if !p.dec.ExpectNZNumber(&n) {
		p.fail()
	}
	return n
}

func (p *parser) number64() uint64 {
	var n uint64
	if !p.dec.ExpectNumber64(&n) {
		p.fail()
	}
	return n
}

// modSeq reads mod-sequence-value (RFC 7162 7: 1 <= n < 2^63); zero
// allowed for mod-sequence-valzer.
func (p *parser) modSeq(zeroOK bool) mailstore.ModSeq {
	n := p.number64()
	if n == 0 && !zeroOK {
		p.failf("mod-sequence must be non-zero")
	}
	return mailstore.ModSeq(n)
}

func (p *parser) numSet() NumSet {
	var s NumSet
	if !p.dec.ExpectNumSet(&s.Ranges, &s.SearchRes) {
		p.fail()
	}
	return s
}

// list reads a parenthesized list, calling f per element (f reads it).
func (p *parser) list(f func()) {
	err := p.dec.ExpectList(func() error {
		f()
		return nil
	})
	if err != nil {
		p.fail()
	}
}

// nonEmptyList is list that rejects "()".
func (p *parser) nonEmptyList(what string, f func()) {
	n := 0
	p.list(func() { n++; f() })
	if n == 0 {
		p.failf("empty %s list", what)
	}
}

func (p *parser) command() *Command {
	var tag string
	if !p.dec.Func(&tag, imapwire.IsTagChar) {
		p.check()
		p.failf("invalid tag")
	}
	p.tag = tag
	p.sp()
	var name string
	if !p.dec.Func(&name, isCommandChar) {
		p.check()
		p.failf("expected command name")
	}
	name = strings.ToUpper(name)
	cmd := &Command{Tag: tag, Name: name}
	if name == "UID" {
		p.sp()
		if !p.dec.Func(&name, isCommandChar) {
			p.check()
			p.failf("expected command name after UID")
		}
		name = strings.ToUpper(name)
		switch name {
		case "FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE":
		default:
			p.name = "UID " + name
			p.failf("Unknown command")
		}
		cmd.Name, cmd.UID = "UID "+name, true
	}
	p.name = cmd.Name
	parse, ok := commands[name]
	if !ok {
		p.failf("Unknown command")
	}
	cmd.Args = parse(p, cmd)
	p.crlf()
	return cmd
}

func isCommandChar(b byte) bool {
	return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_'
}

var commands map[string]func(p *parser, cmd *Command) any

func init() {
	noArgs := func(p *parser, cmd *Command) any { return &NoArgs{} }
	commands = map[string]func(p *parser, cmd *Command) any{
		"CAPABILITY":   noArgs,
		"NOOP":         noArgs,
		"LOGOUT":       noArgs,
		"STARTTLS":     noArgs,
		"CHECK":        noArgs,
		"CLOSE":        noArgs,
		"UNSELECT":     noArgs,
		"IDLE":         noArgs,
		"NAMESPACE":    noArgs,
		"EXPUNGE":      (*parser).expunge,
		"AUTHENTICATE": (*parser).authenticate,
		"LOGIN":        (*parser).login,
		"ENABLE":       (*parser).enable,
		"COMPRESS":     (*parser).compress,
		"ID":           (*parser).id,
		"SELECT":       (*parser).selectCmd,
		"EXAMINE":      (*parser).selectCmd,
		"CREATE":       (*parser).create,
		"DELETE":       (*parser).deleteCmd,
		"RENAME":       (*parser).rename,
		"SUBSCRIBE":    (*parser).subscribe,
		"UNSUBSCRIBE":  (*parser).subscribe,
		"LIST":         (*parser).list_,
		"LSUB":         (*parser).lsub,
		"STATUS":       (*parser).status,
		"APPEND":       (*parser).appendCmd,
		"SEARCH":       (*parser).search,
		"FETCH":        (*parser).fetch,
		"STORE":        (*parser).store,
		"COPY":         (*parser).copyCmd,
		"MOVE":         (*parser).copyCmd,
		"NOTIFY":       (*parser).notify,
		"GETQUOTA":     (*parser).getQuota,
		"GETQUOTAROOT": (*parser).getQuotaRoot,
		"SETQUOTA":     (*parser).setQuota,
	}
}

// expunge: EXPUNGE (no args) or UID EXPUNGE SP sequence-set (RFC 4315).
func (p *parser) expunge(cmd *Command) any {
	if !cmd.UID {
		return &NoArgs{}
	}
	p.sp()
	return &ExpungeCmd{Set: p.numSet()}
}

func isBase64Char(b byte) bool {
	return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '='
}

// authenticate: "AUTHENTICATE" SP auth-type [SP (base64 / "=")] (RFC 9051
// 6.2.2, SASL-IR RFC 4959).
func (p *parser) authenticate(cmd *Command) any {
	p.sp()
	a := &AuthenticateCmd{Mechanism: p.keyword()}
	if p.dec.SP() {
		var s string
		if !p.dec.Func(&s, isBase64Char) {
			p.check()
			p.failf("expected base64 initial response")
		}
		if s == "=" {
			a.InitialResponse = []byte{}
		} else {
			b, err := base64.StdEncoding.Strict().DecodeString(s)
			if err != nil {
				p.failf("invalid base64 initial response")
			}
			a.InitialResponse = b
		}
	}
	p.check()
	return a
}

// login: "LOGIN" SP userid SP password (astrings).
func (p *parser) login(cmd *Command) any {
	p.sp()
	user := p.astring()
	p.sp()
	return &LoginCmd{User: user, Password: p.astring()}
}

// enable: "ENABLE" 1*(SP capability) (RFC 5161).
func (p *parser) enable(cmd *Command) any {
	e := &EnableCmd{}
	p.sp()
	e.Caps = append(e.Caps, p.keyword())
	for p.dec.SP() {
		e.Caps = append(e.Caps, p.keyword())
	}
	p.check()
	return e
}

// compress: "COMPRESS" SP algorithm (RFC 4978 5). The algorithm is an
// atom; whether it is supported is the server's business (BAD there).
func (p *parser) compress(cmd *Command) any {
	p.sp()
	return &CompressCmd{Mechanism: p.keyword()}
}

// id: "ID" SP id_params_list (RFC 2971): NIL or "(" #(string SP nstring) ")".
func (p *parser) id(cmd *Command) any {
	p.sp()
	if p.dec.Peek('(') {
		params := map[string]string{}
		p.list(func() {
			k := p.string()
			p.sp()
			var v string
			var isNil bool
			if !p.dec.ExpectNString(&v, &isNil) {
				p.fail()
			}
			params[k] = v
		})
		return &IDCmd{Params: params}
	}
	if !p.dec.ExpectNIL() {
		p.fail()
	}
	return &IDCmd{}
}

// selectCmd: ("SELECT" / "EXAMINE") SP mailbox [SP "(" select-param
// *(SP select-param) ")"] (RFC 4466 2.1, RFC 7162 3.1.8, 3.2.5).
func (p *parser) selectCmd(cmd *Command) any {
	p.sp()
	s := &SelectCmd{Mailbox: p.mailbox(), ReadOnly: cmd.Name == "EXAMINE"}
	if !p.dec.SP() {
		p.check()
		return s
	}
	p.nonEmptyList("select parameter", func() {
		switch param := p.keyword(); param {
		case "CONDSTORE":
			s.CondStore = true
		case "QRESYNC":
			if s.QResync != nil {
				p.failf("duplicate QRESYNC parameter")
			}
			p.sp()
			s.QResync = p.qresync()
		default:
			p.failf("unknown SELECT parameter %s", sanitize(param))
		}
	})
	return s
}

// qresync: "(" uidvalidity SP mod-sequence-value [SP known-uids]
// [SP seq-match-data] ")" (RFC 7162 3.2.5).
func (p *parser) qresync() *QResyncParams {
	q := &QResyncParams{}
	p.special('(')
	q.UIDValidity = mailstore.UIDValidity(p.nzNumber())
	p.sp()
	q.ModSeq = p.modSeq(false)
	if p.dec.SP() {
		if !p.dec.Peek('(') {
			set := p.numSet()
			if set.SearchRes {
				p.failf("\"$\" not allowed in QRESYNC")
			}
			q.KnownUIDs = &set
			if p.dec.SP() {
				q.SeqMatch = p.seqMatch()
			}
		} else {
			q.SeqMatch = p.seqMatch()
		}
	}
	p.special(')')
	return q
}

// seqMatch: "(" known-sequence-set SP known-uid-set ")".
func (p *parser) seqMatch() *struct{ Seqs, UIDs NumSet } {
	m := &struct{ Seqs, UIDs NumSet }{}
	p.special('(')
	m.Seqs = p.numSet()
	p.sp()
	m.UIDs = p.numSet()
	p.special(')')
	if m.Seqs.SearchRes || m.UIDs.SearchRes {
		p.failf("\"$\" not allowed in QRESYNC")
	}
	return m
}

var specialUse = []string{
	mailstore.SpecialAll, mailstore.SpecialArchive, mailstore.SpecialDrafts,
	mailstore.SpecialFlagged, mailstore.SpecialJunk, mailstore.SpecialSent, mailstore.SpecialTrash,
}

// create: "CREATE" SP mailbox [SP "(" create-param *(SP create-param)
// ")"] with "USE" SP "(" [use-attr *(SP use-attr)] ")" (RFC 6154 6).
func (p *parser) create(cmd *Command) any {
	p.sp()
	c := &CreateCmd{Mailbox: p.mailbox()}
	if !p.dec.SP() {
		p.check()
		return c
	}
	p.nonEmptyList("create parameter", func() {
		switch param := p.keyword(); param {
		case "USE":
			p.sp()
			p.list(func() {
				var f string
				if !p.dec.Flag(&f) || !strings.HasPrefix(f, `\`) {
					p.check()
					p.failf("expected special-use attribute")
				}
				for _, su := range specialUse {
					if strings.EqualFold(f, su) {
						f = su
					}
				}
				c.SpecialUse = append(c.SpecialUse, f)
			})
		default:
			p.failf("unknown CREATE parameter %s", sanitize(param))
		}
	})
	return c
}

func (p *parser) deleteCmd(cmd *Command) any {
	p.sp()
	return &DeleteCmd{Mailbox: p.mailbox()}
}

func (p *parser) rename(cmd *Command) any {
	p.sp()
	from := p.mailbox()
	p.sp()
	return &RenameCmd{From: from, To: p.mailbox()}
}

func (p *parser) subscribe(cmd *Command) any {
	p.sp()
	return &SubscribeCmd{Mailbox: p.mailbox(), Unsubscribe: cmd.Name == "UNSUBSCRIBE"}
}

// list_: "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP
// list-return-opts] (RFC 5258 5, RFC 9051 6.3.9).
func (p *parser) list_(cmd *Command) any {
	l := &ListCmd{}
	p.sp()
	if p.dec.Peek('(') {
		l.Extended = true
		l.Selection = []string{}
		p.list(func() {
			switch opt := p.keyword(); opt {
			case "SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE":
				l.Selection = append(l.Selection, opt)
			default:
				// RFC 5258 3.1: unrecognized selection option -> BAD.
				p.failf("unknown LIST selection option %s", sanitize(opt))
			}
		})
		// RFC 5258 3.1: RECURSIVEMATCH alone is an error.
		recursive, other := false, false
		for _, o := range l.Selection {
			if o == "RECURSIVEMATCH" {
				recursive = true
			} else if o != "REMOTE" {
				other = true
			}
		}
		if recursive && !other {
			p.failf("RECURSIVEMATCH needs another selection option")
		}
		p.sp()
	}
	l.Reference = p.mailbox()
	p.sp()
	if p.dec.Peek('(') {
		l.Extended = true
		p.nonEmptyList("pattern", func() {
			l.Patterns = append(l.Patterns, p.listMailbox())
		})
	} else {
		l.Patterns = []string{p.listMailbox()}
	}
	if p.dec.SP() {
		if kw := p.keyword(); kw != "RETURN" {
			p.failf("expected RETURN")
		}
		l.Extended = true
		p.sp()
		p.list(func() {
			switch opt := p.keyword(); opt {
			case "SUBSCRIBED":
				l.ReturnSubscribed = true
			case "CHILDREN":
				l.ReturnChildren = true
			case "SPECIAL-USE":
				l.ReturnSpecialUse = true
			case "STATUS":
				p.sp()
				l.ReturnStatus = p.statusItems()
			default:
				p.failf("unknown LIST return option %s", sanitize(opt))
			}
		})
	}
	p.check()
	return l
}

// lsub: "LSUB" SP mailbox SP list-mailbox (RFC 3501 6.3.9).
func (p *parser) lsub(cmd *Command) any {
	p.sp()
	l := &ListCmd{LSUB: true, Reference: p.mailbox()}
	p.sp()
	l.Patterns = []string{p.listMailbox()}
	return l
}

var statusItems = map[string]bool{
	"MESSAGES": true, "UIDNEXT": true, "UIDVALIDITY": true, "UNSEEN": true,
	"DELETED": true, "SIZE": true, "RECENT": true, "HIGHESTMODSEQ": true,
	"APPENDLIMIT": true, "MAILBOXID": true, "DELETED-STORAGE": true,
}

// statusItems: "(" status-att *(SP status-att) ")".
func (p *parser) statusItems() []string {
	var items []string
	p.nonEmptyList("status item", func() {
		it := p.keyword()
		if !statusItems[it] {
			p.failf("unknown STATUS item %s", sanitize(it))
		}
		items = append(items, it)
	})
	return items
}

// status: "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")".
func (p *parser) status(cmd *Command) any {
	p.sp()
	s := &StatusCmd{Mailbox: p.mailbox()}
	p.sp()
	s.Items = p.statusItems()
	return s
}

// copyCmd: ("COPY" / "MOVE") SP sequence-set SP mailbox.
func (p *parser) copyCmd(cmd *Command) any {
	p.sp()
	c := &CopyCmd{Set: p.numSet(), Move: strings.HasSuffix(cmd.Name, "MOVE")}
	p.sp()
	c.Mailbox = p.mailbox()
	return c
}

// sanitize makes a short, printable excerpt of client text for messages.
func sanitize(s string) string {
	if len(s) > 32 {
		s = s[:32] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r >= 0x7f {
			return '?'
		}
		return r
	}, s)
}

// ReadIdleDone reads the line that ends IDLE (RFC 9051 6.3.13): "DONE"
// (any case) CRLF. Anything else is a *SyntaxError (after the line was
// consumed; the server then ends IDLE with BAD); an I/O error is returned
// as is.
func ReadIdleDone(dec *imapwire.Decoder) error {
	dec.Reset()
	var s string
	if dec.Atom(&s) && strings.EqualFold(s, "DONE") && dec.CRLF() {
		return nil
	}
	err := dec.Err()
	var ioe *imapwire.IOError
	if errors.As(err, &ioe) {
		return ioe.Err
	}
	if derr := dec.DiscardCommand(); derr != nil {
		if errors.As(derr, &ioe) {
			return ioe.Err
		}
		return derr
	}
	se := &SyntaxError{Tag: "*", Msg: "Expected DONE to end IDLE"}
	if errors.Is(err, imapwire.ErrLineTooLong) {
		se.Err = err
	}
	return se
}

var _ = fmt.Sprintf
var _ = io.EOF
