package kingpinflag

import (
	"cmp"
	"runtime"
	"slices"
	"testing"

	"github.com/alecthomas/kingpin/v2"
)

func TestAddFlags(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    []string
		addrs   []string
		systemd bool
		file    string
		mode    string
	}{
		{name: "defaults", addrs: []string{":9100"}},
		{name: "one address replaces the default", args: []string{"--web.listen-address=:9200"}, addrs: []string{":9200"}},
		{name: "repeated", args: []string{"--web.listen-address", "127.0.0.1:1", "--web.listen-address=vsock://:2"}, addrs: []string{"127.0.0.1:1", "vsock://:2"}},
		{name: "config file and systemd", args: []string{"--web.config.file=web.yml", "--web.systemd-socket"}, addrs: []string{":9100"}, systemd: true, file: "web.yml"},
		{name: "unix socket", args: []string{"--web.listen-address=unix:///run/x/x.sock", "--web.listen-socket-mode=0600"}, addrs: []string{"unix:///run/x/x.sock"}, mode: "0600"},
	} {
		if tt.systemd && runtime.GOOS != "linux" {
			continue // --web.systemd-socket is Linux only
		}
		t.Run("application/"+tt.name, func(t *testing.T) {
			app := kingpin.New("exporter", "")
			fc := AddFlags(app, ":9100")
			if _, err := app.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(*fc.WebListenAddresses, tt.addrs) || *fc.WebSystemdSocket != tt.systemd || *fc.WebConfigFile != tt.file || *fc.WebListenSocketMode != cmp.Or(tt.mode, "0660") {
				t.Errorf("got %q, %v, %q, %q", *fc.WebListenAddresses, *fc.WebSystemdSocket, *fc.WebConfigFile, *fc.WebListenSocketMode)
			}
		})
		t.Run("command/"+tt.name, func(t *testing.T) {
			app := kingpin.New("exporter", "")
			cmd := app.Command("serve", "")
			fc := AddFlags(cmd, ":9100")
			if _, err := app.Parse(append([]string{"serve"}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(*fc.WebListenAddresses, tt.addrs) || *fc.WebSystemdSocket != tt.systemd || *fc.WebConfigFile != tt.file || *fc.WebListenSocketMode != cmp.Or(tt.mode, "0660") {
				t.Errorf("got %q, %v, %q, %q", *fc.WebListenAddresses, *fc.WebSystemdSocket, *fc.WebConfigFile, *fc.WebListenSocketMode)
			}
		})
	}
}
