package web

import "github.com/webguard/webguard/config"

// Aliases of the config types, for exporters that used exporter-toolkit's
// web.Config and friends. New code should import package config.
type (
	// Config is config.Config.
	Config = config.Config
	// TLSConfig is config.TLSConfig.
	TLSConfig = config.TLSConfig
	// HTTPConfig is config.HTTPConfig.
	HTTPConfig = config.HTTPConfig
	// RateLimiterConfig is config.RateLimitConfig.
	RateLimiterConfig = config.RateLimitConfig
)
