package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/roost-mail/roost/internal/app"
	"github.com/roost-mail/roost/internal/delivery"
	"github.com/roost-mail/roost/internal/mailstore"
)

// runDeliver is the dovecot-lda equivalent: exit 0 once the message is
// durable, 67 (EX_NOUSER) for an unknown user, 77 (EX_NOPERM) for a
// permanent refusal such as a message over the size limit or the quota, 75
// (EX_TEMPFAIL) for anything that may work later, so that the MTA retries;
// with quota_full_tempfail = yes a full mailbox is 75 too.
func runDeliver(e *env) int {
	fs := newFlags(e, "deliver")
	cfgFlag := fs.String("c", "", "configuration `file`")
	user := fs.String("d", "", "destination `user`")
	mailbox := fs.String("m", "", "destination `mailbox` (default INBOX)")
	if err := fs.Parse(e.args); err != nil {
		return exitUsage
	}
	if *user == "" || fs.NArg() > 0 {
		e.errorf("usage: roost deliver [-c FILE] -d USER [-m MAILBOX] < MESSAGE")
		return exitUsage
	}
	cfg := loadConfig(e, configPath(*cfgFlag))
	if cfg == nil {
		return exitTempFail // a broken config must not bounce mail
	}
	log := newLogger(e.stderr, slog.LevelWarn)
	authn, err := app.NewAuth(cfg, log)
	if err != nil {
		e.errorf("%v", err)
		return exitTempFail
	}
	st, err := openStore(e, cfg, log)
	if err != nil {
		e.errorf("%v", err)
		return exitTempFail
	}
	defer st.Close()
	d := delivery.New(delivery.Options{Store: st, Users: authn, Logger: log})
	if _, err := d.Deliver(context.Background(), *user, *mailbox, e.stdin); err != nil {
		e.errorf("deliver to %s: %v", *user, err)
		switch {
		case errors.Is(err, delivery.ErrUnknownUser):
			return exitNoUser
		case mailstore.KindOf(err) == mailstore.KindOverQuota && cfg.Quota.FullTempfail:
			return exitTempFail // quota_full_tempfail = yes, as dovecot-lda
		case delivery.Permanent(err):
			return exitNoPerm
		}
		return exitTempFail
	}
	return exitOK
}

// staticUsers is a delivery.Users that knows a fixed set of names.
type staticUsers []string

func (s staticUsers) LookupUser(_ context.Context, user string) (string, bool, error) {
	for _, u := range s {
		if u == user {
			return u, true, nil
		}
	}
	return "", false, nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
