package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// SocketName is the admin socket's file name in the mail_location
// directory.
const SocketName = "admin.sock"

// SocketPath returns the admin socket of a data directory.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, SocketName) }

// maxRequest caps one request line.
const maxRequest = 64 * 1024

// requestTimeout bounds one command's work.
const requestTimeout = 5 * time.Minute

// Server serves the admin socket.
type Server struct {
	svc  *Service
	log  *slog.Logger
	path string
	ln   *net.UnixListener

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

// Listen creates the admin socket at path with mode 0600 (only the
// server's user may connect) and returns the server; call Serve. A stale
// socket left by a crashed server is replaced; a socket that answers (a
// running server) is an error.
func Listen(path string, svc *Service, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("admin socket %s: another server is running", path)
	}
	// Bind under a temporary name, restrict it, then move it into place:
	// the socket is never reachable with a wider mode.
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{svc: svc, log: log, path: path, ln: ln, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}, nil
}

// Path returns the socket's path.
func (s *Server) Path() string { return s.path }

// Serve accepts connections until Close. It returns nil after Close.
func (s *Server) Serve() error {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReaderSize(c, 4096)
	w := bufio.NewWriter(c)
	enc := json.NewEncoder(w)
	for {
		line, err := readLine(r)
		if err != nil {
			if errors.Is(err, errTooLong) {
				enc.Encode(Response{Code: CodeUsage, Error: "request too long"})
				w.Flush()
			}
			return
		}
		if len(line) == 0 {
			continue
		}
		var req Request
		var resp Response
		if err := json.Unmarshal(line, &req); err != nil {
			resp = Response{Code: CodeUsage, Error: "bad request: " + err.Error()}
		} else {
			ctx, cancel := context.WithTimeout(s.ctx, requestTimeout)
			resp = s.svc.Do(ctx, req)
			cancel()
			s.log.Info("admin command", "cmd", req.Cmd, "user", req.User, "mailbox", req.Mailbox, "ok", resp.OK, "error", resp.Error)
		}
		if err := enc.Encode(resp); err != nil {
			return
		}
		if err := w.Flush(); err != nil {
			return
		}
	}
}

var errTooLong = errors.New("request too long")

func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > maxRequest {
			return nil, errTooLong
		}
		if err == nil {
			return line[:len(line)-1], nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
}

// Close stops accepting, cancels running commands, closes connections,
// waits for their goroutines and removes the socket file.
func (s *Server) Close() error {
	s.mu.Lock()
	s.cancel()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	os.Remove(s.path)
	return err
}
