package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/roost-mail/roost/internal/admin"
	"github.com/roost-mail/roost/internal/config"
)

// roost quota get|recalc -u USER: through the running server's admin
// socket, or on the store directly when no server runs (as the mailbox
// commands). The table is doveadm quota get's: STORAGE in KiB, as IMAP
// GETQUOTA shows it; --json gives octets.

func runQuotaGet(e *env) int    { return quotaCmd(e, "get") }
func runQuotaRecalc(e *env) int { return quotaCmd(e, "recalc") }

func quotaCmd(e *env, verb string) int {
	usage := "quota " + verb + " [-c FILE] -u USER [--json]"
	fs, f := newAdminFlags(e, "quota "+verb, true)
	args, err := parseInterspersed(fs, e.args)
	if err != nil {
		return exitUsage
	}
	if !f.valid(e, usage, len(args) == 0) {
		return exitUsage
	}
	var res admin.QuotaResult
	if code := adminCall(e, *f.cfg, admin.Request{Cmd: "quota." + verb, User: *f.user}, false, &res); code != exitOK {
		return code
	}
	if *f.json {
		printJSON(e, res)
		return exitOK
	}
	root := config.DefaultQuotaRoot
	if cfg := loadConfig(e, configPath(*f.cfg)); cfg != nil {
		root = cfg.Quota.RootName
	}
	if res.Before != nil {
		fmt.Fprintf(e.stdout, "recalculated: storage %d -> %d octets, messages %d -> %d\n",
			res.Before.Storage, res.StorageUsed, res.Before.Messages, res.MessagesUsed)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "Quota name\tType\tValue\tLimit\t%")
	// As doveadm: the percentage of the KiB figures shown.
	usedK, limitK := (res.StorageUsed+1023)/1024, (res.StorageLimit+1023)/1024
	fmt.Fprintf(tw, "%s\tSTORAGE\t%d\t%s\t%s\n", root, usedK, limitText(limitK), percent(usedK, limitK))
	fmt.Fprintf(tw, "%s\tMESSAGE\t%d\t%s\t%s\n", root, res.MessagesUsed, limitText(res.MessagesLimit), percent(res.MessagesUsed, res.MessagesLimit))
	tw.Flush()
	return exitOK
}

// limitText is a limit as doveadm prints it: "-" for none.
func limitText(n int64) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func percent(used, limit int64) string {
	if limit <= 0 {
		return "0"
	}
	return fmt.Sprint(used * 100 / limit)
}
