package imapserver

import (
	"context"
	"slices"
	"strings"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

// maxListPattern bounds a LIST pattern (after the reference is prepended
// and wildcard runs are collapsed): matching costs pattern × name length
// per mailbox, and no mailbox name is longer than MaxMailboxName.
const maxListPattern = 2 * mailstore.MaxMailboxName

const delim = string(mailstore.HierarchySeparator)

// listNode is one name LIST may show: a mailbox, a subscription, or a
// parent implied by either.
type listNode struct {
	name          string
	mbox          *mailstore.Mailbox // nil: does not exist
	subscribed    bool
	children      bool // has an existing child mailbox
	subscribedSub bool // has a subscribed descendant
}

// cmdList answers LIST (RFC 9051 6.3.9) with the LIST-EXTENDED selection
// and return options (RFC 5258), LIST-STATUS (RFC 5819) and special-use
// attributes (RFC 6154), and LSUB (RFC 3501 6.3.9) for IMAP4rev1 clients.
func (s *session) cmdList(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.ListCmd)
	var selSubscribed, selSpecialUse, selRecursive bool
	for _, o := range args.Selection {
		switch o {
		case "SUBSCRIBED":
			selSubscribed = true
		case "SPECIAL-USE":
			selSpecialUse = true
		case "RECURSIVEMATCH":
			selRecursive = true
		}
	}
	// RFC 5258 3.1: RECURSIVEMATCH "MUST NOT occur as the only selection
	// option (or only with REMOTE)"; the server returns BAD.
	if selRecursive && !selSubscribed && !selSpecialUse {
		return statusBAD("", "RECURSIVEMATCH must be combined with another selection option.")
	}
	if args.ReturnStatus != nil {
		if err := checkStatusItems(args.ReturnStatus); err != nil {
			return err
		}
	}
	resp := "LIST"
	if args.LSUB {
		resp = "LSUB"
		selSubscribed = true
	}

	// RFC 9051 6.3.9: an empty pattern asks for the hierarchy delimiter
	// and the root name: "* LIST (\Noselect) "/" """.
	var patterns []string
	for _, p := range args.Patterns {
		if p == "" {
			if !args.LSUB {
				s.enc.Untagged().Atom(resp).SP().Atom(`(\Noselect)`).SP().Quoted(delim).SP().Quoted("").CRLF()
			}
			continue
		}
		patterns = append(patterns, canonicalPattern(args.Reference, p))
	}
	if len(patterns) == 0 {
		return nil
	}

	mboxes, err := s.acct.Mailboxes(ctx)
	if err != nil {
		return wrapf(err, "list mailboxes")
	}
	var subs []string
	if selSubscribed || args.ReturnSubscribed {
		if subs, err = s.acct.Subscriptions(ctx); err != nil {
			return wrapf(err, "list subscriptions")
		}
	}
	nodes := listTree(mboxes, subs)

	extended := args.Extended || s.rev2
	for _, n := range nodes {
		if !slices.ContainsFunc(patterns, func(p string) bool { return matchPattern(p, n.name) }) {
			continue
		}
		childInfo := false
		switch {
		case selSubscribed:
			// RFC 5258 3.1: SUBSCRIBED returns subscribed names, existing
			// or not; with RECURSIVEMATCH also parents of subscribed
			// names, marked with CHILDINFO.
			childInfo = selRecursive && n.subscribedSub && !args.LSUB
			// RFC 3501 6.3.9: LSUB with "%" returns a level whose
			// children are subscribed as \Noselect.
			implied := args.LSUB && n.subscribedSub && slices.ContainsFunc(patterns, func(p string) bool {
				return strings.HasSuffix(p, "%") && matchPattern(p, n.name)
			})
			if !n.subscribed && !childInfo && !implied {
				continue
			}
		case selSpecialUse:
			// RFC 6154 3: only mailboxes with a special use.
			if n.mbox == nil || n.mbox.SpecialUse == "" {
				continue
			}
		default:
			// Existing mailboxes, and parents of existing mailboxes
			// (RFC 9051 6.3.9: returned with \NonExistent, or \Noselect
			// for IMAP4rev1).
			if n.mbox == nil && !n.children {
				continue
			}
		}
		s.enc.Untagged().Atom(resp).SP().BeginList()
		attrs := s.listAttrs(n, args, selSubscribed, extended)
		for i, a := range attrs {
			if i > 0 {
				s.enc.SP()
			}
			s.enc.Atom(a)
		}
		s.enc.EndList().SP().Quoted(delim).SP().Mailbox(n.name)
		if childInfo {
			// RFC 5258 3.5: mbox-list-extended CHILDINFO.
			s.enc.SP().Atom(`("CHILDINFO" ("SUBSCRIBED"))`)
		}
		s.enc.CRLF()
		if args.ReturnStatus != nil && n.mbox != nil {
			// RFC 5819 2: STATUS follows the LIST response of each
			// selectable mailbox.
			st, err := s.acct.Status(ctx, n.name)
			if err != nil {
				if mailstore.KindOf(err) == mailstore.KindNotFound {
					continue // deleted meanwhile
				}
				return wrapf(err, "status %q", n.name)
			}
			s.writeStatus(st, args.ReturnStatus, s.statusExtra(ctx, st, args.ReturnStatus))
		}
	}
	return nil
}

// listAttrs returns the mailbox attributes of one LIST/LSUB response.
func (s *session) listAttrs(n *listNode, args *imap.ListCmd, selSubscribed, extended bool) []string {
	var attrs []string
	if args.LSUB {
		// RFC 3501 6.3.9: a level returned only because of "%" that is
		// not itself subscribed is \Noselect.
		if !n.subscribed {
			attrs = append(attrs, `\Noselect`)
		}
		return attrs
	}
	if n.mbox == nil {
		// RFC 9051 7.3.1 / RFC 5258: \NonExistent implies \Noselect;
		// IMAP4rev1 clients using the basic syntax know only \Noselect.
		if extended {
			attrs = append(attrs, `\NonExistent`)
		} else {
			attrs = append(attrs, `\Noselect`)
		}
	}
	// RFC 3348 / RFC 5258 4: children are reported always, cheaply known.
	if n.children {
		attrs = append(attrs, `\HasChildren`)
	} else if n.mbox != nil {
		attrs = append(attrs, `\HasNoChildren`)
	}
	if (selSubscribed || args.ReturnSubscribed) && n.subscribed {
		attrs = append(attrs, `\Subscribed`)
	}
	// RFC 6154 2: special-use attributes may be returned always; Dovecot
	// and RFC 9051's examples do.
	if n.mbox != nil && n.mbox.SpecialUse != "" {
		attrs = append(attrs, n.mbox.SpecialUse)
	}
	return attrs
}

// listTree returns every name LIST may show: mailboxes, subscriptions and
// their parents, INBOX first, then sorted by name.
func listTree(mboxes []mailstore.Mailbox, subs []string) []*listNode {
	byName := map[string]*listNode{}
	get := func(name string) *listNode {
		n := byName[name]
		if n == nil {
			n = &listNode{name: name}
			byName[name] = n
		}
		return n
	}
	for i := range mboxes {
		n := get(mboxes[i].Name)
		n.mbox = &mboxes[i]
		for p := range parents(mboxes[i].Name) {
			get(p).children = true
		}
	}
	for _, sub := range subs {
		if mailstore.IsInbox(sub) {
			sub = "INBOX"
		}
		get(sub).subscribed = true
		for p := range parents(sub) {
			get(p).subscribedSub = true
		}
	}
	out := make([]*listNode, 0, len(byName))
	for _, n := range byName {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *listNode) int {
		switch {
		case a.name == "INBOX":
			return -1
		case b.name == "INBOX":
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	return out
}

// parents yields the names of name's ancestors: "a/b/c" yields "a", "a/b".
func parents(name string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for i := 0; i < len(name); i++ {
			if name[i] == mailstore.HierarchySeparator && i > 0 {
				if !yield(name[:i]) {
					return
				}
			}
		}
	}
}

// canonicalPattern joins LIST's reference and pattern (RFC 9051 6.3.9:
// "the reference name and mailbox name arguments are interpreted into a
// canonical form that represents an unambiguous left-to-right
// hierarchy"), spells an INBOX first level in upper case (INBOX is
// case-insensitive), and collapses runs of wildcards.
func canonicalPattern(ref, pattern string) string {
	p := pattern
	if ref != "" && !strings.HasPrefix(pattern, delim) {
		p = ref + pattern
	}
	if len(p) >= 5 && strings.EqualFold(p[:5], "INBOX") && (len(p) == 5 || p[5] == mailstore.HierarchySeparator) {
		p = "INBOX" + p[5:]
	}
	// "**", "%*" and "*%" match what "*" matches; "%%" what "%" matches.
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if (c == '*' || c == '%') && b.Len() > 0 {
			last := b.String()[b.Len()-1]
			if last == '*' || last == '%' {
				if c == '*' && last == '%' {
					s := b.String()
					b.Reset()
					b.WriteString(s[:len(s)-1])
					b.WriteByte('*')
				}
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// matchPattern reports whether name matches a LIST pattern: '*' matches
// any characters, '%' any except the hierarchy separator (RFC 9051
// 6.3.9). It runs in O(len(pattern) × len(name)) time.
func matchPattern(pattern, name string) bool {
	if len(pattern) > maxListPattern {
		return false
	}
	// prev[j]: pattern[:i] matches name[:j].
	prev := make([]bool, len(name)+1)
	cur := make([]bool, len(name)+1)
	prev[0] = true
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		cur[0] = prev[0] && (c == '*' || c == '%')
		for j := 1; j <= len(name); j++ {
			switch c {
			case '*':
				cur[j] = prev[j] || cur[j-1]
			case '%':
				cur[j] = prev[j] || (cur[j-1] && name[j-1] != mailstore.HierarchySeparator)
			default:
				cur[j] = prev[j-1] && name[j-1] == c
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(name)]
}
