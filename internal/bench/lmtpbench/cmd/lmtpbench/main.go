// Command lmtpbench drives an LMTP server (see package lmtpbench) and
// writes Maildirs for the import benchmark. bench/lmtp.sh runs it against
// Roost and Dovecot side by side.
//
//	lmtpbench deliver -addr 127.0.0.1:24 -senders 16 -n 2000 -users 50 [-rcpt testuser%d] [-json]
//	lmtpbench maildir -dir DIR -n 10000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/roost-mail/roost/internal/bench/lmtpbench"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: lmtpbench deliver|maildir [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "deliver":
		err = deliver(ctx, os.Args[2:])
	case "maildir":
		err = maildir(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lmtpbench:", err)
		os.Exit(1)
	}
}

func deliver(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("deliver", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:24", "LMTP server: host:port, or a socket path with -unix")
	unix := fs.Bool("unix", false, "addr is a Unix socket")
	senders := fs.Int("senders", 1, "concurrent connections")
	n := fs.Int("n", 1000, "deliveries")
	users := fs.Int("users", 1, "recipients: -rcpt with %d from 1 to users")
	rcpt := fs.String("rcpt", "testuser%d", "recipient pattern")
	seed := fs.Uint64("seed", 1, "message corpus seed")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	fs.Parse(args)
	cfg := lmtpbench.Config{Network: "tcp", Addr: *addr, Senders: *senders, Deliveries: *n, Seed: *seed}
	if *unix {
		cfg.Network = "unix"
	}
	for i := 1; i <= *users; i++ {
		r := *rcpt
		if strings.Contains(r, "%d") {
			r = fmt.Sprintf(r, i)
		}
		cfg.Recipients = append(cfg.Recipients, r)
	}
	res, err := lmtpbench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	fmt.Println(res)
	return nil
}

func maildir(args []string) error {
	fs := flag.NewFlagSet("maildir", flag.ExitOnError)
	dir := fs.String("dir", "", "Maildir to create")
	n := fs.Int("n", 10000, "messages")
	seed := fs.Uint64("seed", 2, "message corpus seed")
	fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("maildir: -dir is required")
	}
	total, err := lmtpbench.WriteMaildir(*dir, *n, *seed)
	if err != nil {
		return err
	}
	fmt.Printf("%d messages, %d bytes in %s\n", *n, total, *dir)
	return nil
}
