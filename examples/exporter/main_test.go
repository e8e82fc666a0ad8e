package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The built program answers --version and --help as exporters written on
// exporter-toolkit's bootstrap do, and refuses an unknown flag.
func TestCommandLine(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "exporter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "example_exporter, version ") || !strings.Contains(string(out), "go version:") {
		t.Errorf("--version: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Errorf("--help: %v", err)
	}
	// Without dashes: kingpin writes a bool flag as --[no-]name.
	for _, flag := range []string{"web.listen-address", "web.config.file", "web.telemetry-path", "web.disable-exporter-metrics",
		"web.max-requests", "log.level", "log.format", "version"} {
		if !strings.Contains(string(out), flag) {
			t.Errorf("--help lacks %s:\n%s", flag, out)
		}
	}
	out, err = exec.Command(bin, "--web.nope").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 || !strings.Contains(string(out), "web.nope") {
		t.Errorf("an unknown flag: %v\n%s", err, out)
	}
}
