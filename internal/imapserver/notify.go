package imapserver

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

// NOTIFY (RFC 5465): the session's notification state and delivery. See
// docs/imap-notify.md for the choices.
//
// Changes reach the session as everything else does (DESIGN.md section 1
// decision 3): a wake-up from Store.Watch, then a re-read. For mailboxes
// other than the selected one the session keeps a small snapshot per
// mailbox (name, UIDNEXT, HIGHESTMODSEQ), taken at NOTIFY SET; each sync
// point re-reads the mailbox list (one query) and reports the differences:
// "* LIST" for created, deleted and renamed mailboxes, "* STATUS" for
// mailboxes whose messages changed, and, when SubscriptionChange is asked
// for, "* LIST" for (un)subscribed names. The selected mailbox keeps using
// the selected view (syncPending); NOTIFY adds the FETCH of MessageNew's
// fetch-att list and, for the SELECTED filter, EXPUNGE at any time.

// notifyEvents is a set of NOTIFY events.
type notifyEvents uint8

const (
	evMessageNew notifyEvents = 1 << iota
	evMessageExpunge
	evFlagChange
	evMailboxName
	evSubscriptionChange

	evMessage = evMessageNew | evMessageExpunge | evFlagChange
)

// notifyEventBits maps the supported events (canonical spelling, as the
// grammar returns it) to their bit. AnnotationChange and the METADATA
// events are not supported: we have neither ANNOTATE nor METADATA.
var notifyEventBits = map[string]notifyEvents{
	"MessageNew":         evMessageNew,
	"MessageExpunge":     evMessageExpunge,
	"FlagChange":         evFlagChange,
	"MailboxName":        evMailboxName,
	"SubscriptionChange": evSubscriptionChange,
}

// badEventCode is the NO [BADEVENT (...)] code for an unsupported event:
// it lists the events we support (RFC 5465 8, unsupported-events-code).
const badEventCode = "BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)"

// maxNotifyNames caps the mailbox names of SUBTREE and MAILBOXES filters
// in one NOTIFY SET; above it NOTIFY fails with NO [NOTIFICATIONOVERFLOW]
// (Dovecot's cap is 100 per namespace). Matching is linear in the names.
const maxNotifyNames = 1000

// notifyFilter is one event group for mailboxes other than the selected
// one.
type notifyFilter struct {
	kind   string   // imap.NotifyInboxes, NotifyPersonal, NotifySubscribed, NotifySubtree, NotifyMailboxes
	names  []string // normalized (INBOX upper case) for SUBTREE and MAILBOXES
	events notifyEvents
}

// notifyBox is what the session last knew of a mailbox.
type notifyBox struct {
	name    string
	uidNext mailstore.UID
	modSeq  mailstore.ModSeq
}

// notifyState is the session's NOTIFY SET. Only the session's goroutine
// uses it.
type notifyState struct {
	filters []notifyFilter

	// The selected filter (SELECTED or SELECTED-DELAYED).
	selImmediate bool       // SELECTED: expunges may be sent at any time
	selFetch     *fetchPlan // MessageNew's fetch-att list; nil without one
	// selID and selFetched: the mailbox the MessageNew FETCHes are for,
	// and the highest UID the client has been told about.
	selID      mailstore.MailboxID
	selFetched mailstore.UID

	// boxes is the snapshot of the account's mailboxes; nil when no
	// filter watches other mailboxes.
	boxes map[mailstore.MailboxID]notifyBox
	// subs holds the subscribed names when a filter needs them
	// (SUBSCRIBED, or SubscriptionChange).
	subs     map[string]bool
	wantSubs bool

	// wake is the Store.Watch channel, registered at NOTIFY SET (before
	// the snapshot is read, so no change falls between them); stopWatch
	// ends it (NOTIFY NONE, a new NOTIFY SET, logout).
	wake      <-chan struct{}
	stopWatch func()
}

// eventsFor returns the events the filters ask for the mailbox name.
func (n *notifyState) eventsFor(name string) notifyEvents {
	var ev notifyEvents
	for i := range n.filters {
		if n.filters[i].matches(name, n.subs) {
			ev |= n.filters[i].events
		}
	}
	return ev
}

// matches reports whether the filter selects mailbox name (RFC 5465 6).
func (f *notifyFilter) matches(name string, subs map[string]bool) bool {
	switch f.kind {
	case imap.NotifyPersonal:
		// Every mailbox we have is in the personal namespace.
		return true
	case imap.NotifyInboxes:
		// RFC 5465 6: mailboxes "to which the server may deliver mail".
		// That is INBOX (LMTP's detail delivery, when configured, can
		// target others; see docs/imap-notify.md).
		return name == "INBOX"
	case imap.NotifySubscribed:
		return subs[name]
	case imap.NotifySubtree:
		for _, root := range f.names {
			if name == root || strings.HasPrefix(name, root+delim) {
				return true
			}
		}
	case imap.NotifyMailboxes:
		return slices.Contains(f.names, name)
	}
	return false
}

// stopNotify ends NOTIFY (NOTIFY NONE, a new SET, or session end).
func (s *session) stopNotify() {
	if s.notify != nil && s.notify.stopWatch != nil {
		s.notify.stopWatch()
	}
	s.notify = nil
}

// syncPoint brings the client up to date at a sync point: the end of a
// command (allowExpunge false for commands that use sequence numbers), and
// every wake-up in IDLE or, with NOTIFY, between commands. Without NOTIFY
// it is syncPending.
func (s *session) syncPoint(ctx context.Context, allowExpunge bool) error {
	n := s.notify
	if n == nil {
		return s.syncPending(ctx, allowExpunge)
	}
	if v := s.sel; v != nil {
		if n.selID != v.mailbox.ID {
			// Newly selected: SELECT told the client about every message
			// in the view.
			n.selID, n.selFetched = v.mailbox.ID, v.lastUID()
		}
		// RFC 5465 6.1: with "selected" (not "selected-delayed") the
		// client has agreed to expunges at any time, even during
		// commands that use sequence numbers.
		if err := s.syncPending(ctx, allowExpunge || n.selImmediate); err != nil {
			return err
		}
		if err := s.notifyNewMessages(ctx); err != nil {
			return err
		}
	}
	return s.notifyMailboxes(ctx)
}

// notifyNewMessages sends the MessageNew fetch-att FETCH for the messages
// the last syncPending added to the view (RFC 5465 5.1: after the EXISTS).
func (s *session) notifyNewMessages(ctx context.Context) error {
	n, v := s.notify, s.sel
	last := v.lastUID()
	if n.selFetch == nil || last <= n.selFetched {
		n.selFetched = max(n.selFetched, last)
		return nil
	}
	var uids []mailstore.UID
	for i := len(v.uids) - 1; i >= 0 && v.uids[i] > n.selFetched; i-- {
		if !v.isExpunged(v.uids[i]) {
			uids = append(uids, v.uids[i])
		}
	}
	slices.Reverse(uids)
	n.selFetched = last
	f := &fetcher{plan: n.selFetch, enc: s.enc, open: func(uid mailstore.UID) (mailstore.Body, error) {
		return s.acct.Open(ctx, v.mailbox.ID, uid)
	}}
	err := runFetch(ctx, f, s.acct, v.mailbox.ID, uids, s.fetchMsgsOf(ctx, n.selFetch, uids, nil, nil))
	var st *statusError
	if errors.As(err, &st) {
		// [EXPUNGEISSUED] or [UNKNOWN-CTE] belong to no command here.
		s.log.Debug("imap notify: fetch of new messages incomplete", "user", s.user, "reason", st.text)
		return s.enc.Err()
	}
	return err
}

// notifyMailboxes reports what changed in the mailboxes the filters watch
// since the snapshot, and takes a new snapshot. It writes to s.enc and
// does not flush.
func (s *session) notifyMailboxes(ctx context.Context) error {
	n := s.notify
	if n.boxes == nil {
		return nil
	}
	mboxes, err := s.acct.Mailboxes(ctx)
	if err != nil {
		return wrapf(err, "notify: list mailboxes")
	}
	oldSubs := n.subs
	if n.wantSubs {
		if n.subs, err = s.subscribedSet(ctx); err != nil {
			return err
		}
	}
	exists := make(map[string]bool, len(mboxes))
	var changed []mailstore.Mailbox
	seen := make(map[mailstore.MailboxID]bool, len(mboxes))
	for _, m := range mboxes {
		exists[m.Name] = true
		seen[m.ID] = true
		old, known := n.boxes[m.ID]
		n.boxes[m.ID] = notifyBox{name: m.Name, uidNext: m.UIDNext, modSeq: m.HighestModSeq}
		switch {
		case !known:
			// RFC 5465 5.4: a new mailbox is reported with LIST.
			if n.eventsFor(m.Name)&evMailboxName != 0 {
				s.writeNotifyList(m.Name, n.subs[m.Name], false, "")
			}
			continue
		case old.name != m.Name:
			// RFC 5465 5.4: a rename is a LIST of the new name with the
			// OLDNAME extended data item (RFC 5258 3.5 mbox-list-oldname).
			if (n.eventsFor(m.Name)|n.eventsFor(old.name))&evMailboxName != 0 {
				s.writeNotifyList(m.Name, n.subs[m.Name], false, old.name)
			}
		}
		if m.HighestModSeq == old.modSeq || (s.sel != nil && s.sel.mailbox.ID == m.ID) {
			// Unchanged, or the selected mailbox: its changes go through
			// the selected view.
			continue
		}
		want := n.eventsFor(m.Name) & evMessage
		if want == 0 {
			continue
		}
		if want != evMessage {
			got, err := s.classifyChanges(ctx, m.ID, old)
			if err != nil {
				if mailstore.KindOf(err) == mailstore.KindNotFound {
					continue // deleted meanwhile; the next sync reports it
				}
				return err
			}
			if got&want == 0 {
				continue
			}
		}
		changed = append(changed, m)
	}
	var gone []string
	for id, old := range n.boxes {
		if !seen[id] {
			delete(n.boxes, id)
			if (n.eventsFor(old.name)|eventsIn(n, old.name, oldSubs))&evMailboxName != 0 {
				gone = append(gone, old.name)
			}
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		// RFC 5465 5.4: a deleted mailbox is LIST (\NonExistent).
		s.writeNotifyList(name, false, true, "")
	}
	if n.wantSubs {
		s.notifySubscriptions(oldSubs, exists)
	}
	for _, m := range changed {
		st, err := s.acct.Status(ctx, m.Name)
		if err != nil {
			if mailstore.KindOf(err) == mailstore.KindNotFound {
				continue
			}
			return wrapf(err, "notify: status %q", m.Name)
		}
		s.writeStatus(st, s.notifyStatusItems(), statusExtra{})
	}
	return s.enc.Err()
}

// eventsIn is n.eventsFor with another subscription set (for a mailbox
// that was subscribed before it was deleted).
func eventsIn(n *notifyState, name string, subs map[string]bool) notifyEvents {
	cur := n.subs
	n.subs = subs
	defer func() { n.subs = cur }()
	return n.eventsFor(name)
}

// classifyChanges reads what changed in a mailbox since the snapshot old:
// new messages (UID at or above the old UIDNEXT), flag changes, expunges.
func (s *session) classifyChanges(ctx context.Context, id mailstore.MailboxID, old notifyBox) (notifyEvents, error) {
	c, err := s.acct.Changes(ctx, id, old.modSeq)
	if err != nil {
		return 0, err
	}
	var got notifyEvents
	if len(c.Expunged) > 0 {
		got |= evMessageExpunge
	}
	for i := range c.Updated {
		if c.Updated[i].UID >= old.uidNext {
			got |= evMessageNew
		} else {
			got |= evFlagChange
		}
	}
	return got, nil
}

// notifySubscriptions reports subscription changes (RFC 5465 5.5): LIST
// with \Subscribed for a new subscription, without it for a removed one.
func (s *session) notifySubscriptions(old map[string]bool, exists map[string]bool) {
	n := s.notify
	var names []string
	for name := range n.subs {
		if !old[name] {
			names = append(names, name)
		}
	}
	for name := range old {
		if !n.subs[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if (n.eventsFor(name)|eventsIn(n, name, old))&evSubscriptionChange != 0 {
			s.writeNotifyList(name, n.subs[name], !exists[name], "")
		}
	}
}

// writeNotifyList writes "* LIST (attrs) "/" name" for a mailbox event,
// with the OLDNAME extended item after a rename.
func (s *session) writeNotifyList(name string, subscribed, nonExistent bool, oldName string) {
	s.enc.Untagged().Atom("LIST").SP().BeginList()
	sep := false
	if nonExistent {
		s.enc.Atom(`\NonExistent`)
		sep = true
	}
	if subscribed {
		if sep {
			s.enc.SP()
		}
		s.enc.Atom(`\Subscribed`)
	}
	s.enc.EndList().SP().Quoted(delim).SP().Mailbox(name)
	if oldName != "" {
		s.enc.SP().BeginList().Quoted("OLDNAME").SP().BeginList().Mailbox(oldName).EndList().EndList()
	}
	s.enc.CRLF()
}

// notifyStatusItems are the STATUS items of a notification (RFC 5465 5.2,
// 5.3: MESSAGES and UIDNEXT; UIDVALIDITY so the client can tell a
// recreated mailbox; UNSEEN as Dovecot sends; HIGHESTMODSEQ once CONDSTORE
// is enabled, RFC 5465 5.2).
func (s *session) notifyStatusItems() []string {
	items := []string{"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN"}
	if s.condStore() {
		items = append(items, "HIGHESTMODSEQ")
	}
	return items
}

// subscribedSet returns the subscribed names as a set.
func (s *session) subscribedSet(ctx context.Context) (map[string]bool, error) {
	list, err := s.acct.Subscriptions(ctx)
	if err != nil {
		return nil, wrapf(err, "notify: list subscriptions")
	}
	set := make(map[string]bool, len(list))
	for _, name := range list {
		set[name] = true
	}
	return set, nil
}

// notifyWait runs between two commands while NOTIFY is active and the
// client has nothing more queued: it delivers notifications as changes
// are committed (RFC 5465 4: the server may send them at any time) until
// the client's next command is readable, then returns nil and the loop
// reads it. It uses the reader the way IDLE does (cmd_idle.go): a helper
// goroutine blocks in s.br.Peek(1), which consumes nothing; this goroutine
// touches s.br only after the helper has returned. Output is written and
// flushed by this goroutine only, so the single-writer rule holds.
func (s *session) notifyWait(ctx context.Context) error {
	n := s.notify
	s.conn.SetReadDeadline(time.Now().Add(s.timeout()))
	readable := make(chan error, 1)
	go func() {
		_, err := s.br.Peek(1)
		readable <- err
	}()
	stopReader := func() {
		s.conn.SetReadDeadline(time.Unix(1, 0))
		<-readable
	}
	for {
		select {
		case err := <-readable:
			if err != nil {
				if ctx.Err() != nil {
					return errShutdown
				}
				return fatal(err) // EOF or the inactivity timeout
			}
			return nil
		case <-n.wake:
			// No command is in progress: EXPUNGE only for the SELECTED
			// filter (syncPoint), RFC 9051 7.5.1 otherwise.
			if err := s.syncPoint(ctx, false); err != nil {
				if fatalErr(err) || ctx.Err() != nil {
					stopReader()
					return err
				}
				s.log.Warn("imap notify: sync failed", "user", s.user, "err", err)
			}
			s.writeModSeqReport()
			if err := s.enc.Flush(); err != nil {
				stopReader()
				return fatal(err)
			}
		case <-ctx.Done():
			stopReader()
			return errShutdown
		}
	}
}
