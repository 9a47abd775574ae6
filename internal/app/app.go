// Package app is the composition root: it turns a validated configuration
// into a running server (store, authentication, TLS, listeners and protocol
// servers) and shuts it down cleanly. Only app and cli import config.
package app

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/roost-mail/roost/internal/admin"
	"github.com/roost-mail/roost/internal/auth"
	"github.com/roost-mail/roost/internal/config"
	"github.com/roost-mail/roost/internal/delivery"
	"github.com/roost-mail/roost/internal/imapserver"
	"github.com/roost-mail/roost/internal/lmtpserver"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/postgres"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
	"github.com/roost-mail/roost/internal/netserver"
	"github.com/roost-mail/roost/internal/pop3server"
)

// App is a running Roost server.
type App struct {
	cfg      *config.Config
	log      *slog.Logger
	store    mailstore.Store
	auth     *auth.Service
	net      *netserver.Server
	addrs    map[string]net.Addr // listener name -> bound address
	wg       sync.WaitGroup
	errMu    sync.Mutex
	serveErr error
	sessions *admin.Registry // logged-in IMAP/POP3 sessions (roost who, kick)
	admin    *admin.Server   // the admin socket
	settle   chan struct{}   // closed by Shutdown: stops the memory settler (memsettle.go)
}

// storeOpenTimeout bounds connecting to PostgreSQL and applying
// migrations at start.
const storeOpenTimeout = time.Minute

// OpenStore opens the mail store named by mail_location.
func OpenStore(cfg *config.Config, log *slog.Logger) (mailstore.Store, error) {
	switch cfg.MailLocation.Driver {
	case "sqlite":
		return sqlite.Open(sqlite.Options{Dir: cfg.MailLocation.Path, MaxMessageSize: cfg.MaxMailSize, Logger: log,
			Quota: QuotaFunc(cfg, log), Fsync: storeFsync(cfg.MailFsync)})
	case "postgres":
		// Connecting and migrating; a database that does not answer
		// within this fails the start (the service manager retries).
		ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
		defer cancel()
		// Bodies in the object store of mail_blob_location, if set
		// (blobstore.go); nil keeps them in the database.
		blobs, err := OpenBlobs(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return postgres.Open(ctx, postgres.Options{DSN: cfg.MailLocation.DSN, MaxMessageSize: cfg.MaxMailSize, Logger: log,
			Quota: QuotaFunc(cfg, log), Blobs: blobs, Fsync: storeFsync(cfg.MailFsync)})
	}
	return nil, fmt.Errorf("mail_location: unsupported driver %q", cfg.MailLocation.Driver)
}

// storeFsync maps mail_fsync to the SQL stores' setting.
func storeFsync(m config.MailFsync) sqlstore.Fsync {
	switch m {
	case config.FsyncAlways:
		return sqlstore.FsyncAlways
	case config.FsyncNever:
		return sqlstore.FsyncNever
	}
	return sqlstore.FsyncOptimized
}

// NewAuth builds the authentication service from the passdb and auth_*
// settings. One service serves IMAP, POP3 and LMTP, so the auth logging
// settings apply to all of them alike.
func NewAuth(cfg *config.Config, log *slog.Logger) (*auth.Service, error) {
	var dbs []auth.PassdbConfig
	for _, p := range cfg.Passdbs {
		dbs = append(dbs, auth.PassdbConfig{Driver: p.Driver, Path: p.Path, Options: p.Options})
	}
	return auth.New(auth.Options{
		Passdbs:              dbs,
		Mechanisms:           cfg.AuthMechanisms,
		DisablePlaintextAuth: cfg.DisablePlaintextAuth,
		RequireTLS:           cfg.SSL == "required",
		FailureDelay:         cfg.AuthFailureDelay,
		Logger:               log,
		Verbose:              cfg.AuthVerbose,
		VerbosePasswords:     cfg.AuthVerbosePasswords,
		Debug:                cfg.AuthDebug,
		DebugPasswords:       cfg.AuthDebugPasswords,
		AnonymousUsername:    cfg.AuthAnonymousUsername,
		UsernameFormat:       cfg.AuthUsernameFormat,
		Penalty:              penalty(cfg.AuthPenalty),
	})
}

// TLSConfig returns the server TLS configuration, or nil with ssl = no.
func TLSConfig(cfg *config.Config) (*tls.Config, error) {
	if cfg.SSL == "no" {
		return nil, nil
	}
	cert, err := tls.X509KeyPair(cfg.SSLCert.Data, cfg.SSLKey.Data)
	if err != nil {
		return nil, fmt.Errorf("ssl_cert %s / ssl_key %s: %w", cfg.SSLCert.Path, cfg.SSLKey.Path, err)
	}
	// Session tickets stay on (crypto/tls's default, keys rotated by
	// crypto/tls): clients that reconnect often resume without a
	// certificate signature (RFC 8446 2.2).
	return &tls.Config{
		Certificates:     []tls.Certificate{cert},
		MinVersion:       cfg.SSLMinProtocol,
		CurvePreferences: cfg.SSLCurveList,  // nil: Go's default, X25519MLKEM768 first
		CipherSuites:     cfg.SSLCipherList, // TLS 1.2 only; nil: Go's default
	}, nil
}

// StartOptions change how StartWith starts the server.
type StartOptions struct {
	// SwitchUser: when running as root, switch to the configured
	// unprivileged user (default_internal_user, or mail_uid/mail_gid)
	// after binding the listeners and reading the passdb, and before
	// opening the store. roost serve sets it; tests that call Start in
	// their own process do not.
	SwitchUser bool
}

// Start is StartWith without switching user.
func Start(cfg *config.Config, log *slog.Logger) (*App, error) {
	return StartWith(cfg, log, StartOptions{})
}

// StartWith binds every configured listener, reads the passdb, switches
// user (opts.SwitchUser), opens the store and starts serving. It returns
// once all listeners are bound (an error if any cannot be).
func StartWith(cfg *config.Config, log *slog.Logger, opts StartOptions) (*App, error) {
	a := &App{cfg: cfg, log: log, addrs: map[string]net.Addr{}}
	ok := false
	defer func() {
		if !ok {
			if a.net != nil {
				a.net.Shutdown(context.Background())
			}
			a.closeBackends()
		}
	}()
	tlsCfg, err := TLSConfig(cfg)
	if err != nil {
		return nil, err
	}
	a.net = netserver.New(netserver.Options{TLSConfig: tlsCfg, Logger: log,
		MaxPreauthPerIP: noCap(cfg.LoginMaxPreauthPerIP), MaxPreauth: noCap(cfg.LoginMaxPreauth),
		HAProxyTrusted: cfg.HAProxyTrustedNetworks, HAProxyTimeout: cfg.HAProxyTimeout})

	// Listeners first: privileged ports need root, which is gone once the
	// user is switched. Handlers are set below, before anything is served.
	type bound struct {
		ln net.Listener
		l  netserver.Listener
	}
	var all []bound
	for _, proto := range cfg.Protocols {
		if proto != "imap" && proto != "pop3" && proto != "lmtp" {
			log.Warn("protocol not available in this version of Roost, not listening", "protocol", proto)
			continue
		}
		if proto == "lmtp" {
			// LMTP is never authenticated: whoever can connect can deliver
			// to every account. Dovecot has no default inet listener for it.
			for _, il := range cfg.Listeners("lmtp") {
				for _, host := range il.Addresses {
					if ip, err := netip.ParseAddr(host); host != "localhost" && (err != nil || !ip.IsLoopback()) {
						log.Warn("lmtp listener is not on loopback: LMTP has no authentication, anyone who can connect can deliver mail; restrict it with a firewall",
							"listener", il.Name, "address", host)
					}
				}
			}
		}
		for _, il := range cfg.Listeners(proto) {
			for _, host := range il.Addresses {
				l := netserver.Listener{
					Name:        il.Name,
					Protocol:    proto,
					Network:     config.Network(host),
					Address:     net.JoinHostPort(host, strconv.Itoa(il.Port)),
					ImplicitTLS: il.SSL,
					HAProxy:     il.HAProxy,
				}
				ln, err := a.net.Listen(l)
				if err != nil {
					return nil, err
				}
				a.addrs[il.Name] = ln.Addr()
				all = append(all, bound{ln, l})
			}
		}
	}
	for _, ul := range cfg.UnixListeners("lmtp") {
		l := netserver.Listener{Name: ul.Name, Protocol: "lmtp", Network: "unix", Address: ul.Path}
		ln, err := a.net.Listen(l)
		if err != nil {
			return nil, err
		}
		a.addrs[ul.Name] = ln.Addr()
		all = append(all, bound{ln, l})
		if err := socketPermissions(ul); err != nil {
			return nil, fmt.Errorf("unix_listener %s: %w", ul.Name, err)
		}
	}
	if len(all) == 0 {
		return nil, errors.New("no listeners configured: check protocols and service inet_listener settings")
	}

	if a.auth, err = NewAuth(cfg, log); err != nil {
		return nil, err
	}
	if opts.SwitchUser {
		if err := switchUser(cfg, log); err != nil {
			return nil, err
		}
	}
	if a.store, err = OpenStore(cfg, log); err != nil {
		return nil, err
	}

	a.sessions = admin.NewRegistry()
	handlers := map[string]netserver.Handler{}
	for _, proto := range cfg.Protocols {
		switch proto {
		case "pop3":
			uidl, err := uidlFunc(cfg.POP3UIDLFormat)
			if err != nil {
				return nil, err
			}
			handlers[proto] = pop3server.New(pop3server.Options{
				Sessions:             a.sessions,
				Store:                a.store,
				Auth:                 a.auth,
				Greeting:             cfg.LoginGreeting,
				UIDL:                 uidl,
				MaxUserIPConnections: cfg.MailMaxUserIPConnections,
				Logger:               log.With("proto", "pop3"),
			})
		case "imap":
			maxUserIP := cfg.MailMaxUserIPConnections
			if maxUserIP == 0 {
				maxUserIP = -1 // mail_max_userip_connections = 0: no limit, as in Dovecot
			}
			handlers[proto] = imapserver.New(imapserver.Options{
				Sessions:             a.sessions,
				Store:                a.store,
				Auth:                 a.auth,
				Greeting:             cfg.LoginGreeting,
				MaxUserIPConnections: maxUserIP,
				AppendLimit:          cfg.MaxMailSize,
				MaxMailboxes:         noCap(cfg.QuotaMailboxCount),
				QuotaRoot:            cfg.Quota.RootName,
				Logger:               log.With("proto", "imap"),
				Compress:             true,
			})
		case "lmtp":
			users := a.auth
			handlers[proto] = lmtpserver.New(lmtpserver.Options{
				Deliverer:      delivery.New(delivery.Options{Store: a.store, Users: users, Logger: log.With("proto", "lmtp")}),
				Users:          users,
				MaxMessageSize: cfg.MaxMailSize,
				Logger:         log.With("proto", "lmtp"),

				RecipientDelimiter:  cmp.Or(cfg.RecipientDelimiter, "none"),
				SaveToDetailMailbox: cfg.LMTPSaveToDetailMailbox,
				QuotaFullTempfail:   cfg.Quota.FullTempfail,
				RcptCheckQuota:      cfg.Quota.LMTPRcptCheck,
				Store:               a.store,
			})
		}
	}
	// The admin socket (roost who, kick, mailbox, expunge) lives in the
	// data directory, owned by the user the server runs as, mode 0600.
	if a.admin, err = admin.Listen(admin.SocketPath(cfg.MailLocation.Path),
		&admin.Service{Store: a.store, Users: a.auth, Sessions: a.sessions, Checks: healthChecks(cfg, a.auth)}, log.With("proto", "admin")); err != nil {
		return nil, err
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := a.admin.Serve(); err != nil {
			log.Error("admin socket stopped", "err", err)
		}
	}()
	for _, b := range all {
		b.l.Handler = handlers[b.l.Protocol]
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := a.net.Serve(b.ln, b.l); err != nil {
				a.errMu.Lock()
				a.serveErr = err
				a.errMu.Unlock()
				log.Error("listener stopped", "listener", b.l.Name, "err", err)
			}
		}()
	}
	a.settle = make(chan struct{})
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		newMemSettler(log).run(a.settle)
	}()
	ok = true
	return a, nil
}

// uidlFunc returns the POP3 UIDL function for pop3_uidl_format. Formats
// that need per-message data beyond UID and UIDVALIDITY (%m, %g) are refused:
// the store does not keep a header MD5 or GUID yet.
func uidlFunc(format string) (func(mailstore.UID, mailstore.UIDValidity) string, error) {
	needs, err := config.CheckUIDLFormat(format)
	if err != nil {
		return nil, fmt.Errorf("pop3_uidl_format: %w", err)
	}
	if needs.HeaderMD5 || needs.GUID {
		return nil, fmt.Errorf("pop3_uidl_format %q: %%m and %%g are not supported yet; use %%u and %%v", format)
	}
	return func(uid mailstore.UID, v mailstore.UIDValidity) string {
		return config.FormatUIDL(format, uint32(uid), uint32(v), config.UIDLExtra{})
	}, nil
}

// Addr returns the bound address of the named listener ("pop3s"), or nil.
func (a *App) Addr(name string) net.Addr { return a.addrs[name] }

// AdminSocket returns the path of the admin socket.
func (a *App) AdminSocket() string { return a.admin.Path() }

// Store returns the mail store the server uses.
func (a *App) Store() mailstore.Store { return a.store }

// Shutdown stops listening, lets sessions say goodbye, waits for them until
// ctx is done, and closes the store.
func (a *App) Shutdown(ctx context.Context) error {
	if a.admin != nil {
		a.admin.Close()
	}
	if a.settle != nil {
		select {
		case <-a.settle:
		default:
			close(a.settle)
		}
	}
	err := a.net.Shutdown(ctx)
	a.wg.Wait()
	a.closeBackends()
	return err
}

func (a *App) closeBackends() {
	if a.store != nil {
		a.store.Close()
	}
}

// healthChecks are the admin health checks beyond the store's: the
// object store (mail_blob_location) and each SQL passdb.
func healthChecks(cfg *config.Config, as *auth.Service) []admin.Check {
	checks := blobChecks(cfg)
	for _, hc := range as.HealthChecks() {
		checks = append(checks, admin.Check{Name: hc.Name, Fn: hc.Fn})
	}
	return checks
}

// noCap maps a setting's 0 ("no limit") to the negative value the server
// options use for it (their 0 means the default).
func noCap(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// penalty is the auth penalty auth_penalty selects (docs/SECURITY.md
// "Password guessing").
func penalty(on bool) auth.Penalty {
	if on {
		return auth.DefaultPenalty
	}
	return auth.Penalty{}
}
