// Package kingpinflag defines webguard's --web.* flags on a kingpin
// application or command, as exporter-toolkit's package of the same name does.
package kingpinflag

import (
	"runtime"

	"github.com/alecthomas/kingpin/v2"

	"github.com/webguard/webguard/web"
)

// FlagGroup is where flags are defined: a *kingpin.Application or a
// *kingpin.CmdClause.
type FlagGroup interface {
	Flag(name, help string) *kingpin.FlagClause
}

// AddFlags defines --web.listen-address (repeatable; defaultAddress unless
// given), --web.listen-socket-mode, --web.config.file and, on Linux,
// --web.systemd-socket on a, and returns the web.FlagConfig they set once a
// is parsed.
func AddFlags(a FlagGroup, defaultAddress string) *web.FlagConfig {
	systemd := new(bool)
	if runtime.GOOS == "linux" {
		systemd = a.Flag("web.systemd-socket",
			"Serve the sockets passed by systemd socket activation instead of listening (Linux only).").Bool()
	}
	return &web.FlagConfig{
		WebListenAddresses: a.Flag("web.listen-address",
			"Address to listen on, repeatable for several: host:port for HTTP (e.g. :9100 or [::1]:9100), unix:///PATH for a unix domain socket, vsock://:PORT for VM sockets.").
			Default(defaultAddress).Strings(),
		WebListenSocketMode: a.Flag("web.listen-socket-mode",
			"File mode, in octal, of the unix sockets of unix:// listen addresses.").
			Default("0660").String(),
		WebSystemdSocket: systemd,
		WebConfigFile: a.Flag("web.config.file",
			"Web-config file (web.yml) enabling TLS, mutual TLS, basic auth, headers and rate limiting; empty serves plain HTTP.").
			Default("").String(),
	}
}
