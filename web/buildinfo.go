package web

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// modulePath is webguard's module, looked up in the program's build info.
const modulePath = "github.com/webguard/webguard"

// newBuildInfo returns webguard_build_info: which webguard a program was
// built with, for finding the programs that still run an old one. The
// labels come from the build info Go records in every binary, so no linker
// flag is needed: the module version (of webguard itself, or of the
// program's dependency on it), the VCS revision when webguard is the main
// module, and the Go version.
func newBuildInfo() prometheus.Metric {
	version, revision := "unknown", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version, revision = moduleVersion(bi)
	}
	desc := prometheus.NewDesc("webguard_build_info",
		"Always 1; the labels say which webguard the program was built with: its module version, VCS revision (when webguard is the main module) and Go version.",
		[]string{"version", "revision", "goversion"}, nil)
	return prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, 1, version, revision, runtime.Version())
}

// moduleVersion finds webguard in bi: the main module, or a dependency
// (replaced by a local copy, the replacement's version or "(replaced)").
func moduleVersion(bi *debug.BuildInfo) (version, revision string) {
	version = "unknown"
	if bi.Main.Path == modulePath {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
		return version, revision
	}
	for _, d := range bi.Deps {
		if d.Path != modulePath {
			continue
		}
		version = d.Version
		if d.Replace != nil {
			version = d.Replace.Version
			if version == "" {
				version = "(replaced)"
			}
		}
	}
	return version, revision
}
