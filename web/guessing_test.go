package web

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webguard/webguard/bcrypt"
	xbcrypt "golang.org/x/crypto/bcrypt"
)

// comparisons returns the number of bcrypt comparisons g's Verifier ran.
func comparisons(t *testing.T, g *Guard) uint64 {
	t.Helper()
	v, ok := g.verifier.(*bcrypt.Verifier)
	if !ok {
		t.Fatalf("verifier is a %T", g.verifier)
	}
	return v.Comparisons()
}

// clientFrom is p.httpClient dialling from the loopback address ip (on
// Linux all of 127.0.0.0/8 is loopback), so that the server sees another
// client address.
func (p *testPKI) clientFrom(ip string, keepAlive bool) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: p.ca.Pool()},
			DialContext:       d.DialContext,
			DisableKeepAlives: !keepAlive,
		},
		Timeout: 10 * time.Second,
	}
}

// TestGuessingProbe is the attack of issue 12: 200 wrong passwords, then the
// right one, against rate_limit {interval: 30s, burst: 2}. Each guess must
// take a token before any bcrypt work, so only the burst is ever compared.
func TestGuessingProbe(t *testing.T) {
	p := newTestPKI(t)
	yml := p.tlsSection() + "basic_auth_users:\n  alice: " + testHash(t, "alice-pw") + "\n" +
		"rate_limit:\n  interval: 30s\n  burst: 2\n"
	g := newGuard(t, p.dir, yml, nil)
	url, _ := startServing(t, g)
	c := p.httpClient(nil)
	statuses := map[int]int{}
	for i := range 200 {
		resp, _, err := fetch(t, c, url, basicAuth("alice", fmt.Sprint("guess ", i)))
		if err != nil {
			t.Fatal(err)
		}
		statuses[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "30" {
			t.Fatalf("guess %d: Retry-After %q, want 30", i, resp.Header.Get("Retry-After"))
		}
	}
	resp, _, err := fetch(t, c, url, basicAuth("alice", "alice-pw"))
	if err != nil {
		t.Fatal(err)
	}
	checked := comparisons(t, g)
	t.Logf("200 guesses: %v; bcrypt comparisons: %d; then the right password: %d", statuses, checked, resp.StatusCode)
	if checked > 2 {
		t.Errorf("%d bcrypt comparisons for 200 guesses under a burst of 2, want at most 2", checked)
	}
	if statuses[http.StatusUnauthorized] != 2 || statuses[http.StatusTooManyRequests] != 198 {
		t.Errorf("statuses %v, want 2 × 401 and 198 × 429", statuses)
	}
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the right password after the burst was spent: %d, want 429 (no token left)", resp.StatusCode)
	}
}

// TestFailedLoginLimit checks the per-address failure limit end to end:
// after MaxFailures wrong passwords an address gets 429 with Retry-After and
// no bcrypt work, its cached login still works, and another address is not
// affected.
func TestFailedLoginLimit(t *testing.T) {
	p := newTestPKI(t)
	yml := p.tlsSection() + headersYAML + "basic_auth_users:\n  alice: " + testHash(t, "alice-pw") + "\n  bob: " + testHash(t, "bob-pw") + "\n"
	g := newGuardWith(t, p.dir, yml, Options{Verifier: bcrypt.VerifierOptions{MaxFailures: 3}})
	url, _ := startServing(t, g)
	guesser, other := p.clientFrom("127.0.0.1", false), p.clientFrom("127.0.0.2", false)

	mustGet(t, guesser, url, http.StatusOK, basicAuth("alice", "alice-pw")) // cached
	for i := range 3 {
		mustGet(t, guesser, url, http.StatusUnauthorized, basicAuth("alice", fmt.Sprint("guess ", i)))
	}
	checked := comparisons(t, g)
	for i := range 5 {
		resp := mustGet(t, guesser, url, http.StatusTooManyRequests, basicAuth("alice", fmt.Sprint("more ", i)))
		checkHeaders(t, resp)
		if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" || len(ra) > 2 {
			t.Errorf("Retry-After %q, want the seconds left in the minute", ra)
		}
	}
	// A correct password not yet cached is a check like any other.
	mustGet(t, guesser, url, http.StatusTooManyRequests, basicAuth("bob", "bob-pw"))
	if got := comparisons(t, g); got != checked {
		t.Errorf("%d bcrypt comparisons from a blocked address, want none", got-checked)
	}
	if got := authFailures(g, authTooManyFailures); got != 6 {
		t.Errorf("auth failures{reason=too_many_failures} = %v, want 6", got)
	}
	mustGet(t, guesser, url, http.StatusOK, basicAuth("alice", "alice-pw"))
	mustGet(t, other, url, http.StatusOK, basicAuth("bob", "bob-pw"))
	mustGet(t, other, url, http.StatusUnauthorized, basicAuth("bob", "wrong"))
}

// TestFirstLoginUnderFlood is the other attack of issue 12: 64 connections
// from 127.0.0.2 send wrong passwords (bcrypt cost 10) while 127.0.0.1 logs
// in for the first time, ten times as ten users. At least 9 of the 10
// logins must succeed, none taking over a second (or four bcrypt
// comparisons, on a machine too loaded to compare in 250 ms). With the failure limit on
// (the default) the flooding address is soon refused without bcrypt; with it
// off, only the fair admission of password checks across addresses keeps
// the door open.
func TestFirstLoginUnderFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("bcrypt at cost 10 under a flood")
	}
	cost := bcrypt.DefaultCost
	if raceDetector {
		// A comparison at cost 10 takes seconds under -race; the race
		// detector is here for the admission code, not for bcrypt.
		cost = bcrypt.MinCost + 2
	}
	hash, err := bcrypt.Hash([]byte("right"), cost)
	if err != nil {
		t.Fatal(err)
	}
	var users strings.Builder
	users.WriteString("basic_auth_users:\n  target: " + string(hash) + "\n")
	for i := range 10 {
		fmt.Fprintf(&users, "  user%d: %s\n", i, hash)
	}
	for _, tt := range []struct {
		name string
		opts bcrypt.VerifierOptions
	}{
		{"default failure limit", bcrypt.VerifierOptions{}},
		{"no failure limit, fair admission only", bcrypt.VerifierOptions{MaxFailures: -1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Plain HTTP: the attack is on password checks, and TLS
			// handshakes of 64 reconnecting clients in the test's own
			// process would only measure the machine.
			p := newTestPKI(t)
			g := newGuardWith(t, p.dir, users.String(), Options{Verifier: tt.opts})
			url, _ := startServing(t, g)
			ok, slowest, compare, flood := firstLoginsUnderFlood(t, p, url, hash)
			t.Logf("%d of 10 first logins succeeded, slowest %v (one bcrypt comparison: %v); flood answers: %v", ok, slowest, compare, flood)
			if ok < 9 {
				t.Errorf("%d of 10 first logins succeeded under the flood, want at least 9", ok)
			}
			// A login waits for at most the comparison under way and one of
			// the flood's before its own: 1 s on a machine that compares in
			// well under 250 ms, as a quiet one does; a loaded machine gets
			// room for four comparisons at the speed measured.
			// Under -race every step is slower and unevenly so: only the
			// count is checked there.
			if limit := max(time.Second, 4*compare); slowest > limit && !raceDetector {
				t.Errorf("slowest first login took %v, want under %v", slowest, limit)
			}
		})
	}
}

// firstLoginsUnderFlood runs 64 flooding connections from 127.0.0.2 and,
// once they are under way, ten first logins from 127.0.0.1 (user0..user9,
// one at a time). It returns how many logins got 200, the slowest, the
// slowest of three bcrypt comparisons of hash run by the test under the
// flood, and the flood's answers by status.
func firstLoginsUnderFlood(t *testing.T, p *testPKI, url string, hash []byte) (ok int, slowest, compare time.Duration, flood map[int]int64) {
	const floodConns = 64
	ctx, stop := context.WithTimeout(context.Background(), 60*time.Second)
	defer stop()
	var answered atomic.Int64
	var mu sync.Mutex
	flood = map[int]int64{}
	var wg sync.WaitGroup
	for range floodConns {
		c := p.clientFrom("127.0.0.2", true)
		wg.Go(func() {
			defer c.CloseIdleConnections()
			for n := 0; n < 10000 && ctx.Err() == nil; n++ {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.SetBasicAuth("target", rand.Text())
				resp, err := c.Do(req)
				status := 0
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				mu.Lock()
				flood[status]++
				mu.Unlock()
				answered.Add(1)
			}
		})
	}
	defer wg.Wait()
	defer stop()
	// Under way: every flooding connection has had an answer or two.
	for deadline := time.Now().Add(20 * time.Second); answered.Load() < 2*floodConns; {
		if time.Now().After(deadline) {
			t.Fatalf("flood did not get going: %d answers", answered.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// What one comparison costs on this machine, flood included: measured
	// before and after the logins, as the load of a shared machine moves.
	calibrate := func() {
		for range 3 {
			start := time.Now()
			xbcrypt.CompareHashAndPassword(hash, []byte("calibration"))
			compare = max(compare, time.Since(start))
		}
	}
	calibrate()
	login := p.clientFrom("127.0.0.1", false)
	for i := range 10 {
		start := time.Now()
		resp, _, err := fetch(t, login, url, basicAuth(fmt.Sprint("user", i), "right"))
		took := time.Since(start)
		slowest = max(slowest, took)
		switch {
		case err != nil:
			t.Logf("login %d: %v after %v", i, err, took)
		case resp.StatusCode != http.StatusOK:
			t.Logf("login %d: %d after %v", i, resp.StatusCode, took)
		default:
			ok++
		}
	}
	calibrate()
	stop()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return ok, slowest, compare, flood
}
