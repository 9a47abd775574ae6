package imap

import "strings"

// NotifyCmd is NOTIFY (RFC 5465 3): "NOTIFY NONE" (None set) or
// "NOTIFY SET [STATUS] event-group ...".
type NotifyCmd struct {
	None bool
	// Status is the status-indicator: send STATUS for every watched
	// mailbox before the tagged OK (RFC 5465 3.1).
	Status bool
	Groups []NotifyGroup
}

// Notify filters (RFC 5465 6), upper case.
const (
	NotifySelected        = "SELECTED"
	NotifySelectedDelayed = "SELECTED-DELAYED"
	NotifyInboxes         = "INBOXES"
	NotifyPersonal        = "PERSONAL"
	NotifySubscribed      = "SUBSCRIBED"
	NotifySubtree         = "SUBTREE"
	NotifyMailboxes       = "MAILBOXES"
)

// NotifyGroup is one event-group: a mailbox filter and its events.
type NotifyGroup struct {
	Filter    string   // one of the Notify* filter constants
	Mailboxes []string // for SUBTREE and MAILBOXES
	// Events is empty for "NONE" (no events for these mailboxes).
	Events []NotifyEvent
}

// NotifyEvent is one event of an event group. Name is the canonical
// spelling of a known event (RFC 5465 5: MessageNew, MessageExpunge,
// FlagChange, AnnotationChange, MailboxName, SubscriptionChange,
// MailboxMetadataChange, ServerMetadataChange) and the atom as given for
// any other (event-ext): whether it is supported is the server's call
// (NO [BADEVENT]), not the grammar's.
type NotifyEvent struct {
	Name string
	// Fetch is MessageNew's fetch-att list; only the selected filters
	// may have one.
	Fetch []FetchItem
}

// Known NOTIFY event names (RFC 5465 5, RFC 5464 for the metadata ones).
var notifyEventNames = []string{
	"MessageNew", "MessageExpunge", "FlagChange", "AnnotationChange",
	"MailboxName", "SubscriptionChange", "MailboxMetadataChange", "ServerMetadataChange",
}

// notify: "NOTIFY" SP ("NONE" / "SET" [SP "STATUS"] SP event-groups)
// (RFC 5465 8).
func (p *parser) notify(cmd *Command) any {
	p.sp()
	n := &NotifyCmd{}
	switch kw := p.keyword(); kw {
	case "NONE":
		n.None = true
		return n
	case "SET":
	default:
		p.failf("expected SET or NONE")
	}
	p.sp()
	if !p.dec.Peek('(') {
		if kw := p.keyword(); kw != "STATUS" {
			p.failf("expected STATUS or event group")
		}
		n.Status = true
		p.sp()
	}
	selected := false
	for {
		g := p.notifyGroup()
		if g.Filter == NotifySelected || g.Filter == NotifySelectedDelayed {
			if selected {
				p.failf("duplicate selected filter")
			}
			selected = true
		}
		n.Groups = append(n.Groups, g)
		if !p.dec.SP() {
			break
		}
	}
	p.check()
	return n
}

// notifyGroup: "(" filter-mailboxes SP events ")".
func (p *parser) notifyGroup() NotifyGroup {
	var g NotifyGroup
	p.special('(')
	g.Filter = p.keyword()
	switch g.Filter {
	case NotifySelected, NotifySelectedDelayed, NotifyInboxes, NotifyPersonal, NotifySubscribed:
	case NotifySubtree, NotifyMailboxes:
		// one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")"
		p.sp()
		if p.dec.Peek('(') {
			p.nonEmptyList("mailbox", func() { g.Mailboxes = append(g.Mailboxes, p.mailbox()) })
		} else {
			g.Mailboxes = []string{p.mailbox()}
		}
	default:
		p.failf("unknown NOTIFY filter %s", sanitize(g.Filter))
	}
	p.sp()
	selected := g.Filter == NotifySelected || g.Filter == NotifySelectedDelayed
	if !p.dec.Peek('(') {
		if kw := p.keyword(); kw != "NONE" {
			p.failf("expected event list or NONE")
		}
		p.special(')')
		return g
	}
	p.nonEmptyList("event", func() {
		ev := NotifyEvent{Name: p.atom()}
		for _, known := range notifyEventNames {
			if strings.EqualFold(ev.Name, known) {
				ev.Name = known
			}
		}
		if ev.Name == "MessageNew" && p.dec.PeekString(" (") {
			// RFC 5465 5.1: the fetch-att list is for the selected
			// mailbox only.
			if !selected {
				p.failf("MessageNew fetch attributes are allowed only for the selected mailbox")
			}
			p.sp()
			p.nonEmptyList("fetch item", func() { ev.Fetch = append(ev.Fetch, p.fetchAtt()) })
		}
		g.Events = append(g.Events, ev)
	})
	if selected {
		// RFC 5465 5: MessageNew and MessageExpunge go together, and
		// FlagChange/AnnotationChange need them (the client could not
		// place a flag change otherwise). Dovecot checks this for the
		// selected filters only; so do we.
		has := map[string]bool{}
		for _, e := range g.Events {
			has[e.Name] = true
		}
		if has["MessageNew"] != has["MessageExpunge"] {
			p.failf("MessageNew and MessageExpunge must be together")
		}
		if (has["FlagChange"] || has["AnnotationChange"]) && !has["MessageNew"] {
			p.failf("FlagChange requires MessageNew and MessageExpunge")
		}
	}
	p.special(')')
	return g
}
