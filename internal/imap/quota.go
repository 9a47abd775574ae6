package imap

// QUOTA extension commands (RFC 9208 4.1).

// GetQuotaCmd is GETQUOTA quota-root (RFC 9208 4.1.1).
type GetQuotaCmd struct{ Root string }

// GetQuotaRootCmd is GETQUOTAROOT mailbox (RFC 9208 4.1.2).
type GetQuotaRootCmd struct{ Mailbox string }

// SetQuotaCmd is SETQUOTA quota-root setquota-list (RFC 9208 4.1.3).
type SetQuotaCmd struct {
	Root   string
	Limits []QuotaLimit // in the order given
}

// QuotaLimit is one "resource-name SP limit" of SETQUOTA.
type QuotaLimit struct {
	Resource string // upper case: STORAGE, MESSAGE, MAILBOX, ANNOTATION-STORAGE, ...
	Limit    uint64
}

// getQuota: "GETQUOTA" SP quota-root-name (astring).
func (p *parser) getQuota(cmd *Command) any {
	p.sp()
	return &GetQuotaCmd{Root: p.astring()}
}

// getQuotaRoot: "GETQUOTAROOT" SP mailbox.
func (p *parser) getQuotaRoot(cmd *Command) any {
	p.sp()
	return &GetQuotaRootCmd{Mailbox: p.mailbox()}
}

// setQuota: "SETQUOTA" SP quota-root-name SP setquota-list, where
// setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")" and
// setquota-resource = resource-name SP resource-limit (number64).
func (p *parser) setQuota(cmd *Command) any {
	p.sp()
	c := &SetQuotaCmd{Root: p.astring()}
	p.sp()
	p.list(func() {
		name := p.keyword()
		p.sp()
		c.Limits = append(c.Limits, QuotaLimit{Resource: name, Limit: p.number64()})
	})
	return c
}
