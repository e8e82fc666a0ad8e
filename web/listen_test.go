package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseVsock(t *testing.T) {
	for _, tt := range []struct {
		addr      string
		cid, port uint32
		hasCID    bool
		err       string
	}{
		{addr: "vsock://:9100", port: 9100},
		{addr: "vsock://3:9100", cid: 3, port: 9100, hasCID: true},
		{addr: "vsock://4294967295:1", cid: 4294967295, port: 1, hasCID: true},
		{addr: "vsock://:0", port: 0},
		{addr: "vsock://9100", err: "want vsock://:PORT or vsock://CID:PORT"},
		{addr: "vsock://:", err: "want vsock://:PORT"},
		{addr: "vsock://:http", err: `port "http" is not a number`},
		{addr: "vsock://:4294967296", err: "port"},
		{addr: "vsock://host:1", err: `context ID "host" is not a number`},
		{addr: "vsock://-1:1", err: "context ID"},
	} {
		t.Run(tt.addr, func(t *testing.T) {
			cid, port, hasCID, err := parseVsock(tt.addr)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), tt.addr) {
					t.Fatalf("err = %v, want it to name %q and say %q", err, tt.addr, tt.err)
				}
				return
			}
			if err != nil || cid != tt.cid || port != tt.port || hasCID != tt.hasCID {
				t.Fatalf("= %d, %d, %v, %v", cid, port, hasCID, err)
			}
		})
	}
}

// TestListenVsock listens on a VM socket where the machine has them, and
// otherwise checks that the error says what failed and where.
func TestListenVsock(t *testing.T) {
	l, err := listenOne("vsock://:0", DefaultSocketMode)
	if err == nil {
		t.Logf("vsock is available: listening on %s", l.Addr())
		l.Close()
	} else if !strings.Contains(err.Error(), "web: listen on vsock://:0") {
		t.Errorf("error %q does not name the address", err)
	}
	// A context ID that is not this machine's fails with or without vsock.
	if l, err := listenOne("vsock://4000000000:1024", DefaultSocketMode); err == nil {
		l.Close()
		t.Error("listening on a foreign context ID succeeded")
	} else if !strings.Contains(err.Error(), "web: listen on vsock://4000000000:1024") {
		t.Errorf("error %q does not name the address", err)
	}
	if _, err := listenOne("vsock://x:1", DefaultSocketMode); err == nil || !strings.Contains(err.Error(), `context ID "x"`) {
		t.Errorf("bad vsock address: %v", err)
	}
}

func TestListenErrors(t *testing.T) {
	if _, err := OpenListeners(nil, ""); err == nil || !strings.Contains(err.Error(), "no listen address") {
		t.Errorf("no address: %v", err)
	}
	// A second address that cannot be opened closes the first.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addrs := []string{"127.0.0.1:0", taken.Addr().String()}
	_, err = OpenListeners(&FlagConfig{WebListenAddresses: &addrs}, "")
	if err == nil || !strings.Contains(err.Error(), "web: listen on "+taken.Addr().String()) {
		t.Errorf("taken address: %v", err)
	}
	off := false
	if _, err := OpenListeners(&FlagConfig{WebSystemdSocket: &off, WebListenAddresses: &addrs}, ""); err == nil {
		t.Error("WebSystemdSocket=false should listen on the addresses")
	}
	on := true
	if _, err := OpenListeners(&FlagConfig{WebSystemdSocket: &on}, ""); err == nil || !strings.Contains(err.Error(), "systemd passed no listening") {
		t.Errorf("systemd without sockets: %v", err)
	}
}

// listeningRE finds the addresses in startup log lines.
var listeningRE = regexp.MustCompile(`listening address=(\S+)`)

// TestListenAndServe is the exporter-toolkit entry point with two listen
// addresses and a config file: the addresses are learnt from the startup
// log lines.
func TestListenAndServe(t *testing.T) {
	dir := t.TempDir()
	file := putFile(t, dir, "web.yml", headersYAML)
	addrs := []string{"127.0.0.1:0", "127.0.0.1:0"}
	flags := &FlagConfig{WebListenAddresses: &addrs, WebConfigFile: &file}
	logs, logger := newLogRecorder()
	srv := &http.Server{Handler: okHandler}
	done := make(chan error, 1)
	go func() { done <- ListenAndServe(srv, flags, logger) }()
	t.Cleanup(func() { srv.Close() })

	var seen []string
	deadline := time.Now().Add(5 * time.Second)
	for len(seen) < 2 && time.Now().Before(deadline) {
		seen = nil
		for _, line := range logs.matching("listening") {
			seen = append(seen, listeningRE.FindStringSubmatch(line)[1])
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(seen) != 2 || seen[0] == seen[1] {
		t.Fatalf("listening on %q, want two addresses", seen)
	}
	for _, a := range seen {
		checkHeaders(t, mustGet(t, http.DefaultClient, "http://"+a, http.StatusOK))
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("ListenAndServe returned %v", err)
	}
}

func TestCompatServe(t *testing.T) {
	dir := t.TempDir()
	file := putFile(t, dir, "web.yml", headersYAML)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: okHandler}
	done := make(chan error, 1)
	go func() { done <- Serve(l, srv, &FlagConfig{WebConfigFile: &file}, nil) }()
	t.Cleanup(func() { srv.Close() })
	checkHeaders(t, mustGet(t, http.DefaultClient, "http://"+l.Addr().String(), http.StatusOK))
	srv.Close()
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}

	bad := putFile(t, dir, "bad.yml", "nope: 1\n")
	if err := ServeMultiple(nil, &http.Server{}, &FlagConfig{WebConfigFile: &bad}, nil); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("ServeMultiple with a bad config: %v", err)
	}
}

// systemdChildEnv marks the re-executed test binary as the socket-activated
// child.
const systemdChildEnv = "WEBGUARD_TEST_SYSTEMD_CHILD"

// TestSystemdSocketActivation passes a listening socket to a child process
// the way systemd does (fd 3, LISTEN_FDS=1, LISTEN_PID set to the child's
// pid by the shell that execs it) and checks that the child, running
// ListenAndServe with --web.systemd-socket, serves on it.
func TestSystemdSocketActivation(t *testing.T) {
	if os.Getenv(systemdChildEnv) != "" {
		t.Skip("in the child")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// exec keeps the pid, so $$ is the pid the Go child sees.
	cmd := exec.CommandContext(ctx, sh, "-c", `LISTEN_PID=$$ exec "$0" -test.run='^TestSystemdChild$' -test.v`, os.Args[0])
	cmd.Env = append(os.Environ(), systemdChildEnv+"=1", "LISTEN_FDS=1")
	cmd.ExtraFiles = []*os.File{f}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-waited
	})
	// The parent's copies of the socket must not accept: only the child
	// does.
	f.Close()
	l.Close()

	resp := mustGet(t, &http.Client{Timeout: 10 * time.Second}, "http://"+l.Addr().String()+"/quit", http.StatusOK)
	if got := resp.Header.Get("X-Served-By"); got != "systemd child" {
		t.Errorf("served by %q", got)
	}
	select {
	case err := <-waited:
		waited <- err
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "PASS") {
			t.Errorf("child output:\n%s", out.String())
		}
	case <-ctx.Done():
		t.Fatalf("child did not exit:\n%s", out.String())
	}
}

// TestSystemdChild is the child of TestSystemdSocketActivation; alone it
// does nothing.
func TestSystemdChild(t *testing.T) {
	if os.Getenv(systemdChildEnv) == "" {
		t.Skip("run by TestSystemdSocketActivation")
	}
	on := true
	none := []string{}
	srv := &http.Server{}
	shutdown := make(chan struct{})
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Served-By", "systemd child")
		io.WriteString(w, "ok")
		if r.URL.Path == "/quit" {
			go func() {
				srv.Shutdown(context.Background())
				close(shutdown)
			}()
		}
	})
	err := ListenAndServe(srv, &FlagConfig{WebSystemdSocket: &on, WebListenAddresses: &none}, nil)
	if !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("ListenAndServe: %v", err)
	}
	// Serve returns as soon as the listener closes; Shutdown returns once
	// the response to /quit is out.
	<-shutdown
	if os.Getenv("LISTEN_FDS") != "" {
		t.Error("LISTEN_FDS left in the environment")
	}
	fmt.Println("child served on the inherited socket")
}

// curlUnix runs curl through the unix socket at sock and returns the HTTP
// status it got.
func curlUnix(t *testing.T, sock string, args ...string) string {
	t.Helper()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatalf("curl is needed for this test: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append([]string{"-sS", "--unix-socket", sock, "-o", "/dev/null", "-w", "%{http_code}"}, args...)
	out, err := exec.CommandContext(ctx, curl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestListenUnixSocket serves TLS and basic auth on a unix socket through
// ListenAndServe, as an exporter started with
// --web.listen-address=unix:///... does, and talks to it with curl.
func TestListenUnixSocket(t *testing.T) {
	for _, tt := range []struct {
		name string
		mode string // --web.listen-socket-mode; "" leaves it unset
		want os.FileMode
	}{
		{"default mode", "", 0o660},
		{"mode flag", "0600", 0o600},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPKI(t)
			file := putFile(t, p.dir, "web.yml", p.tlsSection()+"basic_auth_users:\n  alice: "+testHash(t, "secret")+"\n")
			sock := filepath.Join(t.TempDir(), "exporter.sock")
			addrs := []string{"unix://" + sock}
			flags := &FlagConfig{WebListenAddresses: &addrs, WebConfigFile: &file}
			if tt.mode != "" {
				flags.WebListenSocketMode = &tt.mode
			}
			logs, logger := newLogRecorder()
			srv := &http.Server{Handler: okHandler}
			done := make(chan error, 1)
			go func() { done <- ListenAndServe(srv, flags, logger) }()
			t.Cleanup(func() { srv.Close() })
			eventuallyCount(t, "startup lines", func() float64 {
				return float64(len(logs.matching("listening", "address="+sock, "tls=true")))
			}, 1)

			fi, err := os.Lstat(sock)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != tt.want {
				t.Errorf("socket file mode %v, want a socket with %04o", fi.Mode(), tt.want)
			}
			url := "https://localhost/metrics"
			if got := curlUnix(t, sock, "--cacert", p.caFile, "-u", "alice:secret", url); got != "200" {
				t.Errorf("with the password: %s, want 200", got)
			}
			if got := curlUnix(t, sock, "--cacert", p.caFile, url); got != "401" {
				t.Errorf("without a password: %s, want 401", got)
			}
			if got := curlUnix(t, sock, "--cacert", p.caFile, "-u", "alice:wrong", url); got != "401" {
				t.Errorf("with a wrong password: %s, want 401", got)
			}

			if err := srv.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := <-done; !errors.Is(err, http.ErrServerClosed) {
				t.Fatalf("ListenAndServe returned %v", err)
			}
			if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("socket file after shutdown: %v, want it removed", err)
			}
		})
	}
}

// TestListenUnixSocketLeftBehind starts over a socket file in each state a
// previous run can leave: dead (replaced), alive (refused, left serving) and
// a file that is not a socket (refused, left alone).
func TestListenUnixSocketLeftBehind(t *testing.T) {
	dir := t.TempDir()

	stale := filepath.Join(dir, "stale.sock")
	crashed, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	crashed.(*net.UnixListener).SetUnlinkOnClose(false) // as if the process died
	crashed.Close()
	if _, err := os.Lstat(stale); err != nil {
		t.Fatalf("no stale socket to start from: %v", err)
	}
	l, err := listenOne("unix://"+stale, DefaultSocketMode)
	if err != nil {
		t.Fatalf("a stale socket was not replaced: %v", err)
	}
	c, err := net.Dial("unix", stale)
	if err != nil {
		t.Fatalf("dial the new socket: %v", err)
	}
	c.Close()
	l.Close()

	live := filepath.Join(dir, "live.sock")
	owner, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	accepted := make(chan error, 1)
	go func() {
		c, err := owner.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	if l, err := listenOne("unix://"+live, DefaultSocketMode); err == nil {
		l.Close()
		t.Fatal("listening took over a live socket")
	} else if want := "web: listen on unix://" + live + ": another process is listening on " + live; err.Error() != want {
		t.Errorf("live socket: %q, want %q", err, want)
	}
	if err := <-accepted; err != nil {
		t.Errorf("the live socket's owner: %v", err)
	}
	c, err = net.Dial("unix", live)
	if err != nil {
		t.Errorf("the live socket no longer answers: %v", err)
	} else {
		c.Close()
	}

	plain := putFile(t, dir, "not-a-socket", "data")
	if _, err := listenOne("unix://"+plain, DefaultSocketMode); err == nil || !strings.Contains(err.Error(), "exists and is not a socket") {
		t.Errorf("a regular file: %v", err)
	}
	if b, err := os.ReadFile(plain); err != nil || string(b) != "data" {
		t.Errorf("the regular file was changed: %q, %v", b, err)
	}

	for _, tt := range []struct{ addr, mode, err string }{
		{"unix://", "", "want unix:///PATH/TO/SOCKET"},
		{"unix://" + filepath.Join(dir, "x.sock"), "rw", `--web.listen-socket-mode "rw": want an octal file mode`},
		{"unix://" + filepath.Join(dir, "x.sock"), "1777", "--web.listen-socket-mode"},
		{"unix://" + filepath.Join(dir, "missing", "x.sock"), "", "web: listen on unix://"},
	} {
		addrs := []string{tt.addr}
		if _, err := OpenListeners(&FlagConfig{WebListenAddresses: &addrs, WebListenSocketMode: &tt.mode}, ""); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s with mode %q: %v, want %q", tt.addr, tt.mode, err, tt.err)
		}
	}
}
