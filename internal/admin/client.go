package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"syscall"
	"time"
)

// ErrNotRunning is returned by Dial when no server listens on the socket.
var ErrNotRunning = errors.New("server not running")

// Client is a connection to the admin socket. It is not safe for
// concurrent use.
type Client struct {
	c net.Conn
	r *bufio.Reader
}

// Dial connects to the admin socket at path. It returns an error wrapping
// ErrNotRunning when the socket does not exist or nobody listens on it.
func Dial(ctx context.Context, path string) (*Client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, fmt.Errorf("%w (no admin socket at %s)", ErrNotRunning, path)
		}
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	return &Client{c: c, r: bufio.NewReader(c)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.c.Close() }

// Call sends one request and decodes the result into result (if non-nil).
// A failed response is returned as an *Error.
func (c *Client) Call(ctx context.Context, req Request, result any) error {
	if dl, ok := ctx.Deadline(); ok {
		c.c.SetDeadline(dl)
	} else {
		c.c.SetDeadline(time.Time{})
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := c.c.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return fmt.Errorf("admin socket: bad response: %w", err)
	}
	return decodeResponse(resp, result)
}

func decodeResponse(resp Response, result any) error {
	if !resp.OK {
		return &Error{Code: resp.Code, Msg: resp.Error}
	}
	if result == nil || len(resp.Result) == 0 {
		return nil
	}
	return json.Unmarshal(resp.Result, result)
}

// Local runs a request in-process against svc, with the same encoding as
// the socket, for the CLI when no server is running.
func Local(ctx context.Context, svc *Service, req Request, result any) error {
	return decodeResponse(svc.Do(ctx, req), result)
}
