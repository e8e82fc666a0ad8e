package bcrypt

import (
	"fmt"
	"strings"

	xbcrypt "golang.org/x/crypto/bcrypt"
)

// Cost bounds and the default, as bcrypt defines them.
const (
	MinCost     = xbcrypt.MinCost // 4
	MaxCost     = xbcrypt.MaxCost // 31
	DefaultCost = 10
)

// Hash returns the bcrypt hash of password at cost, in the $2a$ form. Any
// $2a$, $2b$ or $2y$ hash verifies. The password must be at most 72 bytes.
func Hash(password []byte, cost int) ([]byte, error) {
	if cost < MinCost || cost > MaxCost {
		return nil, fmt.Errorf("bcrypt: cost %d out of range %d..%d", cost, MinCost, MaxCost)
	}
	h, err := xbcrypt.GenerateFromPassword(password, cost)
	if err != nil {
		return nil, fmt.Errorf("bcrypt: %w", err)
	}
	return h, nil
}

// alphabet is bcrypt's own base64 alphabet.
const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// CheckHash reports why hash can never match a password, or nil when it is a
// well-formed bcrypt hash: "$2a$", "$2b$" or "$2y$", a two-digit cost in
// MinCost..MaxCost, "$", then 53 characters of bcrypt's base64 (22 of salt,
// 31 of digest), the last one a character bcrypt can end a digest with (the
// digest is 184 bits, so the last character's two low bits are zero; any
// other ending means an edited or corrupted hash). It returns the cost.
func CheckHash(hash string) (int, error) {
	if len(hash) != 60 {
		return 0, fmt.Errorf("bcrypt: hash is %d characters long, want 60 (as htpasswd -nB or webguard hash print)", len(hash))
	}
	if hash[0] != '$' || hash[1] != '2' || (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') || hash[3] != '$' || hash[6] != '$' {
		return 0, fmt.Errorf("bcrypt: hash does not start with $2a$, $2b$ or $2y$ and a cost")
	}
	if hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9' {
		return 0, fmt.Errorf("bcrypt: hash cost %q is not a number", hash[4:6])
	}
	cost := int(hash[4]-'0')*10 + int(hash[5]-'0')
	if cost < MinCost || cost > MaxCost {
		return 0, fmt.Errorf("bcrypt: hash cost %d out of range %d..%d", cost, MinCost, MaxCost)
	}
	for i := 7; i < len(hash); i++ {
		if !containsByte(alphabet, hash[i]) {
			return 0, fmt.Errorf("bcrypt: hash has %q at position %d, outside bcrypt's base64 alphabet", hash[i], i+1)
		}
	}
	if last := hash[len(hash)-1]; strings.IndexByte(alphabet, last)%4 != 0 {
		return 0, fmt.Errorf("bcrypt: hash ends in %q, which no bcrypt digest ends in (edited or corrupted hash?)", last)
	}
	return cost, nil
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}
