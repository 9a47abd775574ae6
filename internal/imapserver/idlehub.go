package imapserver

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/netserver"
)

// idleHub wakes idling sessions without a goroutine per session. A session
// in IDLE blocks in a read of its own connection (cmdIdle); the hub holds
// one store watch (mailstore.Store.Watch) and one goroutine per user with
// idling sessions, and on every wake-up marks each of that user's idlers
// woken and sets its connection's read deadline in the past, which ends
// the blocked read at once. The session then sees the mark, reports the
// changes and reads again. With 10,000 sessions idling on one account a
// commit costs one channel receive and 10,000 deadline updates.
//
// The zero value is ready to use.
type idleHub struct {
	mu    sync.Mutex
	users map[string]*idleGroup
}

// idleGroup is one user's idlers and the watch that wakes them.
type idleGroup struct {
	idlers map[*idler]struct{}
	stop   func()        // stops the store watch
	done   chan struct{} // closed when the last idler leaves
}

// idler is one session in IDLE.
type idler struct {
	conn *netserver.Conn
	user string
	// woken is set by the hub before it interrupts the read; the session
	// clears it before it syncs, so a commit during the sync is never
	// lost.
	woken atomic.Bool
	left  bool // under idleHub.mu
	// ch, if not nil, gets the wake-up instead of the read deadline: a
	// session under COMPRESS waits in a helper goroutine, since a timeout
	// inside its inflater would end the stream (cmdIdle).
	ch chan struct{}
}

// pastDeadline makes a blocked read return os.ErrDeadlineExceeded at once.
var pastDeadline = time.Unix(1, 0)

// join registers c, idling for user's changes. Changes committed before
// join returns may not wake it: the caller syncs once after join.
func (h *idleHub) join(store mailstore.Store, user string, c *netserver.Conn, byChannel bool) *idler {
	w := &idler{conn: c, user: user}
	if byChannel {
		w.ch = make(chan struct{}, 1)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.users == nil {
		h.users = map[string]*idleGroup{}
	}
	g := h.users[user]
	if g == nil {
		ch, stop := store.Watch(user)
		g = &idleGroup{idlers: map[*idler]struct{}{}, stop: stop, done: make(chan struct{})}
		h.users[user] = g
		go h.run(g, ch)
	}
	g.idlers[w] = struct{}{}
	return w
}

// leave unregisters w; from its return on the hub no longer touches w's
// connection. Calling it again does nothing.
func (h *idleHub) leave(w *idler) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w.left {
		return
	}
	w.left = true
	g := h.users[w.user]
	delete(g.idlers, w)
	if len(g.idlers) == 0 {
		delete(h.users, w.user)
		g.stop()
		close(g.done)
	}
}

// run forwards g's store wake-ups to its idlers until the last one leaves.
func (h *idleHub) run(g *idleGroup, wake <-chan struct{}) {
	for {
		select {
		case <-wake:
		case <-g.done:
			return
		}
		h.mu.Lock()
		for w := range g.idlers {
			w.woken.Store(true)
			if w.ch != nil {
				select {
				case w.ch <- struct{}{}:
				default:
				}
				continue
			}
			w.conn.SetReadDeadline(pastDeadline)
		}
		h.mu.Unlock()
	}
}
