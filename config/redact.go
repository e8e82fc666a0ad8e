package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// secretLike finds what a bcrypt hash or a PEM private key starts with, and
// a line of a PEM body (64 characters of base64).
var secretLike = regexp.MustCompile(`\$2[a-z]?\$|PRIVATE KEY|[A-Za-z0-9+/=]{64}`)

// looksSecret reports whether s may be a password hash or a private key put
// in the wrong place. It runs for every user name, so the common case (no
// '$', no "KEY", short) is decided without the regular expression.
func looksSecret(s string) bool {
	if strings.Contains(s, "$2") || strings.Contains(s, "PRIVATE KEY") || len(s) >= 64 {
		return secretLike.MatchString(s)
	}
	return false
}

// secretText finds, in a message, a bcrypt hash (up to a space, quote or
// bracket), a PEM private key block (or what is left of it), and long base64.
var secretText = regexp.MustCompile("\\$2[a-z]?\\$[^\\s\"'`,\\]}]*" +
	`|-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)` +
	`|[A-Za-z0-9+/=]{64,}`)

// redact replaces whatever in msg looks like a secret by its length. Our own
// messages never quote a secret (see shown); redact is the second line, for
// text that the YAML library and other packages write.
func redact(msg string) string {
	if !secretLike.MatchString(msg) {
		return msg
	}
	return secretText.ReplaceAllStringFunc(msg, hidden)
}

// redactErr redacts the message and field of every Error in err, which
// Load and Parse return.
func redactErr(err error) error {
	switch e := err.(type) {
	case *Error:
		e.Msg = redact(e.Msg)
		e.Field = redact(e.Field)
	case interface{ Unwrap() []error }:
		for _, x := range e.Unwrap() {
			redactErr(x)
		}
	}
	return err
}

// hidden stands for a value that is not shown in an error.
func hidden(s string) string { return fmt.Sprintf("<%d characters not shown>", len(s)) }

// shown quotes a value for an error message unless it may be a secret or is
// too long or odd to be a name someone mistyped; then it only says how long
// it is. Errors end up in logs.
func shown(s string) string {
	if looksSecret(s) || len(s) > 64 || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return hidden(s)
	}
	return strconv.Quote(s)
}

// keyShown is shown for a mapping key that names a user or header in a
// field path. Long keys are kept (they are names, and warnings look fields
// up by them); only what looks like a secret is hidden.
func keyShown(s string) string {
	if looksSecret(s) {
		return hidden(s)
	}
	return strconv.Quote(s)
}
