package web

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/mdlayher/vsock"
)

// vsockScheme starts a listen address served over VM sockets.
const vsockScheme = "vsock://"

// OpenListeners opens what flags asks for, as ListenAndServe does: the
// sockets systemd passed when WebSystemdSocket is set, else one listener
// per listen address (TCP, a unix socket for "unix:///PATH", or vsock for
// "vsock://[CID]:PORT"), else fallback (an http.Server's Addr). On error it
// closes what it opened. It is for programs that wrap the listeners before
// handing them to ServeMultiple; the listeners must stay plain (not
// tls.Listeners).
func OpenListeners(flags *FlagConfig, fallback string) ([]net.Listener, error) {
	if flags != nil && flags.WebSystemdSocket != nil && *flags.WebSystemdSocket {
		return systemdListeners()
	}
	var addrs []string
	if flags != nil && flags.WebListenAddresses != nil {
		addrs = *flags.WebListenAddresses
	}
	if len(addrs) == 0 {
		if fallback == "" {
			return nil, fmt.Errorf("%w: set --web.listen-address or http.Server.Addr", ErrNoListeners)
		}
		addrs = []string{fallback}
	}
	mode, err := socketMode(flags)
	if err != nil {
		return nil, err
	}
	var ls []net.Listener
	for _, a := range addrs {
		l, err := listenOne(a, mode)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// listenOne opens one listen address; unix sockets get mode.
func listenOne(addr string, mode fs.FileMode) (net.Listener, error) {
	if strings.HasPrefix(addr, unixScheme) {
		return listenUnix(addr, mode)
	}
	if !strings.HasPrefix(addr, vsockScheme) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("web: listen on %s: %w", addr, err)
		}
		return l, nil
	}
	cid, port, hasCID, err := parseVsock(addr)
	if err != nil {
		return nil, err
	}
	var l net.Listener
	if hasCID {
		l, err = vsock.ListenContextID(cid, port, nil)
	} else {
		l, err = vsock.Listen(port, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("web: listen on %s: %w (is the vsock module loaded and /dev/vsock present?)", addr, err)
	}
	return l, nil
}

// parseVsock parses "vsock://:PORT" (this machine's context ID) and
// "vsock://CID:PORT".
func parseVsock(addr string) (cid, port uint32, hasCID bool, err error) {
	rest := strings.TrimPrefix(addr, vsockScheme)
	host, p, ok := strings.Cut(rest, ":")
	if !ok || p == "" {
		return 0, 0, false, fmt.Errorf("web: listen address %q: want vsock://:PORT or vsock://CID:PORT", addr)
	}
	n, err := strconv.ParseUint(p, 10, 32)
	if err != nil {
		return 0, 0, false, fmt.Errorf("web: listen address %q: port %q is not a number from 0 to 4294967295", addr, p)
	}
	port = uint32(n)
	if host == "" {
		return 0, port, false, nil
	}
	n, err = strconv.ParseUint(host, 10, 32)
	if err != nil {
		return 0, 0, false, fmt.Errorf("web: listen address %q: context ID %q is not a number from 0 to 4294967295", addr, host)
	}
	return uint32(n), port, true, nil
}

// systemdListeners returns the stream sockets systemd passed to this process
// (LISTEN_PID, LISTEN_FDS). The environment variables are cleared, so that
// child processes do not take the sockets for theirs.
func systemdListeners() ([]net.Listener, error) {
	all, err := activation.Listeners()
	if err != nil {
		return nil, fmt.Errorf("web: systemd socket activation: %w", err)
	}
	var ls []net.Listener
	for _, l := range all {
		if l != nil {
			ls = append(ls, l)
		}
	}
	if len(ls) == 0 {
		return nil, errors.New("web: --web.systemd-socket is set but systemd passed no listening stream socket (LISTEN_FDS and LISTEN_PID unset, or for another process)")
	}
	return ls, nil
}
