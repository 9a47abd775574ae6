// Package lmtpbench measures LMTP delivery (RFC 2033) the way an MTA
// drives it: Postfix's lmtp client keeps connections open and pipelines
// MAIL, RCPT and DATA, then sends the message and reads one reply per
// recipient. Any LMTP server can be measured (Roost, Dovecot's lmtp), over
// TCP or a Unix socket. It also writes the Maildirs the import benchmark
// reads.
//
// Messages come from internal/bench/mailgen (realistic shapes, ~7 KB on
// average), so the servers parse what real mail looks like.
package lmtpbench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roost-mail/roost/internal/bench/mailgen"
)

// Config describes one run.
type Config struct {
	Network string // "tcp" or "unix"
	Addr    string
	// Senders is the number of concurrent connections, each delivering one
	// message at a time.
	Senders int
	// Deliveries is the number of transactions in all.
	Deliveries int
	// Recipients are used round robin, one per transaction.
	Recipients []string
	// Seed picks the generated messages (mailgen); Distinct of them are
	// prepared and used in turn (default 256).
	Seed     uint64
	Distinct int
	// Timeout bounds each reply (default 60s).
	Timeout time.Duration
}

// Result is what a run measured. Latency is per transaction: from sending
// MAIL to the final reply after DATA.
type Result struct {
	Deliveries int           `json:"deliveries"`
	Bytes      int64         `json:"bytes"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	PerSecond  float64       `json:"per_second"`
	P50        time.Duration `json:"p50_ns"`
	P99        time.Duration `json:"p99_ns"`
	Max        time.Duration `json:"max_ns"`
}

func (r Result) String() string {
	return fmt.Sprintf("%d deliveries in %.2fs: %.0f/s, p50 %.1fms, p99 %.1fms, max %.1fms",
		r.Deliveries, r.Elapsed.Seconds(), r.PerSecond, ms(r.P50), ms(r.P99), ms(r.Max))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// transaction is one prepared delivery: the pipelined envelope and the
// dot-stuffed message with its terminating line.
type transaction struct {
	envelope []byte
	data     []byte
}

// dotStuff returns body (CRLF) with leading dots doubled and "." CRLF
// appended (RFC 5321 4.5.2).
func dotStuff(body []byte) []byte {
	var b bytes.Buffer
	for len(body) > 0 {
		line := body
		if i := bytes.Index(body, []byte("\r\n")); i >= 0 {
			line, body = body[:i+2], body[i+2:]
		} else {
			body = nil
			line = append(append([]byte(nil), line...), '\r', '\n')
		}
		if line[0] == '.' {
			b.WriteByte('.')
		}
		b.Write(line)
	}
	b.WriteString(".\r\n")
	return b.Bytes()
}

// Run performs cfg.Deliveries transactions over cfg.Senders connections
// and fails on the first reply that is not a success.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Senders <= 0 || cfg.Deliveries <= 0 || len(cfg.Recipients) == 0 {
		return Result{}, errors.New("lmtpbench: Senders, Deliveries and Recipients are required")
	}
	if cfg.Network == "" {
		cfg.Network = "tcp"
	}
	if cfg.Distinct <= 0 {
		cfg.Distinct = 256
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	bodies := make([][]byte, cfg.Distinct)
	for i := range bodies {
		bodies[i] = dotStuff(mailgen.CRLF(mailgen.Generate(cfg.Seed, i).Body))
	}
	conns := make([]*conn, cfg.Senders)
	for i := range conns {
		c, err := dial(ctx, cfg)
		if err != nil {
			for _, c := range conns[:i] {
				c.c.Close()
			}
			return Result{}, err
		}
		conns[i] = c
	}
	var (
		next    atomic.Int64
		total   atomic.Int64
		mu      sync.Mutex
		lat     = make([]time.Duration, 0, cfg.Deliveries)
		firstEr error
		wg      sync.WaitGroup
	)
	start := time.Now()
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.c.Close()
			var mine []time.Duration
			for {
				n := next.Add(1) - 1
				if n >= int64(cfg.Deliveries) || ctx.Err() != nil {
					break
				}
				rcpt := cfg.Recipients[n%int64(len(cfg.Recipients))]
				body := bodies[n%int64(len(bodies))]
				t0 := time.Now()
				if err := c.deliver(rcpt, body); err != nil {
					mu.Lock()
					if firstEr == nil {
						firstEr = fmt.Errorf("delivery %d to %s: %w", n, rcpt, err)
					}
					mu.Unlock()
					next.Store(int64(cfg.Deliveries))
					break
				}
				mine = append(mine, time.Since(t0))
				total.Add(int64(len(body)))
			}
			c.quit()
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstEr != nil {
		return Result{}, firstEr
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return Result{
		Deliveries: len(lat), Bytes: total.Load(), Elapsed: elapsed,
		PerSecond: float64(len(lat)) / elapsed.Seconds(),
		P50:       pct(0.50), P99: pct(0.99), Max: lat[len(lat)-1],
	}, nil
}

// conn is one LMTP connection.
type conn struct {
	c       net.Conn
	r       *bufio.Reader
	timeout time.Duration
}

func dial(ctx context.Context, cfg Config) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, cfg.Network, cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("lmtpbench: %w", err)
	}
	c := &conn{c: nc, r: bufio.NewReaderSize(nc, 4096), timeout: cfg.Timeout}
	if _, err := c.reply("220"); err != nil {
		nc.Close()
		return nil, fmt.Errorf("lmtpbench: greeting: %w", err)
	}
	if err := c.write([]byte("LHLO lmtpbench.example\r\n")); err != nil {
		nc.Close()
		return nil, err
	}
	if _, err := c.reply("250"); err != nil {
		nc.Close()
		return nil, fmt.Errorf("lmtpbench: LHLO: %w", err)
	}
	return c, nil
}

func (c *conn) write(b []byte) error {
	c.c.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.c.Write(b)
	return err
}

// reply reads one (possibly multi-line) reply and requires its code to
// start with want.
func (c *conn) reply(want string) (string, error) {
	c.c.SetReadDeadline(time.Now().Add(c.timeout))
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if len(line) >= 4 && line[3] == '-' {
			continue
		}
		line = strings.TrimRight(line, "\r\n")
		if !strings.HasPrefix(line, want) {
			return line, fmt.Errorf("got %q, want %s", line, want)
		}
		return line, nil
	}
}

// deliver runs one transaction as Postfix does: MAIL, RCPT and DATA
// pipelined, then the message, then the recipient's reply.
func (c *conn) deliver(rcpt string, data []byte) error {
	env := "MAIL FROM:<bench@example.net>\r\nRCPT TO:<" + rcpt + ">\r\nDATA\r\n"
	if err := c.write([]byte(env)); err != nil {
		return err
	}
	for _, want := range []string{"250", "250", "354"} {
		if _, err := c.reply(want); err != nil {
			return err
		}
	}
	if err := c.write(data); err != nil {
		return err
	}
	_, err := c.reply("250")
	return err
}

func (c *conn) quit() {
	if c.write([]byte("QUIT\r\n")) == nil {
		c.reply("221")
	}
}

// WriteMaildir writes n generated messages (seed) as a Dovecot Maildir
// INBOX at dir: files in cur/ with Dovecot-style names (S= size, \Seen
// as mailgen says) and mtimes, and a dovecot-uidlist numbering them 1..n,
// as a site migrating from Dovecot has them.
func WriteMaildir(dir string, n int, seed uint64) (int64, error) {
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return 0, err
		}
	}
	var ul bytes.Buffer
	fmt.Fprintf(&ul, "3 V1700000000 N%d G0123456789abcdef0123456789abcdef\n", n+1)
	var total int64
	for i := 0; i < n; i++ {
		m := mailgen.Generate(seed, i)
		base := fmt.Sprintf("%d.M%dP%d.bench,S=%d", m.Date.Unix(), i, 1000+i%1000, len(m.Body))
		flags := ""
		if m.Seen {
			flags = "S"
		}
		p := filepath.Join(dir, "cur", base+":2,"+flags)
		if err := os.WriteFile(p, m.Body, 0o644); err != nil {
			return total, err
		}
		if err := os.Chtimes(p, m.Date, m.Date); err != nil {
			return total, err
		}
		fmt.Fprintf(&ul, "%d :%s\n", i+1, base)
		total += int64(len(m.Body))
	}
	return total, os.WriteFile(filepath.Join(dir, "dovecot-uidlist"), ul.Bytes(), 0o644)
}
