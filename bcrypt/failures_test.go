package bcrypt

import (
	"fmt"
	"testing"
	"time"
)

// clock is a settable time for a failure table.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestFailureLimit(t *testing.T) {
	const limit, window = 3, time.Minute
	users := mustUsers(t, map[string]string{"alice": mustHash(t, "pw", MinCost), "bob": mustHash(t, "bob-pw", MinCost)})
	v := NewVerifier(VerifierOptions{MaxFailures: limit, FailureWindow: window})
	clk := &clock{t: time.Unix(1e9, 0)}
	v.guesses.now = clk.now
	calls := countCompares(v)

	if err := v.VerifyFrom("10.0.0.1", users, "alice", "pw"); err != nil {
		t.Fatal(err) // cached from now on
	}
	for i := range limit {
		user := "alice"
		if i == 1 {
			user = "mallory" // unknown users count too
		}
		if err := v.VerifyFrom("10.0.0.1", users, user, fmt.Sprint("guess ", i)); err != ErrMismatch && err != ErrUnknownUser {
			t.Fatalf("guess %d: %v", i, err)
		}
		clk.t = clk.t.Add(time.Second)
	}
	compared := calls.calls.Load()
	for _, tt := range []struct {
		name, client, user, password string
		want                         error
	}{
		{"another guess", "10.0.0.1", "alice", "guess 3", ErrTooManyFailures},
		{"a repeated (cached) wrong password", "10.0.0.1", "alice", "guess 0", ErrTooManyFailures},
		{"a correct password not in the cache", "10.0.0.1", "bob", "bob-pw", ErrTooManyFailures},
		{"the cached correct password", "10.0.0.1", "alice", "pw", nil},
		{"another client", "10.0.0.2", "alice", "pw", nil},
		{"no client (Verify)", "", "alice", "guess 0", ErrMismatch},
	} {
		if err := v.VerifyFrom(tt.client, users, tt.user, tt.password); err != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if got := calls.calls.Load(); got != compared {
		t.Errorf("%d bcrypt comparisons while blocked, want none", got-compared)
	}
	// The window opened at the first failure, 3 s ago.
	if got, want := v.Blocked("10.0.0.1"), window-limit*time.Second; got != want {
		t.Errorf("Blocked = %v, want %v", got, want)
	}
	if got := v.Blocked("10.0.0.2"); got != 0 {
		t.Errorf("Blocked(other client) = %v, want 0", got)
	}
	clk.t = clk.t.Add(window - limit*time.Second)
	if got := v.Blocked("10.0.0.1"); got != 0 {
		t.Errorf("Blocked after the window = %v, want 0", got)
	}
	if err := v.VerifyFrom("10.0.0.1", users, "alice", "guess 3"); err != ErrMismatch {
		t.Errorf("after the window: %v, want ErrMismatch", err)
	}
	if got := calls.calls.Load(); got != compared+1 {
		t.Errorf("after the window: %d comparisons, want 1", got-compared)
	}

	// MaxFailures < 0: no limit.
	v = NewVerifier(VerifierOptions{MaxFailures: -1})
	for i := range 2 * DefaultMaxFailures {
		if err := v.VerifyFrom("10.0.0.1", users, "alice", "same guess"); err != ErrMismatch {
			t.Fatalf("unlimited, guess %d: %v", i, err)
		}
	}
}

// TestFailureTableBounded fills the table and checks that the clients left
// out share one count, and that ended windows free their places.
func TestFailureTableBounded(t *testing.T) {
	const size, limit, window = 4, 3, time.Minute
	ft := newFailureTable(limit, window, size)
	clk := &clock{t: time.Unix(1e9, 0)}
	ft.now = clk.now
	for i := range size {
		ft.fail(fmt.Sprint("client ", i))
	}
	if got := ft.len(); got != size {
		t.Fatalf("%d clients counted, want %d", got, size)
	}
	// Clients past the table share the overflow count.
	for i := range limit {
		c := fmt.Sprint("spread ", i)
		if ft.blocked(c) != 0 {
			t.Fatalf("%s blocked after %d shared failures", c, i)
		}
		ft.fail(c)
	}
	if ft.len() != size {
		t.Errorf("table grew to %d, bound %d", ft.len(), size)
	}
	if ft.blocked("spread 99") == 0 {
		t.Error("a client past the table is not blocked after the shared count reached the limit")
	}
	if ft.blocked("client 0") != 0 {
		t.Error("a counted client with one failure is blocked by the overflow")
	}
	clk.t = clk.t.Add(window)
	if ft.blocked("spread 99") != 0 {
		t.Error("overflow still blocked after its window")
	}
	ft.fail("new client")
	if got := ft.len(); got != 1 {
		t.Errorf("after every window ended: %d clients counted, want 1", got)
	}
	// A client whose window ended and reopened keeps its new count when the
	// old window's entry is swept.
	for range 100 {
		clk.t = clk.t.Add(window / 2)
		ft.fail("new client")
		ft.fail("other")
	}
	if got := len(ft.opened); got > size+1 {
		t.Errorf("%d windows listed for %d clients", got, ft.len())
	}
}
