package admin

import (
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/roost-mail/roost/internal/imapserver"
	"github.com/roost-mail/roost/internal/pop3server"
)

// Session describes one logged-in session (roost who).
type Session struct {
	ID       uint64    `json:"id"`
	User     string    `json:"user"`
	Protocol string    `json:"protocol"` // "imap", "pop3"
	Remote   string    `json:"remote"`   // remote IP address
	Port     uint16    `json:"port"`     // remote port
	Mailbox  string    `json:"mailbox"`  // IMAP: the selected mailbox, "" if none
	Since    time.Time `json:"since"`    // login time
}

// Registry tracks the logged-in sessions of the running server. The IMAP
// and POP3 servers register sessions; the admin socket lists and kicks
// them. It is safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	next     uint64
	sessions map[uint64]*regEntry
}

type regEntry struct {
	info Session
	kick func()
	gone chan struct{} // closed by done
}

var (
	_ imapserver.SessionRegistry = (*Registry)(nil)
	_ pop3server.SessionRegistry = (*Registry)(nil)
)

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{sessions: map[uint64]*regEntry{}}
}

// Register records a session; see imapserver.SessionRegistry.
func (r *Registry) Register(protocol, user string, remote netip.AddrPort, kick func()) (setMailbox func(string), done func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	id := r.next
	e := &regEntry{
		info: Session{ID: id, User: user, Protocol: protocol, Remote: remote.Addr().Unmap().String(),
			Port: remote.Port(), Since: time.Now().UTC().Truncate(time.Second)},
		kick: kick,
		gone: make(chan struct{}),
	}
	r.sessions[id] = e
	var once sync.Once
	setMailbox = func(name string) {
		r.mu.Lock()
		e.info.Mailbox = name
		r.mu.Unlock()
	}
	done = func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.sessions, id)
			r.mu.Unlock()
			close(e.gone)
		})
	}
	return setMailbox, done
}

// List returns the sessions, oldest first.
func (r *Registry) List() []Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Session, 0, len(r.sessions))
	for _, e := range r.sessions {
		out = append(out, e.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Kick ends every session of user and waits until they have ended or
// wait has passed. It returns the sessions kicked and how many of them
// were still running when wait passed.
func (r *Registry) Kick(user string, wait time.Duration) (kicked []Session, pending int) {
	r.mu.Lock()
	var es []*regEntry
	for _, e := range r.sessions {
		if e.info.User == user {
			es = append(es, e)
			kicked = append(kicked, e.info)
		}
	}
	r.mu.Unlock()
	sort.Slice(kicked, func(i, j int) bool { return kicked[i].ID < kicked[j].ID })
	for _, e := range es {
		e.kick()
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for _, e := range es {
		select {
		case <-e.gone:
		case <-timer.C:
			for _, e := range es {
				select {
				case <-e.gone:
				default:
					pending++
				}
			}
			return kicked, pending
		}
	}
	return kicked, 0
}
