package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/webguard/webguard/config"
)

var checkAbout = `
Check loads each web-config file the way the server does: strict YAML, every
field validated, certificate and key files read and matched, client CA files
parsed. A valid file prints "FILE: OK" on stdout; each problem prints one line
"FILE:LINE: FIELD: MESSAGE" on stderr.

It also warns about settings that are valid but weaken security, will soon
break, or will not load elsewhere: basic auth without TLS, a file with
neither TLS nor users (plain HTTP to anyone), client certificate policies
that do not verify against the client CA (or verify against the system
roots), bcrypt costs below 10, server or client CA certificates expired or
expiring within ` + fmt.Sprint(int(config.ExpiryWarning/(24*time.Hour))) + ` days, a server certificate without subject alternative
names, a private key or key password readable by other users, TLS versions
below 1.2, and webguard's extensions (keys such as unauthenticated_paths and
key_password_file, and the X25519MLKEM768 curve) that exporter-toolkit
v0.20.0 and Prometheus refuse. Warnings print on stderr as
"FILE:LINE: warning: FIELD: MESSAGE".

With --format promtool, the output is that of "promtool check web-config":
"FILE SUCCESS" or "FILE FAILED: MESSAGE" on stderr, one line per file (a
message of several problems continues on lines indented by two spaces), so
that scripts written for promtool keep working. Warnings are not printed in
that format; with --strict they make the file FAILED.

Exit status: 0 when every file is valid (with --strict: and has no warnings),
1 otherwise, 2 for a usage error.
`

func (c *cli) check(args []string) int {
	cmd := newCommand("check", "[--strict] FILE...", checkAbout)
	strict := cmd.flags.Bool("strict", false, "treat warnings as problems (exit status 1)")
	format := cmd.flags.String("format", "webguard", "output `FORMAT`: webguard (file, line and field of each problem and warning) or promtool (as promtool check web-config prints)")
	files, code, ok := c.parse(cmd, args)
	if !ok {
		return code
	}
	if *format != "webguard" && *format != "promtool" {
		return c.usageError(cmd, "unknown --format %q (want webguard or promtool)", *format)
	}
	if len(files) == 0 {
		return c.usageError(cmd, "no file given")
	}
	status := exitOK
	now := time.Now()
	for _, file := range files {
		cfg, err := config.Load(file)
		var problems []string
		if err != nil {
			for _, e := range leaves(err) {
				problems = append(problems, e.Error())
			}
		}
		var warnings []config.Warning
		if cfg != nil {
			warnings = cfg.Warnings(now)
		}
		if *format == "promtool" {
			if *strict {
				for _, w := range warnings {
					problems = append(problems, "warning: "+w.String())
				}
			}
			if len(problems) == 0 {
				fmt.Fprintf(c.stderr, "%s SUCCESS\n", file)
				continue
			}
			fmt.Fprintf(c.stderr, "%s FAILED: %s\n", file, strings.Join(problems, "\n  "))
			status = exitProblem
			continue
		}
		if err != nil {
			for _, p := range problems {
				fmt.Fprintln(c.stderr, p)
			}
			status = exitProblem
			continue
		}
		for _, w := range warnings {
			fmt.Fprintln(c.stderr, warningLine(w))
		}
		switch {
		case len(warnings) == 0:
			fmt.Fprintf(c.stdout, "%s: OK\n", file)
		case *strict:
			fmt.Fprintf(c.stderr, "%s: %s, failing because of --strict\n", file, plural(len(warnings), "warning"))
			status = exitProblem
		default:
			fmt.Fprintf(c.stdout, "%s: OK (%s)\n", file, plural(len(warnings), "warning"))
		}
	}
	return status
}

// leaves flattens errors.Join trees (config joins one error per problem) into their individual errors, in order.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

// warningLine formats w as "file:line: warning: field: message".
func warningLine(w config.Warning) string {
	loc := config.Warning{File: w.File, Line: w.Line, Msg: "warning: "}
	s := loc.String()
	if w.Field != "" {
		s += w.Field + ": "
	}
	return s + w.Msg
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
