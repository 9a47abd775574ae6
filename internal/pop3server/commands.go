package pop3server

import "context"

// commandEntry is one row of the command table: the states a command is
// valid in and its handler. The dispatcher (session.execute) enforces the
// states; handlers never re-check them.
type commandEntry struct {
	states state
	run    func(s *session, ctx context.Context, cmd *Command) error
}

// commands is the POP3 command table. A handler writes its response without
// flushing and returns an error only to end the session.
var commands = map[string]commandEntry{
	// RFC 2449 section 5: CAPA is valid in both states.
	"CAPA": {stateAny, (*session).cmdCapa},
	"QUIT": {stateAny, (*session).cmdQuit},

	// AUTHORIZATION state (RFC 1939 section 4, RFC 5034, RFC 2595).
	"USER": {stateAuthorization, (*session).cmdUser},
	"PASS": {stateAuthorization, (*session).cmdPass},
	"APOP": {stateAuthorization, (*session).cmdAPOP},
	"AUTH": {stateAuthorization, (*session).cmdAuth},
	"STLS": {stateAuthorization, (*session).cmdSTLS},

	// TRANSACTION state (RFC 1939 section 5, 7).
	"STAT": {stateTransaction, (*session).cmdStat},
	"LIST": {stateTransaction, (*session).cmdList},
	"RETR": {stateTransaction, (*session).cmdRetr},
	"TOP":  {stateTransaction, (*session).cmdTop},
	"DELE": {stateTransaction, (*session).cmdDele},
	"RSET": {stateTransaction, (*session).cmdRset},
	"NOOP": {stateTransaction, (*session).cmdNoop},
	"UIDL": {stateTransaction, (*session).cmdUIDL},
}
