package web

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// unixScheme starts a listen address served on a unix domain socket.
const unixScheme = "unix://"

// DefaultSocketMode is the mode of a unix socket file when
// FlagConfig.WebListenSocketMode is unset: the owner and its group may
// connect, nobody else.
const DefaultSocketMode fs.FileMode = 0o660

// staleDialTimeout bounds the dial that tells a live socket from a stale
// one. A live server on the same machine answers within microseconds.
const staleDialTimeout = time.Second

// socketMode returns the mode flags asks unix sockets to have.
func socketMode(flags *FlagConfig) (fs.FileMode, error) {
	if flags == nil || flags.WebListenSocketMode == nil || *flags.WebListenSocketMode == "" {
		return DefaultSocketMode, nil
	}
	s := *flags.WebListenSocketMode
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o777 {
		return 0, fmt.Errorf("web: --web.listen-socket-mode %q: want an octal file mode from 0000 to 0777, such as 0660", s)
	}
	return fs.FileMode(n), nil
}

// listenUnix listens on the socket file of addr ("unix:///run/x/x.sock")
// and gives it mode. A socket file left by a process that died is replaced,
// but only once a dial shows nothing listens on it; a live socket is never
// taken over, and a file that is not a socket is never removed. The
// listener removes the file when it is closed (as http.Server does on
// Shutdown and Close).
//
// The socket is created under the process's umask and set to mode right
// after, before anything is accepted; put it in a directory only its
// clients can enter (e.g. /run/x, mode 0750) so that nobody else can
// connect in between.
func listenUnix(addr string, mode fs.FileMode) (net.Listener, error) {
	path := strings.TrimPrefix(addr, unixScheme)
	if path == "" {
		return nil, fmt.Errorf("web: listen address %q: want unix:///PATH/TO/SOCKET", addr)
	}
	l, err := net.Listen("unix", path)
	if errors.Is(err, syscall.EADDRINUSE) {
		if err := removeStaleSocket(addr, path); err != nil {
			return nil, err
		}
		l, err = net.Listen("unix", path)
	}
	if err != nil {
		return nil, fmt.Errorf("web: listen on %s: %w", addr, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		l.Close()
		return nil, fmt.Errorf("web: listen on %s: %w", addr, err)
	}
	return l, nil
}

// removeStaleSocket removes the socket file at path if nothing listens on
// it, and says why not otherwise.
func removeStaleSocket(addr, path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w", addr, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("web: listen on %s: %s exists and is not a socket; remove it or choose another path", addr, path)
	}
	c, err := net.DialTimeout("unix", path, staleDialTimeout)
	if err == nil {
		c.Close()
		return fmt.Errorf("web: listen on %s: another process is listening on %s", addr, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		// Not provably stale (e.g. a full backlog, or no permission to
		// connect): leave it to its owner.
		return fmt.Errorf("web: listen on %s: %s is in use and could not be checked: %w", addr, path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("web: listen on %s: remove stale socket: %w", addr, err)
	}
	return nil
}
