package config

import (
	"fmt"
	"regexp"
	"strings"
)

// keyLine matches a line's "key:" start (plain or quoted key), after its
// indentation and any "- ".
var keyLine = regexp.MustCompile(`^("[^"]*"|'[^']*'|[^\s#"'\-\[{][^:#]*?)\s*:(?:\s+|$)(.*)$`)

// level is one open mapping or list while scanning indentation: the
// column its entries start at and the key that opened it.
type level struct {
	indent int
	key    string
}

// indentProblem looks for what YAML's syntax errors most often come from in
// a hand-written web.yml, a tab or a line indented to no level above it,
// and says where it is: the YAML library tends to report such a problem on
// the line before, or on the line that opened the section, in its own terms
// ("did not find expected key"). It returns ok false when it finds nothing;
// the library's message then stands.
func indentProblem(data []byte) (line int, field, msg string, ok bool) {
	var (
		stack   []level
		opener  = true // the previous line opens a mapping or list below it
		prevInd = -1
		block   = -1 // inside a block scalar (| or >) of a key at this indent
	)
	// path names the mappings a line indented by ind is inside.
	path := func(ind int) string {
		var p string
		for _, l := range stack {
			if l.key != "" && l.indent < ind {
				p = join(p, l.key)
			}
		}
		return p
	}
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		text := strings.TrimRight(raw, " \r")
		body := strings.TrimLeft(text, " \t")
		if body == "" || strings.HasPrefix(body, "#") || body == "---" || body == "..." {
			continue
		}
		lead := text[:len(text)-len(body)]
		ind := len(lead)
		if block >= 0 {
			if ind > block {
				continue
			}
			block = -1
		}
		// Close the mappings this line is not inside.
		closed := false
		for len(stack) > 0 && stack[len(stack)-1].indent > ind {
			stack = stack[:len(stack)-1]
			closed = true
		}
		if strings.Contains(lead, "\t") {
			return n, path(ind), "a tab in the indentation: YAML indents with spaces only", true
		}
		item := strings.HasPrefix(body, "- ") || body == "-"
		m := keyLine.FindStringSubmatch(strings.TrimPrefix(strings.TrimPrefix(body, "-"), " "))
		top := -1
		if len(stack) > 0 {
			top = stack[len(stack)-1].indent
		}
		switch {
		case opener && ind > prevInd:
			stack = append(stack, level{indent: ind})
		case ind == top:
		case ind > top && closed:
			return n, path(ind), fmt.Sprintf("this line is indented by %s, which lines up with no key above it (the keys around it are indented by %d or %d)", spaces(ind), top, prevInd), true
		case ind > top && m != nil && !item:
			return n, path(ind), fmt.Sprintf("%s is indented deeper (%s) than the key above it, which already has a value: indent it like that key, or move the value", keyShown(unquote(m[1])), spaces(ind)), true
		case ind > top:
			// The continuation of a plain value over several lines.
			continue
		default:
			return n, path(ind), fmt.Sprintf("this line is indented by %s, which lines up with no key above it", spaces(ind)), true
		}
		if m == nil {
			opener = item && strings.TrimSpace(strings.TrimPrefix(body, "-")) == ""
			prevInd = ind
			continue
		}
		key := unquote(m[1])
		value := strings.TrimSpace(m[2])
		if c := strings.Index(value, " #"); c >= 0 {
			value = strings.TrimSpace(value[:c])
		}
		if strings.HasPrefix(value, "#") {
			value = ""
		}
		keyInd := ind
		if item {
			keyInd = ind + 2
			stack = append(stack, level{indent: keyInd})
		}
		stack[len(stack)-1].key = key
		opener = value == "" || strings.HasPrefix(value, "&") && !strings.Contains(value, " ")
		if strings.HasPrefix(value, "|") || strings.HasPrefix(value, ">") {
			block = keyInd
			opener = false
		}
		prevInd = keyInd
	}
	return 0, "", "", false
}

func spaces(n int) string {
	if n == 1 {
		return "1 space"
	}
	return fmt.Sprintf("%d spaces", n)
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}
