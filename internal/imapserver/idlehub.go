package imapserver

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/netserver"
)

// idleHub wakes idling sessions without a goroutine per session or per
// user. A session in IDLE blocks in a read of its own connection
// (cmdIdle); the hub holds one store watch per user with idling sessions
// and, on every wake-up, marks each of that user's idlers woken and sets
// its connection's read deadline in the past, which ends the blocked read
// at once. The session then sees the mark, reports the changes and reads
// again. With a store that offers callback watches (funcWatcher, the
// SQLite store) the wake-up runs in the committing goroutine or the
// store's poller, so 2,000 users idling cost no goroutine beyond their
// sessions'; other stores get one forwarding goroutine per watched user.
// With 10,000 sessions idling on one account a commit costs 10,000
// deadline updates.
//
// Lock order: idleHub.mu, then the store's watch lock, then idleGroup.mu
// (the callback runs under the store's lock and takes only the group's).
//
// The zero value is ready to use.
type idleHub struct {
	mu    sync.Mutex
	users map[string]*idleGroup
}

// funcWatcher is implemented by stores whose watches can call a function
// instead of sending on a channel (sqlite.Store.WatchFunc): fn must not
// block and runs with the store's watch lock held; once stop has returned
// fn is not called again.
type funcWatcher interface {
	WatchFunc(user string, fn func()) (stop func())
}

// idleGroup is one user's idlers and the watch that wakes them.
type idleGroup struct {
	stop func() // stops the store watch; under idleHub.mu

	mu     sync.Mutex
	idlers map[*idler]struct{}
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
		g = &idleGroup{idlers: map[*idler]struct{}{}}
		h.users[user] = g
		if fw, ok := store.(funcWatcher); ok {
			g.stop = fw.WatchFunc(user, g.wake)
		} else {
			g.stop = forwardWatch(store, user, g.wake)
		}
	}
	g.mu.Lock()
	g.idlers[w] = struct{}{}
	g.mu.Unlock()
	return w
}

// forwardWatch runs wake for every value of a channel watch of user until
// the returned function is called; the fallback for stores without
// WatchFunc. Once stop has returned wake is not called again.
func forwardWatch(store mailstore.Store, user string, wake func()) (stop func()) {
	ch, stopWatch := store.Watch(user)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case <-ch:
				wake()
			case <-done:
				return
			}
		}
	}()
	return func() {
		stopWatch()
		close(done)
		<-exited
	}
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
	g.mu.Lock()
	delete(g.idlers, w)
	empty := len(g.idlers) == 0
	g.mu.Unlock()
	if empty {
		delete(h.users, w.user)
		g.stop() // not under g.mu: the store calls wake under its own lock
	}
}

// wake marks every idler of g woken and interrupts its wait. It does not
// block: it runs in the store's commit path or poller.
func (g *idleGroup) wake() {
	g.mu.Lock()
	defer g.mu.Unlock()
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
}
