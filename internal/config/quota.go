package config

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/roost-mail/roost/internal/mailstore"
)

// Quota settings, as Dovecot 2.3's quota plugin spells them (at the top
// level or inside plugin { }):
//
//	quota = count:User quota          backend and quota root name (IMAP GETQUOTAROOT)
//	quota_rule = *:storage=1G         default limits; storage without a unit is in KiB
//	quota_rule2 = *:messages=10000    further rules, quota_rule2 ... quota_rule9
//	quota_full_tempfail = no          LMTP 552 5.2.2 / deliver exit 77; yes: 452 4.2.2 / 75
//	lmtp_rcpt_check_quota = no        yes: LMTP refuses a full mailbox at RCPT already
//
// A user's extra fields in the passwd-file override rules of the same name
// (userdb_quota_rule=*:storage=2G), see Config.QuotaLimits.

// QuotaConfig holds the quota settings.
type QuotaConfig struct {
	// Rules maps the setting name (quota_rule, quota_rule2, ...) to its
	// rule text as written.
	Rules map[string]string
	// RootName is the quota root name of the "quota" setting (the part
	// after the backend), what IMAP shows in QUOTAROOT. Default
	// "User quota".
	RootName string
	// FullTempfail is quota_full_tempfail: report a full mailbox as a
	// temporary failure (LMTP 452 4.2.2, deliver exit 75) instead of a
	// permanent one (552 5.2.2, exit 77).
	FullTempfail bool
	// LMTPRcptCheck is lmtp_rcpt_check_quota: LMTP refuses a recipient
	// whose mailbox is already full at RCPT (not only after DATA).
	LMTPRcptCheck bool
}

// maxQuotaRules bounds quota_rule, quota_rule2 ... quota_ruleN.
const maxQuotaRules = 9

// DefaultQuotaRoot is the quota root name when "quota" names none.
const DefaultQuotaRoot = "User quota"

// quotaRuleNames are quota_rule, quota_rule2 ... in the order rules apply.
var quotaRuleNames = func() []string {
	names := []string{"quota_rule"}
	for i := 2; i <= maxQuotaRules; i++ {
		names = append(names, "quota_rule"+strconv.Itoa(i))
	}
	return names
}()

func init() {
	for _, name := range quotaRuleNames {
		settings = append(settings, setting{name: name, def: "",
			set: func(d *decoder, c *Config, e *Entry) error {
				if c.Quota.Rules == nil {
					c.Quota.Rules = map[string]string{}
				}
				if e.Value == "" {
					delete(c.Quota.Rules, name)
					return nil
				}
				applies, err := checkQuotaRule(e.Value)
				if err != nil {
					return err
				}
				if !applies {
					// Still recorded, so that Dump shows it; it never limits.
					d.ignore(c, nil, e, "Roost keeps one quota per account; mailbox-specific rules do not apply")
				}
				c.Quota.Rules[name] = e.Value
				return nil
			},
			get: func(c *Config) string { return c.Quota.Rules[name] }})
	}
	settings = append(settings,
		setting{name: "quota", def: "count:" + DefaultQuotaRoot,
			set: func(_ *decoder, c *Config, e *Entry) error {
				// quota = <backend>[:<root name>[:<args>]]. Roost has one
				// backend (usage counted in the store, as Dovecot's
				// "count"), so the backend name is not checked.
				_, rest, _ := strings.Cut(e.Value, ":")
				name, _, _ := strings.Cut(rest, ":")
				if name == "" {
					name = DefaultQuotaRoot
				}
				c.Quota.RootName = name
				return nil
			},
			get: func(c *Config) string { return "count:" + c.Quota.RootName }},
		setting{name: "quota_full_tempfail", def: "no",
			set: func(_ *decoder, c *Config, e *Entry) (err error) {
				c.Quota.FullTempfail, err = parseBool(e.Value)
				return err
			},
			get: func(c *Config) string { return formatBool(c.Quota.FullTempfail) }},
		// Dovecot's LMTP setting (default no there too): refuse a
		// recipient whose mailbox is already full at RCPT.
		setting{name: "lmtp_rcpt_check_quota", def: "no",
			set: func(_ *decoder, c *Config, e *Entry) (err error) {
				c.Quota.LMTPRcptCheck, err = parseBool(e.Value)
				return err
			},
			get: func(c *Config) string { return formatBool(c.Quota.LMTPRcptCheck) }},
	)
	pluginSettings = append(pluginSettings, "quota", "quota_full_tempfail")
	pluginSettings = append(pluginSettings, quotaRuleNames...)
}

// checkQuotaRule checks the syntax of a configured rule and reports whether
// it applies to the account (mask "*" or "?") rather than one mailbox.
func checkQuotaRule(rule string) (applies bool, err error) {
	mask, _, ok := strings.Cut(rule, ":")
	if !ok {
		return false, fmt.Errorf("invalid rule %q (want MAILBOX:LIMITS as in *:storage=1G)", rule)
	}
	if mask != "*" && mask != "?" {
		return false, nil
	}
	_, err = applyQuotaRule(mailstore.Quota{}, rule, nil)
	return true, err
}

// applyQuotaRule applies one rule to q, Dovecot's quota_root_add_rule for
// the default rule: "*:storage=N[unit]" (unit B, k, M, G, T, case
// insensitive; none means KiB), "*:bytes=N[unit]" (none means bytes),
// "*:messages=N", several joined by ':' ("*:storage=1G:messages=1000"),
// and "*:ignore" (no limits, whatever other rules say; see applyRules). Only the limits named change. A rule for a
// single mailbox leaves q unchanged. A percentage ("storage=50%") is taken
// of base, which is nil for the configured default rules (Dovecot: "default
// rule can't be a percentage").
func applyQuotaRule(q mailstore.Quota, rule string, base *mailstore.Quota) (mailstore.Quota, error) {
	mask, limits, ok := strings.Cut(rule, ":")
	if !ok {
		return q, fmt.Errorf("invalid rule %q (want MAILBOX:LIMITS as in *:storage=1G)", rule)
	}
	if mask != "*" && mask != "?" {
		return q, nil
	}
	if limits == "ignore" {
		return mailstore.Quota{}, nil
	}
	for _, l := range strings.Split(limits, ":") {
		key, value, _ := strings.Cut(l, "=")
		var dst *int64
		var baseVal int64
		unit := int64(1)
		switch key {
		case "storage":
			dst, unit = &q.Storage, 1024
			if base != nil {
				baseVal = base.Storage
			}
		case "bytes":
			dst = &q.Storage
			if base != nil {
				baseVal = base.Storage
			}
		case "messages":
			dst = &q.Messages
			if base != nil {
				baseVal = base.Messages
			}
		case "backend":
			return q, fmt.Errorf("rule %q: backend rules are not supported", rule)
		default:
			return q, fmt.Errorf("rule %q: unknown limit %q (use storage, bytes or messages)", rule, key)
		}
		n, err := parseQuotaLimit(value, unit, baseVal, base != nil)
		if err != nil {
			return q, fmt.Errorf("rule %q: %v", rule, err)
		}
		*dst = n
	}
	return q, nil
}

// parseQuotaLimit parses N with an optional unit B/k/M/G/T or %; def is the
// multiplier without a unit. A percentage is of base and allowed only if
// relative.
func parseQuotaLimit(s string, def, base int64, relative bool) (int64, error) {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid limit %q (e.g. 1G, 500M, 10000)", s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 63)
	if err != nil {
		return 0, fmt.Errorf("invalid limit %q: %v", s, err)
	}
	mult := def
	switch strings.ToUpper(s[i:]) {
	case "":
	case "B":
		mult = 1
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	case "T":
		mult = 1 << 40
	case "%":
		if !relative {
			return 0, fmt.Errorf("invalid limit %q: the default rule can't be a percentage", s)
		}
		if n > 1<<20 {
			return 0, fmt.Errorf("invalid limit %q: percentage too large", s)
		}
		return base * n / 100, nil
	default:
		return 0, fmt.Errorf("invalid limit %q: unknown unit %q (use B, k, M, G, T or %%)", s, s[i:])
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid limit %q: too large", s)
	}
	return n * mult, nil
}

// ruleOrder sorts rule setting names as Dovecot applies them: quota_rule,
// quota_rule2, quota_rule3 ...
func ruleOrder(a, b string) int {
	num := func(s string) int {
		n, err := strconv.Atoi(strings.TrimPrefix(s, "quota_rule"))
		if err != nil {
			return 1
		}
		return n
	}
	return cmp.Compare(num(a), num(b))
}

// DefaultQuota returns the limits of a user without quota fields of their
// own: the configured quota_rule settings applied in order.
func (c *Config) DefaultQuota() mailstore.Quota {
	q, _ := c.QuotaLimits(nil) // the configured rules were checked when decoded
	return q
}

// QuotaLimits returns a user's limits: the configured rules, where a user's
// extra field of the same name replaces the configured rule (as Dovecot's
// userdb fields override plugin settings). fields are the user's userdb
// extra fields without the "userdb_" prefix; "quota_rule" and
// "plugin/quota_rule" are the same field. A percentage in a user's rule is
// taken of the configured default ("userdb_quota_rule=*:storage=200%").
// An invalid user rule is an error (the caller decides what applies then).
func (c *Config) QuotaLimits(fields map[string]string) (mailstore.Quota, error) {
	rules := map[string]string{}
	for k, v := range c.Quota.Rules {
		rules[k] = v
	}
	var base *mailstore.Quota
	if len(fields) > 0 {
		def, err := c.applyRules(c.Quota.Rules, nil)
		if err != nil {
			return mailstore.Quota{}, err
		}
		base = &def
		for k, v := range fields {
			k = strings.TrimPrefix(k, "plugin/")
			if slices.Contains(quotaRuleNames, k) {
				rules[k] = v
			}
		}
	}
	return c.applyRules(rules, base)
}

func (c *Config) applyRules(rules map[string]string, base *mailstore.Quota) (mailstore.Quota, error) {
	names := make([]string, 0, len(rules))
	for k := range rules {
		names = append(names, k)
	}
	slices.SortFunc(names, ruleOrder)
	var q mailstore.Quota
	ignore := false
	for _, name := range names {
		if rules[name] == "" {
			continue
		}
		var err error
		if q, err = applyQuotaRule(q, rules[name], base); err != nil {
			return mailstore.Quota{}, fmt.Errorf("%s: %w", name, err)
		}
		mask, limits, _ := strings.Cut(rules[name], ":")
		ignore = ignore || limits == "ignore" && (mask == "*" || mask == "?")
	}
	if ignore {
		// Dovecot: "*:ignore" marks the default rule ignored, so no
		// limit applies, whatever other rules say.
		return mailstore.Quota{}, nil
	}
	return q, nil
}
