package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"golang.org/x/term"

	"github.com/webguard/webguard/bcrypt"
)

const hashAbout = `
Hash prints the bcrypt hash of a password, alone on a line, for the
basic_auth_users section of a web-config file. It replaces
htpasswd -nBC 10 "" | tr -d ':\n'.

On a terminal the password is asked for twice, without echo. Otherwise it is
read from stdin: one line, the trailing newline removed, e.g.
  printf '%s\n' "$PASSWORD" | webguard hash
The password must not be empty and bcrypt uses at most 72 bytes of it, so a
longer one is refused.

Exit status: 0 with the hash printed, 1 when the password is refused, 2 for
a usage error (including a cost outside 4..31).
`

// maxPassword is the most bcrypt hashes; more would be silently ignored.
const maxPassword = 72

func (c *cli) hash(args []string) int {
	cmd := newCommand("hash", "[--cost COST]", hashAbout)
	cost := cmd.flags.Int("cost", bcrypt.DefaultCost, fmt.Sprintf("bcrypt `COST`, %d..%d; each step doubles the work of every login", bcrypt.MinCost, bcrypt.MaxCost))
	rest, code, ok := c.parse(cmd, args)
	if !ok {
		return code
	}
	if len(rest) > 0 {
		return c.usageError(cmd, "unexpected argument %q (the password is read from the terminal or stdin, never from the command line)", rest[0])
	}
	if *cost < bcrypt.MinCost || *cost > bcrypt.MaxCost {
		return c.usageError(cmd, "cost %d out of range %d..%d", *cost, bcrypt.MinCost, bcrypt.MaxCost)
	}

	password, err := c.readPassword()
	defer clear(password)
	if err != nil {
		return c.fail(cmd, "%v", err)
	}
	switch {
	case len(password) == 0:
		return c.fail(cmd, "empty password")
	case len(password) > maxPassword:
		return c.fail(cmd, "password is %d bytes long; bcrypt uses at most %d, so the rest would be ignored", len(password), maxPassword)
	}
	h, err := bcrypt.Hash(password, *cost)
	if err != nil {
		return c.fail(cmd, "%v", err)
	}
	fmt.Fprintf(c.stdout, "%s\n", h)
	return exitOK
}

// readPassword asks twice on a terminal, or reads one line from stdin.
func (c *cli) readPassword() ([]byte, error) {
	fd := int(c.stdin.Fd())
	if !term.IsTerminal(fd) {
		return readLine(c.stdin)
	}
	fmt.Fprint(c.stderr, "Password: ")
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(c.stderr)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	fmt.Fprint(c.stderr, "Again: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(c.stderr)
	defer clear(second)
	if err != nil {
		clear(first)
		return nil, fmt.Errorf("read password: %w", err)
	}
	if !bytes.Equal(first, second) {
		clear(first)
		return nil, errors.New("the passwords do not match")
	}
	return first, nil
}

// readLine reads a password from a pipe or file: one line, its line ending
// removed. A second line is refused rather than guessed at.
func readLine(r io.Reader) ([]byte, error) {
	// Enough for any password bcrypt takes, and a bound on what a mistaken
	// redirect (a large file) makes us read.
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return nil, fmt.Errorf("read password from stdin: %w", err)
	}
	line := bytes.TrimSuffix(b, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if bytes.ContainsAny(line, "\r\n") {
		clear(b)
		return nil, errors.New("stdin holds more than one line; give the password alone on one line")
	}
	return line, nil
}
