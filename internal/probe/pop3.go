package probe

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
)

// popClient speaks POP3 (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH RFC 5034).
type popClient struct{ c *conn }

// cmd sends a command and returns the status line.
func (pc *popClient) cmd(line string) (string, error) {
	if err := pc.c.writeLine(line); err != nil {
		return "", err
	}
	r, err := pc.c.readLine()
	if err != nil {
		return "", fmt.Errorf("%s: %w", strings.Fields(line)[0], err)
	}
	return r, nil
}

// capa runs CAPA and returns its lines (nil if the server has no CAPA).
func (pc *popClient) capa() ([]string, error) {
	r, err := pc.cmd("CAPA")
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(r, "+OK") {
		return nil, nil
	}
	var lines []string
	for {
		l, err := pc.c.readLine()
		if err != nil {
			return lines, err
		}
		if l == "." {
			return lines, nil
		}
		lines = append(lines, strings.TrimPrefix(l, "."))
	}
}

func (p *prober) popOpen(ctx context.Context, t Target, starttls bool) (*popClient, string, error) {
	c, err := p.dial(ctx, t)
	if err != nil {
		return nil, "", err
	}
	g, err := c.readLine()
	if err != nil {
		c.close()
		return nil, "", fmt.Errorf("greeting: %w", err)
	}
	if !strings.HasPrefix(g, "+OK") {
		c.close()
		return nil, g, fmt.Errorf("not a POP3 greeting: %q", truncate(g, 80))
	}
	pc := &popClient{c: c}
	if starttls && !t.Implicit() {
		if err := pc.startTLS(t); err != nil {
			c.close()
			return nil, g, err
		}
	}
	return pc, g, nil
}

func (pc *popClient) startTLS(t Target) error {
	r, err := pc.cmd("STLS")
	if err != nil {
		return err
	}
	if !strings.HasPrefix(r, "+OK") {
		return fmt.Errorf("STLS refused: %s", r)
	}
	return pc.c.startTLS(scanConfig(t.Host, 0))
}

func (pc *popClient) quit() {
	_, _ = pc.cmd("QUIT")
	pc.c.close()
}

// implementation returns the CAPA IMPLEMENTATION argument.
func implementation(caps []string) string {
	for _, c := range caps {
		if rest, ok := cutPrefixFold(c, "IMPLEMENTATION "); ok {
			return rest
		}
	}
	return ""
}

// probePOP3 fills s for a POP3 target.
func (p *prober) probePOP3(ctx context.Context, t Target, s *Service) {
	pc, g, err := p.popOpen(ctx, t, false)
	s.Greeting = g
	if err != nil {
		p.fail(s, err)
		return
	}
	s.State = StateOpen
	s.Source, s.Remote = pc.c.nc.LocalAddr().String(), pc.c.nc.RemoteAddr().String()
	s.Banner = AnalyzeBanner(greetingText(s))
	caps, err := pc.capa()
	if err != nil {
		s.Error = err.Error()
		pc.c.close()
		return
	}
	s.Capabilities = caps
	s.StartTLS = hasCap(caps, "STLS")
	s.Implementation = implementation(caps)
	mergeBanner(&s.Banner, AnalyzeBanner(s.Implementation))

	if !t.Implicit() {
		cp := &CleartextProbe{User: hasCap(caps, "USER")}
		for _, m := range saslMechanisms("pop3", caps) {
			if m == "PLAIN" || m == "LOGIN" {
				cp.Mechanisms = append(cp.Mechanisms, m)
			}
		}
		// USER with a random name: a server that refuses cleartext says
		// so here (-ERR [AUTH] ...); one that accepts it wants PASS next.
		r, err := pc.cmd("USER " + randomName())
		if err == nil && strings.HasPrefix(r, "+OK") {
			cp.Processed = true
			r, err = pc.cmd("PASS " + randomName())
		}
		cp.Attempt = r
		if err != nil {
			cp.Attempt = err.Error()
		}
		s.Cleartext = cp
		if err != nil {
			pc.c.close()
			if pc, _, err = p.popOpen(ctx, t, false); err != nil {
				s.Error = err.Error()
				return
			}
		}
		if s.StartTLS {
			if err := pc.startTLS(t); err != nil {
				s.Notes = append(s.Notes, "STLS failed: "+err.Error())
				pc.c.close()
				pc = nil
			} else if caps, err := pc.capa(); err == nil {
				s.CapabilitiesTLS = caps
			} else {
				s.Notes = append(s.Notes, "CAPA after STLS: "+err.Error())
			}
		}
	}

	if pc != nil {
		cur := s.tlsCaps()
		if cur == nil {
			cur = s.Capabilities
		}
		if slices.Contains(saslMechanisms("pop3", cur), "ANONYMOUS") {
			trace := base64.StdEncoding.EncodeToString([]byte("roost-probe"))
			a := &AuthAttempt{Method: "AUTH ANONYMOUS"}
			r, err := pc.cmd("AUTH ANONYMOUS " + trace)
			if err == nil && strings.HasPrefix(r, "+ ") {
				r, err = pc.cmd(trace)
			}
			a.OK, a.Reply = strings.HasPrefix(r, "+OK"), r
			if err != nil {
				a.Reply = err.Error()
			}
			s.Anonymous = a
		}
		pc.quit()
	}

	if t.Implicit() || s.StartTLS {
		s.TLS = scanTLS(ctx, t, p.o.Roots, func(ctx context.Context) (*conn, error) {
			c, err := p.dialRaw(ctx, t)
			if err != nil || t.Implicit() {
				return c, err
			}
			pc := &popClient{c: c}
			if _, err := c.readLine(); err != nil {
				c.close()
				return nil, err
			}
			if r, err := pc.cmd("STLS"); err != nil || !strings.HasPrefix(r, "+OK") {
				c.close()
				return nil, fmt.Errorf("STLS: %v %s", err, r)
			}
			return c, nil
		})
	}

	if p.o.User != "" {
		p.popWithUser(ctx, t, s)
	}
}

// popLogin authenticates with USER/PASS when offered, else AUTH PLAIN.
func popLogin(pc *popClient, caps []string, user, pass string) (ok bool, method, reply string, err error) {
	var r string
	if hasCap(caps, "USER") || !slices.Contains(saslMechanisms("pop3", caps), "PLAIN") {
		method = "USER/PASS"
		r, err = pc.cmd("USER " + user)
		if err == nil && strings.HasPrefix(r, "+OK") {
			r, err = pc.cmd("PASS " + pass)
		}
	} else {
		method = "AUTH PLAIN"
		r, err = pc.cmd("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)))
	}
	if err != nil {
		return false, method, "", err
	}
	return strings.HasPrefix(r, "+OK"), method, r, nil
}

// popWithUser is imapWithUser for POP3: enumeration check, one login,
// CAPA and STAT afterwards.
func (p *prober) popWithUser(ctx context.Context, t Target, s *Service) {
	if strings.ContainsAny(p.o.User+p.o.Password, "\r\n") {
		s.Login = &AuthAttempt{Method: "login", Skipped: "user or password contains a line break"}
		return
	}
	if !p.mayLogin(s, t, "pop3") {
		return
	}
	caps := s.tlsCaps()

	p.checkEnumeration(s, func(u string) (string, time.Duration, error) {
		pc, _, err := p.popOpen(ctx, t, true)
		if err != nil {
			return "", 0, err
		}
		defer pc.quit()
		start := time.Now()
		_, _, reply, err := popLogin(pc, caps, u, randomName())
		return reply, time.Since(start), err
	})

	pc, _, err := p.popOpen(ctx, t, true)
	if err != nil {
		s.Login = &AuthAttempt{Method: "login", Reply: err.Error()}
		return
	}
	defer pc.quit()
	ok, method, reply, err := popLogin(pc, caps, p.o.User, p.o.Password)
	a := &AuthAttempt{Method: method, OK: ok, Reply: reply}
	if err != nil {
		a.Reply = err.Error()
	}
	s.Login = a
	if !ok {
		return
	}
	if c, err := pc.capa(); err == nil {
		s.CapabilitiesLogin = c
	}
	// STAT is read-only; QUIT afterwards deletes nothing (no DELE sent).
	if r, err := pc.cmd("STAT"); err == nil && strings.HasPrefix(r, "+OK") {
		var n int
		if _, err := fmt.Sscan(strings.TrimPrefix(r, "+OK"), &n); err == nil {
			s.Mailbox = &MailboxInfo{Folders: []Folder{{Name: "INBOX", Messages: &n}}}
		}
	}
}
