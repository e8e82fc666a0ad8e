package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem found in a web-config file. Load and Parse return one
// Error, or several joined with errors.Join; errors.As finds the first.
type Error struct {
	File  string // the config file; empty for Parse without a name
	Line  int    // 1-based line in File; 0 when the problem has no single line
	Field string // dotted path, e.g. "tls_server_config.client_auth_type"
	Msg   string
	Err   error // the underlying error, if any

	// col is the column of the value an unmarshaler refused, to tell list
	// items on one line apart; 0 when unknown.
	col int
}

// Error formats as "file:line: field: message", leaving out empty parts.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func (d *decoder) errorf(field, format string, args ...any) *Error {
	return &Error{File: d.file, Line: d.fields[field], Field: field, Msg: fmt.Sprintf(format, args...)}
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// describe names the kind of a node without its value: a value in the wrong
// place may be a password hash or a key.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	if k, ok := yamlKinds[n.ShortTag()]; ok {
		return k
	}
	return "a value with a tag of its own" // the tag itself may be anything
}

// yamlKinds names YAML's scalar tags for error messages.
var yamlKinds = map[string]string{
	"!!str":       "a string",
	"!!int":       "a number",
	"!!float":     "a number",
	"!!bool":      "a boolean",
	"!!null":      "nothing",
	"!!binary":    "binary data",
	"!!timestamp": "a timestamp",
	"!!seq":       "a list",
	"!!map":       "a mapping",
}

// goKinds names the Go types of Config's fields as a web.yml author knows
// them.
var goKinds = map[string]string{
	"bool":                     "true or false",
	"int":                      "an integer",
	"string":                   "a string",
	"config.Secret":            "a string",
	"[]string":                 "a list of strings",
	"map[string]string":        "a mapping of names to strings",
	"map[string]config.Secret": "a mapping of user names to bcrypt hashes",
	"[]config.Cipher":          "a list of cipher suite names",
	"[]config.Curve":           "a list of curve names",
	"config.TLSConfig":         "a mapping",
	"config.HTTPConfig":        "a mapping",
	"config.RateLimitConfig":   "a mapping",
	"config.Config":            "a mapping",
	"config.TLSVersion":        "a TLS version name",
	"config.ClientAuthType":    "a client auth type name",
	"config.Cipher":            "a cipher suite name",
	"config.Curve":             "a curve name",
	"time.Duration":            "a duration such as 1s",
}

// yamlTypeMsg matches the decoder's type errors, which quote the value: a
// value in the wrong place may be a secret, so it is dropped.
var yamlTypeMsg = regexp.MustCompile("^(?:yaml: )?cannot unmarshal (!!\\w+)(?: `[^`]*`)? into (.+)$")

// yamlTagMsg matches the decoder's error for a value that its explicit tag
// (burst: !!int x) does not fit, which quotes the value in full.
var yamlTagMsg = regexp.MustCompile("^(?:yaml: )?cannot decode (!!\\w+) `.*` as an? (!!\\w+)$")

// typeMsg rewrites a decoder type error as "want ..., got ...", without the
// value.
func typeMsg(msg string) string {
	if m := yamlTagMsg.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("a value tagged %s cannot be read as %s", m[2], yamlKinds[m[2]])
	}
	m := yamlTypeMsg.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	got := yamlKinds[m[1]]
	if got == "" {
		got = m[1]
	}
	want := goKinds[m[2]]
	if want == "" {
		want = m[2]
	}
	return fmt.Sprintf("want %s, got %s", want, got)
}

// yamlError turns the decoder's errors into Errors with the file, line and,
// where the line holds a known field, its name.
func (d *decoder) yamlError(err error) error {
	var fe *Error
	if errors.As(err, &fe) {
		fe.File = d.file
		if fe.Field == "" {
			fe.Field = d.fieldAt(fe.Line, fe.col)
		}
		return fe
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var errs []error
		for _, msg := range te.Errors {
			errs = append(errs, d.lineError(msg))
		}
		return errors.Join(errs...)
	}
	return d.lineError(err.Error())
}

func (d *decoder) lineError(msg string) *Error {
	m := yamlLine.FindStringSubmatch(strings.TrimPrefix(msg, "yaml: "))
	if m == nil {
		return &Error{File: d.file, Msg: typeMsg(strings.TrimPrefix(msg, "yaml: "))}
	}
	line, _ := strconv.Atoi(m[1])
	return &Error{File: d.file, Line: line, Field: d.fieldAt(line, 0), Msg: typeMsg(m[2])}
}

// fieldAt returns the field recorded on line, at col when that is known;
// among several on the line, the most specific (then the first by name, to
// be deterministic).
func (d *decoder) fieldAt(line, col int) string {
	var best string
	for f, l := range d.fields {
		if l != line {
			continue
		}
		if col > 0 && d.cols[f] == col {
			return f
		}
		if len(f) > len(best) || len(f) == len(best) && f < best {
			best = f
		}
	}
	return best
}
