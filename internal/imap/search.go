package imap

import (
	"strings"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

var searchReturnOpts = map[string]bool{"MIN": true, "MAX": true, "ALL": true, "COUNT": true, "SAVE": true}

// search: "SEARCH" [search-return-opts] [SP "CHARSET" SP charset]
// 1*(SP search-key) (RFC 9051 6.4.4, RFC 4731 3, RFC 5182).
func (p *parser) search(cmd *Command) any {
	s := &SearchCmd{}
	p.sp()
	var kw string
	if p.peekKeyword(&kw) && kw == "RETURN" {
		p.atom()
		p.sp()
		s.Return = []string{}
		p.list(func() {
			opt := p.keyword()
			if !searchReturnOpts[opt] {
				p.failf("unknown SEARCH return option %s", sanitize(opt))
			}
			s.Return = append(s.Return, opt)
		})
		p.sp()
	}
	if p.peekKeyword(&kw) && kw == "CHARSET" {
		p.atom()
		p.sp()
		s.Charset = strings.ToUpper(p.astring())
		p.sp()
	}
	var keys []*SearchKey
	for {
		keys = append(keys, p.searchKey())
		if !p.dec.SP() {
			p.check()
			break
		}
	}
	if len(keys) == 1 {
		s.Key = keys[0]
	} else {
		s.Key = &SearchKey{Op: "AND", Children: keys}
	}
	return s
}

// peekKeyword reports the atom that follows, upper case, without
// consuming it (at most 16 bytes are looked at).
func (p *parser) peekKeyword(kw *string) bool {
	b := p.dec.PeekWhile(isCommandChar, 16)
	if len(b) == 0 || len(b) > 15 {
		return false
	}
	*kw = strings.ToUpper(string(b))
	return true
}

func (p *parser) enter() {
	p.depth++
	if p.depth > p.opts.MaxSearchDepth {
		p.failf("search keys nested too deeply")
	}
}

func (p *parser) searchKey() *SearchKey {
	p.enter()
	defer func() { p.depth-- }()
	b, ok := p.dec.PeekByte()
	if !ok {
		p.fail()
	}
	switch {
	case b == '(':
		k := &SearchKey{Op: "AND"}
		p.nonEmptyList("search key", func() {
			k.Children = append(k.Children, p.searchKey())
		})
		return k
	case b == '*' || b == '$' || b >= '0' && b <= '9':
		return &SearchKey{Op: "SEQSET", Set: p.numSet()}
	}
	op := p.keyword()
	k := &SearchKey{Op: op}
	switch op {
	case "ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN",
		"UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
	case "BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO":
		p.sp()
		k.Text = p.astring()
	case "KEYWORD", "UNKEYWORD":
		p.sp()
		k.Text = p.atom() // flag-keyword
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE":
		p.sp()
		if !p.dec.ExpectDate(&k.Date) {
			p.fail()
		}
	case "HEADER":
		p.sp()
		k.Field = p.astring()
		p.sp()
		k.Text = p.astring()
	case "LARGER", "SMALLER":
		p.sp()
		k.Number = int64(p.number64())
	case "OLDER", "YOUNGER":
		// RFC 5032: "OLDER" SP nz-number / "YOUNGER" SP nz-number.
		p.sp()
		k.Number = int64(p.nzNumber())
	case "NOT":
		p.sp()
		k.Children = []*SearchKey{p.searchKey()}
	case "OR":
		p.sp()
		a := p.searchKey()
		p.sp()
		k.Children = []*SearchKey{a, p.searchKey()}
	case "UID":
		p.sp()
		k.Op, k.Set = "UIDSET", p.numSet()
	case "MODSEQ":
		// RFC 7162 3.1.5: "MODSEQ" [search-modsequence-ext]
		// SP mod-sequence-valzer; search-modsequence-ext = SP entry-name
		// SP entry-type-req.
		p.sp()
		if p.dec.Peek('"') {
			name := p.string()
			if !strings.HasPrefix(strings.ToLower(name), "/flags/") {
				p.failf("invalid MODSEQ entry name")
			}
			p.sp()
			switch t := p.keyword(); t {
			case "PRIV", "SHARED", "ALL":
			default:
				p.failf("invalid MODSEQ entry type")
			}
			p.sp()
		}
		k.ModSeq = p.modSeq(true)
	default:
		p.failf("unknown search key %s", sanitize(op))
	}
	return k
}

var (
	_ = time.Time{}
	_ = mailstore.ModSeq(0)
)
