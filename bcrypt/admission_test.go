package bcrypt

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	xbcrypt "golang.org/x/crypto/bcrypt"
)

// sequencer replaces v's comparison with one that parks each comparison
// until the test lets it finish, recording the order in which comparisons
// start (by password).
type sequencer struct {
	mu      sync.Mutex
	started []string
	finish  chan struct{}
}

func sequenceCompares(v *Verifier) *sequencer {
	s := &sequencer{finish: make(chan struct{})}
	v.compare = func(_ string, password []byte) error {
		s.mu.Lock()
		s.started = append(s.started, string(password))
		s.mu.Unlock()
		<-s.finish
		return xbcrypt.ErrMismatchedHashAndPassword
	}
	return s
}

func (s *sequencer) order() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.started...)
}

// TestFairAdmission floods one client's checks into a full queue, then sends
// one check from another client: it must get a place (pushing out one of the
// flood's) and run right after the comparison under way and at most one of
// the flood's, not behind the whole queue.
func TestFairAdmission(t *testing.T) {
	const queued = 4
	users := mustUsers(t, map[string]string{"alice": mustHash(t, "pw", MinCost)})
	v := NewVerifier(VerifierOptions{MaxConcurrent: 1, MaxQueued: queued, MaxFailures: -1})
	s := sequenceCompares(v)

	const flood = 20
	floodErrs := make(chan error, flood)
	for i := range flood {
		go func() { floodErrs <- v.VerifyFrom("flooder", users, "alice", fmt.Sprint("flood ", i)) }()
	}
	// One runs, queued wait, the rest are refused at once.
	busy := 0
	for range flood - 1 - queued {
		if err := <-floodErrs; err == ErrBusy {
			busy++
		}
	}
	if busy != flood-1-queued {
		t.Fatalf("%d of the flood refused, want %d", busy, flood-1-queued)
	}
	waitFor(t, "queue full", func() bool { return admitted(v) == 1+queued })

	mine := make(chan error, 1)
	go func() { mine <- v.VerifyFrom("scraper", users, "alice", "first login") }()
	// The newcomer pushes out the flood's newest check.
	if err := <-floodErrs; err != ErrBusy {
		t.Fatalf("pushed-out check: %v, want ErrBusy", err)
	}
	waitFor(t, "newcomer queued", func() bool { return admitted(v) == 1+queued })

	for i := 0; ; i++ {
		if i > 3 {
			t.Fatalf("first login not compared after %d comparisons: %q", i, s.order())
		}
		s.finish <- struct{}{}
		waitFor(t, "next comparison", func() bool { return len(s.order()) == i+2 })
		if s.order()[i+1] == "first login" {
			if i > 1 {
				t.Errorf("first login compared after %d of the flood's, want at most 1: %q", i, s.order())
			}
			break
		}
	}
	close(s.finish)
	if err := <-mine; err != ErrMismatch {
		t.Errorf("first login: %v, want ErrMismatch (a compare that fails)", err)
	}
	for range queued - 1 + 1 {
		if err := <-floodErrs; err != ErrMismatch {
			t.Errorf("flood: %v", err)
		}
	}
}

// TestAdmissionRoundRobin queues checks from three clients and checks that
// they are served in turn, and that a client cannot push out another whose
// queue is as long as its own.
func TestAdmissionRoundRobin(t *testing.T) {
	users := mustUsers(t, map[string]string{"alice": mustHash(t, "pw", MinCost)})
	v := NewVerifier(VerifierOptions{MaxConcurrent: 1, MaxQueued: 6, MaxFailures: -1})
	s := sequenceCompares(v)
	errs := make(chan error, 16)
	send := func(client string, n int) {
		for i := range n {
			go func() { errs <- v.VerifyFrom(client, users, "alice", fmt.Sprintf("%s %d", client, i)) }()
			waitFor(t, "queued", func() bool { return len(s.order())+queuedOf(v, client) > i })
		}
	}
	send("a", 3) // one runs, two wait
	send("b", 2)
	send("c", 2)
	waitFor(t, "queue full", func() bool { return admitted(v) == 7 })
	// Full: b already has as many waiting as a would after pushing one out.
	if err := v.VerifyFrom("b", users, "alice", "b more"); err != ErrBusy {
		t.Errorf("b past a full queue: %v, want ErrBusy", err)
	}
	close(s.finish)
	for range 7 {
		if err := <-errs; err != ErrMismatch {
			t.Errorf("queued check: %v", err)
		}
	}
	var clients []string
	for _, p := range s.order() {
		clients = append(clients, strings.Fields(p)[0])
	}
	if got, want := strings.Join(clients, ""), "aabcabc"; got != want {
		t.Errorf("served in the order %s, want %s (round-robin after the running one)", got, want)
	}
}

func queuedOf(v *Verifier, client string) int {
	a := v.admission
	a.mu.Lock()
	defer a.mu.Unlock()
	if q := a.waiting[client]; q != nil {
		return len(q.waiters)
	}
	return 0
}
