package sqlstore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/roost-mail/roost/internal/mailstore"
)

// Dialect is what the SQL text of the two backends differs in where the
// logic is the same: how parameters are written and the true literal.
type Dialect int

const (
	// SQLite writes parameters as ? (bound by position) and true as 1.
	SQLite Dialect = iota
	// Postgres writes parameters as $n (1-based) and true as true.
	Postgres
)

// Param returns the placeholder of the n-th parameter (1-based).
func (d Dialect) Param(n int) string {
	if d == Postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

func (d Dialect) true() string {
	if d == Postgres {
		return "true"
	}
	return "1"
}

// MetaSQL writes c as an SQL expression over a message row (the columns
// internal_date, internal_tz and size), appending its values to args as
// parameters numbered after those already there. A message's day
// (mailstore.MetaCond.Day) is (internal_date + internal_tz) divided by
// 86400, rounded down: the sum is compared with day boundaries, so no
// division is needed and an index on the sum could serve.
func MetaSQL(d Dialect, b *strings.Builder, args *[]any, c mailstore.MetaCond) error {
	const day = 86400
	param := func(v int64) string {
		*args = append(*args, v)
		return d.Param(len(*args))
	}
	switch c.Op {
	case mailstore.MetaAll:
		b.WriteString(d.true())
	case mailstore.MetaAnd, mailstore.MetaOr:
		if len(c.Children) == 0 {
			return fmt.Errorf("search metadata: operator %d without operands", c.Op)
		}
		sep := " AND "
		if c.Op == mailstore.MetaOr {
			sep = " OR "
		}
		b.WriteByte('(')
		for i, ch := range c.Children {
			if i > 0 {
				b.WriteString(sep)
			}
			if err := MetaSQL(d, b, args, ch); err != nil {
				return err
			}
		}
		b.WriteByte(')')
	case mailstore.MetaNot:
		if len(c.Children) != 1 {
			return fmt.Errorf("search metadata: NOT with %d operands", len(c.Children))
		}
		b.WriteString("NOT ")
		return MetaSQL(d, b, args, mailstore.MetaCond{Op: mailstore.MetaAnd, Children: c.Children})
	case mailstore.MetaDayBefore:
		b.WriteString("(internal_date + internal_tz) < " + param(c.Day*day))
	case mailstore.MetaDayOn:
		b.WriteString("((internal_date + internal_tz) >= " + param(c.Day*day) + " AND (internal_date + internal_tz) < " + param((c.Day+1)*day) + ")")
	case mailstore.MetaDaySince:
		b.WriteString("(internal_date + internal_tz) >= " + param(c.Day*day))
	case mailstore.MetaLarger:
		b.WriteString("size > " + param(c.Size))
	case mailstore.MetaSmaller:
		b.WriteString("size < " + param(c.Size))
	default:
		return fmt.Errorf("search metadata: unknown operator %d", c.Op)
	}
	return nil
}
