package bcrypt

import (
	"errors"
	"strings"
	"testing"

	xbcrypt "golang.org/x/crypto/bcrypt"
)

func TestHash(t *testing.T) {
	h, err := Hash([]byte("pw"), MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(h), "$2a$04$") {
		t.Errorf("Hash = %q, want a $2a$04$ hash", h)
	}
	for _, cost := range []int{MinCost - 1, MaxCost + 1, 0, -1} {
		if _, err := Hash([]byte("pw"), cost); err == nil || !strings.HasPrefix(err.Error(), "bcrypt: cost") {
			t.Errorf("Hash at cost %d: %v, want a cost error", cost, err)
		}
	}
	if _, err := Hash(make([]byte, 73), MinCost); err == nil {
		t.Error("Hash accepted a 73-byte password")
	}
}

func TestCheckHash(t *testing.T) {
	real, err := Hash([]byte("pw"), MinCost)
	if err != nil {
		t.Fatal(err)
	}
	good := string(real)
	// A digest ending in '.' (index 0 in the alphabet) is possible, one
	// ending in '/' (index 1) is not.
	for _, tc := range []struct {
		name, hash string
		cost       int
		err        string
	}{
		{"real", good, MinCost, ""},
		{"2b", "$2b$" + good[4:], MinCost, ""},
		{"2y", "$2y$" + good[4:], MinCost, ""},
		{"cost 31", good[:4] + "31" + good[6:], 31, ""},
		{"digest ends in dot", good[:59] + ".", MinCost, ""},
		{"digest ends in e", good[:59] + "e", MinCost, ""},
		{"empty", "", 0, "want 60"},
		{"short", good[:59], 0, "59 characters long"},
		{"long", good + ".", 0, "61 characters long"},
		{"2x", "$2x$" + good[4:], 0, "does not start with"},
		{"2", "$2$" + good[3:], 0, "does not start with"},
		{"no dollar", "x" + good[1:], 0, "does not start with"},
		{"cost letters", good[:4] + "1a" + good[6:], 0, `cost "1a" is not a number`},
		{"cost 3", good[:4] + "03" + good[6:], 0, "cost 3 out of range"},
		{"cost 32", good[:4] + "32" + good[6:], 0, "cost 32 out of range"},
		{"bad character", good[:20] + "+" + good[21:], 0, `'+' at position 21`},
		{"impossible last character", good[:59] + "/", 0, `ends in '/'`},
		{"impossible last character f", good[:59] + "f", 0, `ends in 'f'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cost, err := CheckHash(tc.hash)
			if tc.err == "" {
				if err != nil || cost != tc.cost {
					t.Fatalf("CheckHash = %d, %v; want %d, nil", cost, err, tc.cost)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "bcrypt: ") {
				t.Fatalf("CheckHash = %d, %v; want an error containing %q", cost, err, tc.err)
			}
		})
	}
}

func TestCheckHashAcceptsEveryRealHash(t *testing.T) {
	// The last-character rule must hold for whatever bcrypt produces.
	for i := range 64 {
		h, err := Hash([]byte{byte(i)}, MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := CheckHash(string(h)); err != nil {
			t.Fatalf("CheckHash(%q): %v", h, err)
		}
	}
}

// FuzzCheckHash checks that every hash CheckHash accepts is one bcrypt can
// compare against (a mismatch, never a parse error), and that CheckHash
// never panics.
func FuzzCheckHash(f *testing.F) {
	f.Add("$2y$10$OBOesNDgAh8VhAKnBW3RduIEgbGXTY4KOzjRypM9s7TdGGNxg7eK6", "pass")
	f.Add("$2a$04$......................0000000000000000000000000000000", "")
	f.Add("$2b$31$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012", "x")
	f.Fuzz(func(t *testing.T, hash, password string) {
		if _, err := CheckHash(hash); err != nil {
			return
		}
		cheap := hash[:4] + "04" + hash[6:] // keep the fuzzer fast
		err := xbcrypt.CompareHashAndPassword([]byte(cheap), []byte(password))
		if err != nil && !errors.Is(err, xbcrypt.ErrMismatchedHashAndPassword) {
			t.Fatalf("CheckHash accepted %q but bcrypt says %v", hash, err)
		}
	})
}
