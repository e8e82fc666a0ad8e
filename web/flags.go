package web

import (
	"flag"
	"runtime"
	"strings"
)

// FlagConfig is what the --web.* command line flags set, as exporter-toolkit
// defines it. AddFlags (and kingpinflag.AddFlags) fill it in; a program may
// also build one by hand.
type FlagConfig struct {
	// WebListenAddresses are the addresses to listen on: "host:port" for
	// TCP, "unix:///PATH" for a unix domain socket, "vsock://:PORT" or
	// "vsock://CID:PORT" for VM sockets. Ignored when WebSystemdSocket is
	// true.
	WebListenAddresses *[]string
	// WebSystemdSocket, when true, serves the sockets systemd passed by
	// socket activation instead of listening (Linux only).
	WebSystemdSocket *bool
	// WebConfigFile is the web-config file; empty means plain HTTP without
	// authentication.
	WebConfigFile *string
	// WebListenSocketMode is the mode, in octal, of the socket files of
	// "unix://" listen addresses; nil or empty means DefaultSocketMode
	// (0660). An extension: exporter-toolkit has no unix sockets.
	WebListenSocketMode *string
}

// AddFlags defines --web.listen-address (repeatable; defaultAddress unless
// given), --web.listen-socket-mode, --web.config.file and, on Linux,
// --web.systemd-socket in fs, and returns the FlagConfig they set once fs is
// parsed.
func AddFlags(fs *flag.FlagSet, defaultAddress string) *FlagConfig {
	addrs := &addressList{list: []string{defaultAddress}}
	fs.Var(addrs, "web.listen-address", "Address to listen on, repeatable for several: host:port for HTTP (e.g. :9100 or [::1]:9100), unix:///PATH for a unix domain socket, vsock://:PORT for VM sockets.")
	mode := fs.String("web.listen-socket-mode", "0660", "File mode, in octal, of the unix sockets of unix:// listen addresses.")
	systemd := new(bool)
	if runtime.GOOS == "linux" {
		fs.BoolVar(systemd, "web.systemd-socket", false, "Serve the sockets passed by systemd socket activation instead of listening (Linux only).")
	}
	file := fs.String("web.config.file", "", "Web-config file (web.yml) enabling TLS, mutual TLS, basic auth, headers and rate limiting; empty serves plain HTTP.")
	return &FlagConfig{WebListenAddresses: &addrs.list, WebSystemdSocket: systemd, WebConfigFile: file, WebListenSocketMode: mode}
}

// addressList is a repeatable flag whose first use replaces the default.
type addressList struct {
	list []string
	set  bool
}

func (a *addressList) String() string {
	if a == nil {
		return ""
	}
	return strings.Join(a.list, ",")
}

func (a *addressList) Set(v string) error {
	if !a.set {
		a.list, a.set = nil, true
	}
	a.list = append(a.list, v)
	return nil
}
