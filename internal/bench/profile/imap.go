package profile

import (
	"context"
	"strconv"
	"strings"

	"github.com/roost-mail/roost/internal/bench/load"
)

// headerFields are the headers a caching client (Thunderbird, K-9, Apple
// Mail) downloads for its message list.
const headerFields = "BODY.PEEK[HEADER.FIELDS (DATE FROM TO CC SUBJECT MESSAGE-ID IN-REPLY-TO REFERENCES CONTENT-TYPE)]"

// caching models a desktop or phone client that keeps a local cache, the
// bulk of real IMAP traffic. A session: LOGIN, SELECT INBOX, fetch the
// headers of messages newer than the last UID it saw (the client remembers
// it per account across sessions; the first session takes the newest 20),
// resynchronise the flags of what it has, then Settings.Cycles (3) cycles
// of a flag change (\Seen, or toggling \Flagged one time in three) and a short IDLE.
// One session in ten new mail "arrives" (an APPEND to INBOX, as the MTA
// would deliver it) and the client expunges its oldest message, so the
// mailbox stays the same size. Then LOGOUT: phones and laptops reconnect
// all the time.
type caching struct{ s Settings }

func (caching) Name() string  { return "caching" }
func (caching) Proto() string { return "imap" }

func (p caching) Session(ctx context.Context, w *load.Worker) error {
	c, err := login(ctx, w)
	if err != nil {
		return err
	}
	defer c.Close()
	sel, err := c.Cmd("SELECT", "SELECT INBOX")
	if err != nil {
		return err
	}
	uidNext := sel.Code("UIDNEXT")
	last, _ := w.State("lastuid").(uint32)
	if last == 0 && uidNext > 21 {
		last = uidNext - 21
	}
	if sel.Exists() > 0 {
		r, err := c.Cmd("UID FETCH headers", "UID FETCH "+strconv.FormatUint(uint64(last)+1, 10)+":* (UID FLAGS RFC822.SIZE "+headerFields+")")
		if err != nil {
			return err
		}
		for _, u := range r.Untagged {
			if u.Kind == "FETCH" && !strings.Contains(u.Line, "BODY[HEADER.FIELDS") {
				return check(w, "UID FETCH headers", "FETCH without the header fields: %.200s", u.Line)
			}
		}
		for _, uid := range r.FetchUIDs() {
			last = max(last, uid)
		}
	}
	w.SetState("lastuid", last)

	// Flag resynchronisation of the cached range (what a client without
	// CONDSTORE does on every connect).
	var uids []uint32
	if last > 0 {
		r, err := c.Cmd("UID FETCH flags", "UID FETCH 1:"+strconv.FormatUint(uint64(last), 10)+" (UID FLAGS)")
		if err != nil {
			return err
		}
		uids = r.FetchUIDs()
		if n := countKind(r, "FETCH"); len(uids) != n {
			return check(w, "UID FETCH flags", "%d FETCH responses but %d with a UID", n, len(uids))
		}
	}

	for cycle := 0; cycle < p.s.Cycles && ctx.Err() == nil; cycle++ {
		if len(uids) > 0 {
			uid := strconv.FormatUint(uint64(uids[w.Rand.IntN(len(uids))]), 10)
			cmd := "UID STORE " + uid + ` +FLAGS (\Seen)`
			if w.Rand.IntN(3) == 0 {
				cmd = "UID STORE " + uid + ` ` + []string{"+", "-"}[w.Rand.IntN(2)] + `FLAGS (\Flagged)`
			}
			r, err := c.Cmd("UID STORE", cmd)
			if err != nil {
				return err
			}
			// RFC 9051 section 6.4.6: the server returns the new flags
			// (our own change, so the message must be reported unless
			// another session expunged it meanwhile).
			if countKind(r, "FETCH") > 1 {
				return check(w, "UID STORE", "%d FETCH responses for one UID", countKind(r, "FETCH"))
			}
		}
		if _, err := c.Idle(ctx, p.s.IdleHold, nil); err != nil {
			return err
		}
	}

	if w.Rand.IntN(10) == 0 && ctx.Err() == nil {
		m := message(p.s.Seed, w.Rand.IntN(100000))
		if _, err := c.Append("APPEND INBOX", "INBOX", appendArgs(m), m.Body); err != nil {
			return err
		}
		r, err := c.Cmd("UID FETCH headers", "UID FETCH "+strconv.FormatUint(uint64(last)+1, 10)+":* (UID FLAGS RFC822.SIZE "+headerFields+")")
		if err != nil {
			return err
		}
		for _, uid := range r.FetchUIDs() {
			last = max(last, uid)
		}
		w.SetState("lastuid", last)
		if len(uids) > 0 {
			oldest := strconv.FormatUint(uint64(uids[0]), 10)
			if _, err := c.Cmd("UID STORE \\Deleted", "UID STORE "+oldest+` +FLAGS.SILENT (\Deleted)`); err != nil {
				return err
			}
			if c.Caps["UIDPLUS"] {
				_, err = c.Cmd("UID EXPUNGE", "UID EXPUNGE "+oldest)
			} else {
				_, err = c.Cmd("EXPUNGE", "EXPUNGE")
			}
			if err != nil {
				return err
			}
		}
	}
	return c.Logout()
}

func countKind(r *load.Response, kind string) int {
	n := 0
	for _, u := range r.Untagged {
		if u.Kind == kind {
			n++
		}
	}
	return n
}

// webmail models a non-caching web client (Roundcube, SOGo): every page
// view is a fresh connection. A session: LOGIN, LIST, SELECT INBOX, FETCH
// a page of 50 (the newest page seven times in ten) with ENVELOPE,
// BODYSTRUCTURE, FLAGS and size, open one or two of them (BODY[], which
// sets \Seen), one SEARCH (unseen, subject or from), LOGOUT.
type webmail struct{ s Settings }

func (webmail) Name() string  { return "webmail" }
func (webmail) Proto() string { return "imap" }

var searchWords = []string{"report", "meeting", "invoice", "release", "schedule", "review"}

func (p webmail) Session(ctx context.Context, w *load.Worker) error {
	c, err := login(ctx, w)
	if err != nil {
		return err
	}
	defer c.Close()
	if r, err := c.Cmd("LIST", `LIST "" "*"`); err != nil {
		return err
	} else if countKind(r, "LIST") == 0 {
		return check(w, "LIST", "no mailboxes listed (not even INBOX)")
	}
	sel, err := c.Cmd("SELECT", "SELECT INBOX")
	if err != nil {
		return err
	}
	n := sel.Exists()
	if n < 0 {
		return check(w, "SELECT", "no EXISTS in the SELECT response")
	}
	if n > 0 {
		pages := (n + 49) / 50
		page := 0
		if w.Rand.IntN(10) >= 7 {
			page = w.Rand.IntN(pages)
		}
		hi := n - page*50
		lo := max(1, hi-49)
		r, err := c.Cmd("FETCH page", "FETCH "+strconv.Itoa(lo)+":"+strconv.Itoa(hi)+" (UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE)")
		if err != nil {
			return err
		}
		if got := countKind(r, "FETCH"); got != hi-lo+1 {
			return check(w, "FETCH page", "%d FETCH responses for %d:%d", got, lo, hi)
		}
		uids := r.FetchUIDs()
		for k := 1 + w.Rand.IntN(2); k > 0 && len(uids) > 0; k-- {
			uid := uids[w.Rand.IntN(len(uids))]
			r, err := c.Cmd("UID FETCH body", "UID FETCH "+strconv.FormatUint(uint64(uid), 10)+" (UID RFC822.SIZE BODY[])")
			if err != nil {
				return err
			}
			if err := checkBodySize(w, r); err != nil {
				return err
			}
		}
	}
	var search string
	switch k := w.Rand.IntN(10); {
	case k < 5:
		search = "UID SEARCH UNSEEN"
	case k < 8:
		search = "UID SEARCH SUBJECT " + searchWords[w.Rand.IntN(len(searchWords))]
	default:
		search = "UID SEARCH FROM " + []string{"alice", "bob", "example.org", "smith"}[w.Rand.IntN(4)]
	}
	r, err := c.Cmd("UID SEARCH", search)
	if err != nil {
		return err
	}
	if _, err := r.SearchResults(); err != nil {
		w.Fail(load.AsError("UID SEARCH", err))
		return err
	}
	return c.Logout()
}

// checkBodySize checks that BODY[]'s literal is as long as RFC822.SIZE
// says (RFC 9051 section 7.5.2: both count the same octets).
func checkBodySize(w *load.Worker, r *load.Response) error {
	for _, u := range r.Untagged {
		if u.Kind != "FETCH" {
			continue
		}
		size, err := strconv.Atoi(load.FetchItem(u, "RFC822.SIZE"))
		if err != nil {
			return check(w, "UID FETCH body", "no RFC822.SIZE in %.200s", u.Line)
		}
		if len(u.Lits) != 1 || u.Lits[0] != size {
			return check(w, "UID FETCH body", "RFC822.SIZE %d but body literals %v", size, u.Lits)
		}
	}
	return nil
}

// appendProfile models sent-mail copies and uploads: LOGIN, one to three
// APPENDs of generated messages (0.3-30 KB, realistic MIME) to Sent with
// \Seen, LOGOUT. A server that answers NO [TRYCREATE] gets a CREATE first,
// as clients do (RFC 9051 section 6.3.12).
type appendProfile struct{ s Settings }

func (appendProfile) Name() string  { return "append" }
func (appendProfile) Proto() string { return "imap" }

func (p appendProfile) Session(ctx context.Context, w *load.Worker) error {
	c, err := login(ctx, w)
	if err != nil {
		return err
	}
	defer c.Close()
	for k := 1 + w.Rand.IntN(3); k > 0 && ctx.Err() == nil; k-- {
		m := message(p.s.Seed, w.Rand.IntN(100000))
		m.Seen = true
		r, err := c.Append("APPEND Sent", "Sent", appendArgs(m), m.Body)
		if err != nil && r != nil && strings.Contains(r.Text, "[TRYCREATE]") {
			if _, err = c.Cmd("CREATE", "CREATE Sent"); err == nil {
				_, err = c.Append("APPEND Sent", "Sent", appendArgs(m), m.Body)
			}
		}
		if err != nil {
			return err
		}
	}
	return c.Logout()
}

// idle models the connections a server holds most of the time: LOGIN,
// SELECT INBOX, IDLE, and wait until the run ends (then DONE, LOGOUT).
// Once every connection is idling the engine reads the server's memory.
type idle struct{ s Settings }

func (idle) Name() string  { return "idle" }
func (idle) Proto() string { return "imap" }

func (p idle) Session(ctx context.Context, w *load.Worker) error {
	c, err := login(ctx, w)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Cmd("SELECT", "SELECT INBOX"); err != nil {
		return err
	}
	// Hold "forever": the engine's context ends the hold.
	if _, err := c.Idle(ctx, 1<<62, w.Ready); err != nil {
		return err
	}
	return c.Logout()
}

// Prepare is the --prepare pseudo-profile: it tops up each user's INBOX
// to s.Messages messages of the corpus (message i of the corpus becomes
// the i-th message, with its date and \Seen flag), so that two servers
// prepared alike hold the same mail, and makes sure Sent exists.
type Prepare struct{ S Settings }

func (Prepare) Name() string  { return "prepare" }
func (Prepare) Proto() string { return "imap" }

func (p Prepare) Session(ctx context.Context, w *load.Worker) error {
	c, err := login(ctx, w)
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := c.CmdMayFail("CREATE", "CREATE Sent")
	if err != nil {
		return err
	}
	_ = r // NO: it exists already
	st, err := c.Cmd("STATUS", "STATUS INBOX (MESSAGES)")
	if err != nil {
		return err
	}
	have := -1
	for _, u := range st.Untagged {
		if u.Kind == "STATUS" {
			if i := strings.Index(u.Line, "MESSAGES "); i >= 0 {
				f := strings.FieldsFunc(u.Line[i+len("MESSAGES "):], func(r rune) bool { return r == ' ' || r == ')' })
				if len(f) > 0 {
					have, _ = strconv.Atoi(f[0])
				}
			}
		}
	}
	if have < 0 {
		return check(w, "STATUS", "no MESSAGES count in STATUS response")
	}
	for i := have; i < p.S.Messages && ctx.Err() == nil; i++ {
		m := message(p.S.Seed, i)
		if _, err := c.Append("APPEND INBOX", "INBOX", appendArgs(m), m.Body); err != nil {
			return err
		}
	}
	return c.Logout()
}
