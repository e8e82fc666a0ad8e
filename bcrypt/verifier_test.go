package bcrypt

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	xbcrypt "golang.org/x/crypto/bcrypt"
)

// mustHash hashes password at cost or fails the test.
func mustHash(t testing.TB, password string, cost int) string {
	t.Helper()
	h, err := Hash([]byte(password), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func mustUsers(t testing.TB, hashes map[string]string) *Users {
	t.Helper()
	u, err := NewUsers(hashes)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// counter replaces v's bcrypt comparison with one that counts calls and
// records the hashes compared against, then delegates to the real one.
type counter struct {
	mu     sync.Mutex
	hashes []string
	calls  atomic.Int64
}

func countCompares(v *Verifier) *counter {
	c := &counter{}
	real := v.compare
	v.compare = func(hash string, password []byte) error {
		c.calls.Add(1)
		c.mu.Lock()
		c.hashes = append(c.hashes, hash)
		c.mu.Unlock()
		return real(hash, password)
	}
	return c
}

// admitted returns how many comparisons are running or waiting for a slot.
func admitted(v *Verifier) int {
	running, queued := v.admission.load()
	return running + queued
}

// waitFor polls cond for up to ten seconds: the tests use it to reach a
// state (goroutines parked in the queue), never to measure time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 10000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestVerify(t *testing.T) {
	long := strings.Repeat("p", maxPasswordLen)
	users := mustUsers(t, map[string]string{
		"alice": mustHash(t, "alice-pw", MinCost),
		"bob":   mustHash(t, "bob-pw", MinCost+1),
		"long":  mustHash(t, long, MinCost),
	})
	empty := mustUsers(t, nil)
	for _, tc := range []struct {
		name           string
		users          *Users
		user, password string
		want           error
	}{
		{"right", users, "alice", "alice-pw", nil},
		{"right other cost", users, "bob", "bob-pw", nil},
		{"wrong", users, "alice", "bob-pw", ErrMismatch},
		{"empty password", users, "alice", "", ErrMismatch},
		{"prefix of right", users, "alice", "alice-p", ErrMismatch},
		{"unknown", users, "carol", "alice-pw", ErrUnknownUser},
		{"empty user", users, "", "alice-pw", ErrUnknownUser},
		{"user case matters", users, "Alice", "alice-pw", ErrUnknownUser},
		{"72 bytes", users, "long", long, nil},
		{"past 72 bytes ignored, as bcrypt does", users, "long", long + "extra", nil},
		{"71 bytes", users, "long", long[1:], ErrMismatch},
		{"empty table", empty, "alice", "alice-pw", ErrUnknownUser},
		{"nil table", nil, "alice", "alice-pw", ErrUnknownUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := NewVerifier(VerifierOptions{})
			// Twice: the second answer comes from a cache and must agree.
			for i := range 2 {
				if err := v.Verify(tc.users, tc.user, tc.password); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
					t.Fatalf("call %d: Verify = %v, want %v", i+1, err, tc.want)
				}
			}
		})
	}
}

func TestVerifyHtpasswd(t *testing.T) {
	path, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Fatal("htpasswd is needed (apache2-utils): ", err)
	}
	out, err := exec.Command(path, "-nbBC", "10", "scraper", "s3cret pass").Output()
	if err != nil {
		t.Fatal(err)
	}
	name, hash, ok := strings.Cut(strings.TrimSpace(string(out)), ":")
	if !ok || name != "scraper" {
		t.Fatalf("unexpected htpasswd output %q", out)
	}
	if !strings.HasPrefix(hash, "$2y$10$") {
		t.Fatalf("htpasswd printed %q, want a $2y$10$ hash", hash)
	}
	if cost, err := CheckHash(hash); err != nil || cost != 10 {
		t.Fatalf("CheckHash = %d, %v; want 10, nil", cost, err)
	}
	users := mustUsers(t, map[string]string{name: hash})
	v := NewVerifier(VerifierOptions{})
	if err := v.Verify(users, "scraper", "s3cret pass"); err != nil {
		t.Errorf("right password: %v", err)
	}
	if err := v.Verify(users, "scraper", "s3cret pas"); !errors.Is(err, ErrMismatch) {
		t.Errorf("wrong password: %v, want ErrMismatch", err)
	}
}

func TestVerifyVersions(t *testing.T) {
	// $2a$, $2b$ and $2y$ differ only in the bugs of old C implementations
	// with 8-bit passwords; for our purposes the digest is the same.
	a := mustHash(t, "pw", MinCost)
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		h := prefix + a[4:]
		users := mustUsers(t, map[string]string{"u": h})
		v := NewVerifier(VerifierOptions{})
		if err := v.Verify(users, "u", "pw"); err != nil {
			t.Errorf("%s: %v", prefix, err)
		}
		if err := v.Verify(users, "u", "pW"); !errors.Is(err, ErrMismatch) {
			t.Errorf("%s wrong password: %v", prefix, err)
		}
	}
}

func TestNewUsers(t *testing.T) {
	good := mustHash(t, "pw", MinCost)
	u := mustUsers(t, map[string]string{"a": good, "b": good})
	if u.Len() != 2 {
		t.Errorf("Len = %d, want 2", u.Len())
	}
	if (*Users)(nil).Len() != 0 {
		t.Error("nil Users has a length")
	}
	for _, tc := range []struct {
		name   string
		hashes map[string]string
		want   string
	}{
		{"empty name", map[string]string{"": good}, "empty user name"},
		{"colon", map[string]string{"a:b": good}, `user "a:b": name contains ':'`},
		{"short hash", map[string]string{"a": good[:59]}, `user "a": bcrypt: hash is 59 characters long`},
		{"bad prefix", map[string]string{"a": "$2x$" + good[4:]}, `user "a": bcrypt: hash does not start`},
		{"plaintext", map[string]string{"a": "hunter2"}, `user "a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := NewUsers(tc.hashes)
			if err == nil || u != nil {
				t.Fatalf("NewUsers = %v, %v; want an error", u, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			for _, h := range tc.hashes {
				if len(h) > 4 && strings.Contains(err.Error(), h) {
					t.Errorf("error %q reveals the hash", err)
				}
			}
		})
	}
	// Every bad entry is reported, in a stable order.
	_, err := NewUsers(map[string]string{"z": "x", "a": "y", "m": good})
	if err == nil || strings.Index(err.Error(), `"a"`) > strings.Index(err.Error(), `"z"`) {
		t.Errorf("NewUsers errors = %v, want both a and z, a first", err)
	}
}

func TestDecoyHash(t *testing.T) {
	seen := map[string]bool{}
	for cost := MinCost; cost <= MaxCost; cost++ {
		h := decoyHash(cost)
		got, err := CheckHash(h)
		if err != nil || got != cost {
			t.Fatalf("decoy %q: CheckHash = %d, %v", h, got, err)
		}
		if seen[h] {
			t.Fatalf("decoy %q repeated", h)
		}
		seen[h] = true
		// Only the cost-4 decoy is cheap enough to run: it compares like a
		// real hash (no parse error) and does not match.
		if cost == MinCost {
			if err := xbcrypt.CompareHashAndPassword([]byte(h), []byte("")); !errors.Is(err, xbcrypt.ErrMismatchedHashAndPassword) {
				t.Fatalf("decoy compare: %v", err)
			}
		}
	}
}

func TestCacheHitSkipsBcrypt(t *testing.T) {
	users := mustUsers(t, map[string]string{"alice": mustHash(t, "pw", MinCost)})
	v := NewVerifier(VerifierOptions{})
	c := countCompares(v)
	for _, tc := range []struct {
		user, password string
		want           error
	}{
		{"alice", "pw", nil},
		{"alice", "wrong", ErrMismatch},
		{"nobody", "pw", ErrUnknownUser},
	} {
		before := c.calls.Load()
		for range 5 {
			if err := v.Verify(users, tc.user, tc.password); err != tc.want {
				t.Fatalf("Verify(%q) = %v, want %v", tc.user, err, tc.want)
			}
		}
		if n := c.calls.Load() - before; n != 1 {
			t.Errorf("%s/%s: %d bcrypt comparisons for 5 checks, want 1", tc.user, tc.password, n)
		}
	}
	if got := v.successes.len(); got != 1 {
		t.Errorf("success cache holds %d entries, want 1", got)
	}
	if got := v.failures.len(); got != 2 {
		t.Errorf("failure cache holds %d entries, want 2", got)
	}
}

func TestCacheDisabled(t *testing.T) {
	users := mustUsers(t, map[string]string{"alice": mustHash(t, "pw", MinCost)})
	v := NewVerifier(VerifierOptions{SuccessCacheSize: -1, FailureCacheSize: -1})
	c := countCompares(v)
	for range 3 {
		if err := v.Verify(users, "alice", "pw"); err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(users, "alice", "x"); err != ErrMismatch {
			t.Fatal(err)
		}
	}
	if n := c.calls.Load(); n != 6 {
		t.Errorf("%d comparisons with caching disabled, want 6", n)
	}
}

func TestFloodDoesNotEvictSuccess(t *testing.T) {
	const right = "right password"
	users := mustUsers(t, map[string]string{"alice": mustHash(t, right, MinCost)})
	v := NewVerifier(VerifierOptions{MaxConcurrent: 2, MaxQueued: 1000})
	// The flood is 10k comparisons; the real bcrypt under -race would take
	// minutes, and what is under test is the caching around it, so the
	// comparison is faked (its real behaviour is tested above).
	var calls atomic.Int64
	v.compare = func(_ string, password []byte) error {
		calls.Add(1)
		if string(password) == right {
			return nil
		}
		return xbcrypt.ErrMismatchedHashAndPassword
	}
	if err := v.Verify(users, "alice", right); err != nil {
		t.Fatal(err)
	}

	const flooders, perFlooder = 4, 2500
	var wg sync.WaitGroup
	for f := range flooders {
		wg.Go(func() {
			for i := range perFlooder {
				// The queue holds more than the flooders: never ErrBusy.
				if err := v.Verify(users, "alice", fmt.Sprintf("wrong %d/%d", f, i)); err != ErrMismatch {
					t.Errorf("flood: Verify = %v", err)
					return
				}
			}
		})
	}
	// Meanwhile the right password keeps being answered from the cache,
	// never ErrBusy, never a comparison.
	wg.Go(func() {
		for range 2000 {
			if err := v.Verify(users, "alice", right); err != nil {
				t.Errorf("right password during the flood: %v", err)
				return
			}
			runtime.Gosched()
		}
	})
	wg.Wait()

	if got := v.failures.len(); got > DefaultFailureCacheSize {
		t.Errorf("failure cache holds %d entries, bound is %d", got, DefaultFailureCacheSize)
	}
	if got, want := calls.Load(), int64(1+flooders*perFlooder); got != want {
		t.Errorf("%d comparisons, want %d (1 right + the wrong ones): the right password was compared again", got, want)
	}
	before := calls.Load()
	if err := v.Verify(users, "alice", right); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != before {
		t.Error("right password not a cache hit after the flood")
	}
}

// blocker replaces v's comparison with one that parks until released,
// tracking how many run at once.
type blocker struct {
	release  chan struct{}
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	calls    atomic.Int64
}

func blockCompares(v *Verifier, except string) *blocker {
	b := &blocker{release: make(chan struct{})}
	v.compare = func(hash string, password []byte) error {
		if string(password) == except {
			return compareHash(hash, password)
		}
		b.calls.Add(1)
		n := b.inFlight.Add(1)
		for {
			m := b.maxSeen.Load()
			if n <= m || b.maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		<-b.release
		b.inFlight.Add(-1)
		return xbcrypt.ErrMismatchedHashAndPassword
	}
	return b
}

func TestConcurrencyBound(t *testing.T) {
	const conc, queued = 3, 17
	users := mustUsers(t, map[string]string{"alice": mustHash(t, "pw", MinCost)})
	v := NewVerifier(VerifierOptions{MaxConcurrent: conc, MaxQueued: queued})
	b := blockCompares(v, "")

	errs := make(chan error, conc+queued)
	for i := range conc + queued {
		go func() { errs <- v.Verify(users, "alice", fmt.Sprint("wrong ", i)) }()
	}
	waitFor(t, "every check admitted", func() bool {
		return admitted(v) == conc+queued && b.inFlight.Load() == conc
	})
	// All checks are admitted; the ones beyond conc are parked on a slot.
	if got := b.maxSeen.Load(); got != conc {
		t.Errorf("%d comparisons at once, want %d", got, conc)
	}
	close(b.release)
	for range conc + queued {
		if err := <-errs; err != ErrMismatch {
			t.Errorf("Verify = %v, want ErrMismatch", err)
		}
	}
	if got := b.maxSeen.Load(); got > conc {
		t.Errorf("%d comparisons at once, limit %d", got, conc)
	}
	if got := b.calls.Load(); got != conc+queued {
		t.Errorf("%d comparisons, want %d", got, conc+queued)
	}
	if got := admitted(v); got != 0 {
		t.Errorf("admitted = %d after all returned", got)
	}
}

func TestBusyWhenQueueFull(t *testing.T) {
	const conc, queued = 1, 2
	users := mustUsers(t, map[string]string{"alice": mustHash(t, "pw", MinCost)})
	v := NewVerifier(VerifierOptions{MaxConcurrent: conc, MaxQueued: queued})
	b := blockCompares(v, "pw")
	// Cache a success and a failure before the queue fills.
	if err := v.Verify(users, "alice", "pw"); err != nil {
		t.Fatal(err)
	}
	go func() { _ = v.Verify(users, "alice", "cached wrong") }()
	waitFor(t, "first comparison", func() bool { return b.inFlight.Load() == 1 })
	b.release <- struct{}{}
	waitFor(t, "first comparison done", func() bool { return admitted(v) == 0 })

	errs := make(chan error, conc+queued)
	for i := range conc + queued {
		go func() { errs <- v.Verify(users, "alice", fmt.Sprint("wrong ", i)) }()
	}
	waitFor(t, "queue full", func() bool { return admitted(v) == conc+queued })

	if err := v.Verify(users, "alice", "one too many"); err != ErrBusy {
		t.Errorf("with the queue full: Verify = %v, want ErrBusy", err)
	}
	if err := v.Verify(users, "nobody", "one too many"); err != ErrBusy {
		t.Errorf("unknown user with the queue full: Verify = %v, want ErrBusy", err)
	}
	// Cached verdicts are still answered.
	if err := v.Verify(users, "alice", "pw"); err != nil {
		t.Errorf("cached success with the queue full: %v", err)
	}
	if err := v.Verify(users, "alice", "cached wrong"); err != ErrMismatch {
		t.Errorf("cached failure with the queue full: %v", err)
	}
	close(b.release)
	for range conc + queued {
		if err := <-errs; err != ErrMismatch {
			t.Errorf("queued Verify = %v, want ErrMismatch", err)
		}
	}
	// ErrBusy is not a verdict: nothing was cached, the next try compares.
	before := b.calls.Load()
	if err := v.Verify(users, "alice", "one too many"); err != ErrMismatch {
		t.Errorf("after the queue drained: %v", err)
	}
	if b.calls.Load() != before+1 {
		t.Error("ErrBusy was cached")
	}
}

func TestIdenticalChecksShareOneComparison(t *testing.T) {
	users := mustUsers(t, map[string]string{"alice": mustHash(t, "pw", MinCost)})
	v := NewVerifier(VerifierOptions{MaxConcurrent: 1, MaxQueued: -1})
	b := blockCompares(v, "")
	errs := make(chan error, 10)
	go func() { errs <- v.Verify(users, "alice", "same") }()
	waitFor(t, "leader comparing", func() bool { return b.inFlight.Load() == 1 })
	// No queue and the one slot taken: anything but joining would be ErrBusy.
	for range 9 {
		go func() { errs <- v.Verify(users, "alice", "same") }()
	}
	waitFor(t, "followers waiting", func() bool { return v.joined.Load() == 9 })
	close(b.release)
	for range 10 {
		if err := <-errs; err != ErrMismatch {
			t.Errorf("Verify = %v, want ErrMismatch", err)
		}
	}
	if got := b.calls.Load(); got != 1 {
		t.Errorf("%d comparisons for 10 identical checks, want 1", got)
	}
}

func TestUnknownUserCostsMaxCost(t *testing.T) {
	users := mustUsers(t, map[string]string{
		"cheap":  mustHash(t, "pw", MinCost),
		"costly": mustHash(t, "pw", MinCost+2),
	})
	v := NewVerifier(VerifierOptions{})
	c := countCompares(v)
	if err := v.Verify(users, "nobody", "pw"); err != ErrUnknownUser {
		t.Fatalf("Verify = %v, want ErrUnknownUser", err)
	}
	if len(c.hashes) != 1 {
		t.Fatalf("%d comparisons for an unknown user, want 1", len(c.hashes))
	}
	cost, err := CheckHash(c.hashes[0])
	if err != nil || cost != MinCost+2 {
		t.Errorf("unknown user compared at cost %d (%v), want the table's highest, %d", cost, err, MinCost+2)
	}
	for name, e := range users.hashes {
		if c.hashes[0] == e.hash {
			t.Errorf("unknown user compared against %s's hash", name)
		}
	}
	// Another unknown name does the same work against the same decoy.
	if err := v.Verify(users, "other", "pw"); err != ErrUnknownUser {
		t.Fatal(err)
	}
	if len(c.hashes) != 2 || c.hashes[1] != c.hashes[0] {
		t.Errorf("second unknown user: compared against %q", c.hashes[1:])
	}
}

func TestHashChangeInvalidatesSuccess(t *testing.T) {
	oldHash := mustHash(t, "old", MinCost)
	v := NewVerifier(VerifierOptions{})
	c := countCompares(v)
	before := mustUsers(t, map[string]string{"alice": oldHash})
	if err := v.Verify(before, "alice", "old"); err != nil {
		t.Fatal(err)
	}
	// A reload that leaves alice's hash alone keeps her cached.
	same := mustUsers(t, map[string]string{"alice": oldHash, "bob": mustHash(t, "b", MinCost)})
	if err := v.Verify(same, "alice", "old"); err != nil || c.calls.Load() != 1 {
		t.Fatalf("unchanged hash after reload: %v, %d comparisons (want nil, 1)", err, c.calls.Load())
	}
	// A new hash for alice: the old password must be compared again, and fail.
	after := mustUsers(t, map[string]string{"alice": mustHash(t, "new", MinCost)})
	if err := v.Verify(after, "alice", "old"); err != ErrMismatch {
		t.Errorf("old password after the change: %v, want ErrMismatch", err)
	}
	if c.calls.Load() != 2 {
		t.Errorf("%d comparisons, want 2: the cached success survived the hash change", c.calls.Load())
	}
	if err := v.Verify(after, "alice", "new"); err != nil {
		t.Errorf("new password: %v", err)
	}
	// And alice removed: unknown, whatever was cached.
	gone := mustUsers(t, map[string]string{"bob": mustHash(t, "b", MinCost)})
	if err := v.Verify(gone, "alice", "new"); err != ErrUnknownUser {
		t.Errorf("removed user: %v, want ErrUnknownUser", err)
	}
}

func TestCacheKey(t *testing.T) {
	v := NewVerifier(VerifierOptions{})
	h := mustHash(t, "pw", MinCost)
	key := func(v *Verifier, user, hash, password string) cacheKey {
		var k cacheKey
		e := newEntry(hash)
		v.key(&k, user, &e.id, password)
		return k
	}
	// Moving bytes between fields never gives the same key.
	triples := [][3]string{
		{"ab", h, "c"},
		{"a", h, "bc"},
		{"a", "b" + h, "c"},
		{"a", h + "b", "c"},
		{"", "ab" + h, "c"},
		{"ab", h, ""},
		{"ab", h, "c\x00"},
	}
	seen := map[cacheKey]int{}
	for i, tr := range triples {
		k := key(v, tr[0], tr[1], tr[2])
		if j, ok := seen[k]; ok {
			t.Errorf("triples %d and %d share a key", i, j)
		}
		seen[k] = i
		if k != key(v, tr[0], tr[1], tr[2]) {
			t.Errorf("triple %d: key not deterministic", i)
		}
	}
	// The key is per Verifier (per process, in practice): not a plain hash.
	if key(v, "a", h, "pw") == key(NewVerifier(VerifierOptions{}), "a", h, "pw") {
		t.Error("two Verifiers derive the same key")
	}
	// The key contains nothing of the password.
	k := key(v, "a", h, "password-password-password")
	if strings.Contains(string(k[:]), "password") {
		t.Error("key contains the password")
	}
}

func TestVerdictCacheBounded(t *testing.T) {
	c := newVerdictCache(64)
	var keys []cacheKey
	for i := range 1000 {
		var k cacheKey
		k[0], k[1], k[2] = byte(i), byte(i>>8), 1
		keys = append(keys, k)
		c.add(&k)
		c.add(&k) // re-adding is a no-op
		if n := c.len(); n > 64 {
			t.Fatalf("after %d adds the cache holds %d keys, bound 64", i+1, n)
		}
	}
	// FIFO: the newest keys of every shard are still there, the oldest gone.
	for _, k := range keys[len(keys)-cacheShards:] {
		if !c.contains(&k) {
			t.Errorf("newest key %x evicted", k[:2])
		}
	}
	if c.contains(&keys[0]) {
		t.Error("oldest key still cached")
	}
	var nilCache *verdictCache
	nilCache.add(&keys[0])
	if nilCache.contains(&keys[0]) || nilCache.len() != 0 {
		t.Error("a disabled cache cached")
	}
}

func TestVerifierDefaults(t *testing.T) {
	v := NewVerifier(VerifierOptions{})
	conc := max(1, runtime.GOMAXPROCS(0)/2)
	if a := v.admission; a.slots != conc || a.maxQueued != 4*conc {
		t.Errorf("defaults: %d slots, %d queued; want %d, %d", a.slots, a.maxQueued, conc, 4*conc)
	}
	if g := v.guesses; g.max != DefaultMaxFailures || g.window != DefaultFailureWindow || g.size != DefaultMaxClients {
		t.Errorf("defaults: %d failures per %v, %d clients; want %d per %v, %d",
			g.max, g.window, g.size, DefaultMaxFailures, DefaultFailureWindow, DefaultMaxClients)
	}
	if DefaultMaxFailures != 10 || DefaultFailureWindow != time.Minute {
		t.Errorf("documented defaults are 10 failures a minute, not %d per %v", DefaultMaxFailures, DefaultFailureWindow)
	}
	v = NewVerifier(VerifierOptions{MaxConcurrent: 2, MaxQueued: -1, MaxFailures: -1})
	if a := v.admission; a.slots != 2 || a.maxQueued != 0 {
		t.Errorf("no queue: %d slots, %d queued; want 2, 0", a.slots, a.maxQueued)
	}
	if v.guesses != nil {
		t.Error("MaxFailures < 0: failures are still counted")
	}
}

func TestPanicInCompareReleasesEverything(t *testing.T) {
	users := mustUsers(t, map[string]string{"alice": mustHash(t, "pw", MinCost)})
	v := NewVerifier(VerifierOptions{MaxConcurrent: 1, MaxQueued: -1})
	v.compare = func(string, []byte) error { panic("boom") }
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		_ = v.Verify(users, "alice", "pw")
	}()
	inFlight := 0
	for i := range v.flights {
		inFlight += len(v.flights[i].calls)
	}
	if running, queued := v.admission.load(); running != 0 || queued != 0 || inFlight != 0 {
		t.Fatalf("after a panic: %d running, %d queued, %d in flight", running, queued, inFlight)
	}
	v.compare = compareHash
	if err := v.Verify(users, "alice", "pw"); err != nil {
		t.Errorf("after a panic: %v", err)
	}
}
