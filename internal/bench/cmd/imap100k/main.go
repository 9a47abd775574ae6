// Command imap100k times the issue-3 IMAP commands against a server:
//
//	imap100k -addr 127.0.0.1:10143 -user testuser1 -pass pass [-rounds 7] [-json out.json]
//
// and compares two saved runs as a Markdown table:
//
//	imap100k -table roost.json dovecot.json
//
// See package imapbench for what is measured and bench/imap100k.sh for the
// whole side-by-side run.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/roost-mail/roost/internal/bench/imapbench"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:10143", "IMAP server (plain TCP)")
	user := flag.String("user", "testuser1", "user")
	pass := flag.String("pass", "pass", "password")
	name := flag.String("name", "", "server name for reports")
	warmup := flag.Int("warmup", 1, "unmeasured rounds first")
	rounds := flag.Int("rounds", 7, "measured rounds")
	jsonOut := flag.String("json", "", "write the report as JSON here")
	rssPids := flag.String("rss-pids", "", "comma-separated server pids whose RSS to record")
	rssMatch := flag.String("rss-match", "", "also record RSS of processes whose command line contains this")
	verbose := flag.Bool("v", false, "print every command's time")
	table := flag.Bool("table", false, "print a Markdown table comparing the JSON reports given as arguments (first is the subject, second the reference)")
	flag.Parse()
	if *table {
		if flag.NArg() != 2 {
			log.Fatal("-table needs two JSON reports")
		}
		printTable(load(flag.Arg(0)), load(flag.Arg(1)))
		return
	}
	var pids []int
	for _, f := range strings.Split(*rssPids, ",") {
		if p, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
			pids = append(pids, p)
		}
	}
	o := imapbench.Options{Addr: *addr, User: *user, Pass: *pass, Warmup: *warmup, Rounds: *rounds, RSSPids: pids, RSSMatch: *rssMatch}
	if *verbose {
		o.Progress = os.Stderr
	}
	rep, err := imapbench.Run(o)
	if err != nil {
		log.Fatal(err)
	}
	rep.Server = *name
	fmt.Printf("%s %s: %d messages, %d unseen, %d rounds after %d warmup\n", rep.Server, rep.Addr, rep.Exists, rep.Unseen, rep.Rounds, *warmup)
	fmt.Printf("%-36s %10s %10s %10s %12s\n", "command", "median ms", "p90 ms", "min ms", "resp bytes")
	for _, r := range rep.Results {
		fmt.Printf("%-36s %10.1f %10.1f %10.1f %12d\n", r.Name, ms(r.Median), ms(r.P90), ms(r.Min), r.Bytes)
	}
	for _, p := range rep.RSS {
		fmt.Printf("RSS %7d KiB (peak %7d KiB) pid %d %s\n", p.RSSKiB, p.HWMKiB, p.PID, p.Cmdline)
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

func load(path string) *imapbench.Report {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	var r imapbench.Report
	if err := json.Unmarshal(b, &r); err != nil {
		log.Fatalf("%s: %v", path, err)
	}
	return &r
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func printTable(a, b *imapbench.Report) {
	an, bn := a.Server, b.Server
	fmt.Printf("%d messages in INBOX (%s: %d, %s: %d unseen); median and p90 of %d rounds, ms\n\n", a.Exists, an, a.Unseen, bn, b.Unseen, a.Rounds)
	fmt.Printf("| command | %s median | %s p90 | %s median | %s p90 | %s / %s (median) | response bytes (%s / %s) |\n", an, an, bn, bn, an, bn, an, bn)
	fmt.Printf("|---|--:|--:|--:|--:|--:|--:|\n")
	for i, r := range a.Results {
		if i >= len(b.Results) {
			break
		}
		s := b.Results[i]
		ratio := float64(r.Median) / float64(s.Median)
		fmt.Printf("| `%s` | %.1f | %.1f | %.1f | %.1f | %.2f | %d / %d |\n", r.Name, ms(r.Median), ms(r.P90), ms(s.Median), ms(s.P90), ratio, r.Bytes, s.Bytes)
	}
	fmt.Println()
	rss := func(rep *imapbench.Report) string {
		var parts []string
		var total int64
		for _, p := range rep.RSS {
			total += p.RSSKiB
			cl := p.Cmdline
			if len(cl) > 40 {
				cl = cl[:40]
			}
			parts = append(parts, fmt.Sprintf("%s %.1f MiB (peak %.1f)", cl, float64(p.RSSKiB)/1024, float64(p.HWMKiB)/1024))
		}
		return fmt.Sprintf("total %.1f MiB: %s", float64(total)/1024, strings.Join(parts, "; "))
	}
	fmt.Printf("RSS after the runs, session still selected:\n\n- %s: %s\n- %s: %s\n", an, rss(a), bn, rss(b))
}
