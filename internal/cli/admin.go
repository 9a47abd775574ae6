package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/roost-mail/roost/internal/admin"
	"github.com/roost-mail/roost/internal/app"
	"github.com/roost-mail/roost/internal/config"
)

// Admin commands talk to the running server over its admin socket
// (admin.sock in the mail_location directory), so that its sessions see
// changes at once. who and kick need the server (exit 69 without it); the
// mailbox commands and expunge open the store themselves when no server
// runs.

// adminFlags are the flags every admin command has.
type adminFlags struct {
	cfg  *string
	user *string
	json *bool
}

func newAdminFlags(e *env, name string, withUser bool) (*flag.FlagSet, adminFlags) {
	fs := newFlags(e, name)
	f := adminFlags{
		cfg:  fs.String("c", "", "configuration `file`"),
		json: fs.Bool("json", false, "print JSON"),
	}
	if withUser {
		f.user = fs.String("u", "", "`user` name")
	}
	return fs, f
}

// adminCall runs req on the running server, or, when none runs and
// needServer is false, on the store opened here. It prints errors and
// returns the exit status.
func adminCall(e *env, cfgFlag string, req admin.Request, needServer bool, result any) int {
	cfg := loadConfig(e, configPath(cfgFlag))
	if cfg == nil {
		return exitConfig
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	path := admin.SocketPath(cfg.MailLocation.Path)
	c, err := admin.Dial(ctx, path)
	switch {
	case err == nil:
		defer c.Close()
		err = c.Call(ctx, req, result)
	case errors.Is(err, admin.ErrNotRunning) && !needServer:
		err = adminLocal(ctx, e, cfg, req, result)
	case errors.Is(err, admin.ErrNotRunning):
		e.errorf("%s: %v; start it with roost serve", req.Cmd, err)
		return exitUnavailable
	}
	if err == nil {
		return exitOK
	}
	var ae *admin.Error
	if !errors.As(err, &ae) {
		e.errorf("%v", err)
		return exitFailure
	}
	e.errorf("%s", ae.Msg)
	switch ae.Code {
	case admin.CodeUsage:
		return exitUsage
	case admin.CodeUnknownUser:
		return exitNoUser
	case admin.CodeUnavailable:
		return exitUnavailable
	}
	return exitFailure
}

// adminLocal runs req against the store opened by this process (no server
// running).
func adminLocal(ctx context.Context, e *env, cfg *config.Config, req admin.Request, result any) error {
	log := slog.New(slog.DiscardHandler)
	users, err := app.NewAuth(cfg, log)
	if err != nil {
		return err
	}
	st, err := openStore(e, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	return admin.Local(ctx, &admin.Service{Store: st, Users: users}, req, result)
}

func printJSON(e *env, v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	fmt.Fprintf(e.stdout, "%s\n", b)
}

// valid reports whether the command line is usable: argsOK (the caller's
// check of the positional arguments) and -u given where the command has
// it. Otherwise it prints the usage once.
func (f adminFlags) valid(e *env, usage string, argsOK bool) bool {
	if !argsOK || f.user != nil && *f.user == "" {
		e.errorf("usage: roost %s", usage)
		return false
	}
	return true
}

func runWho(e *env) int {
	const usage = "who [-c FILE] [--json] [--health]"
	fs, f := newAdminFlags(e, "who", false)
	health := fs.Bool("health", false, "check that the server and its store are reachable (exit 0) or not (exit 1)")
	args, err := parseInterspersed(fs, e.args)
	if err != nil {
		return exitUsage
	}
	if !f.valid(e, usage, len(args) == 0) {
		return exitUsage
	}
	if *health {
		return runHealth(e, *f.cfg, *f.json)
	}
	var who []admin.Session
	if code := adminCall(e, *f.cfg, admin.Request{Cmd: "who"}, true, &who); code != exitOK {
		return code
	}
	if *f.json {
		if who == nil {
			who = []admin.Session{}
		}
		printJSON(e, who)
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tPROTO\tREMOTE\tMAILBOX\tSINCE")
	for _, s := range who {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.User, s.Protocol, s.Remote, s.Mailbox, s.Since.Local().Format(time.DateTime))
	}
	tw.Flush()
	return exitOK
}

func runKick(e *env) int {
	const usage = "kick [-c FILE] -u USER [--json]"
	fs, f := newAdminFlags(e, "kick", true)
	args, err := parseInterspersed(fs, e.args)
	if err != nil {
		return exitUsage
	}
	if len(args) == 1 && *f.user == "" {
		*f.user = args[0] // doveadm kick USER
		args = nil
	}
	if !f.valid(e, usage, len(args) == 0) {
		return exitUsage
	}
	var res admin.KickResult
	if code := adminCall(e, *f.cfg, admin.Request{Cmd: "kick", User: *f.user}, true, &res); code != exitOK {
		return code
	}
	if *f.json {
		printJSON(e, res)
	} else {
		fmt.Fprintf(e.stdout, "kicked %d session(s) of %s\n", res.Kicked, *f.user)
	}
	if res.Pending > 0 {
		e.errorf("%d session(s) of %s have not ended yet", res.Pending, *f.user)
		return exitFailure
	}
	return exitOK
}

func runMailboxList(e *env) int {
	const usage = "mailbox list [-c FILE] -u USER [--json]"
	fs, f := newAdminFlags(e, "mailbox list", true)
	args, err := parseInterspersed(fs, e.args)
	if err != nil {
		return exitUsage
	}
	if !f.valid(e, usage, len(args) == 0) {
		return exitUsage
	}
	var list []admin.MailboxInfo
	if code := adminCall(e, *f.cfg, admin.Request{Cmd: "mailbox.list", User: *f.user}, false, &list); code != exitOK {
		return code
	}
	if *f.json {
		printJSON(e, list)
		return exitOK
	}
	for _, m := range list {
		fmt.Fprintln(e.stdout, m.Name)
	}
	return exitOK
}

func runMailboxCreate(e *env) int { return mailboxChange(e, "create", 1) }
func runMailboxDelete(e *env) int { return mailboxChange(e, "delete", 1) }
func runMailboxRename(e *env) int { return mailboxChange(e, "rename", 2) }

func mailboxChange(e *env, verb string, nargs int) int {
	usage := "mailbox " + verb + " [-c FILE] -u USER NAME"
	if nargs == 2 {
		usage += " NEWNAME"
	}
	fs, f := newAdminFlags(e, "mailbox "+verb, true)
	special := new(string)
	if verb == "create" {
		usage = "mailbox create [-c FILE] -u USER [-s SPECIAL-USE] NAME"
		special = fs.String("s", "", "special-use `attribute` (\\Archive, \\Drafts, \\Junk, \\Sent, \\Trash, ...)")
	}
	args, err := parseInterspersed(fs, e.args)
	if err != nil {
		return exitUsage
	}
	if !f.valid(e, usage, len(args) == nargs) {
		return exitUsage
	}
	req := admin.Request{Cmd: "mailbox." + verb, User: *f.user, Mailbox: args[0], SpecialUse: *special}
	if nargs == 2 {
		req.NewName = args[1]
	}
	var res map[string]string
	if code := adminCall(e, *f.cfg, req, false, &res); code != exitOK {
		return code
	}
	if *f.json {
		printJSON(e, res)
	}
	return exitOK
}

func runMailboxStatus(e *env) int {
	const usage = "mailbox status [-c FILE] -u USER [--json] NAME"
	fs, f := newAdminFlags(e, "mailbox status", true)
	args, err := parseInterspersed(fs, e.args)
	if err != nil {
		return exitUsage
	}
	if !f.valid(e, usage, len(args) == 1) {
		return exitUsage
	}
	var st admin.MailboxStatus
	if code := adminCall(e, *f.cfg, admin.Request{Cmd: "mailbox.status", User: *f.user, Mailbox: args[0]}, false, &st); code != exitOK {
		return code
	}
	if *f.json {
		printJSON(e, st)
		return exitOK
	}
	// doveadm mailbox status style: key=value.
	fmt.Fprintf(e.stdout, "messages=%d unseen=%d size=%d uidvalidity=%d uidnext=%d highestmodseq=%d\n",
		st.Messages, st.Unseen, st.Size, st.UIDValidity, st.UIDNext, st.HighestModSeq)
	return exitOK
}

func runExpunge(e *env) int {
	const usage = "expunge [-c FILE] -u USER -m MAILBOX [--json] SEARCH-QUERY"
	fs, f := newAdminFlags(e, "expunge", true)
	mailbox := fs.String("m", "", "`mailbox`")
	args, err := parseInterspersed(fs, e.args)
	if err != nil {
		return exitUsage
	}
	if !f.valid(e, usage, len(args) > 0 && *mailbox != "") {
		return exitUsage
	}
	query := searchQuery(args)
	if _, _, err := admin.ParseSearch(query); err != nil {
		e.errorf("%v", err)
		return exitUsage
	}
	var res admin.ExpungeResult
	if code := adminCall(e, *f.cfg, admin.Request{Cmd: "expunge", User: *f.user, Mailbox: *mailbox, Query: query}, false, &res); code != exitOK {
		return code
	}
	if *f.json {
		printJSON(e, res)
	} else {
		fmt.Fprintf(e.stdout, "expunged %d message(s) from %s\n", len(res.Expunged), res.Mailbox)
	}
	return exitOK
}

// searchQuery joins the words of a search query. One argument is the whole
// query ('SEEN SUBJECT "a b"'); of several, an argument the shell unquoted
// that holds spaces or quotes (SUBJECT "a b" typed unquoted-by-shell) is
// quoted again as an IMAP string.
func searchQuery(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	words := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"\\") {
			a = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a) + `"`
		}
		words[i] = a
	}
	return strings.Join(words, " ")
}
