package config

import (
	"fmt"
	"path"
	"strings"
)

// validatePaths checks http_server_config.unauthenticated_paths: each entry
// is an absolute, clean path with nothing a request path cannot hold, so that
// comparing it with a request's path means what it says.
func (d *decoder) validatePaths(paths []string) []error {
	var errs []error
	seen := map[string]int{}
	for i, p := range paths {
		field := fmt.Sprintf("http_server_config.unauthenticated_paths[%d]", i)
		var msg string
		switch {
		case p == "":
			msg = "empty path (want an absolute path such as /-/healthy)"
		case strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			msg = fmt.Sprintf("path %s holds a space or control character", shown(p))
		case !strings.HasPrefix(p, "/"):
			msg = fmt.Sprintf("path %s is not absolute (want it to start with /, as in /%s)", shown(p), p)
		case strings.ContainsAny(p, "?#"):
			msg = fmt.Sprintf("path %s holds a query or fragment: write the path only; any query is allowed", shown(p))
		case strings.Contains(p, "%"):
			msg = fmt.Sprintf("path %s is percent-encoded: write it decoded, as the server sees it", shown(p))
		case path.Clean(p) != p:
			msg = fmt.Sprintf("path %s is not in clean form (want %s): requests are matched exactly", shown(p), shown(path.Clean(p)))
		}
		if msg == "" {
			if j, dup := seen[p]; dup {
				msg = fmt.Sprintf("path %s is listed twice (first as entry %d)", shown(p), j)
			}
			seen[p] = i
		}
		if msg != "" {
			errs = append(errs, d.errorf(field, "%s", msg))
		}
	}
	return errs
}
