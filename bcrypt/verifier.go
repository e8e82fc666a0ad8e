package bcrypt

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"runtime"
	"sync"
	"sync/atomic"

	xbcrypt "golang.org/x/crypto/bcrypt"
)

// Errors returned by Verifier.Verify. They name no user and no password.
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
)

// Defaults for VerifierOptions fields left at zero.
const (
	// DefaultSuccessCacheSize is the default VerifierOptions.SuccessCacheSize.
	DefaultSuccessCacheSize = 1024
	// DefaultFailureCacheSize is the default VerifierOptions.FailureCacheSize.
	DefaultFailureCacheSize = 4096
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
	// slots. A check that finds all slots busy and the queue full returns
	// ErrBusy at once. Zero means 4 × MaxConcurrent; a negative value means
	// no queue (ErrBusy whenever every slot is busy).
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
}

// Verifier checks user names and passwords against a Users table. It is meant
// to live as long as the server and to outlast reloads: verdicts are cached
// under an HMAC-SHA256 of (user, hash, password) keyed with a random key made
// by NewVerifier, so the cache never holds a password, and a user whose hash
// changes simply stops matching old entries. Successes and failures are kept
// in separate bounded caches; a cached success is answered under a read lock
// that no bcrypt work ever holds. Comparisons that miss the cache are bounded
// (VerifierOptions.MaxConcurrent running, MaxQueued waiting, ErrBusy beyond),
// and identical concurrent checks share one comparison.
//
// A Verifier is safe for concurrent use.
type Verifier struct {
	successes *verdictCache
	failures  *verdictCache

	slots    chan struct{} // one token per running comparison
	admitted atomic.Int64  // comparisons running or waiting for a slot
	limit    int64         // MaxConcurrent + MaxQueued

	macs sync.Pool // *mac, each an HMAC-SHA256 under the process key

	flights [cacheShards]flightShard // comparisons under way, by key
	joined  atomic.Int64             // checks waiting on another's comparison

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
		slots:     make(chan struct{}, conc),
		limit:     int64(conc + queued),
		compare:   compareHash,
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
func (v *Verifier) Verify(u *Users, user, password string) error {
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
	if v.failures.contains(&k) {
		return failure(known)
	}

	// Join an identical comparison already under way, or lead one.
	f := &v.flights[k[1]%cacheShards]
	f.mu.Lock()
	if c, ok := f.calls[k]; ok {
		f.mu.Unlock()
		v.joined.Add(1)
		<-c.done
		v.joined.Add(-1)
		return c.err // same key, so same user, hash and password
	}
	c := &call{done: make(chan struct{}), err: ErrBusy}
	f.calls[k] = c
	f.mu.Unlock()
	// Deferred so that even a panic in bcrypt cannot strand the checks
	// waiting on this one (they then get ErrBusy).
	defer func() {
		f.mu.Lock()
		delete(f.calls, k)
		f.mu.Unlock()
		close(c.done)
	}()
	c.err = v.run(&k, e.hash, password, known)
	return c.err
}

// run does the bcrypt comparison within the concurrency bounds and caches
// its verdict.
func (v *Verifier) run(k *cacheKey, hash, password string, known bool) error {
	if v.admitted.Add(1) > v.limit {
		v.admitted.Add(-1)
		return ErrBusy
	}
	defer v.admitted.Add(-1)
	v.slots <- struct{}{}
	err := v.compareOnce(hash, password)

	if err == nil && known {
		v.successes.add(k)
		return nil
	}
	v.failures.add(k)
	return failure(known)
}

// compareOnce runs v.compare holding a slot, on a copy of password that it
// clears afterwards.
func (v *Verifier) compareOnce(hash, password string) error {
	defer func() { <-v.slots }()
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
