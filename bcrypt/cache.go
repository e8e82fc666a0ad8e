package bcrypt

import "sync"

// cacheKey is an HMAC-SHA256 under the Verifier's per-process key: it names a
// (user, hash, password) triple without revealing or allowing recovery of the
// password.
type cacheKey [32]byte

// cacheShards is the number of independently locked parts of a cache, so
// concurrent lookups and the rare insert do not meet on one lock.
const cacheShards = 16

// verdictCache is a bounded set of cache keys: either the triples that
// matched or those that did not (a Verifier keeps one of each, so inserts
// into one never evict or lock the other). Lookups take a shard's read lock
// only, and no lock is held while bcrypt runs. When a shard is full the
// oldest key in it is evicted (FIFO): simple, O(1), and for failures the
// right choice. For successes FIFO is enough because only a correct password
// can add one.
type verdictCache struct {
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu   sync.RWMutex
	keys map[cacheKey]struct{}
	ring []cacheKey // insertion order; ring[next] is the oldest once full
	size int        // how many keys the shard holds at most
	next int
	_    [64]byte // keep neighbouring shards' locks off one cache line
}

// newVerdictCache returns a cache of about size keys (rounded up to a
// multiple of cacheShards), or nil when size is negative (caching disabled).
// Shards grow as keys arrive rather than being allocated full: a server with
// a handful of users, or none, would otherwise hold half a megabyte of empty
// cache for its whole life, and the garbage collector lets the heap grow in
// proportion to it.
func newVerdictCache(size int) *verdictCache {
	if size < 0 {
		return nil
	}
	per := max(1, (size+cacheShards-1)/cacheShards)
	c := &verdictCache{}
	for i := range c.shards {
		c.shards[i].keys = map[cacheKey]struct{}{}
		c.shards[i].size = per
	}
	return c
}

func (c *verdictCache) shard(k *cacheKey) *cacheShard {
	return &c.shards[k[0]%cacheShards]
}

// contains reports whether k is cached. A nil cache contains nothing.
func (c *verdictCache) contains(k *cacheKey) bool {
	if c == nil {
		return false
	}
	s := c.shard(k)
	s.mu.RLock()
	_, ok := s.keys[*k]
	s.mu.RUnlock()
	return ok
}

// add inserts k, evicting the shard's oldest key when the shard is full.
func (c *verdictCache) add(k *cacheKey) {
	if c == nil {
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[*k]; ok {
		return
	}
	if len(s.ring) < s.size {
		if len(s.ring) == cap(s.ring) {
			// Double, but never past size: append could overshoot it.
			grown := make([]cacheKey, len(s.ring), min(s.size, max(8, 2*cap(s.ring))))
			copy(grown, s.ring)
			s.ring = grown
		}
		s.ring = append(s.ring, *k)
	} else {
		delete(s.keys, s.ring[s.next])
		s.ring[s.next] = *k
		s.next = (s.next + 1) % len(s.ring)
	}
	s.keys[*k] = struct{}{}
}

// len returns the number of cached keys.
func (c *verdictCache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.keys)
		s.mu.RUnlock()
	}
	return n
}
