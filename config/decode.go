package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxExpanded bounds the values that aliases and merge keys may bring into
// one file, in all. A few hundred bytes of nested aliases can otherwise stand
// for billions of values (a "billion laughs" file); a real web.yml reuses a
// few sections, far below this.
const maxExpanded = 100_000

// maxAliasDepth bounds aliases inside what other aliases bring in. Only an
// alias inside the node it refers to (&a {<<: *a}) or a bomb goes deep.
const maxAliasDepth = 64

// decoder turns YAML into a Config and keeps the line of every field so that
// validation can say where a problem is.
//
// It builds the Config from the yaml.Node tree itself, in two passes over the
// tree: check (keys against the fields of the Go types, lines, duplicates)
// and then assign (values into the Config). The YAML library only decodes
// scalars. Its own mapping decoder compares every key with every other one,
// which makes a large basic_auth_users quadratic to load, and echoes the
// duplicate key, which may be a password hash, in its error.
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

	// expanded counts the values reached through aliases and merge keys in
	// the current pass; inAlias is how many aliases deep the pass is, and
	// aliasLine and aliasField where the outermost one is.
	expanded   int
	inAlias    int
	aliasLine  int
	aliasField string
	// bomb is set once expanded passes maxExpanded; every loop then stops.
	bomb *Error
}

// isGiven reports whether field was written with a non-empty value.
func (d *decoder) isGiven(field string) bool { return d.given[field] }

func (d *decoder) decode(data []byte, c *Config) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file, or comments only
		}
		return d.syntaxError(err, data)
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
	d.check(root, "", reflect.TypeOf(Config{}), &errs)
	if d.bomb != nil {
		return d.bomb
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	d.expanded = 0
	d.assign(root, "", reflect.ValueOf(c).Elem(), &errs)
	if d.bomb != nil {
		return d.bomb
	}
	return errors.Join(errs...)
}

// syntaxError reports a YAML syntax error, at the tab or bad indentation
// that caused it when there is one: the library often names the line
// before, or the line that opened the section.
func (d *decoder) syntaxError(err error, data []byte) error {
	e := d.yamlError(err)
	line, field, msg, ok := indentProblem(data)
	if !ok {
		return e
	}
	var ye *Error
	if errors.As(e, &ye) {
		msg += " (YAML: " + ye.Msg + ")"
	}
	return &Error{File: d.file, Line: line, Field: field, Msg: msg}
}

// follow returns the node n stands for, following an alias, and charges the
// visit when it is reached through one. It returns nil once the file has
// expanded too far; the caller then stops. Every follow is paired with an
// unfollow of the same node.
func (d *decoder) follow(n *yaml.Node, path string) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		if d.inAlias == 0 {
			d.aliasLine, d.aliasField = n.Line, path
		}
		d.inAlias++
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if d.inAlias > maxAliasDepth && d.bomb == nil {
			d.bomb = &Error{File: d.file, Line: d.aliasLine, Field: d.aliasField,
				Msg: fmt.Sprintf("aliases nested more than %d deep; refusing the file (an alias inside what it refers to?)", maxAliasDepth)}
		}
	}
	if !d.charge(1) {
		return nil
	}
	return n
}

// unfollow ends what follow(n) started.
func (d *decoder) unfollow(n *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		d.inAlias--
	}
}

// charge counts n values brought in by an alias, and reports whether the
// file is still within maxExpanded.
func (d *decoder) charge(n int) bool {
	if d.bomb != nil {
		return false
	}
	if d.inAlias == 0 {
		return true
	}
	d.expanded += n
	if d.expanded > maxExpanded {
		d.bomb = &Error{File: d.file, Line: d.aliasLine, Field: d.aliasField,
			Msg: fmt.Sprintf("aliases and merge keys expand to more than %d values; refusing the file (nested aliases that multiply, a \"billion laughs\" file?)", maxExpanded)}
		return false
	}
	return true
}

// entry is one key and value of a mapping, after merge keys are applied.
type entry struct{ key, value *yaml.Node }

func isMerge(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" }

// entries returns the pairs of mapping n with merge keys ("<<: *anchor", or
// a list of them) applied as exporter-toolkit's YAML library applies them: a
// key written in the mapping wins over a merged one, and among merged
// mappings the first wins. Keys written twice are both returned, for check
// to report. Problems with what is merged are added to errs when it is not
// nil. It runs in time linear in the pairs it returns.
func (d *decoder) entries(n *yaml.Node, path string, errs *[]error) []entry {
	out := make([]entry, 0, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			merges = append(merges, v)
			continue
		}
		out = append(out, entry{k, v})
	}
	if !d.charge(len(out)) || len(merges) == 0 {
		return out
	}
	seen := make(map[string]bool, len(out))
	for _, e := range out {
		seen[e.key.Value] = true
	}
	add := func(m *yaml.Node) {
		for _, e := range d.entries(m, path, errs) {
			if !seen[e.key.Value] {
				seen[e.key.Value] = true
				out = append(out, e)
			}
		}
	}
	for _, src := range merges {
		m := d.follow(src, path)
		if m == nil {
			d.unfollow(src)
			return out
		}
		switch m.Kind {
		case yaml.MappingNode:
			add(m)
		case yaml.SequenceNode:
			for _, item := range m.Content {
				mi := d.follow(item, path)
				switch {
				case mi == nil:
				case mi.Kind == yaml.MappingNode:
					add(mi)
				case errs != nil:
					*errs = append(*errs, &Error{File: d.file, Line: mi.Line, Field: path, Msg: fmt.Sprintf("merge key (<<) wants mappings to merge, got %s", describe(mi))})
				}
				d.unfollow(item)
				if d.bomb != nil {
					break
				}
			}
		default:
			if errs != nil {
				*errs = append(*errs, &Error{File: d.file, Line: m.Line, Field: path, Msg: fmt.Sprintf("merge key (<<) wants a mapping or a list of mappings, got %s", describe(m))})
			}
		}
		d.unfollow(src)
		if d.bomb != nil {
			break
		}
	}
	return out
}

// yamlFields returns the yaml names of t's fields, in order, and their
// indexes.
func yamlFields(t reflect.Type) (names []string, index map[string]int) {
	index = map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		index[name] = i
		names = append(names, name)
	}
	return names, index
}

// check checks every mapping key against the yaml tags of t (strict parsing:
// an unknown key names the keys allowed there), finds duplicate keys and
// records field lines.
func (d *decoder) check(n *yaml.Node, path string, t reflect.Type, errs *[]error) {
	orig := n
	n = d.follow(n, path)
	defer d.unfollow(orig)
	if n == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
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
		names, index := yamlFields(t)
		seen := map[string]int{}
		for _, e := range d.entries(n, path, errs) {
			if d.bomb != nil {
				return
			}
			k, v := e.key, e.value
			if k.Kind != yaml.ScalarNode {
				*errs = append(*errs, &Error{File: d.file, Line: k.Line, Field: path, Msg: fmt.Sprintf("want a field name as key, got %s", describe(k))})
				continue
			}
			field := join(path, k.Value)
			if line, dup := seen[k.Value]; dup {
				*errs = append(*errs, &Error{File: d.file, Line: k.Line, Field: field, Msg: fmt.Sprintf("duplicate key (first set on line %d)", line)})
				continue
			}
			seen[k.Value] = k.Line
			i, ok := index[k.Value]
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
			d.check(v, field, t.Field(i).Type, errs)
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			return // assign reports the type error
		}
		seen := make(map[string]int, len(n.Content)/2)
		for _, e := range d.entries(n, path, errs) {
			if d.bomb != nil {
				return
			}
			k := e.key
			if k.Kind != yaml.ScalarNode {
				*errs = append(*errs, &Error{File: d.file, Line: k.Line, Field: path, Msg: fmt.Sprintf("want a name as key, got %s", describe(k))})
				continue
			}
			name := keyOf(k)
			field := path + "[" + keyShown(name) + "]"
			if line, dup := seen[name]; dup {
				*errs = append(*errs, &Error{File: d.file, Line: k.Line, Field: field, Msg: fmt.Sprintf("duplicate key (first set on line %d)", line)})
				continue
			}
			seen[name] = k.Line
			d.fields[field] = k.Line
			// The values are scalars; what an alias brings in is charged.
			d.follow(e.value, field)
			d.unfollow(e.value)
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
			if d.check(item, field, t.Elem(), errs); d.bomb != nil {
				return
			}
		}
	}
}

var nodeUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()

// assign stores the value of n into v, which has the type check accepted n
// for. Scalars, and the types with their own UnmarshalYAML, are decoded by
// the YAML library; mappings and lists are built here.
func (d *decoder) assign(n *yaml.Node, path string, v reflect.Value, errs *[]error) {
	orig := n
	n = d.follow(n, path)
	defer d.unfollow(orig)
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // unset: the zero value, as the YAML library leaves it
	}
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		v, t = v.Elem(), t.Elem()
	}
	wrong := func() {
		want := goKinds[t.String()]
		if want == "" {
			want = t.String()
		}
		*errs = append(*errs, &Error{File: d.file, Line: n.Line, Field: path, Msg: fmt.Sprintf("want %s, got %s", want, describe(n))})
	}
	custom := reflect.PointerTo(t).Implements(nodeUnmarshaler)
	switch {
	case custom && t.Kind() == reflect.Struct:
		if err := n.Decode(v.Addr().Interface()); err != nil {
			*errs = append(*errs, d.valueError(err, n, path))
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			wrong()
			return
		}
		_, index := yamlFields(t)
		for _, e := range d.entries(n, path, nil) {
			if d.bomb != nil {
				return
			}
			if i, ok := index[e.key.Value]; ok {
				d.assign(e.value, join(path, e.key.Value), v.Field(i), errs)
			}
		}
	case t.Kind() == reflect.Map && !custom:
		if n.Kind != yaml.MappingNode {
			wrong()
			return
		}
		es := d.entries(n, path, nil)
		m := reflect.MakeMapWithSize(t, len(es))
		for _, e := range es {
			if d.bomb != nil {
				return
			}
			key := reflect.New(t.Key()).Elem()
			key.SetString(keyOf(e.key))
			val := reflect.New(t.Elem()).Elem()
			if v := e.value; v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" && val.Kind() == reflect.String && !reflect.PointerTo(t.Elem()).Implements(nodeUnmarshaler) {
				// The common case, a user's hash or a header's value, without
				// the field name that only an error would need.
				val.SetString(v.Value)
			} else {
				d.assign(e.value, path+"["+keyShown(keyOf(e.key))+"]", val, errs)
			}
			m.SetMapIndex(key, val)
		}
		v.Set(m)
	case t.Kind() == reflect.Slice && !custom:
		if n.Kind != yaml.SequenceNode {
			wrong()
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if d.assign(item, fmt.Sprintf("%s[%d]", path, i), s.Index(i), errs); d.bomb != nil {
				return
			}
		}
		v.Set(s)
	default:
		// A scalar. The YAML library would run its mapping decoder, with
		// its quadratic duplicate check and its echo of keys, before
		// noticing that a mapping cannot be a string.
		if n.Kind != yaml.ScalarNode {
			wrong()
			return
		}
		if t.Kind() == reflect.String && n.ShortTag() == "!!str" && !custom {
			v.SetString(n.Value) // what the library does, without its setup per value
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			*errs = append(*errs, d.valueError(err, n, path))
		}
	}
}

// valueError turns what the YAML library or an UnmarshalYAML method said
// about the value n of field path into an Error.
func (d *decoder) valueError(err error, n *yaml.Node, path string) error {
	var fe *Error
	if errors.As(err, &fe) {
		fe.File = d.file
		if fe.Field == "" {
			fe.Field = d.fieldAt(fe.Line, fe.col)
		}
		if fe.Field == "" {
			fe.Field = path
		}
		return fe
	}
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := yamlLine.FindStringSubmatch(strings.TrimPrefix(msg, "yaml: ")); m != nil {
		msg = m[2]
	}
	return &Error{File: d.file, Line: n.Line, Field: path, Msg: typeMsg(msg)}
}

// keyOf is the name a scalar mapping key gives a user or header: its text,
// or "" for null (~), as the YAML library decodes it into a string.
func keyOf(k *yaml.Node) string {
	if k.ShortTag() == "!!null" {
		return ""
	}
	return k.Value
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

// closest returns the name in names nearest to s when it is close enough to
// be a typo, or "".
func closest(s string, names []string) string {
	if len(s) > 64 {
		return "" // no typo; and the distance costs len(s) times len(name)
	}
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
