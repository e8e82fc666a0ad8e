package main

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	xbcrypt "golang.org/x/crypto/bcrypt"
)

func TestHash(t *testing.T) {
	long72 := strings.Repeat("x", 72)
	tests := []struct {
		name     string
		stdin    string
		args     []string
		password string // what the hash must verify; "" when refused
		cost     int
		code     int
		stderr   string
	}{
		{name: "line from stdin", stdin: "correct horse\n", password: "correct horse", cost: 10},
		{name: "no trailing newline", stdin: "correct horse", password: "correct horse", cost: 10},
		{name: "CRLF", stdin: "correct horse\r\n", password: "correct horse", cost: 10},
		{name: "spaces kept", stdin: " pass word \n", password: " pass word ", cost: 10},
		{name: "cost 4", stdin: "pw\n", args: []string{"--cost", "4"}, password: "pw", cost: 4},
		{name: "cost 12", stdin: "pw\n", args: []string{"--cost=12"}, password: "pw", cost: 12},
		{name: "72 bytes", stdin: long72 + "\n", args: []string{"--cost", "4"}, password: long72, cost: 4},
		{name: "73 bytes", stdin: long72 + "y\n", code: 1, stderr: "73 bytes long; bcrypt uses at most 72"},
		{name: "empty", stdin: "", code: 1, stderr: "webguard hash: empty password"},
		{name: "empty line", stdin: "\n", code: 1, stderr: "empty password"},
		{name: "two lines", stdin: "one\ntwo\n", code: 1, stderr: "more than one line"},
		{name: "cost 3", stdin: "pw\n", args: []string{"--cost", "3"}, code: 2, stderr: "cost 3 out of range 4..31"},
		{name: "cost 32", stdin: "pw\n", args: []string{"--cost", "32"}, code: 2, stderr: "cost 32 out of range 4..31"},
		{name: "cost not a number", stdin: "pw\n", args: []string{"--cost", "ten"}, code: 2, stderr: "invalid value"},
		{name: "password as argument", stdin: "pw\n", args: []string{"hunter2"}, code: 2, stderr: "never from the command line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", tt.stdin, append([]string{"hash"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("got %s\nwant exit %d, stderr with %q", r, tt.code, tt.stderr)
			}
			if tt.code != 0 {
				if r.stdout != "" {
					t.Errorf("a refused password printed %q", r.stdout)
				}
				return
			}
			hash, ok := strings.CutSuffix(r.stdout, "\n")
			if !ok || strings.Contains(hash, "\n") || r.stderr != "" {
				t.Fatalf("want the hash alone on one line and nothing on stderr\n%s", r)
			}
			if cost, err := xbcrypt.Cost([]byte(hash)); err != nil || cost != tt.cost {
				t.Errorf("cost %d (%v), want %d", cost, err, tt.cost)
			}
			if err := xbcrypt.CompareHashAndPassword([]byte(hash), []byte(tt.password)); err != nil {
				t.Errorf("hash does not verify the password: %v", err)
			}
			if err := xbcrypt.CompareHashAndPassword([]byte(hash), []byte("#"+tt.password[1:])); err == nil {
				t.Errorf("hash verifies a wrong password")
			}
		})
	}
}

// TestHashHtpasswd: Apache's htpasswd verifies our hashes, and a web.yml
// using one passes check without warnings.
func TestHashHtpasswd(t *testing.T) {
	need(t, "htpasswd")
	r := run(t, "", "s3cret pass\n", "hash")
	if r.code != 0 {
		t.Fatal(r)
	}
	hash := strings.TrimSpace(r.stdout)
	dir := t.TempDir()
	file := filepath.Join(dir, "htpasswd")
	writeTestFile(t, file, "prometheus:"+hash+"\n", 0o600)
	if out, err := tool(t, "htpasswd", "-vb", file, "prometheus", "s3cret pass"); err != nil {
		t.Errorf("htpasswd -v refuses the right password: %v\n%s", err, out)
	}
	if out, err := tool(t, "htpasswd", "-vb", file, "prometheus", "s3cret"); err == nil {
		t.Errorf("htpasswd -v accepts a wrong password\n%s", out)
	}

	// And the other way: htpasswd's hash verifies under the same check.
	out, err := tool(t, "htpasswd", "-nbBC", "10", "prometheus", "s3cret pass")
	if err != nil {
		t.Fatalf("htpasswd -nbBC: %v\n%s", err, out)
	}
	_, theirs, _ := strings.Cut(strings.TrimSpace(out), ":")
	if err := xbcrypt.CompareHashAndPassword([]byte(theirs), []byte("s3cret pass")); err != nil {
		t.Errorf("htpasswd's hash does not verify: %v", err)
	}

	// A web.yml with our hash is valid (plain HTTP, so one warning about that).
	cfg := filepath.Join(dir, "web.yml")
	writeTestFile(t, cfg, "basic_auth_users:\n  prometheus: "+hash+"\n  other: "+theirs+"\n", 0o600)
	c := run(t, dir, "", "check", "web.yml")
	if c.code != 0 || strings.Contains(c.stderr, "cost") {
		t.Errorf("check of a web.yml with the hashes:\n%s", c)
	}
}

// TestHashTerminal drives the prompt through a pseudo-terminal made by
// script(1): the password is asked for twice and both must match. (The input
// is typed before the prompt turns echo off, so echo is not asserted.)
func TestHashTerminal(t *testing.T) {
	script := need(t, "script")
	for _, tt := range []struct {
		name, input string
		code        int
	}{
		{"same twice", "tty pass\ntty pass\n", 0},
		{"different", "tty pass\nother\n", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, script, "-qec", binary+" hash --cost 4", "/dev/null")
			cmd.Stdin = strings.NewReader(tt.input)
			out, err := cmd.CombinedOutput()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			text := string(out)
			if code != tt.code || !strings.Contains(text, "Password: ") || !strings.Contains(text, "Again: ") {
				t.Fatalf("exit %d, want %d, with both prompts; terminal showed:\n%s", code, tt.code, text)
			}
			i := strings.Index(text, "$2a$04$")
			if tt.code != 0 {
				if i >= 0 || !strings.Contains(text, "the passwords do not match") {
					t.Errorf("mismatch not refused:\n%s", text)
				}
				return
			}
			if i < 0 {
				t.Fatalf("no hash printed:\n%s", text)
			}
			hash, _, _ := strings.Cut(text[i:], "\r")
			if err := xbcrypt.CompareHashAndPassword([]byte(hash), []byte("tty pass")); err != nil {
				t.Errorf("hash %q does not verify: %v", hash, err)
			}
		})
	}
}
