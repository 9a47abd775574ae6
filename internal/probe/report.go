package probe

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// SchemaVersion is the "schema" field of the JSON report. It changes only
// when a field is removed or changes meaning; new fields may appear.
const SchemaVersion = 1

// Severity orders findings. The zero value is Info.
type Severity int

const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = []string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads "info", "low", "medium", "high" or "critical".
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want %s)", s, strings.Join(severityNames, ", "))
}

func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

func (s *Severity) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p, err := ParseSeverity(v)
	*s = p
	return err
}

// Finding is one thing the admin should know or fix.
type Finding struct {
	Severity Severity `json:"severity"`
	Service  string   `json:"service"` // URL of the service, e.g. imap://127.0.0.1:143
	ID       string   `json:"id"`      // stable identifier, e.g. "cleartext-login"
	Title    string   `json:"title"`
	Fix      string   `json:"fix"`
}

// Service states.
const (
	StateOpen     = "open"
	StateClosed   = "closed"
	StateFiltered = "filtered (timeout)"
	StateError    = "error"
)

// Service is what the probe learned about one URL.
type Service struct {
	URL      string `json:"url"`
	Protocol string `json:"protocol"` // "imap" or "pop3"
	Implicit bool   `json:"implicit_tls"`
	Address  string `json:"address"` // host:port dialed
	State    string `json:"state"`
	Error    string `json:"error,omitempty"`
	Source   string `json:"source,omitempty"` // local address the probe connected from
	Remote   string `json:"remote,omitempty"` // remote address connected to

	Greeting string `json:"greeting,omitempty"`
	Banner   Banner `json:"banner"`

	Capabilities      []string `json:"capabilities,omitempty"`       // first connection: before STARTTLS, or on implicit TLS
	StartTLS          bool     `json:"starttls"`                     // STARTTLS / STLS offered
	CapabilitiesTLS   []string `json:"capabilities_tls,omitempty"`   // after STARTTLS
	CapabilitiesLogin []string `json:"capabilities_login,omitempty"` // after login with --user
	Implementation    string   `json:"implementation,omitempty"`     // POP3 CAPA IMPLEMENTATION
	ID                []string `json:"id,omitempty"`                 // IMAP ID response as key, value, ...

	Cleartext   *CleartextProbe `json:"cleartext,omitempty"`
	TLS         *TLSInfo        `json:"tls,omitempty"`
	Anonymous   *AuthAttempt    `json:"anonymous,omitempty"`
	Enumeration *Enumeration    `json:"enumeration,omitempty"`
	Login       *AuthAttempt    `json:"login,omitempty"`
	Mailbox     *MailboxInfo    `json:"mailbox,omitempty"`

	Notes []string `json:"notes,omitempty"`
}

// Banner is what a greeting (or ID/IMPLEMENTATION) reveals.
type Banner struct {
	Products  []string `json:"products,omitempty"`
	Versions  []string `json:"versions,omitempty"`
	Hostnames []string `json:"hostnames,omitempty"`
}

// CleartextProbe records whether a login is possible without TLS.
type CleartextProbe struct {
	LoginDisabled bool     `json:"logindisabled"`        // IMAP LOGINDISABLED advertised
	Mechanisms    []string `json:"plaintext_mechanisms"` // PLAIN/LOGIN offered without TLS
	User          bool     `json:"pop3_user"`            // POP3 USER offered without TLS
	Attempt       string   `json:"attempt"`              // reply to a login with a random user name
	Processed     bool     `json:"processed"`            // the server checked that login instead of refusing it
}

// TLSInfo is the result of the TLS scan.
type TLSInfo struct {
	Versions    []TLSVersion `json:"versions"`
	Certificate *CertInfo    `json:"certificate,omitempty"`
}

// TLSVersion is one protocol version tried alone.
type TLSVersion struct {
	Version  string `json:"version"` // "TLS 1.0" ... "TLS 1.3"
	Accepted bool   `json:"accepted"`
	Cipher   string `json:"cipher,omitempty"`
	Error    string `json:"error,omitempty"`
}

// CertInfo describes the server's leaf certificate.
type CertInfo struct {
	Subject       string   `json:"subject"`
	SANs          []string `json:"sans,omitempty"`
	Issuer        string   `json:"issuer"`
	NotAfter      string   `json:"not_after"` // RFC 3339
	DaysLeft      int      `json:"days_left"`
	SelfSigned    bool     `json:"self_signed"`
	HostnameMatch bool     `json:"hostname_match"`
	Verified      bool     `json:"verified"`               // chain verified against the system roots
	VerifyError   string   `json:"verify_error,omitempty"` // why not
}

// AuthAttempt is one login (anonymous or with --user).
type AuthAttempt struct {
	Method  string `json:"method"`
	OK      bool   `json:"ok"`
	Reply   string `json:"reply"`
	Skipped string `json:"skipped,omitempty"` // why it was not attempted
}

// Enumeration compares failed logins of a known and an unknown user.
type Enumeration struct {
	KnownReply      string  `json:"known_reply"`
	UnknownReply    string  `json:"unknown_reply"`
	KnownMedianMS   float64 `json:"known_median_ms"`
	UnknownMedianMS float64 `json:"unknown_median_ms"`
	Tries           int     `json:"tries"` // per user
	TextDiffers     bool    `json:"text_differs"`
	TimingDiffers   bool    `json:"timing_differs"`
}

// MailboxInfo is what a logged-in IMAP user sees.
type MailboxInfo struct {
	Folders   []Folder `json:"folders"`
	Namespace string   `json:"namespace,omitempty"` // raw NAMESPACE response
	Shared    bool     `json:"shared_namespaces"`   // other users' or public namespaces exist
	Quota     []string `json:"quota,omitempty"`     // raw QUOTAROOT/QUOTA responses
}

// Folder is one LIST entry.
type Folder struct {
	Name       string   `json:"name"`
	Attributes []string `json:"attributes,omitempty"`
	Messages   *int     `json:"messages,omitempty"`
}

// Report is the result of one run.
type Report struct {
	Schema   int        `json:"schema"`
	Services []*Service `json:"services"`
	Findings []Finding  `json:"findings"`
}

// sortFindings orders by severity (highest first), then service, then ID.
func sortFindings(f []Finding) {
	sort.SliceStable(f, func(i, j int) bool {
		if f[i].Severity != f[j].Severity {
			return f[i].Severity > f[j].Severity
		}
		if f[i].Service != f[j].Service {
			return f[i].Service < f[j].Service
		}
		return f[i].ID < f[j].ID
	})
}

// Max returns the highest severity among the findings and whether any exist.
func (r *Report) Max() (Severity, bool) {
	var m Severity
	for _, f := range r.Findings {
		m = max(m, f.Severity)
	}
	return m, len(r.Findings) > 0
}

// Errors reports whether a service could not be probed, or not fully (a
// port that is closed or filtered is a result, not an error).
func (r *Report) Errors() bool {
	for _, s := range r.Services {
		if s.State == StateError || s.Error != "" {
			return true
		}
	}
	return false
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the human report: one block per service, then findings.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, s := range r.Services {
		writeService(&b, s)
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Findings (%d):\n", len(r.Findings))
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  %-8s %s: %s\n", strings.ToUpper(f.Severity.String()), f.Service, f.Title)
		if f.Fix != "" {
			fmt.Fprintf(&b, "           fix: %s\n", f.Fix)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeService(b *strings.Builder, s *Service) {
	fmt.Fprintf(b, "== %s  %s\n", s.URL, s.State)
	if s.Error != "" {
		fmt.Fprintf(b, "   error:        %s\n", s.Error)
	}
	if s.State == StateClosed || s.State == StateFiltered {
		return
	}
	kv := func(k, v string) {
		if v != "" {
			fmt.Fprintf(b, "   %-13s %s\n", k+":", v)
		}
	}
	if s.Source != "" {
		kv("connection", s.Source+" -> "+s.Remote)
	}
	kv("greeting", s.Greeting)
	kv("products", strings.Join(s.Banner.Products, ", "))
	kv("versions", strings.Join(s.Banner.Versions, ", "))
	kv("host names", strings.Join(s.Banner.Hostnames, ", "))
	kv("implementation", s.Implementation)
	if len(s.ID) > 0 {
		kv("ID", strings.Join(s.ID, " "))
	}
	kv("capabilities", strings.Join(s.Capabilities, " "))
	if !s.Implicit {
		kv("starttls", fmt.Sprint(s.StartTLS))
	}
	kv("after TLS", strings.Join(s.CapabilitiesTLS, " "))
	if c := s.Cleartext; c != nil {
		kv("cleartext", fmt.Sprintf("logindisabled=%v plaintext-mechs=%v user=%v processed=%v (%s)",
			c.LoginDisabled, c.Mechanisms, c.User, c.Processed, c.Attempt))
	}
	if t := s.TLS; t != nil {
		for _, v := range t.Versions {
			if v.Accepted {
				kv(v.Version, "accepted, "+v.Cipher)
			} else {
				kv(v.Version, "refused")
			}
		}
		if c := t.Certificate; c != nil {
			kv("cert subject", c.Subject)
			kv("cert SANs", strings.Join(c.SANs, ", "))
			kv("cert issuer", c.Issuer)
			kv("cert expires", fmt.Sprintf("%s (%d days)", c.NotAfter, c.DaysLeft))
			v := "verified against system roots"
			if !c.Verified {
				v = "NOT verified: " + c.VerifyError
			}
			kv("cert chain", fmt.Sprintf("%s; self-signed=%v; hostname match=%v", v, c.SelfSigned, c.HostnameMatch))
		}
	}
	if a := s.Anonymous; a != nil {
		kv("anonymous", authLine(a))
	}
	if e := s.Enumeration; e != nil {
		kv("enumeration", fmt.Sprintf("known user: %q %.0fms; unknown user: %q %.0fms (%d tries each)",
			e.KnownReply, e.KnownMedianMS, e.UnknownReply, e.UnknownMedianMS, e.Tries))
	}
	if a := s.Login; a != nil {
		kv("login", authLine(a))
	}
	kv("after login", strings.Join(s.CapabilitiesLogin, " "))
	if m := s.Mailbox; m != nil {
		kv("namespace", m.Namespace)
		for _, f := range m.Folders {
			n := "-"
			if f.Messages != nil {
				n = fmt.Sprint(*f.Messages)
			}
			kv("folder", fmt.Sprintf("%s %v messages=%s", f.Name, f.Attributes, n))
		}
		for _, q := range m.Quota {
			kv("quota", q)
		}
	}
	for _, n := range s.Notes {
		kv("note", n)
	}
}

func authLine(a *AuthAttempt) string {
	if a.Skipped != "" {
		return a.Method + ": skipped (" + a.Skipped + ")"
	}
	r := "refused"
	if a.OK {
		r = "SUCCEEDED"
	}
	return fmt.Sprintf("%s: %s (%s)", a.Method, r, truncate(a.Reply, 60))
}
