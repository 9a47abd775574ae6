package imap

import (
	"strconv"
	"strings"

	"github.com/roost-mail/roost/internal/mailstore"
)

// Fetch macros (RFC 9051 6.4.5).
var (
	macroFast = []FetchItem{{Kind: FetchFlags}, {Kind: FetchInternalDate}, {Kind: FetchRFC822Size}}
	macroAll  = append(append([]FetchItem{}, macroFast...), FetchItem{Kind: FetchEnvelope})
	macroFull = append(append([]FetchItem{}, macroAll...), FetchItem{Kind: FetchBody})
)

var simpleFetchAtts = map[string]FetchItemKind{
	"FLAGS":         FetchFlags,
	"INTERNALDATE":  FetchInternalDate,
	"RFC822.SIZE":   FetchRFC822Size,
	"ENVELOPE":      FetchEnvelope,
	"BODYSTRUCTURE": FetchBodyStructure,
	"UID":           FetchUID,
	"MODSEQ":        FetchModSeq,
	"RFC822":        FetchRFC822,
	"RFC822.HEADER": FetchRFC822Header,
	"RFC822.TEXT":   FetchRFC822Text,
	"SAVEDATE":      FetchSaveDate,
	"EMAILID":       FetchEmailID,
	"THREADID":      FetchThreadID,
}

func isFetchAttChar(b byte) bool {
	return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '.' || b == '-'
}

// fetch: "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
// "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers] (RFC 9051 6.4.5,
// RFC 4466 2.4, RFC 7162 3.1.4 CHANGEDSINCE, 3.2.6 VANISHED).
func (p *parser) fetch(cmd *Command) any {
	p.sp()
	f := &FetchCmd{Set: p.numSet()}
	p.sp()
	if p.dec.Peek('(') {
		p.nonEmptyList("fetch item", func() {
			f.Items = append(f.Items, p.fetchAtt())
		})
	} else {
		var kw string
		if p.peekKeyword(&kw) {
			switch kw {
			case "ALL", "FAST", "FULL":
				p.atom()
				f.Macro = kw
				switch kw {
				case "ALL":
					f.Items = append([]FetchItem{}, macroAll...)
				case "FAST":
					f.Items = append([]FetchItem{}, macroFast...)
				case "FULL":
					f.Items = append([]FetchItem{}, macroFull...)
				}
			}
		}
		if f.Macro == "" {
			f.Items = []FetchItem{p.fetchAtt()}
		}
	}
	if p.dec.SP() {
		changed := false
		p.nonEmptyList("fetch modifier", func() {
			switch m := p.keyword(); m {
			case "CHANGEDSINCE":
				p.sp()
				f.ChangedSince = p.modSeq(false)
				changed = true
			case "VANISHED":
				f.Vanished = true
			default:
				p.failf("unknown FETCH modifier %s", sanitize(m))
			}
		})
		// RFC 7162 3.2.6: VANISHED only with UID FETCH and CHANGEDSINCE.
		if f.Vanished && (!cmd.UID || !changed) {
			p.failf("VANISHED requires UID FETCH and CHANGEDSINCE")
		}
	}
	p.check()
	return f
}

func (p *parser) fetchAtt() FetchItem {
	var name string
	if !p.dec.Func(&name, isFetchAttChar) {
		p.check()
		p.failf("expected fetch item")
	}
	name = strings.ToUpper(name)
	if k, ok := simpleFetchAtts[name]; ok {
		return FetchItem{Kind: k}
	}
	it := FetchItem{}
	switch name {
	case "BODY":
		if !p.dec.Peek('[') {
			p.check()
			return FetchItem{Kind: FetchBody}
		}
		it.Kind = FetchBodySection
	case "BODY.PEEK":
		it.Kind, it.Peek = FetchBodySection, true
	case "BINARY":
		it.Kind = FetchBinary
	case "BINARY.PEEK":
		it.Kind, it.Peek = FetchBinary, true
	case "BINARY.SIZE":
		it.Kind = FetchBinarySize
	case "PREVIEW":
		// RFC 8970 3.1: "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"].
		it.Kind = FetchPreview
		if p.dec.PeekString(" (") {
			p.sp()
			p.nonEmptyList("preview modifier", func() {
				if m := p.keyword(); m != "LAZY" {
					p.failf("unknown PREVIEW modifier %s", sanitize(m))
				}
				it.PreviewLazy = true
			})
		}
		return it
	default:
		p.failf("unknown fetch item %s", sanitize(name))
	}
	p.special('[')
	if it.Kind == FetchBodySection {
		it.Section = p.section()
	} else {
		// section-binary = "[" [section-part] "]" (RFC 3516 4.2).
		it.Section.Part = p.sectionPart()
	}
	p.special(']')
	if it.Kind != FetchBinarySize && p.dec.Special('<') {
		// partial = "<" number64 "." nz-number64 ">" (RFC 9051 9).
		off := p.number64()
		p.special('.')
		n := p.number64()
		if n == 0 {
			p.failf("partial count must be non-zero")
		}
		p.special('>')
		it.Partial = &Partial{Offset: int64(off), Count: int64(n)}
	}
	p.check()
	return it
}

// sectionPart reads [nz-number *("." nz-number)] for section-binary.
func (p *parser) sectionPart() []int {
	var s string
	if !p.dec.Func(&s, func(b byte) bool { return b >= '0' && b <= '9' || b == '.' }) {
		p.check()
		return nil
	}
	part, rest := p.splitPart(s)
	if rest != "" {
		p.failf("invalid section part %s", sanitize(s))
	}
	return part
}

// splitPart splits "1.2.TEXT" into its part numbers and the text after.
func (p *parser) splitPart(s string) ([]int, string) {
	var part []int
	for s != "" && s[0] >= '0' && s[0] <= '9' {
		i := strings.IndexByte(s, '.')
		num := s
		if i >= 0 {
			num = s[:i]
		}
		n, err := strconv.ParseUint(num, 10, 32)
		if err != nil || n == 0 {
			p.failf("invalid section part %s", sanitize(num))
		}
		part = append(part, int(n))
		if i < 0 {
			return part, ""
		}
		s = s[i+1:]
		if s == "" {
			p.failf("invalid section: trailing \".\"")
		}
	}
	return part, s
}

// section: section-spec = section-msgtext / (section-part ["."
// section-text]) (RFC 9051 9); section-text adds "MIME" after a part.
func (p *parser) section() Section {
	var sec Section
	var s string
	if !p.dec.Func(&s, isFetchAttChar) {
		p.check()
		return sec
	}
	part, spec := p.splitPart(s)
	sec.Part = part
	spec = strings.ToUpper(spec)
	switch spec {
	case "", "HEADER", "TEXT":
	case "MIME":
		if len(part) == 0 {
			p.failf("MIME section needs a part number")
		}
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		p.sp()
		p.nonEmptyList("header field", func() {
			sec.Fields = append(sec.Fields, p.astring())
		})
	default:
		p.failf("invalid section %s", sanitize(spec))
	}
	sec.Specifier = spec
	return sec
}

// store: "STORE" SP sequence-set [SP "(" "UNCHANGEDSINCE" SP
// mod-sequence-valzer ")"] SP store-att-flags; store-att-flags = (["+" /
// "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag))) (RFC 9051
// 6.4.6, RFC 7162 3.1.3).
func (p *parser) store(cmd *Command) any {
	p.sp()
	s := &StoreCmd{Set: p.numSet()}
	p.sp()
	if p.dec.Peek('(') {
		p.nonEmptyList("store modifier", func() {
			switch m := p.keyword(); m {
			case "UNCHANGEDSINCE":
				p.sp()
				s.UnchangedSince = p.modSeq(true)
				s.HasUnchangedSince = true
			default:
				p.failf("unknown STORE modifier %s", sanitize(m))
			}
		})
		p.sp()
	}
	switch {
	case p.dec.Special('+'):
		s.Op = mailstore.FlagsAdd
	case p.dec.Special('-'):
		s.Op = mailstore.FlagsRemove
	default:
		s.Op = mailstore.FlagsReplace
	}
	var item string
	if !p.dec.Func(&item, isFetchAttChar) {
		p.check()
		p.failf("expected FLAGS")
	}
	switch strings.ToUpper(item) {
	case "FLAGS":
	case "FLAGS.SILENT":
		s.Silent = true
	default:
		p.failf("expected FLAGS, got %s", sanitize(item))
	}
	p.sp()
	if p.dec.Peek('(') {
		if !p.dec.ExpectFlagList(&s.Flags) {
			p.fail()
		}
		return s
	}
	for {
		var f string
		if !p.dec.ExpectFlag(&f) {
			p.fail()
		}
		s.Flags = append(s.Flags, f)
		if !p.dec.SP() {
			p.check()
			return s
		}
	}
}
