package web

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	gokitlog "github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

func TestGoKitHandler(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string
	}{
		{
			name: "levels",
			log: func(l *slog.Logger) {
				l.Debug("d")
				l.Info("i")
				l.Warn("w")
				l.Error("e")
				l.Log(context.Background(), slog.LevelDebug-4, "below debug")
				l.Log(context.Background(), slog.LevelInfo+2, "between info and warn")
				l.Log(context.Background(), slog.LevelError+4, "above error")
			},
			want: `level=debug msg=d
level=info msg=i
level=warn msg=w
level=error msg=e
level=debug msg="below debug"
level=info msg="between info and warn"
level=error msg="above error"
`,
		},
		{
			name: "attribute kinds",
			log: func(l *slog.Logger) {
				l.Info("kinds", "s", "two words", "i", -3, "u", uint64(7), "f", 1.5, "b", true,
					"d", 1500*time.Millisecond, "t", time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC),
					"err", errors.New("web: boom"), "v", logValuer{})
			},
			want: `level=info msg=kinds s="two words" i=-3 u=7 f=1.5 b=true d=1.5s t=2026-11-24T11:00:00Z err="web: boom" v=resolved` + "\n",
		},
		{
			name: "groups",
			log: func(l *slog.Logger) {
				l.With("a", 1).WithGroup("g").With("b", 2).WithGroup("h").Info("m", "c", 3,
					slog.Group("inner", "d", 4), slog.Group("", "inlined", 5), slog.Group("empty"))
			},
			want: "level=info msg=m a=1 g.b=2 g.h.c=3 g.h.inner.d=4 g.h.inlined=5\n",
		},
		{
			name: "empty attrs and group names are dropped",
			log: func(l *slog.Logger) {
				l.WithGroup("").With().Info("m", slog.Attr{}, slog.Any("", 1), "k", "v")
			},
			want: "level=info msg=m k=v\n",
		},
		{
			name: "with does not leak between loggers",
			log: func(l *slog.Logger) {
				base := l.With("base", 0)
				a := base.With("a", 1)
				b := base.With("b", 2)
				a.Info("first")
				b.Info("second")
			},
			want: "level=info msg=first base=0 a=1\nlevel=info msg=second base=0 b=2\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.log(slog.New(NewGoKitHandler(gokitlog.NewLogfmtLogger(&buf))))
			if got := buf.String(); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

type logValuer struct{}

func (logValuer) LogValue() slog.Value { return slog.StringValue("resolved") }

// TestGoKitHandlerFilter checks that go-kit's level filter applies to
// records from slog, as it does to the exporter's own.
func TestGoKitHandlerFilter(t *testing.T) {
	var buf bytes.Buffer
	kit := level.NewFilter(gokitlog.NewLogfmtLogger(&buf), level.AllowWarn())
	kit = gokitlog.With(kit, "component", "web")
	l := slog.New(NewGoKitHandler(kit))
	l.Debug("hidden")
	l.Info("hidden")
	l.Warn("shown", "file", "web.yml")
	l.Error("shown too")
	want := "component=web level=warn msg=shown file=web.yml\ncomponent=web level=error msg=\"shown too\"\n"
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(buf.String(), "hidden") {
		t.Error("filtered records were written")
	}
}

func TestGoKitHandlerNil(t *testing.T) {
	slog.New(NewGoKitHandler(nil)).Info("discarded") // must not panic
}

// TestGoKitHandlerError checks that a failing go-kit logger's error reaches
// slog's caller of Handle.
func TestGoKitHandlerError(t *testing.T) {
	boom := errors.New("sink full")
	h := NewGoKitHandler(gokitlog.LoggerFunc(func(...any) error { return boom }))
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0)
	if err := h.Handle(context.Background(), r); !errors.Is(err, boom) {
		t.Errorf("Handle = %v, want %v", err, boom)
	}
}

// An exporter that logs with go-kit hands the Guard a slog.Logger built on
// its own logger; go-kit's level filter applies to both.
func ExampleNewGoKitHandler() {
	kit := gokitlog.NewLogfmtLogger(os.Stdout)
	kit = level.NewFilter(kit, level.AllowInfo())

	logger := slog.New(NewGoKitHandler(kit))
	logger.Debug("filtered out by level.AllowInfo")
	logger.With("component", "web").WithGroup("tls").Warn("certificate expires soon", "subject", "CN=exporter", "days", 6)
	// Output:
	// level=warn msg="certificate expires soon" component=web tls.subject="CN=exporter" tls.days=6
}
