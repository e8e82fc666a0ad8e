package bcrypt

import "sync"

// admission bounds a Verifier's bcrypt comparisons: at most slots run at
// once and at most maxQueued wait. Waiting checks are grouped by client and
// admitted round-robin across clients, so a client's first check waits for
// at most one comparison per other client with checks waiting, however many
// checks those clients have queued. When the queue is full, a newcomer takes
// the place of the newest check of the client with the most waiting, if that
// client has more waiting than the newcomer's own; otherwise the newcomer is
// refused. A flood from one client therefore only ever pushes out its own
// checks.
type admission struct {
	mu        sync.Mutex
	slots     int // comparisons allowed to run at once
	running   int
	maxQueued int
	queued    int
	// waiting holds the clients with checks waiting; turn is the same
	// clients in the order they are served (the front is next).
	waiting map[string]*clientQueue
	turn    []*clientQueue
}

// clientQueue is one client's waiting checks, oldest first. Each channel
// receives true when its check may run, false when it was pushed out.
type clientQueue struct {
	client  string
	waiters []chan bool
}

func newAdmission(slots, maxQueued int) *admission {
	return &admission{slots: slots, maxQueued: maxQueued, waiting: make(map[string]*clientQueue)}
}

// acquire waits for a slot for one of client's checks. It returns false,
// without a slot, when the queue is full of checks of clients that have no
// more waiting than client, or when the check was pushed out while waiting.
// Every true must be followed by one release.
func (a *admission) acquire(client string) bool {
	a.mu.Lock()
	// Slots are handed from a finishing check straight to a waiting one,
	// so a free slot means nobody is waiting.
	if a.running < a.slots {
		a.running++
		a.mu.Unlock()
		return true
	}
	q := a.waiting[client]
	if a.queued >= a.maxQueued && !a.pushOut(q) {
		a.mu.Unlock()
		return false
	}
	if q == nil {
		q = &clientQueue{client: client}
		a.waiting[client] = q
		a.turn = append(a.turn, q)
	}
	admitted := make(chan bool, 1)
	q.waiters = append(q.waiters, admitted)
	a.queued++
	a.mu.Unlock()
	return <-admitted
}

// pushOut refuses the newest waiting check of the client with the most
// waiting, to make room for one more check of mine's client (mine is nil
// when that client has none waiting). It reports whether it made room.
func (a *admission) pushOut(mine *clientQueue) bool {
	have := 0
	if mine != nil {
		have = len(mine.waiters)
	}
	var longest *clientQueue
	for _, q := range a.turn {
		if longest == nil || len(q.waiters) > len(longest.waiters) {
			longest = q
		}
	}
	if longest == nil || len(longest.waiters) <= have+1 {
		// Pushing out would leave that client with no more than this one
		// would then have: the queue is already fair.
		return false
	}
	last := len(longest.waiters) - 1
	longest.waiters[last] <- false
	longest.waiters = longest.waiters[:last]
	a.queued--
	return true
}

// release ends a check that acquire admitted, handing its slot to the next
// client in turn.
func (a *admission) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.turn) == 0 {
		a.running--
		return
	}
	q := a.turn[0]
	next := q.waiters[0]
	q.waiters = q.waiters[1:]
	a.queued--
	a.turn = a.turn[1:]
	if len(q.waiters) > 0 {
		a.turn = append(a.turn, q)
	} else {
		delete(a.waiting, q.client)
	}
	next <- true
}

// load returns how many checks are running and waiting.
func (a *admission) load() (running, queued int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running, a.queued
}
