package mailstore

// ChangeStamper is an optional interface of an Account that can tell
// cheaply whether anything was committed to it.
//
// ChangeStamp returns a value that differs, after any commit to the
// account by this process or another one, from every value it returned
// before that commit became visible. A caller reads the stamp before it
// reads the account's state; if a later stamp is equal, nothing was
// committed in between and that state is still current. ok false means
// the store cannot tell right now: read the state.
//
// The IMAP server reads a selected mailbox's changes after every command
// (RFC 9051 section 7: untagged updates at each command's end); with the
// stamp it skips that read transaction when no commit happened, which was
// a fifth of the server's CPU under the caching benchmark.
type ChangeStamper interface {
	ChangeStamp() (stamp uint64, ok bool)
}
