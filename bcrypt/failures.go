package bcrypt

import (
	"sync"
	"time"
)

// failureTable counts failed checks per client in fixed windows, in bounded
// memory. A client's window opens at its first failure and lasts window;
// once it holds max failures, the client is blocked until the window ends.
// At most size clients are counted one by one. When the table is full, a
// client that is not in it shares one count with every other such client
// (overflow), so a guesser spread over more addresses than the table holds
// is limited as one client rather than forgotten.
type failureTable struct {
	max    int
	window time.Duration
	size   int
	now    func() time.Time

	mu       sync.Mutex
	clients  map[string]*failureCount
	overflow failureCount
	// opened lists the windows in the order they opened. Every window has
	// the same length, so they end in the same order: the front is the
	// next to end, and a window that ended is dropped from both opened and
	// clients by expire.
	opened []openedWindow
}

type failureCount struct {
	start time.Time
	n     int
}

type openedWindow struct {
	client string
	start  time.Time
}

func newFailureTable(limit int, window time.Duration, size int) *failureTable {
	return &failureTable{
		max:     limit,
		window:  window,
		size:    size,
		now:     time.Now,
		clients: make(map[string]*failureCount),
	}
}

// blocked returns how long client stays blocked, or 0 if it is not. A nil
// table blocks no one.
func (t *failureTable) blocked(client string) time.Duration {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.expire(now)
	c := t.clients[client]
	if c == nil {
		if len(t.clients) < t.size {
			return 0
		}
		c = &t.overflow
	}
	if c.n < t.max {
		return 0
	}
	return max(0, c.start.Add(t.window).Sub(now))
}

// fail counts one failure of client.
func (t *failureTable) fail(client string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.expire(now)
	c := t.clients[client]
	switch {
	case c != nil:
	case len(t.clients) < t.size:
		c = &failureCount{}
		t.clients[client] = c
	default:
		c = &t.overflow
	}
	if c.n == 0 || !now.Before(c.start.Add(t.window)) {
		*c = failureCount{start: now}
		if c != &t.overflow {
			t.opened = append(t.opened, openedWindow{client, now})
		}
	}
	c.n++
}

// expire forgets the clients whose window has ended by now.
func (t *failureTable) expire(now time.Time) {
	for len(t.opened) > 0 {
		w := t.opened[0]
		if now.Before(w.start.Add(t.window)) {
			return
		}
		// A client whose window ended and reopened before this sweep is
		// listed again further on, with its new start: keep it.
		if c := t.clients[w.client]; c != nil && c.start.Equal(w.start) {
			delete(t.clients, w.client)
		}
		t.opened[0] = openedWindow{}
		t.opened = t.opened[1:]
	}
}

// len returns the number of clients counted one by one.
func (t *failureTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.clients)
}
