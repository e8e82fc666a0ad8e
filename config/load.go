package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
)

// Load reads, parses and validates the web-config file at path, then reads the
// certificate, key and client CA files it names. Relative paths in the file
// are relative to its directory. An empty file means plain HTTP without
// authentication. Only regular files of at most MaxFileSize bytes are read.
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read config file: %v", err), Err: err}
	}
	return parse(data, path, filepath.Dir(path))
}

// Parse is Load for a config held in memory. dir is the directory relative
// file paths are resolved against ("" leaves them relative to the working
// directory). Errors name no file; see ParseNamed. Config.Path returns "".
// data larger than MaxFileSize is refused.
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
	if len(data) > MaxFileSize {
		return nil, &Error{File: path, Msg: "cannot read config file: " + tooLarge(int64(len(data))).Error()}
	}
	d := &decoder{file: path, fields: map[string]int{}}
	c := &Config{path: path, lines: d.fields}
	if err := d.decode(data, c); err != nil {
		return nil, redactErr(err)
	}
	c.applyDefaults(dir)
	if err := errors.Join(d.validate(c)...); err != nil {
		return nil, redactErr(err)
	}
	return c, nil
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
	for _, p := range []*string{&t.CertFile, &t.KeyFile, &t.KeyPasswordFile, &t.ClientCAFile, &t.ClientCRLFile} {
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
