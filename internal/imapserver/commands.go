package imapserver

import (
	"context"

	"github.com/roost-mail/roost/internal/imap"
)

// state is an IMAP connection state (RFC 9051 3).
type state int

const (
	stateNotAuthenticated state = iota
	stateAuthenticated
	stateSelected
	stateLogout
)

func (st state) String() string {
	switch st {
	case stateNotAuthenticated:
		return "not authenticated"
	case stateAuthenticated:
		return "authenticated"
	case stateSelected:
		return "selected"
	}
	return "logout"
}

// stateSet is a set of states, for the command table.
type stateSet uint8

func states(sts ...state) stateSet {
	var set stateSet
	for _, st := range sts {
		set |= 1 << st
	}
	return set
}

func (set stateSet) has(st state) bool { return set&(1<<st) != 0 }

// Common state sets.
var (
	anyState      = states(stateNotAuthenticated, stateAuthenticated, stateSelected)
	notAuthOnly   = states(stateNotAuthenticated)
	authenticated = states(stateAuthenticated, stateSelected) // RFC 9051 6.3: valid in authenticated and selected
	selectedOnly  = states(stateSelected)
)

// cmdFlags describe how a command interacts with the selected mailbox.
type cmdFlags uint8

const (
	// flagUsesSeqs: the command refers to messages by sequence number
	// (FETCH, STORE, SEARCH, COPY, MOVE without UID). RFC 9051 7.5.1: no
	// untagged EXPUNGE may be sent while it runs nor before its tagged
	// reply; the loop calls syncPending(ctx, false) for it.
	flagUsesSeqs cmdFlags = 1 << iota
	// flagUID: the UID variant of a command.
	flagUID
)

// handler runs a command. It writes untagged responses through s.enc and
// returns nil (tagged "OK <Command> completed."), a *statusError (okText,
// statusNO, statusBAD), a mailstore error (mapped by storeReply), or an
// error that ends the session (errLogout, fatal, bye). It never flushes
// except where the protocol requires it (continuations, STARTTLS, IDLE).
type handler func(s *session, ctx context.Context, cmd *imap.Command) error

// commandSpec is one row of the command table.
type commandSpec struct {
	states stateSet // states the command is valid in; the dispatcher enforces it
	flags  cmdFlags
	run    handler
	// caps lists the capabilities this command implements (e.g. MOVE,
	// UIDPLUS, ESEARCH). A capability in this list is advertised once a
	// command declaring it is registered; see capability.go.
	caps []string
}

// commands is the IMAP command table, keyed by imap.Command.Name (upper
// case, "UID FETCH" for UID variants). Commands of the selected mailbox are
// added by init functions in their own files (cmd_select.go, cmd_fetch.go,
// ...): Go initialises this variable before any init function runs.
var commands = map[string]commandSpec{
	// Any state (RFC 9051 6.1).
	"CAPABILITY": {states: anyState, run: (*session).cmdCapability},
	"NOOP":       {states: anyState, run: (*session).cmdNoop},
	"LOGOUT":     {states: anyState, run: (*session).cmdLogout},
	"ID":         {states: anyState, run: (*session).cmdID, caps: []string{"ID"}}, // RFC 2971 3.1: any state

	// Not authenticated (RFC 9051 6.2).
	"STARTTLS":     {states: notAuthOnly, run: (*session).cmdStartTLS},
	"LOGIN":        {states: notAuthOnly, run: (*session).cmdLogin},
	"AUTHENTICATE": {states: notAuthOnly, run: (*session).cmdAuthenticate, caps: []string{"SASL-IR"}},

	// Authenticated (RFC 9051 6.3).
	// RFC 5161 3.1: ENABLE is valid only in the authenticated state,
	// before any mailbox is selected.
	"ENABLE":      {states: states(stateAuthenticated), run: (*session).cmdEnable, caps: []string{"ENABLE", "UTF8=ACCEPT"}},
	"NAMESPACE":   {states: authenticated, run: (*session).cmdNamespace, caps: []string{"NAMESPACE"}},
	"CREATE":      {states: authenticated, run: (*session).cmdCreate, caps: []string{"CREATE-SPECIAL-USE"}},
	"DELETE":      {states: authenticated, run: (*session).cmdDelete},
	"RENAME":      {states: authenticated, run: (*session).cmdRename},
	"SUBSCRIBE":   {states: authenticated, run: (*session).cmdSubscribe},
	"UNSUBSCRIBE": {states: authenticated, run: (*session).cmdSubscribe},
	"LIST": {states: authenticated, run: (*session).cmdList,
		caps: []string{"LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CHILDREN"}},
	"LSUB":   {states: authenticated, run: (*session).cmdList},
	"STATUS": {states: authenticated, run: (*session).cmdStatus, caps: []string{"STATUS=SIZE"}},
	"APPEND": {states: authenticated, run: (*session).cmdAppend,
		caps: []string{"MULTIAPPEND", "APPENDLIMIT"}},
}
