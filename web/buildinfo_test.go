package web

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestModuleVersion(t *testing.T) {
	for _, tc := range []struct {
		name              string
		bi                debug.BuildInfo
		version, revision string
	}{
		{"webguard itself", debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "v1.2.3"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}}}, "v1.2.3", "abc123"},
		{"a dependency", debug.BuildInfo{Main: debug.Module{Path: "example.org/exporter", Version: "v0.1.0"},
			Deps: []*debug.Module{{Path: "golang.org/x/sys", Version: "v0.1.0"}, {Path: modulePath, Version: "v1.4.0"}}}, "v1.4.0", ""},
		{"replaced by a local copy", debug.BuildInfo{Main: debug.Module{Path: "example.org/exporter"},
			Deps: []*debug.Module{{Path: modulePath, Version: "v1.4.0", Replace: &debug.Module{Path: "../webguard"}}}}, "(replaced)", ""},
		{"not there", debug.BuildInfo{Main: debug.Module{Path: "example.org/exporter"}}, "unknown", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, r := moduleVersion(&tc.bi)
			if v != tc.version || r != tc.revision {
				t.Errorf("got %q %q, want %q %q", v, r, tc.version, tc.revision)
			}
		})
	}
}

// The Guard's collector carries webguard_build_info.
func TestBuildInfoMetric(t *testing.T) {
	g := newGuard(t, t.TempDir(), "", nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(g.Collector())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "webguard_build_info" {
			continue
		}
		labels := map[string]string{}
		for _, l := range f.Metric[0].Label {
			labels[l.GetName()] = l.GetValue()
		}
		// In a test binary webguard is the main module, without a version.
		if len(f.Metric) != 1 || f.Metric[0].GetGauge().GetValue() != 1 ||
			labels["goversion"] != runtime.Version() || labels["version"] != "(devel)" {
			t.Errorf("webguard_build_info: %v", f)
		}
		return
	}
	t.Error("no webguard_build_info")
}
