package web

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAuthorization drives Guard.Handler with arbitrary Authorization
// headers (none, one or two) from arbitrary client addresses. Whatever
// arrives, the answer is 200, 400, 401 or 429 and nothing panics; 200 only
// for the one right password, reaching the wrapped handler; 400 only for two
// headers; every 401 carries the challenge. Seeds, in code and in
// testdata/fuzz/FuzzAuthorization, include the attack inputs of issue 12:
// two headers, huge values, bytes that are not UTF-8, passwords past bcrypt's
// 72 bytes, addresses that are not host:port.
func FuzzAuthorization(f *testing.F) {
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, seed := range []struct {
		first, second string
		headers       uint8
		remote        string
	}{
		{"", "", 0, "127.0.0.1:1234"},
		{basic("alice:pw"), "", 1, "127.0.0.1:1234"},
		{basic("alice:wrong"), "", 1, "127.0.0.1:1234"},
		{basic("alice:pw"), basic("bob:x"), 2, "127.0.0.1:1234"},
		{basic("bob:x"), basic("alice:pw"), 2, "[::1]:1"},
		{"Basic " + strings.Repeat("A", 1<<16), "", 1, "10.0.0.1:80"},
		{basic("alice:" + strings.Repeat("pw", 100)), "", 1, "[2001:db8::1%eth0]:443"},
		{basic("\xff\xfe:\x00\x80"), "", 1, "@"},
		{"Basic YWxpY2U6cHc", "", 1, "127.0.0.1"},
		{"basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw")), "", 1, ""},
		{"Basic  " + base64.StdEncoding.EncodeToString([]byte("alice:pw")), "", 1, "127.0.0.1:0"},
		{"Bearer x", "", 1, "unix"},
		{basic(":pw"), "", 1, "[::ffff:127.0.0.1]:1"},
		{basic("alice"), "", 1, "127.0.0.1:1"},
		{"Basic \xc3\x28", "\x00", 2, "127.0.0.1:1"},
	} {
		f.Add(seed.first, seed.second, seed.headers, seed.remote)
	}
	g, err := New(Options{ConfigFile: putFile(f, f.TempDir(), "web.yml", "basic_auth_users:\n  alice: "+testHash(f, "pw")+"\n")})
	if err != nil {
		f.Fatal(err)
	}
	defer g.Close()
	var reached bool
	h := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))

	// A client that has gone away: the pause before a 429 (for too many
	// failures, which a fuzzer soon reaches) ends at once, so the fuzzer
	// is not slowed to ten inputs a second.
	gone, cancel := context.WithCancel(context.Background())
	cancel()

	f.Fuzz(func(t *testing.T, first, second string, headers uint8, remote string) {
		r := httptest.NewRequestWithContext(gone, http.MethodGet, "/metrics", nil)
		r.RemoteAddr = remote
		switch headers % 3 {
		case 1:
			r.Header["Authorization"] = []string{first}
		case 2:
			r.Header["Authorization"] = []string{first, second}
		}
		w := httptest.NewRecorder()
		reached = false
		h.ServeHTTP(w, r)
		code := w.Code
		switch code {
		case http.StatusOK:
			if !reached {
				t.Fatal("200 without the wrapped handler")
			}
			if headers%3 != 1 {
				t.Fatalf("200 with %d Authorization headers", headers%3)
			}
			if user, pw, ok := r.BasicAuth(); !ok || user != "alice" || pw != "pw" {
				t.Fatalf("200 for %q", first)
			}
		case http.StatusBadRequest:
			if headers%3 != 2 {
				t.Fatalf("400 with %d Authorization headers", headers%3)
			}
		case http.StatusUnauthorized:
			if w.Header().Get("WWW-Authenticate") != challenge {
				t.Fatal("401 without the challenge")
			}
		case http.StatusTooManyRequests:
			if w.Header().Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		default:
			t.Fatalf("status %d", code)
		}
		if code != http.StatusOK && reached {
			t.Fatalf("status %d but the wrapped handler ran", code)
		}
	})
}
