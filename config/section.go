package config

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParseSection parses the web config a program keeps inside its own config
// file, under key: data is that whole file as read, file its path, and key
// the (dotted, for a nested section) key the web settings are under, such as
// "web" or "server.web". The section holds what a web.yml holds. Errors name
// file, the line in it and the field with key in front
// ("service.yml:12: web.tls_server_config.cert_file: cannot read ...");
// relative paths are relative to the directory of file. The rest of the file
// is not checked: it is the program's. A file without key, or with nothing
// under it, is an empty web config (plain HTTP without authentication).
//
// The Config returned names no config file in Files, only the certificate,
// key and client CA files: the program watches its own file and hands a
// changed section to the server (web.Guard.Update). Path returns file.
func ParseSection(data []byte, file, key string) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, &Error{File: file, Msg: "cannot read config file: " + tooLarge(int64(len(data))).Error()}
	}
	src, err := sectionSource(data, file, key)
	if err != nil {
		return nil, err
	}
	c, err := parse(src, file, filepath.Dir(file))
	if err != nil {
		return nil, prefixFields(err, key)
	}
	c.section = key
	return c, nil
}

// sectionSource returns the text of the section under key, with the lines
// before it blanked so that line and column numbers stay those of file.
func sectionSource(data []byte, file, key string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d := &decoder{file: file, fields: map[string]int{}}
		return nil, redactErr(d.yamlError(err))
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	n := doc.Content[0]
	end := 0 // the line the section stops before; 0 for the end of data
	for i, k := range strings.Split(key, ".") {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return nil, nil
		}
		if n.Kind != yaml.MappingNode {
			return nil, &Error{File: file, Line: n.Line, Field: strings.Join(strings.Split(key, ".")[:i], "."), Msg: fmt.Sprintf("want a mapping, got %s", describe(n))}
		}
		var v *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value != k {
				continue
			}
			v = n.Content[j+1]
			// The next key of the same mapping ends the section; a key
			// further in ends it sooner than one further out.
			if j+2 < len(n.Content) {
				end = n.Content[j+2].Line
			}
			break
		}
		if v == nil {
			return nil, nil
		}
		n = v
	}
	switch {
	case isEmpty(n):
		return nil, nil
	case n.Kind == yaml.AliasNode:
		return nil, &Error{File: file, Line: n.Line, Field: key, Msg: "an alias cannot stand for the web section; write it out"}
	case n.Kind != yaml.MappingNode:
		return nil, &Error{File: file, Line: n.Line, Field: key, Msg: fmt.Sprintf("want a mapping, got %s", describe(n))}
	}
	if end > 0 && end <= n.Line {
		// A flow mapping with the next key on the same line: the section
		// cannot be cut out by lines.
		return nil, &Error{File: file, Line: n.Line, Field: key, Msg: "the section shares its line with the next key; write it in block style or on lines of its own"}
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	stop := len(lines)
	if end > 0 {
		stop = end - 1
	}
	var b bytes.Buffer
	b.Write(bytes.Repeat([]byte("\n"), n.Line-1))
	first := []rune(string(lines[n.Line-1]))
	for i := 0; i < n.Column-1 && i < len(first); i++ {
		first[i] = ' '
	}
	b.WriteString(string(first))
	for _, l := range lines[n.Line:stop] {
		b.Write(l)
	}
	return b.Bytes(), nil
}

// inSection returns field as named in the file c came from: with the key of
// the section in front for ParseSection.
func (c *Config) inSection(field string) string {
	if c.section == "" {
		return field
	}
	return c.section + "." + field
}

// prefixFields puts key in front of the field of every Error in err.
func prefixFields(err error, key string) error {
	var walk func(error)
	walk = func(err error) {
		if e, ok := err.(*Error); ok {
			if e.Field == "" {
				e.Field = key
			} else {
				e.Field = key + "." + e.Field
			}
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
		}
	}
	walk(err)
	return err
}

// Reread returns a copy of c with its certificate, key and client CA files
// read again (or its inline PEM parsed again) and checked as Load checks
// them, for a config held in memory whose files changed. It also applies
// the defaults and validates the rest, so a Config built in Go rather than
// loaded can be made complete with it. Errors name the file and line c was
// loaded from, when it was.
func (c *Config) Reread() (*Config, error) {
	n := *c
	n.HTTP.Headers = maps.Clone(c.HTTP.Headers)
	n.material = nil
	d := &decoder{file: c.path, fields: c.lines}
	if d.fields == nil {
		d.fields = map[string]int{}
		n.lines = d.fields
	}
	n.applyDefaults("")
	if err := errors.Join(d.validate(&n)...); err != nil {
		if c.section != "" {
			err = prefixFields(err, c.section)
		}
		return nil, redactErr(err)
	}
	return &n, nil
}
