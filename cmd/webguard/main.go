// Command webguard is the operator's tool for web-config files:
//
//	webguard check [--strict] FILE...   validate web.yml files, with warnings
//	webguard hash [--cost N]            bcrypt a password for basic_auth_users
//	webguard certs ca|server|client     make a CA and the certificates it signs
//	webguard proxy                      serve an exporter's endpoint behind web.yml
//
// Each subcommand describes itself with --help; --version prints the
// version. Exit status: 0 when all is well, 1 when a problem was found (an
// invalid file, a refused password, a file that exists, a proxy that could
// not serve), 2 for a usage error; "webguard --help" lists them.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/prometheus/common/version"
)

// Exit statuses.
const (
	exitOK      = 0
	exitProblem = 1
	exitUsage   = 2
)

// cli is where a subcommand reads and writes: the process's own streams,
// kept in one place so that every subcommand writes errors to stderr.
type cli struct {
	stdin          *os.File
	stdout, stderr io.Writer
}

func main() {
	// A release build sets the version with -ldflags, as Prometheus does;
	// "go install ...@vX" records it in the build info instead.
	if bi, ok := debug.ReadBuildInfo(); ok && version.Version == "" {
		version.Version = bi.Main.Version
	}
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(c.run(os.Args[1:]))
}

const usage = `Usage: webguard COMMAND [FLAGS] [ARGS]

Commands:
  check   validate web-config files, like promtool check web-config, with warnings
  hash    print the bcrypt hash of a password, for basic_auth_users
  certs   make a CA, server and client certificates, and the config that uses them
  proxy   serve an upstream exporter over TLS and basic auth from a web-config file

Run "webguard COMMAND --help" for a command's flags, "webguard --version"
for the version.

Exit status:
  0  all is well (check: every file valid; proxy: stopped by SIGINT or SIGTERM)
  1  a problem was found: an invalid file (check, or warnings with --strict),
     an empty, too long or unreadable password (hash), a file that already
     exists or cannot be written (certs), a proxy that could not load its
     config, listen or serve
  2  a usage error: an unknown command or flag, a missing or bad argument
`

func (c *cli) run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "check":
		return c.check(args[1:])
	case "hash":
		return c.hash(args[1:])
	case "certs":
		return c.certs(args[1:])
	case "proxy":
		return c.proxy(args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.stdout, usage)
		return exitOK
	case "version", "-version", "--version":
		fmt.Fprintln(c.stdout, version.Print("webguard"))
		return exitOK
	}
	fmt.Fprintf(c.stderr, "webguard: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// command is one subcommand's flags and help text.
type command struct {
	name     string // "certs server"
	synopsis string // the arguments after the name, e.g. "[--strict] FILE..."
	about    string // what it does, several lines
	flags    *flag.FlagSet
}

func newCommand(name, synopsis, about string) *command {
	fs := flag.NewFlagSet("webguard "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors itself
	return &command{name: name, synopsis: synopsis, about: about, flags: fs}
}

func (cmd *command) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: webguard %s %s\n\n%s\n", cmd.name, cmd.synopsis, strings.TrimSpace(cmd.about))
	first := true
	cmd.flags.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprint(w, "\nFlags:\n")
			first = false
		}
		// Like flag.PrintDefaults, but spelled with two dashes as documented.
		typ, text := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s", f.Name)
		if typ != "" {
			fmt.Fprintf(w, " %s", typ)
		}
		fmt.Fprintf(w, "\n      %s", text)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// parse parses args, allowing flags after positional arguments (as in
// "webguard check web.yml --strict"); "--" ends the flags. It returns the
// positional arguments, or ok false and the exit status when the command
// should stop: 0 after --help (printed on stdout), 2 after a usage error.
func (c *cli) parse(cmd *command, args []string) (rest []string, code int, ok bool) {
	for {
		err := cmd.flags.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			cmd.usage(c.stdout)
			return nil, exitOK, false
		}
		if err != nil {
			return nil, c.usageError(cmd, "%v", err), false
		}
		left := cmd.flags.Args()
		if used := len(args) - len(left); used > 0 && args[used-1] == "--" {
			return append(rest, left...), exitOK, true
		}
		if len(left) == 0 {
			return rest, exitOK, true
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

// usageError prints a usage problem on stderr, one line and where to read
// more (the whole usage would bury the line), and returns exitUsage.
func (c *cli) usageError(cmd *command, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "webguard %s: %s\nRun \"webguard %s --help\" for usage.\n", cmd.name, fmt.Sprintf(format, args...), cmd.name)
	return exitUsage
}

// fail prints a problem on stderr and returns exitProblem.
func (c *cli) fail(cmd *command, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "webguard %s: %s\n", cmd.name, fmt.Sprintf(format, args...))
	return exitProblem
}
