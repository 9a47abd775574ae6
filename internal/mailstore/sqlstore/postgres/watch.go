package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// maxPayload is the longest user name sent as a NOTIFY payload (PostgreSQL
// allows under 8000 bytes); a longer name is sent as "" and wakes every
// watcher of the node.
const maxPayload = 4000

// watcher holds this node's watchers and the LISTEN connection that wakes
// them for commits made by any node.
type watcher struct {
	st *Store

	mu      sync.Mutex
	groups  map[string]map[*chan struct{}]struct{} // by user
	up      bool                                   // LISTEN connection established
	pending map[string]struct{}                    // users to pg_notify
	kick    chan struct{}                          // wakes the notifier (buffer 1)
}

func (w *watcher) init(st *Store) {
	w.st = st
	w.groups = map[string]map[*chan struct{}]struct{}{}
	w.pending = map[string]struct{}{}
	w.kick = make(chan struct{}, 1)
}

// Watch returns a channel that receives a value after every committed
// change to user's account, made by this node or (through LISTEN) any
// other. The returned function stops the watch; it is idempotent and does
// not close the channel.
func (st *Store) Watch(user string) (<-chan struct{}, func()) {
	w := &st.watch
	ch := make(chan struct{}, 1)
	key := &ch
	w.mu.Lock()
	g := w.groups[user]
	if g == nil {
		g = map[*chan struct{}]struct{}{}
		w.groups[user] = g
	}
	g[key] = struct{}{}
	w.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			if g := w.groups[user]; g != nil {
				delete(g, key)
				if len(g) == 0 {
					delete(w.groups, user)
				}
			}
		})
	}
}

// wake wakes every watcher of user on this node without blocking.
func (w *watcher) wake(user string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.groups[user] {
		select {
		case *ch <- struct{}{}:
		default:
		}
	}
}

// wakeAll wakes every watcher on this node: after a (re)connect of the
// LISTEN connection, or for a payload that names no user.
func (w *watcher) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, g := range w.groups {
		for ch := range g {
			select {
			case *ch <- struct{}{}:
			default:
			}
		}
	}
}

func (w *watcher) connected() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.up
}

func (w *watcher) setUp(up bool) {
	w.mu.Lock()
	w.up = up
	w.mu.Unlock()
}

func (w *watcher) closeAll() {
	w.mu.Lock()
	w.groups = map[string]map[*chan struct{}]struct{}{}
	w.mu.Unlock()
}

// listen keeps one connection LISTENing on notifyChannel until ctx ends,
// reconnecting after every failure. Each (re)connection wakes every
// watcher, because notifications sent while it was down are lost.
func (w *watcher) listen(ctx context.Context) {
	st := w.st
	for ctx.Err() == nil {
		err := w.listenOnce(ctx)
		w.setUp(false)
		if ctx.Err() != nil {
			return
		}
		st.log.Warn("postgres store: change notifications interrupted; reconnecting", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(st.opts.ReconnectDelay):
		}
	}
}

// listenOnce connects, LISTENs and dispatches notifications until the
// connection fails or ctx ends.
func (w *watcher) listenOnce(ctx context.Context) error {
	cfg := w.st.pool.Config().ConnConfig.Copy()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+notifyChannel); err != nil {
		return err
	}
	// A reconnect usually means the database restarted: the POP3 locks
	// went with it.
	w.st.drops.refresh(ctx)
	w.setUp(true)
	w.wakeAll()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if _, own := w.st.ownPIDs.Load(n.PID); own {
			continue // sent by this node, whose watchers notify woke
		}
		if n.Payload == "" {
			w.wakeAll()
		} else {
			w.wake(n.Payload)
		}
	}
}

// notify wakes user's watchers on this node at once and queues user for
// pg_notify, which the notifier goroutine sends to every node. Called
// after a commit; it never waits for the database, so a command's reply
// does not wait for the notification either.
func (st *Store) notify(user string) {
	st.watch.wake(user)
	payload := user
	if len(payload) > maxPayload {
		payload = ""
	}
	st.watch.mu.Lock()
	st.watch.pending[payload] = struct{}{}
	st.watch.mu.Unlock()
	select {
	case st.watch.kick <- struct{}{}:
	default: // a send is due already
	}
}

// notifier sends the queued notifications, all users queued meanwhile in
// one statement (a burst of deliveries costs one round trip per batch,
// and PostgreSQL folds duplicate payloads of one transaction). A failure
// costs other nodes latency only (their sessions resync at the next
// command or reconnect wake-up), so it is logged and the batch dropped.
func (w *watcher) notifier(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			// Close: send what is queued, so that a short-lived process
			// (roost deliver) still wakes the server's IDLE sessions.
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			w.flush(fctx)
			cancel()
			return
		case <-w.kick:
		}
		// Not cancelled by Close: a notification being sent is finished.
		nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		w.flush(nctx)
		cancel()
	}
}

// flush sends the queued notifications in one statement.
func (w *watcher) flush(ctx context.Context) {
	w.mu.Lock()
	users := make([]string, 0, len(w.pending))
	for u := range w.pending {
		users = append(users, u)
	}
	clear(w.pending)
	w.mu.Unlock()
	if len(users) == 0 {
		return
	}
	if _, err := w.st.pool.Exec(ctx, `SELECT pg_notify($1, u) FROM unnest($2::text[]) AS u`, notifyChannel, users); err != nil {
		w.st.log.Warn("postgres store: notify", "users", len(users), "err", err)
	}
}
