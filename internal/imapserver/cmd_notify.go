package imapserver

import (
	"context"
	"slices"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

func init() {
	// RFC 5465 3: NOTIFY is valid in the authenticated and selected states.
	commands["NOTIFY"] = commandSpec{states: authenticated, run: (*session).cmdNotify, caps: []string{"NOTIFY"}}
	capOrder = append(capOrder, "NOTIFY") // RFC 5465; advertised through the row above
}

// cmdNotify is NOTIFY NONE and NOTIFY SET (RFC 5465 3). A successful SET
// replaces the previous one; a failed one leaves it in place (RFC 5465 3:
// "If the NOTIFY command fails, the server MUST keep the previous
// settings" is how Dovecot behaves too).
func (s *session) cmdNotify(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.NotifyCmd)
	if args.None {
		s.stopNotify()
		return nil
	}
	n := &notifyState{}
	names := 0
	for _, g := range args.Groups {
		var ev notifyEvents
		var fetchItems []imap.FetchItem
		for _, e := range g.Events {
			bit, ok := notifyEventBits[e.Name]
			if !ok {
				// RFC 5465 3.1: an event the server cannot deliver fails
				// the whole command with BADEVENT.
				return statusNO(badEventCode, "Unsupported NOTIFY events.")
			}
			ev |= bit
			if e.Fetch != nil {
				fetchItems = e.Fetch
			}
		}
		switch g.Filter {
		case imap.NotifySelected, imap.NotifySelectedDelayed:
			n.selImmediate = g.Filter == imap.NotifySelected
			if fetchItems != nil {
				plan, err := notifyFetchPlan(fetchItems)
				if err != nil {
					return err
				}
				n.selFetch = plan
			}
			continue
		}
		if ev == 0 {
			continue // "NONE" for these mailboxes
		}
		f := notifyFilter{kind: g.Filter, events: ev}
		for _, name := range g.Mailboxes {
			if norm, err := mailstore.NormalizeMailboxName(name); err == nil {
				name = norm
			}
			f.names = append(f.names, name)
		}
		names += len(f.names)
		if f.kind == imap.NotifySubscribed || ev&evSubscriptionChange != 0 {
			n.wantSubs = true
		}
		n.filters = append(n.filters, f)
	}
	if names > maxNotifyNames {
		return statusNO("NOTIFICATIONOVERFLOW", "Too many mailbox names.")
	}

	// Watch first, then read the snapshot: a change committed in between
	// leaves a wake-up behind and is reported at the next sync.
	n.wake, n.stopWatch = s.srv.opts.Store.Watch(s.user)
	if len(n.filters) > 0 {
		if err := s.notifySnapshot(ctx, n); err != nil {
			n.stopWatch()
			return err
		}
	}
	s.stopNotify()
	s.notify = n
	if args.Status {
		// RFC 5465 3.1: with STATUS, a STATUS response for every watched
		// mailbox with message events, the selected one excepted.
		for _, m := range n.sortedBoxes() {
			if s.sel != nil && s.sel.mailbox.ID == m.id {
				continue
			}
			if n.eventsFor(m.name)&evMessage == 0 {
				continue
			}
			st, err := s.acct.Status(ctx, m.name)
			if err != nil {
				if mailstore.KindOf(err) == mailstore.KindNotFound {
					continue
				}
				return wrapf(err, "notify: status %q", m.name)
			}
			s.writeStatus(st, s.notifyStatusItems(), statusExtra{})
		}
	}
	return nil
}

// notifyFetchPlan prepares MessageNew's fetch-att list. A notification
// must not change the message: BODY[...] and BINARY[...] are fetched as
// their .PEEK forms, and RFC822 and RFC822.TEXT (which set \Seen and have
// no .PEEK form) are refused, as are items FETCH refuses.
func notifyFetchPlan(items []imap.FetchItem) (*fetchPlan, error) {
	items = append([]imap.FetchItem(nil), items...)
	for i := range items {
		switch items[i].Kind {
		case imap.FetchBodySection, imap.FetchBinary:
			items[i].Peek = true
		case imap.FetchRFC822, imap.FetchRFC822Text:
			return nil, statusBAD("", "RFC822 and RFC822.TEXT would set \\Seen: use BODY.PEEK[...] in NOTIFY.")
		}
	}
	// Unsolicited FETCH responses carry the UID (RFC 9051 7.5.2).
	return newFetchPlan(items, true)
}

// notifySnapshot fills n's view of the account's mailboxes.
func (s *session) notifySnapshot(ctx context.Context, n *notifyState) error {
	mboxes, err := s.acct.Mailboxes(ctx)
	if err != nil {
		return wrapf(err, "notify: list mailboxes")
	}
	n.boxes = make(map[mailstore.MailboxID]notifyBox, len(mboxes))
	for _, m := range mboxes {
		n.boxes[m.ID] = notifyBox{name: m.Name, uidNext: m.UIDNext, modSeq: m.HighestModSeq}
	}
	if n.wantSubs {
		if n.subs, err = s.subscribedSet(ctx); err != nil {
			return err
		}
	}
	return nil
}

type namedBox struct {
	id   mailstore.MailboxID
	name string
}

// sortedBoxes returns the snapshot's mailboxes ordered by name, INBOX
// first (as LIST orders them).
func (n *notifyState) sortedBoxes() []namedBox {
	out := make([]namedBox, 0, len(n.boxes))
	for id, b := range n.boxes {
		out = append(out, namedBox{id, b.name})
	}
	slices.SortFunc(out, func(a, b namedBox) int {
		switch {
		case a.name == b.name:
			return 0
		case a.name == "INBOX":
			return -1
		case b.name == "INBOX":
			return 1
		case a.name < b.name:
			return -1
		}
		return 1
	})
	return out
}
