package web

import (
	"context"
	"log/slog"
	"slices"

	gokitlog "github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// NewGoKitHandler returns a slog.Handler that writes every record to l, for
// exporters still logging through github.com/go-kit/log:
//
//	logger := slog.New(web.NewGoKitHandler(kitLogger))
//	web.ListenAndServe(server, flags, logger)
//
// Each record becomes one l.Log call with the key-values "level", "msg" and
// then the attributes, in order. The level value is go-kit's own
// (level.DebugValue() and so on; slog levels between two named ones round
// down, anything below Info is debug and anything from Error up is error),
// so a level.NewFilter around l filters webguard's records like the
// exporter's. Attributes in groups are written with the group names as a
// dotted prefix ("tls.subject"), as slog's TextHandler does.
//
// The handler is enabled at every level: filtering belongs to l. It does not
// add the record's time or source; add them to l (log.With(l, "ts",
// log.DefaultTimestampUTC)) as exporters usually do. A nil l discards.
func NewGoKitHandler(l gokitlog.Logger) slog.Handler {
	if l == nil {
		l = gokitlog.NewNopLogger()
	}
	return &goKitHandler{logger: l}
}

type goKitHandler struct {
	logger gokitlog.Logger
	// attrs are the key-values added by WithAttrs, already flattened.
	attrs []any
	// prefix is the dotted group path set by WithGroup, with a trailing dot.
	prefix string
}

// Enabled reports true: the go-kit logger filters.
func (h *goKitHandler) Enabled(context.Context, slog.Level) bool { return true }

// Handle writes r as one go-kit log line.
func (h *goKitHandler) Handle(_ context.Context, r slog.Record) error {
	kv := make([]any, 0, 4+len(h.attrs)+2*r.NumAttrs())
	kv = append(kv, level.Key(), goKitLevel(r.Level), "msg", r.Message)
	kv = append(kv, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		kv = appendAttr(kv, h.prefix, a)
		return true
	})
	return h.logger.Log(kv...)
}

// WithAttrs returns a handler that writes attrs, under the current groups,
// on every record.
func (h *goKitHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	n := *h
	n.attrs = slices.Clip(h.attrs)
	for _, a := range attrs {
		n.attrs = appendAttr(n.attrs, h.prefix, a)
	}
	return &n
}

// WithGroup returns a handler that writes later attributes under name.
func (h *goKitHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.prefix = h.prefix + name + "."
	return &n
}

// appendAttr flattens a into key-values, following slog's rules: values are
// resolved, empty attributes dropped, groups prefix their members' keys and
// a group with an empty key is inlined.
func appendAttr(kv []any, prefix string, a slog.Attr) []any {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return kv
	}
	if a.Value.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, m := range a.Value.Group() {
			kv = appendAttr(kv, prefix, m)
		}
		return kv
	}
	if a.Key == "" {
		return kv
	}
	return append(kv, prefix+a.Key, a.Value.Any())
}

func goKitLevel(l slog.Level) level.Value {
	switch {
	case l < slog.LevelInfo:
		return level.DebugValue()
	case l < slog.LevelWarn:
		return level.InfoValue()
	case l < slog.LevelError:
		return level.WarnValue()
	}
	return level.ErrorValue()
}
