package bcrypt

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Users is an immutable table of user names and their bcrypt hashes, built
// once per configuration change by NewUsers and shared by any number of
// goroutines. A nil or empty *Users knows no user.
type Users struct {
	hashes map[string]entry
	// decoy is a well-formed hash at the table's highest cost that no
	// password matches; unknown users are checked against it so that they
	// cost the same bcrypt work as the slowest known user.
	decoy   entry
	maxCost int
}

// entry is one hash and its digest, which stands for the hash in cache keys
// (it is shorter, so the key costs one SHA-256 block less).
type entry struct {
	hash string
	id   hashID
}

// hashID is the first 16 bytes of SHA-256(hash): distinct hashes never
// share one in practice (a collision takes about 2⁶⁴ hashes).
type hashID [16]byte

func newEntry(hash string) entry {
	sum := sha256.Sum256([]byte(hash))
	return entry{hash: hash, id: hashID(sum[:16])}
}

// NewUsers validates every hash with CheckHash and returns the table. It
// rejects an empty user name and a name containing ':' (basic auth cannot
// carry it). Errors name the user, never the hash. The map is copied.
//
// NewUsers also makes the decoy hash that unknown users are compared against:
// random salt and digest at the highest cost present in the table, so no
// password is known to match it and comparing against it costs exactly what
// the costliest known user costs. It runs no bcrypt itself, so a reload stays
// cheap.
func NewUsers(hashes map[string]string) (*Users, error) {
	names := make([]string, 0, len(hashes))
	for name := range hashes {
		names = append(names, name)
	}
	sort.Strings(names) // errors in a stable order

	u := &Users{hashes: make(map[string]entry, len(hashes))}
	var errs []error
	for _, name := range names {
		if name == "" {
			errs = append(errs, errors.New("bcrypt: empty user name"))
			continue
		}
		if strings.ContainsRune(name, ':') {
			errs = append(errs, fmt.Errorf("bcrypt: user %q: name contains ':', which basic auth cannot carry", name))
			continue
		}
		cost, err := CheckHash(hashes[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("bcrypt: user %q: %w", name, err))
			continue
		}
		u.hashes[name] = newEntry(hashes[name])
		u.maxCost = max(u.maxCost, cost)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(u.hashes) > 0 {
		u.decoy = newEntry(decoyHash(u.maxCost))
	}
	return u, nil
}

// Len returns the number of users in the table (0 for a nil *Users).
func (u *Users) Len() int {
	if u == nil {
		return 0
	}
	return len(u.hashes)
}

// lookup returns the entry to compare against and whether user is known:
// the user's own, or the decoy, whose hash is empty only when the table is.
func (u *Users) lookup(user string) (e *entry, known bool) {
	if u == nil {
		return &entry{}, false
	}
	if e, ok := u.hashes[user]; ok {
		return &e, true
	}
	return &u.decoy, false
}

// decoyHash returns "$2a$<cost>$" followed by 53 random characters of bcrypt's
// base64: a hash CheckHash accepts, whose password nobody knows (finding one
// means inverting bcrypt). The last character is one bcrypt can produce (its
// two unused low bits are zero), so the hash is indistinguishable from a real
// one.
func decoyHash(cost int) string {
	var random [53]byte
	rand.Read(random[:]) // crypto/rand.Read never fails (it crashes the program instead)
	b := make([]byte, 0, 60)
	b = fmt.Appendf(b, "$2a$%02d$", cost)
	for i, r := range random {
		c := int(r) % len(alphabet)
		if i == len(random)-1 {
			c &^= 3
		}
		b = append(b, alphabet[c])
	}
	return string(b)
}
