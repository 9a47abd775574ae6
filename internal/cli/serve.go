package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/roost-mail/roost/internal/app"
	"github.com/roost-mail/roost/internal/delivery"
)

// shutdownGrace is how long sessions get to finish after SIGTERM before
// their connections are closed.
const shutdownGrace = 10 * time.Second

func runServe(e *env) int {
	fs := newFlags(e, "serve")
	cfgFlag := fs.String("c", "", "configuration `file` (default: the embedded default in -data)")
	dataDir := fs.String("data", DefaultDataDir, "data `directory` of the embedded default")
	debug := fs.Bool("debug", false, "log debug messages")
	if err := fs.Parse(e.args); err != nil {
		return exitUsage
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := newLogger(e.stderr, level)

	path := *cfgFlag
	if path == "" {
		path = os.Getenv("ROOST_CONFIG")
	}
	var emb *app.Embedded
	if path == "" {
		ports := app.UnprivilegedPorts
		if os.Geteuid() == 0 {
			ports = app.StandardPorts
		}
		var err error
		if emb, err = app.PrepareEmbedded(*dataDir, ports); err != nil {
			e.errorf("embedded default: %v", err)
			return exitFailure
		}
		path = emb.ConfigPath
	}
	cfg := loadConfig(e, path)
	if cfg == nil {
		return exitConfig
	}
	// Catch signals before the ports are bound: from then on clients and
	// process managers may see the server as up and stop it.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	if emb != nil && os.Geteuid() == 0 {
		// The embedded default as root: the data directory goes to the
		// unprivileged user Roost switches to.
		id, err := app.ResolveIdentity(cfg)
		if err == nil && !id.Root() {
			err = emb.GiveTo(id)
		}
		if err != nil {
			e.errorf("%v", err)
			return exitFailure
		}
	}
	a, err := app.StartWith(cfg, log, app.StartOptions{SwitchUser: true})
	if err != nil {
		e.errorf("%v", err)
		return exitFailure
	}
	if emb != nil {
		if emb.Created {
			d := delivery.New(delivery.Options{Store: a.Store(), Users: staticUsers{emb.DemoUser}, Logger: log})
			for _, m := range app.SampleMessages(emb.DemoUser, emb.Ports.POP3S, time.Now()) {
				if _, err := d.Deliver(context.Background(), emb.DemoUser, "", bytesReader(m)); err != nil {
					log.Error("sample message", "err", err)
				}
			}
		}
		printWelcome(e, emb)
	}

	s := <-sig
	log.Info("shutting down", "signal", s.String())
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	log.Info("stopped")
	return exitOK
}

func printWelcome(e *env, emb *app.Embedded) {
	fmt.Fprintf(e.stderr, "\nRoost is running on the embedded default (data in %s, loopback only).\n", emb.Dir)
	fmt.Fprintf(e.stderr, "  IMAP  127.0.0.1:%d (STARTTLS)   IMAPS 127.0.0.1:%d\n", emb.Ports.IMAP, emb.Ports.IMAPS)
	fmt.Fprintf(e.stderr, "  POP3  127.0.0.1:%d (STLS)   POP3S 127.0.0.1:%d\n", emb.Ports.POP3, emb.Ports.POP3S)
	if emb.Created {
		fmt.Fprintf(e.stderr, "  A demo account was created: user %q, password %q (also in %s/demo-password).\n",
			emb.DemoUser, emb.DemoPassword, emb.Dir)
	} else {
		fmt.Fprintf(e.stderr, "  Demo account: user %q, password in %s/demo-password.\n", app.DemoUser, emb.Dir)
	}
	fmt.Fprintf(e.stderr, "  Try: curl --cacert %s/cert.pem pop3s://localhost:%d/1 -u %s:PASSWORD\n",
		emb.Dir, emb.Ports.POP3S, app.DemoUser)
	fmt.Fprintf(e.stderr, "   or: curl --cacert %s/cert.pem imaps://localhost:%d/ -u %s:PASSWORD\n",
		emb.Dir, emb.Ports.IMAPS, app.DemoUser)
	fmt.Fprintf(e.stderr, "  Edit %s to change settings; Ctrl-C stops the server.\n\n", emb.ConfigPath)
}
