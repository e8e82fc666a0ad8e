package bootstrap

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/webguard/webguard/web"
)

// The API of exporter-toolkit v0.20.0's bootstrap package, each identifier
// assigned to a variable of the type it has there, and the structs
// converted from literals of the toolkit's fields: a rename or a changed
// signature stops this file compiling.
var (
	_ func(Config) *Runner                                               = New
	_ func(*Runner) error                                                = (*Runner).Run
	_ func(*Bootstrap, string, http.Handler)                             = (*Bootstrap).Handle
	_ func(*Bootstrap, string, func(http.ResponseWriter, *http.Request)) = (*Bootstrap).HandleFunc
	_ func(*Bootstrap, http.Handler) http.Handler                        = (*Bootstrap).MaxRequestsHandler
	_ MetricsHandlerFactory                                              = func(*Bootstrap) (http.Handler, error) { return nil, nil }
	_ func(*Bootstrap) (http.Handler, error)                             = MetricsHandlerFactory(nil)

	_ = Config{
		App:                   (*kingpin.Application)(nil),
		Name:                  "",
		Description:           "",
		DefaultAddress:        "",
		Logger:                (*slog.Logger)(nil),
		LandingConfig:         web.LandingConfig{},
		MetricsHandler:        http.Handler(nil),
		MetricsHandlerFactory: MetricsHandlerFactory(nil),
		ReadHeaderTimeout:     time.Duration(0),
	}
	_ = Bootstrap{
		Logger:                 (*slog.Logger)(nil),
		MetricsPath:            "",
		FlagConfig:             (*web.FlagConfig)(nil),
		DisableExporterMetrics: false,
		MaxRequests:            0,
	}
	_ = Runner{
		Logger:                 (*slog.Logger)(nil),
		MetricsPath:            "",
		FlagConfig:             (*web.FlagConfig)(nil),
		DisableExporterMetrics: false,
		MaxRequests:            0,
		LandingConfig:          web.LandingConfig{},
		MetricsHandler:         http.Handler(nil),
		MetricsHandlerFactory:  MetricsHandlerFactory(nil),
	}
)
