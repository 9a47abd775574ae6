package pop3server

import (
	"errors"

	"github.com/roost-mail/roost/internal/auth"
	"github.com/roost-mail/roost/internal/mailstore"
)

// storeErrorReply maps a storage error to the text of a -ERR reply with an
// RFC 3206 response code: SYS/TEMP when retrying later may help, SYS/PERM
// otherwise (Dovecot's client_send_storage_error). It is the only place
// where store errors become POP3 codes.
func storeErrorReply(err error) string {
	code := "[SYS/PERM] "
	switch mailstore.KindOf(err) {
	case mailstore.KindInternal, mailstore.KindUnavailable, mailstore.KindInUse, mailstore.KindOverQuota:
		code = "[SYS/TEMP] "
	}
	return code + mailstore.PublicMessage(err)
}

// Authentication replies, worded as Dovecot's.
const (
	replyAuthFailed         = "[AUTH] Authentication failed."
	replyAuthTempFail       = "[SYS/TEMP] Temporary authentication failure."
	replyPlaintextDisabled  = "[AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
	replyUnsupportedMech    = "[AUTH] Unsupported authentication mechanism."
	replyAuthAborted        = "Authentication aborted by client."
	replyInvalidBase64Cont  = "[AUTH] Invalid base64 data in continued response."
	replyMaildropLocked     = "[IN-USE] Mailbox is locked by another POP3 session."
	replyUserIPLimitPattern = "[IN-USE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=%d)"
)

// authErrorReply maps an authentication error to the text of a -ERR reply
// (RFC 3206 section 4: AUTH for credential problems, SYS/TEMP for
// temporary failures; RFC 2449 AUTH-RESP-CODE). counts reports whether the
// attempt counts towards MaxAuthFailures: temporary failures do not.
// Unknown user and wrong password are indistinguishable.
func authErrorReply(err error) (reply string, counts bool) {
	switch {
	case errors.Is(err, auth.ErrFailed):
		return replyAuthFailed, true
	case errors.Is(err, auth.ErrPlaintextDisabled):
		return replyPlaintextDisabled, true
	case errors.Is(err, auth.ErrMechanism):
		return replyUnsupportedMech, true
	default: // auth.ErrTempFail and anything unexpected
		return replyAuthTempFail, false
	}
}
