package lmtpserver

import (
	"errors"

	"github.com/emersion/go-smtp"

	"github.com/roost-mail/roost/internal/delivery"
	"github.com/roost-mail/roost/internal/mailstore"
)

// dataReply maps the result of saving a message for one recipient to its
// LMTP reply. go-smtp prefixes the text with "<recipient> ". Wording follows
// Dovecot's LMTP ("250 2.0.0 <rcpt> <id> Saved"). A full mailbox is
// permanent (552 5.2.2, RFC 3463 X.2.2 "mailbox full") unless
// quotaTempfail (quota_full_tempfail), then 452 4.2.2 so the MTA retries.
func dataReply(id string, err error, quotaTempfail bool) *smtp.SMTPError {
	r := func(code int, ec smtp.EnhancedCode, msg string) *smtp.SMTPError {
		return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: msg}
	}
	switch {
	case err == nil:
		return r(250, smtp.EnhancedCode{2, 0, 0}, id+" Saved")
	case errors.Is(err, delivery.ErrUnknownUser):
		return r(550, smtp.EnhancedCode{5, 1, 1}, "User doesn't exist")
	}
	switch mailstore.KindOf(err) {
	case mailstore.KindOverQuota:
		return quotaReply(quotaTempfail, "")
	case mailstore.KindTooBig:
		return r(552, smtp.EnhancedCode{5, 3, 4}, "Message too big")
	case mailstore.KindInvalid:
		return r(554, smtp.EnhancedCode{5, 6, 0}, "Invalid message")
	case mailstore.KindNoPerm:
		return r(550, smtp.EnhancedCode{5, 7, 1}, "Delivery not permitted")
	}
	if delivery.Permanent(err) {
		return r(554, smtp.EnhancedCode{5, 0, 0}, "Delivery failed")
	}
	return r(451, smtp.EnhancedCode{4, 3, 0}, "Temporary internal error")
}

// quotaReply is the reply for a recipient whose mailbox is full, after DATA
// (prefix "") or at RCPT (prefix "<rcpt> ", which go-smtp adds itself
// only to replies after DATA). The text is Dovecot's default
// quota_exceeded_message.
func quotaReply(tempfail bool, prefix string) *smtp.SMTPError {
	msg := prefix + "Quota exceeded (mailbox for user is full)"
	if tempfail {
		return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: msg}
	}
	return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: msg}
}
