package bcrypt

import (
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	xbcrypt "golang.org/x/crypto/bcrypt"
)

// Errors returned by Verifier.Verify and Verifier.VerifyFrom. They name no
// user and no password.
var (
	// ErrUnknownUser means the user is not in the table. Finding that out
	// took the same work as a wrong password for the table's costliest user
	// (a bcrypt comparison against a decoy, or the same cache lookup), except
	// for an empty table, which answers at once.
	ErrUnknownUser = errors.New("bcrypt: unknown user")
	// ErrMismatch means the user is known and the password is wrong.
	ErrMismatch = errors.New("bcrypt: wrong password")
	// ErrBusy means the answer was not in the cache and too many bcrypt checks
	// were already running or queued; nothing was checked. An HTTP server
	// answers 429.
	ErrBusy = errors.New("bcrypt: too many password checks in progress")
	// ErrTooManyFailures means the client has used up its failures for the
	// current window (see VerifierOptions.MaxFailures); nothing was checked.
	// Verifier.Blocked says for how long. An HTTP server answers 429.
	ErrTooManyFailures = errors.New("bcrypt: too many failed checks from this client")
)

// Defaults for VerifierOptions fields left at zero.
const (
	// DefaultSuccessCacheSize is the default VerifierOptions.SuccessCacheSize.
	DefaultSuccessCacheSize = 1024
	// DefaultFailureCacheSize is the default VerifierOptions.FailureCacheSize.
	DefaultFailureCacheSize = 4096
	// DefaultMaxFailures is the default VerifierOptions.MaxFailures.
	DefaultMaxFailures = 10
	// DefaultFailureWindow is the default VerifierOptions.FailureWindow.
	DefaultFailureWindow = time.Minute
	// DefaultMaxClients is the default VerifierOptions.MaxClients.
	DefaultMaxClients = 4096
)

// maxPasswordLen is how much of a password bcrypt reads; the rest never
// changes the verdict (htpasswd and x/crypto/bcrypt agree).
const maxPasswordLen = 72

// VerifierOptions tunes a Verifier. The zero value gives the defaults
// documented on each field.
type VerifierOptions struct {
	// MaxConcurrent is how many bcrypt comparisons run at once. Zero means
	// max(1, GOMAXPROCS/2) as read by NewVerifier, so that password checks
	// leave the rest of the process half of the CPUs (when there are two or
	// more).
	MaxConcurrent int

	// MaxQueued is how many checks may wait for one of the MaxConcurrent
	// slots. Waiting checks are admitted round-robin across clients (see
	// VerifyFrom). When the queue is full, a check takes the place of the
	// newest waiting check of the client with the most checks waiting, if
	// that client has more waiting than its own client; otherwise it returns
	// ErrBusy at once, and so does a check pushed out of the queue. Zero
	// means 4 × MaxConcurrent; a negative value means no queue (ErrBusy
	// whenever every slot is busy).
	MaxQueued int

	// SuccessCacheSize bounds the cache of correct (user, hash, password)
	// triples, which answers without bcrypt. Zero means
	// DefaultSuccessCacheSize; a negative value disables the cache. Only a
	// correct password adds an entry, so wrong passwords never evict one.
	SuccessCacheSize int

	// FailureCacheSize bounds the separate cache of wrong triples, which
	// makes a repeated wrong password (or unknown user) cheap. Zero means
	// DefaultFailureCacheSize; a negative value disables the cache. When full,
	// the oldest entry goes.
	FailureCacheSize int

	// MaxFailures is how many failed checks (wrong password or unknown
	// user, cached or not) one client may have within FailureWindow. A
	// client that reaches it gets ErrTooManyFailures from VerifyFrom,
	// without any bcrypt work, until the window ends; a correct password
	// that is already cached is still accepted. Checks already in progress
	// when the limit is reached may add a few failures more. Zero means
	// DefaultMaxFailures; a negative value turns the limit off. Verify,
	// which has no client, is never limited.
	MaxFailures int

	// FailureWindow is how long failures count against a client: the
	// window opens at the client's first failure and the count starts
	// afresh after it. A success does not reset the count. Zero means
	// DefaultFailureWindow.
	FailureWindow time.Duration

	// MaxClients bounds how many clients' failures are counted one by one.
	// When as many clients have failures in their current window, every
	// other client shares one count, so that a guesser spread over more
	// addresses than the table holds is limited as one client. Zero means
	// DefaultMaxClients.
	MaxClients int
}

// Verifier checks user names and passwords against a Users table. It is meant
// to live as long as the server and to outlast reloads: verdicts are cached
// under an HMAC-SHA256 of (user, hash, password) keyed with a random key made
// by NewVerifier, so the cache never holds a password, and a user whose hash
// changes simply stops matching old entries. Successes and failures are kept
// in separate bounded caches; a cached success is answered under a read lock
// that no bcrypt work ever holds. Comparisons that miss the cache are bounded
// (VerifierOptions.MaxConcurrent running, MaxQueued waiting, ErrBusy beyond),
// admitted fairly across clients, and identical concurrent checks share one
// comparison. Failures are counted per client, which is blocked for a while
// after too many (VerifierOptions.MaxFailures).
//
// A Verifier is safe for concurrent use.
type Verifier struct {
	successes *verdictCache
	failures  *verdictCache
	admission *admission
	guesses   *failureTable // nil when failures are not limited

	macs sync.Pool // *mac, each an HMAC-SHA256 under the process key

	flights [cacheShards]flightShard // comparisons under way, by key
	joined  atomic.Int64             // checks waiting on another's comparison

	comparisons atomic.Uint64

	// compare runs one bcrypt comparison. Tests replace it to count, block
	// or observe comparisons.
	compare func(hash string, password []byte) error
}

// flightShard holds the comparisons under way for part of the key space. Its
// lock is held only to look up, add or remove a call, never during bcrypt.
type flightShard struct {
	mu    sync.Mutex
	calls map[cacheKey]*call
	_     [48]byte // keep neighbouring shards' locks off one cache line
}

// call is one comparison that concurrent identical checks wait for.
type call struct {
	done chan struct{}
	err  error
}

type mac struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// NewVerifier returns a Verifier configured by opts (the zero value gives
// sane defaults, see VerifierOptions).
func NewVerifier(opts VerifierOptions) *Verifier {
	conc := opts.MaxConcurrent
	if conc <= 0 {
		conc = max(1, runtime.GOMAXPROCS(0)/2)
	}
	queued := opts.MaxQueued
	switch {
	case queued == 0:
		queued = 4 * conc
	case queued < 0:
		queued = 0
	}
	succ := opts.SuccessCacheSize
	if succ == 0 {
		succ = DefaultSuccessCacheSize
	}
	fail := opts.FailureCacheSize
	if fail == 0 {
		fail = DefaultFailureCacheSize
	}

	key := make([]byte, 32)
	rand.Read(key) // crypto/rand.Read never fails (it crashes the program instead)

	v := &Verifier{
		successes: newVerdictCache(succ),
		failures:  newVerdictCache(fail),
		admission: newAdmission(conc, queued),
		compare:   compareHash,
	}
	if opts.MaxFailures >= 0 {
		v.guesses = newFailureTable(
			cmp.Or(opts.MaxFailures, DefaultMaxFailures),
			cmp.Or(opts.FailureWindow, DefaultFailureWindow),
			cmp.Or(opts.MaxClients, DefaultMaxClients))
	}
	for i := range v.flights {
		v.flights[i].calls = make(map[cacheKey]*call)
	}
	v.macs.New = func() any { return &mac{h: hmac.New(sha256.New, key)} }
	return v
}

func compareHash(hash string, password []byte) error {
	return xbcrypt.CompareHashAndPassword([]byte(hash), password)
}

// Verify checks user and password against u. It returns nil when the
// password is the user's, ErrUnknownUser when u has no such user (after the
// same work as for a known one), ErrMismatch when the password is wrong, and
// ErrBusy when the verdict is not cached and too many comparisons are already
// running or queued. A nil or empty u knows no user and answers
// ErrUnknownUser at once.
//
// As with bcrypt everywhere, only the first 72 bytes of password count.
// Verify keeps no copy of password after it returns.
//
// Verify is VerifyFrom for a client that is not named: its checks share one
// place in the round-robin and its failures are not counted.
func (v *Verifier) Verify(u *Users, user, password string) error {
	return v.VerifyFrom("", u, user, password)
}

// VerifyFrom is Verify on behalf of client, which names where the check
// comes from (a web server passes the client's IP address). Checks that must
// wait for bcrypt are admitted round-robin across clients, so a client
// sending many checks delays another client's check by at most one
// comparison of its own. Failures (ErrMismatch, ErrUnknownUser) count
// against client; once it has VerifierOptions.MaxFailures in the current
// window, VerifyFrom returns ErrTooManyFailures without checking anything,
// except that a correct password already in the cache is still accepted.
// An empty client is Verify: not limited, one shared place in the
// round-robin.
func (v *Verifier) VerifyFrom(client string, u *Users, user, password string) error {
	e, known := u.lookup(user)
	if e.hash == "" {
		return ErrUnknownUser
	}
	if len(password) > maxPasswordLen {
		password = password[:maxPasswordLen]
	}
	var k cacheKey
	v.key(&k, user, &e.id, password)

	if v.successes.contains(&k) && known {
		return nil
	}
	guesses := v.guesses
	if client == "" {
		guesses = nil
	}
	if guesses.blocked(client) > 0 {
		return ErrTooManyFailures
	}
	err := v.check(client, &k, e, known, password)
	if err == ErrMismatch || err == ErrUnknownUser {
		guesses.fail(client)
	}
	return err
}

// check answers from the failure cache, or joins an identical comparison
// already under way, or leads one.
func (v *Verifier) check(client string, k *cacheKey, e *entry, known bool, password string) error {
	if v.failures.contains(k) {
		return failure(known)
	}
	f := &v.flights[k[1]%cacheShards]
	f.mu.Lock()
	if c, ok := f.calls[*k]; ok {
		f.mu.Unlock()
		v.joined.Add(1)
		<-c.done
		v.joined.Add(-1)
		return c.err // same key, so same user, hash and password
	}
	c := &call{done: make(chan struct{}), err: ErrBusy}
	f.calls[*k] = c
	f.mu.Unlock()
	// Deferred so that even a panic in bcrypt cannot strand the checks
	// waiting on this one (they then get ErrBusy).
	defer func() {
		f.mu.Lock()
		delete(f.calls, *k)
		f.mu.Unlock()
		close(c.done)
	}()
	c.err = v.run(client, k, e.hash, password, known)
	return c.err
}

// Cached reports whether password is user's according to the cache of
// correct passwords alone: true means Verify would return nil without any
// bcrypt work. False says nothing about the password. Like Verify, it keeps
// no copy of password.
func (v *Verifier) Cached(u *Users, user, password string) bool {
	e, known := u.lookup(user)
	if !known {
		return false
	}
	if len(password) > maxPasswordLen {
		password = password[:maxPasswordLen]
	}
	var k cacheKey
	v.key(&k, user, &e.id, password)
	return v.successes.contains(&k)
}

// Blocked returns how long VerifyFrom will keep answering client's checks
// with ErrTooManyFailures, or 0 when it does not.
func (v *Verifier) Blocked(client string) time.Duration {
	if client == "" {
		return 0
	}
	return v.guesses.blocked(client)
}

// Comparisons returns the number of bcrypt comparisons the Verifier has run.
func (v *Verifier) Comparisons() uint64 {
	return v.comparisons.Load()
}

// run does the bcrypt comparison within the concurrency bounds and caches
// its verdict.
func (v *Verifier) run(client string, k *cacheKey, hash, password string, known bool) error {
	if !v.admission.acquire(client) {
		return ErrBusy
	}
	err := v.compareOnce(hash, password)
	if err == nil && known {
		v.successes.add(k)
		return nil
	}
	v.failures.add(k)
	return failure(known)
}

// compareOnce runs v.compare holding an admitted slot, on a copy of password
// that it clears afterwards.
func (v *Verifier) compareOnce(hash, password string) error {
	defer v.admission.release()
	v.comparisons.Add(1)
	pw := []byte(password)
	defer clear(pw)
	return v.compare(hash, pw)
}

func failure(known bool) error {
	if known {
		return ErrMismatch
	}
	return ErrUnknownUser
}

// key sets k to HMAC-SHA256(process key, uvarint(len(user)) ‖ user ‖ id ‖
// password), where id stands for the hash (see hashID): the length prefix and
// the fixed-size id make the framing unambiguous. The scratch copy of the
// password is cleared before the buffer goes back to the pool.
func (v *Verifier) key(k *cacheKey, user string, id *hashID, password string) {
	m := v.macs.Get().(*mac)
	b := m.buf[:0]
	b = binary.AppendUvarint(b, uint64(len(user)))
	b = append(b, user...)
	b = append(b, id[:]...)
	b = append(b, password...)
	m.h.Reset()
	m.h.Write(b)
	copy(k[:], m.h.Sum(m.sum[:0]))
	clear(b)
	if cap(b) > 1024 { // a huge user name: do not keep its buffer around
		b = nil
	}
	m.buf = b
	v.macs.Put(m)
}
