package config

import (
	"bytes"
	"errors"
	"fmt"
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
// file paths are resolved against; name, if not empty, is the file name used
// in error messages.
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
	c := &Config{path: path}
	if err := d.decode(data, c); err != nil {
		return nil, err
	}
	c.applyDefaults(dir)
	if err := errors.Join(d.validate(c)...); err != nil {
		return nil, err
	}
	if c.TLS.IsEnabled() {
		m, errs := d.loadMaterial(&c.TLS)
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		c.material = m
	}
	return c, nil
}

// decoder turns YAML into a Config and keeps the line of every field so that
// validation can say where a problem is.
type decoder struct {
	file   string
	fields map[string]int // dotted field path -> line
}

func (d *decoder) errorf(field, format string, args ...any) *Error {
	return &Error{File: d.file, Line: d.fields[field], Field: field, Msg: fmt.Sprintf(format, args...)}
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func (d *decoder) decode(data []byte, c *Config) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if err.Error() == "EOF" {
			return nil // empty file, or comments only
		}
		return d.yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return &Error{File: d.file, Line: extra.Line, Msg: "more than one YAML document"}
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
			field := join(path, k.Value)
			if line, dup := seen[k.Value]; dup {
				*errs = append(*errs, &Error{File: d.file, Line: k.Line, Field: field, Msg: fmt.Sprintf("duplicate key (first set on line %d)", line)})
				continue
			}
			seen[k.Value] = k.Line
			ft, ok := known[k.Value]
			if !ok {
				*errs = append(*errs, &Error{File: d.file, Line: k.Line, Field: field, Msg: fmt.Sprintf("unknown field (want one of %s)", strings.Join(names, ", "))})
				continue
			}
			d.fields[field] = k.Line
			d.walk(v, field, ft, errs)
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			return // the decoder reports the type error
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			field := path + "[" + strconv.Quote(k.Value) + "]"
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
		for i, item := range n.Content {
			d.fields[fmt.Sprintf("%s[%d]", path, i)] = item.Line
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return strconv.Quote(n.Value)
}

// yamlError turns the decoder's errors into Errors with the file, line and,
// where the line holds a known field, its name.
func (d *decoder) yamlError(err error) error {
	var fe *Error
	if errors.As(err, &fe) {
		fe.File = d.file
		if fe.Field == "" {
			fe.Field = d.fieldAt(fe.Line)
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
		return &Error{File: d.file, Msg: strings.TrimPrefix(msg, "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	return &Error{File: d.file, Line: line, Field: d.fieldAt(line), Msg: m[2]}
}

// fieldAt returns the most specific field recorded on line.
func (d *decoder) fieldAt(line int) string {
	var best string
	for f, l := range d.fields {
		if l == line && len(f) > len(best) {
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
	for _, p := range []*string{&t.CertFile, &t.KeyFile, &t.ClientCAFile} {
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
