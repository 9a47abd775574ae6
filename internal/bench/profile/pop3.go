package profile

import (
	"context"
	"strconv"
	"strings"

	"github.com/roost-mail/roost/internal/bench/load"
)

// pop3 models a POP3 client that leaves mail on the server and deletes
// what it has dealt with: USER/PASS, STAT, UIDL, LIST, RETR of one to three
// messages, DELE of one of them, QUIT (which commits the deletion, RFC 1939
// section 6). Checks: UIDL and LIST list as many messages as STAT counts,
// and each RETR returns as many octets as LIST announced for it.
type pop3 struct{ s Settings }

func (pop3) Name() string  { return "pop3" }
func (pop3) Proto() string { return "pop3" }

func (p pop3) Session(ctx context.Context, w *load.Worker) error {
	release, err := w.Gate(ctx)
	if err != nil {
		return err
	}
	c, err := w.DialPOP3(ctx)
	if err != nil {
		release()
		return err
	}
	defer c.Close()
	u := w.User()
	err = c.Login(u.User, u.Pass)
	release()
	if err != nil {
		return err
	}
	n, _, err := c.Stat()
	if err != nil {
		return err
	}
	_, uidl, _, err := c.Multi("UIDL", "UIDL", true)
	if err != nil {
		return err
	}
	if len(uidl) != n {
		return check(w, "UIDL", "%d lines for %d messages", len(uidl), n)
	}
	_, list, _, err := c.Multi("LIST", "LIST", true)
	if err != nil {
		return err
	}
	if len(list) != n {
		return check(w, "LIST", "%d lines for %d messages", len(list), n)
	}
	sizes := map[int]int64{}
	for _, l := range list {
		f := strings.Fields(l)
		if len(f) != 2 {
			return check(w, "LIST", "bad line %.100q", l)
		}
		num, err1 := strconv.Atoi(f[0])
		size, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return check(w, "LIST", "bad line %.100q", l)
		}
		sizes[num] = size
	}
	if n > 0 {
		var got []int
		for k := 1 + w.Rand.IntN(3); k > 0 && ctx.Err() == nil; k-- {
			num := 1 + w.Rand.IntN(n)
			_, _, octets, err := c.Multi("RETR", "RETR "+strconv.Itoa(num), false)
			if err != nil {
				return err
			}
			if want, ok := sizes[num]; !ok || octets != want {
				return check(w, "RETR", "message %d: %d octets, LIST said %d", num, octets, want)
			}
			got = append(got, num)
		}
		if len(got) > 0 {
			if _, err := c.Cmd("DELE", "DELE "+strconv.Itoa(got[w.Rand.IntN(len(got))])); err != nil {
				return err
			}
		}
	}
	return c.Quit()
}
