package probe

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
)

// imapClient sends tagged commands and collects their responses.
type imapClient struct {
	c *conn
	n int
}

// cmd sends one command and reads until its tagged reply. A continuation
// request ("+") is answered with the next of conts, or "*" (cancel) when
// none is left, so an unexpected challenge cannot hang the probe.
func (ic *imapClient) cmd(command string, conts ...string) (untagged []string, tagged imapResp, err error) {
	ic.n++
	tag := fmt.Sprintf("p%d", ic.n)
	if err := ic.c.writeLine(tag + " " + command); err != nil {
		return nil, tagged, err
	}
	for {
		line, err := ic.c.readIMAP()
		if err != nil {
			return untagged, tagged, fmt.Errorf("%s: %w", strings.Fields(command)[0], err)
		}
		switch {
		case strings.HasPrefix(line, "+"):
			next := "*"
			if len(conts) > 0 {
				next, conts = conts[0], conts[1:]
			}
			if err := ic.c.writeLine(next); err != nil {
				return untagged, tagged, err
			}
		case strings.HasPrefix(line, tag+" "):
			return untagged, parseIMAPResp(line), nil
		default:
			untagged = append(untagged, line)
		}
	}
}

// capabilities runs CAPABILITY and returns the list (upper-cased names kept
// as sent).
func (ic *imapClient) capabilities() ([]string, error) {
	un, tr, err := ic.cmd("CAPABILITY")
	if err != nil {
		return nil, err
	}
	if tr.Status != "OK" {
		return nil, fmt.Errorf("CAPABILITY: %s", tr.Raw)
	}
	var caps []string
	for _, l := range un {
		if rest, ok := cutPrefixFold(l, "* CAPABILITY "); ok {
			caps = append(caps, strings.Fields(rest)...)
		}
	}
	return caps, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// imapOpen dials, runs TLS for imaps, reads the greeting and, when
// starttls is set on a plain port, upgrades the connection.
func (p *prober) imapOpen(ctx context.Context, t Target, starttls bool) (*imapClient, string, error) {
	c, err := p.dial(ctx, t)
	if err != nil {
		return nil, "", err
	}
	ic := &imapClient{c: c}
	g, err := c.readIMAP()
	if err != nil {
		c.close()
		return nil, "", fmt.Errorf("greeting: %w", err)
	}
	if !strings.HasPrefix(g, "* ") {
		c.close()
		return nil, g, fmt.Errorf("not an IMAP greeting: %q", truncate(g, 80))
	}
	if starttls && !t.Implicit() {
		if err := ic.startTLS(t); err != nil {
			c.close()
			return nil, g, err
		}
	}
	return ic, g, nil
}

func (ic *imapClient) startTLS(t Target) error {
	_, tr, err := ic.cmd("STARTTLS")
	if err != nil {
		return err
	}
	if tr.Status != "OK" {
		return fmt.Errorf("STARTTLS refused: %s", tr.Raw)
	}
	return ic.c.startTLS(scanConfig(t.Host, 0))
}

// logout ends the session politely and closes the connection.
func (ic *imapClient) logout() {
	_, _, _ = ic.cmd("LOGOUT")
	ic.c.close()
}

// probeIMAP fills s for an IMAP target.
func (p *prober) probeIMAP(ctx context.Context, t Target, s *Service) {
	ic, g, err := p.imapOpen(ctx, t, false)
	s.Greeting = g
	if err != nil {
		p.fail(s, err)
		return
	}
	s.State = StateOpen
	s.Source, s.Remote = ic.c.nc.LocalAddr().String(), ic.c.nc.RemoteAddr().String()
	s.Banner = AnalyzeBanner(greetingText(s))
	if parseIMAPResp(g).Status == "BYE" {
		s.Error = "server refused the connection: " + g
		ic.c.close()
		return
	}
	if parseIMAPResp(g).Status == "PREAUTH" {
		s.Notes = append(s.Notes, "server greets with PREAUTH: no login needed")
	}
	caps, err := ic.capabilities()
	if err != nil {
		s.Error = err.Error()
		ic.c.close()
		return
	}
	s.Capabilities = caps
	s.StartTLS = hasCap(caps, "STARTTLS")

	// RFC 2971: ID is allowed before login; many servers name themselves.
	if un, tr, err := ic.cmd(`ID ("name" "roost-probe")`); err == nil && tr.Status == "OK" {
		for _, l := range un {
			if rest, ok := cutPrefixFold(l, "* ID "); ok {
				for _, tok := range tokenize(rest) {
					if list, ok := tok.([]any); ok {
						for _, v := range list {
							if sv, ok := v.(string); ok {
								s.ID = append(s.ID, sv)
							} else {
								s.ID = append(s.ID, "NIL")
							}
						}
					}
				}
			}
		}
		mergeBanner(&s.Banner, AnalyzeBanner(strings.Join(s.ID, " ")))
	}

	if !t.Implicit() {
		cp := &CleartextProbe{LoginDisabled: hasCap(caps, "LOGINDISABLED")}
		for _, m := range saslMechanisms("imap", caps) {
			if m == "PLAIN" || m == "LOGIN" {
				cp.Mechanisms = append(cp.Mechanisms, m)
			}
		}
		// A login with a random user name and password: it reveals
		// nothing, and the answer shows whether the server would check a
		// password sent in the clear.
		un, tr, err := ic.cmd("LOGIN " + quoteIMAP(randomName()) + " " + quoteIMAP(randomName()))
		if err != nil {
			cp.Attempt = err.Error()
		} else {
			cp.Attempt = tr.Raw[strings.IndexByte(tr.Raw, ' ')+1:]
			refusedUntagged := slices.ContainsFunc(un, func(l string) bool { return strings.HasPrefix(strings.ToUpper(l), "* BAD") })
			cp.Processed = tr.Status == "NO" && tr.codeName() != "PRIVACYREQUIRED" && !refusedUntagged
		}
		s.Cleartext = cp
		if err != nil { // the server hung up after the failed login: reconnect for STARTTLS
			ic.c.close()
			if ic, _, err = p.imapOpen(ctx, t, false); err != nil {
				s.Error = err.Error()
				return
			}
		}
		if s.StartTLS {
			if err := ic.startTLS(t); err != nil {
				s.Notes = append(s.Notes, "STARTTLS failed: "+err.Error())
				ic.c.close()
				ic = nil
			} else if caps, err := ic.capabilities(); err == nil {
				s.CapabilitiesTLS = caps
			} else {
				s.Notes = append(s.Notes, "CAPABILITY after STARTTLS: "+err.Error())
			}
		}
	}

	// SASL ANONYMOUS, only when offered (on the TLS connection if any).
	if ic != nil {
		cur := s.tlsCaps()
		if cur == nil {
			cur = s.Capabilities
		}
		if slices.Contains(saslMechanisms("imap", cur), "ANONYMOUS") {
			trace := base64.StdEncoding.EncodeToString([]byte("roost-probe"))
			a := &AuthAttempt{Method: "AUTHENTICATE ANONYMOUS"}
			var tr imapResp
			var err error
			if hasCap(cur, "SASL-IR") {
				_, tr, err = ic.cmd("AUTHENTICATE ANONYMOUS " + trace)
			} else {
				_, tr, err = ic.cmd("AUTHENTICATE ANONYMOUS", trace)
			}
			if err != nil {
				a.Reply = err.Error()
			} else {
				a.OK, a.Reply = tr.Status == "OK", tr.Raw[strings.IndexByte(tr.Raw, ' ')+1:]
			}
			s.Anonymous = a
		}
		ic.logout()
	}

	if t.Implicit() || s.StartTLS {
		s.TLS = scanTLS(ctx, t, p.o.Roots, func(ctx context.Context) (*conn, error) {
			c, err := p.dialRaw(ctx, t)
			if err != nil || t.Implicit() {
				return c, err
			}
			ic := &imapClient{c: c}
			if _, err := c.readIMAP(); err != nil {
				c.close()
				return nil, err
			}
			if _, tr, err := ic.cmd("STARTTLS"); err != nil || tr.Status != "OK" {
				c.close()
				return nil, fmt.Errorf("STARTTLS: %v %s", err, tr.Raw)
			}
			return c, nil
		})
	}

	if p.o.User != "" {
		p.imapWithUser(ctx, t, s)
	}
}

// imapLogin authenticates ic with user and password: AUTHENTICATE PLAIN
// when offered (no quoting issues), else LOGIN.
func imapLogin(ic *imapClient, caps []string, user, pass string) (ok bool, method, reply string, err error) {
	var tr imapResp
	if slices.Contains(saslMechanisms("imap", caps), "PLAIN") {
		method = "AUTHENTICATE PLAIN"
		ir := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
		if hasCap(caps, "SASL-IR") {
			_, tr, err = ic.cmd("AUTHENTICATE PLAIN " + ir)
		} else {
			_, tr, err = ic.cmd("AUTHENTICATE PLAIN", ir)
		}
	} else {
		method = "LOGIN"
		_, tr, err = ic.cmd("LOGIN " + quoteIMAP(user) + " " + quoteIMAP(pass))
	}
	if err != nil {
		return false, method, "", err
	}
	return tr.Status == "OK", method, tr.Raw[strings.IndexByte(tr.Raw, ' ')+1:], nil
}

// imapWithUser runs the enumeration check and the one real login, once per
// host for IMAP, over TLS only.
func (p *prober) imapWithUser(ctx context.Context, t Target, s *Service) {
	if !p.mayLogin(s, t, "imap") {
		return
	}
	caps := s.tlsCaps()

	// Enumeration: a wrong password for the given user vs an unknown user.
	p.checkEnumeration(s, func(u string) (string, time.Duration, error) {
		ic, _, err := p.imapOpen(ctx, t, true)
		if err != nil {
			return "", 0, err
		}
		defer ic.logout()
		start := time.Now()
		_, _, reply, err := imapLogin(ic, caps, u, randomName())
		return reply, time.Since(start), err
	})

	ic, _, err := p.imapOpen(ctx, t, true)
	if err != nil {
		s.Login = &AuthAttempt{Method: "login", Reply: err.Error()}
		return
	}
	defer ic.logout()
	ok, method, reply, err := imapLogin(ic, caps, p.o.User, p.o.Password)
	a := &AuthAttempt{Method: method, OK: ok, Reply: reply}
	if err != nil {
		a.Reply = err.Error()
	}
	s.Login = a
	if !ok {
		return
	}
	if c, err := ic.capabilities(); err == nil {
		s.CapabilitiesLogin = c
	}
	m := &MailboxInfo{}
	s.Mailbox = m
	if hasCap(s.CapabilitiesLogin, "NAMESPACE") {
		if un, tr, err := ic.cmd("NAMESPACE"); err == nil && tr.Status == "OK" {
			for _, l := range un {
				if rest, ok := cutPrefixFold(l, "* NAMESPACE "); ok {
					m.Namespace = rest
					toks := tokenize(rest)
					// RFC 2342 5: personal, other users', shared.
					for i := 1; i < len(toks) && i < 3; i++ {
						if _, isList := toks[i].([]any); isList {
							m.Shared = true
						}
					}
				}
			}
		}
	}
	if un, tr, err := ic.cmd(`LIST "" *`); err == nil && tr.Status == "OK" {
		for _, l := range un {
			rest, ok := cutPrefixFold(l, "* LIST ")
			if !ok {
				continue
			}
			toks := tokenize(rest)
			if len(toks) < 3 {
				continue
			}
			f := Folder{}
			if attrs, ok := toks[0].([]any); ok {
				for _, a := range attrs {
					if sv, ok := a.(string); ok {
						f.Attributes = append(f.Attributes, sv)
					}
				}
			}
			f.Name, _ = toks[2].(string)
			m.Folders = append(m.Folders, f)
		}
	}
	for i := range m.Folders {
		f := &m.Folders[i]
		if slices.ContainsFunc(f.Attributes, func(a string) bool {
			return strings.EqualFold(a, `\Noselect`) || strings.EqualFold(a, `\NonExistent`)
		}) {
			continue
		}
		un, tr, err := ic.cmd("STATUS " + quoteIMAP(f.Name) + " (MESSAGES)")
		if err != nil || tr.Status != "OK" {
			continue
		}
		for _, l := range un {
			if rest, ok := cutPrefixFold(l, "* STATUS "); ok {
				toks := tokenize(rest)
				if len(toks) >= 2 {
					if items, ok := toks[len(toks)-1].([]any); ok {
						for j := 0; j+1 < len(items); j += 2 {
							if k, _ := items[j].(string); strings.EqualFold(k, "MESSAGES") {
								var n int
								if v, _ := items[j+1].(string); v != "" {
									if _, err := fmt.Sscan(v, &n); err == nil {
										f.Messages = &n
									}
								}
							}
						}
					}
				}
			}
		}
	}
	if hasCap(s.CapabilitiesLogin, "QUOTA") {
		if un, tr, err := ic.cmd("GETQUOTAROOT INBOX"); err == nil && tr.Status == "OK" {
			for _, l := range un {
				m.Quota = append(m.Quota, strings.TrimPrefix(l, "* "))
			}
		}
	}
}
