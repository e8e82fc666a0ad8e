package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDemo runs the demo as `go run ./examples/demo` does and expects every
// check to pass.
func TestDemo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	out := stdout.String()
	if strings.Contains(out, "FAIL") || strings.Count(out, "PASS") != 4 {
		t.Errorf("want 4 PASS lines and no FAIL:\n%s", out)
	}
	for _, want := range []string{"secured scrape", "CN=prometheus", "TLS 1.3", "no client certificate", "401 Unauthorized", "400 Bad Request"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// syncBuffer is a bytes.Buffer safe to read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemoKeepRunning checks --keep-running: it prints curl commands, keeps
// running until its context ends, then removes its directory.
func TestDemoKeepRunning(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"--keep-running"}, &stdout, &stderr) }()

	dirRE := regexp.MustCompile(`Files are in (\S+)\. Try:`)
	var dir string
	for range 1000 {
		if m := dirRE.FindStringSubmatch(stdout.String()); m != nil {
			dir = m[1]
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if dir == "" {
		cancel()
		<-done
		t.Fatalf("no curl commands printed within 20s:\n%s\n%s", stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "curl --cacert "+dir) {
		t.Errorf("no curl command naming the CA file:\n%s", stdout.String())
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("demo directory gone while running: %v", err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit status %d:\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("demo directory %s not removed: %v", dir, err)
	}
}

func TestDemoUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"extra"}, &stdout, &stderr); code != 2 {
		t.Errorf("exit status %d for an unexpected argument, want 2", code)
	}
}

func TestDemoVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"--version"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "demo, version ") {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}
