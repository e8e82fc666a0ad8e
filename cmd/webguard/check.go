package main

import (
	"fmt"
	"time"

	"github.com/webguard/webguard/config"
)

const checkAbout = `
Check loads each web-config file the way the server does: strict YAML, every
field validated, certificate and key files read and matched, client CA files
parsed. A valid file prints "FILE: OK" on stdout; each problem prints one line
"FILE:LINE: FIELD: MESSAGE" on stderr.

It also warns about settings that are valid but weaken security or will soon
break: basic auth without TLS, client certificate policies that do not verify
against the client CA (or verify against the system roots), bcrypt costs
below 10, server or client CA certificates expired or expiring within 30
days, a server certificate without subject alternative names, a private key
readable by other users, and TLS versions below 1.2. Warnings print on stderr
as "FILE:LINE: warning: FIELD: MESSAGE".

Exit status: 0 when every file is valid (with --strict: and has no warnings),
1 otherwise, 2 for a usage error.
`

func (c *cli) check(args []string) int {
	cmd := newCommand("check", "[--strict] FILE...", checkAbout)
	strict := cmd.flags.Bool("strict", false, "treat warnings as problems (exit status 1)")
	files, code, ok := c.parse(cmd, args)
	if !ok {
		return code
	}
	if len(files) == 0 {
		return c.usageError(cmd, "no file given")
	}
	status := exitOK
	now := time.Now()
	for _, file := range files {
		cfg, err := config.Load(file)
		if err != nil {
			for _, e := range leaves(err) {
				fmt.Fprintln(c.stderr, e)
			}
			status = exitProblem
			continue
		}
		warnings := cfg.Warnings(now)
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
