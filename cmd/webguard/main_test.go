package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// binary is the webguard command built once by TestMain; the tests run it
// as an operator would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "webguard-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "webguard")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build webguard:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the binary printed and its exit status.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs webguard with args in dir (the test's working directory when
// empty), stdin fed from a pipe.
func run(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run webguard %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// need returns the path of a tool the test drives; CI installs them all, so
// a missing one fails the test rather than skipping it.
func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s is needed for this test: %v", tool, err)
	}
	return p
}

// tool runs an external program and returns its combined output and error.
func tool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, need(t, name), args...).CombinedOutput()
	return string(out), err
}

func writeTestFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{"no command", nil, 2, "", "Usage: webguard COMMAND"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"help", []string{"--help"}, 0, "Commands:", ""},
		{"help lists exit statuses", []string{"--help"}, 0, "Exit status:\n  0  all is well", ""},
		{"version", []string{"--version"}, 0, "webguard, version ", ""},
		{"version shows Go", []string{"--version"}, 0, "go version:", ""},
		{"check help", []string{"check", "--help"}, 0, "Usage: webguard check [--strict] FILE...", ""},
		{"hash help", []string{"hash", "-h"}, 0, "Usage: webguard hash [--cost COST]", ""},
		{"certs without kind", []string{"certs"}, 2, "", "Usage: webguard certs ca|server|client"},
		{"certs help", []string{"certs", "--help"}, 0, "webguard certs server --ca DIR", ""},
		{"certs unknown kind", []string{"certs", "intermediate"}, 2, "", `unknown kind "intermediate"`},
		{"certs ca help", []string{"certs", "ca", "--help"}, 0, "Usage: webguard certs ca --out DIR", ""},
		{"certs server help", []string{"certs", "server", "--help"}, 0, "--host NAMES", ""},
		{"certs client help", []string{"certs", "client", "--help"}, 0, "--san NAMES", ""},
		{"proxy help", []string{"proxy", "--help"}, 0, "--upstream URL", ""},
		{"unknown flag", []string{"check", "--stritc", "web.yml"}, 2, "", "flag provided but not defined: -stritc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", "", tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("webguard %s: got %s\nwant exit %d, stdout with %q, stderr with %q", strings.Join(tt.args, " "), r, tt.code, tt.stdout, tt.stderr)
			}
			if tt.code == 0 && r.stderr != "" {
				t.Errorf("help wrote to stderr: %s", r.stderr)
			}
		})
	}
}
