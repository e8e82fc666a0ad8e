package web

import (
	"cmp"
	"flag"
	"io"
	"runtime"
	"slices"
	"testing"
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
		{name: "config file", args: []string{"--web.config.file=/etc/web.yml"}, addrs: []string{":9100"}, file: "/etc/web.yml"},
		{name: "systemd", args: []string{"--web.systemd-socket"}, addrs: []string{":9100"}, systemd: true},
		{name: "unix socket", args: []string{"--web.listen-address=unix:///run/x/x.sock", "--web.listen-socket-mode=0600"}, addrs: []string{"unix:///run/x/x.sock"}, mode: "0600"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.systemd && runtime.GOOS != "linux" {
				t.Skip("systemd socket activation is Linux only")
			}
			fs := flag.NewFlagSet("exporter", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			fc := AddFlags(fs, ":9100")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(*fc.WebListenAddresses, tt.addrs) || *fc.WebSystemdSocket != tt.systemd || *fc.WebConfigFile != tt.file || *fc.WebListenSocketMode != cmp.Or(tt.mode, "0660") {
				t.Errorf("got %q, %v, %q, %q", *fc.WebListenAddresses, *fc.WebSystemdSocket, *fc.WebConfigFile, *fc.WebListenSocketMode)
			}
		})
	}
}
