package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
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

// Load reads, parses and validates the web-config file at path, then reads the
// certificate, key and client CA files it names. Relative paths in the file
// are relative to its directory. An empty file means plain HTTP without
// authentication.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		reason := err
		var pe *fs.PathError
		if errors.As(err, &pe) {
			reason = pe.Err
		}
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read config file: %v", reason), Err: err}
	}
	return parse(data, path, filepath.Dir(path))
}

// Parse is Load for a config held in memory. dir is the directory relative
// file paths are resolved against ("" leaves them relative to the working
// directory). Errors name no file; see ParseNamed. Config.Path returns "".
func Parse(data []byte, dir string) (*Config, error) {
	return parse(data, "", dir)
}

// ParseNamed is Parse with name used in error messages in place of a path.
func ParseNamed(data []byte, name, dir string) (*Config, error) {
	c, err := parse(data, name, dir)
	if c != nil {
		c.path = ""
	}
	return c, err
}

func parse(data []byte, path, dir string) (*Config, error) {
	d := &decoder{file: path, fields: map[string]int{}}
	c := &Config{path: path, lines: d.fields}
	if err := d.decode(data, c); err != nil {
		return nil, err
	}
	c.applyDefaults(dir)
	if err := errors.Join(d.validate(c)...); err != nil {
		return nil, err
	}
	return c, nil
}

// decoder turns YAML into a Config and keeps the line of every field so that
// validation can say where a problem is.
type decoder struct {
	file   string
	fields map[string]int // dotted field path -> line
	// cols holds the column of each list item, whose lines can be shared
	// ([a, b]). Created on first use.
	cols map[string]int
	// given holds the fields written with a value: not null, not "", not an
	// empty list or mapping. exporter-toolkit treats `cert_file: ""` as
	// unset, and so do we. Created on first use.
	given map[string]bool
}

// isGiven reports whether field was written with a non-empty value.
func (d *decoder) isGiven(field string) bool { return d.given[field] }

func (d *decoder) errorf(field, format string, args ...any) *Error {
	return &Error{File: d.file, Line: d.fields[field], Field: field, Msg: fmt.Sprintf(format, args...)}
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func (d *decoder) decode(data []byte, c *Config) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file, or comments only
		}
		return d.yamlError(err)
	}
	// A second document would be ignored; half of a config silently
	// dropped is worse than an error.
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		line := extra.Line
		if len(extra.Content) > 0 {
			line = extra.Content[0].Line
		}
		return &Error{File: d.file, Line: line, Msg: "more than one YAML document (remove the second \"---\")"}
	case !errors.Is(err, io.EOF):
		return d.yamlError(err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	var errs []error
	d.walk(root, "", reflect.TypeOf(Config{}), &errs)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := root.Decode(c); err != nil {
		return d.yamlError(err)
	}
	return nil
}

// walk checks every mapping key against the yaml tags of t (strict parsing:
// an unknown key names the keys allowed there) and records field lines.
func (d *decoder) walk(n *yaml.Node, path string, t reflect.Type, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch {
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Tag == "!!null" {
				return
			}
			*errs = append(*errs, &Error{File: d.file, Line: n.Line, Field: path, Msg: fmt.Sprintf("want a mapping, got %s", describe(n))})
			return
		}
		known := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			known[name] = f.Type
			names = append(names, name)
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.ShortTag() == "!!merge" {
				// "<<: *anchor" (or a list of them) merges mappings in,
				// as exporter-toolkit's YAML library does.
				merged := []*yaml.Node{v}
				if v.Kind == yaml.SequenceNode {
					merged = v.Content
				}
				for _, m := range merged {
					d.walk(m, path, t, errs)
				}
				continue
			}
			field := join(path, k.Value)
			if line, dup := seen[k.Value]; dup {
				*errs = append(*errs, &Error{File: d.file, Line: k.Line, Field: field, Msg: fmt.Sprintf("duplicate key (first set on line %d)", line)})
				continue
			}
			seen[k.Value] = k.Line
			ft, ok := known[k.Value]
			if !ok {
				msg := fmt.Sprintf("unknown field (want one of %s)", strings.Join(names, ", "))
				if s := closest(k.Value, names); s != "" {
					msg = fmt.Sprintf("unknown field, did you mean %s? (want one of %s)", s, strings.Join(names, ", "))
				}
				*errs = append(*errs, &Error{File: d.file, Line: k.Line, Field: field, Msg: msg})
				continue
			}
			d.fields[field] = k.Line
			if !isEmpty(v) {
				if d.given == nil {
					d.given = map[string]bool{}
				}
				d.given[field] = true
			}
			d.walk(v, field, ft, errs)
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			return // the decoder reports the type error
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			field := path + "[" + keyShown(k.Value) + "]"
			if line, dup := seen[k.Value]; dup {
				*errs = append(*errs, &Error{File: d.file, Line: k.Line, Field: field, Msg: fmt.Sprintf("duplicate key (first set on line %d)", line)})
				continue
			}
			seen[k.Value] = k.Line
			d.fields[field] = k.Line
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		if d.cols == nil {
			d.cols = map[string]int{}
		}
		for i, item := range n.Content {
			field := fmt.Sprintf("%s[%d]", path, i)
			d.fields[field] = item.Line
			d.cols[field] = item.Column
		}
	}
}

func join(path, key string) string {
	if looksSecret(key) {
		key = hidden(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// secretLike finds what a bcrypt hash or a PEM private key starts with.
var secretLike = regexp.MustCompile(`\$2[a-z]?\$|PRIVATE KEY`)

// looksSecret reports whether s may be a password hash or a private key put
// in the wrong place.
func looksSecret(s string) bool { return secretLike.MatchString(s) }

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

// isEmpty reports whether n is null, an empty string, or an empty list or
// mapping.
func isEmpty(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Tag == "!!null" || (n.Tag == "!!str" && n.Value == "")
	case yaml.SequenceNode, yaml.MappingNode:
		return len(n.Content) == 0
	}
	return false
}

// describe names the kind of a node without its value: a value in the wrong
// place may be a password hash or a key.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return yamlKinds[n.ShortTag()]
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
var yamlTypeMsg = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `[^`]*`)? into (.+)$")

// typeMsg rewrites a decoder type error as "want ..., got ...", without the
// value.
func typeMsg(msg string) string {
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

// closest returns the name in names nearest to s when it is close enough to
// be a typo, or "".
func closest(s string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if strings.EqualFold(s, n) {
			return n
		}
		if d := editDistance(strings.ToLower(s), n); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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

func (c *Config) applyDefaults(dir string) {
	t := &c.TLS
	if t.MinVersion == 0 {
		t.MinVersion = TLSVersion(versionNames[2].val) // TLS12
	}
	if t.MaxVersion == 0 {
		t.MaxVersion = TLSVersion(versionNames[3].val) // TLS13
	}
	if t.PreferServerCipherSuites == nil {
		on := true
		t.PreferServerCipherSuites = &on
	}
	if c.HTTP.HTTP2 == nil {
		on := true
		c.HTTP.HTTP2 = &on
	}
	for _, p := range []*string{&t.CertFile, &t.KeyFile, &t.ClientCAFile, &t.ClientCRLFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// sortedKeys returns the keys of m in order, for deterministic error lists.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
