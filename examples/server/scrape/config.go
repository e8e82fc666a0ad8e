package scrape

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Config is the subset of Prometheus' prometheus.yml this server reads, with
// the same names and meaning:
//
//	global:
//	  scrape_interval: 15s
//	scrape_configs:
//	  - job_name: node
//	    scheme: https
//	    tls_config: {ca_file: ca.crt, cert_file: client.crt, key_file: client.key}
//	    basic_auth: {username: prometheus, password_file: password}
//	    static_configs:
//	      - targets: ['127.0.0.1:9100']
type Config struct {
	Global        GlobalConfig    `yaml:"global"`
	ScrapeConfigs []*ScrapeConfig `yaml:"scrape_configs"`
}

// GlobalConfig holds the defaults of every scrape config.
type GlobalConfig struct {
	// ScrapeInterval is how often targets are scraped; 1m by default.
	ScrapeInterval model.Duration `yaml:"scrape_interval,omitempty"`
	// ScrapeTimeout bounds one scrape; 10s by default, and never more than
	// the interval.
	ScrapeTimeout model.Duration `yaml:"scrape_timeout,omitempty"`
}

// ScrapeConfig is one job: a set of targets scraped the same way.
type ScrapeConfig struct {
	// JobName names the job; it becomes the "job" label. Required, unique.
	JobName string `yaml:"job_name"`
	// ScrapeInterval and ScrapeTimeout override the global values.
	ScrapeInterval model.Duration `yaml:"scrape_interval,omitempty"`
	ScrapeTimeout  model.Duration `yaml:"scrape_timeout,omitempty"`
	// Scheme is "http" (default) or "https".
	Scheme string `yaml:"scheme,omitempty"`
	// MetricsPath is the path scraped; "/metrics" by default.
	MetricsPath string `yaml:"metrics_path,omitempty"`
	// StaticConfigs list the targets, as host:port (the port is required).
	StaticConfigs []StaticConfig `yaml:"static_configs,omitempty"`
	// HTTPClientConfig is the client side, exactly as Prometheus reads it:
	// tls_config, basic_auth, authorization, proxy_url and the rest, inline.
	// Relative file paths in it are relative to the config file.
	HTTPClientConfig commoncfg.HTTPClientConfig `yaml:",inline"`
}

// StaticConfig is a fixed list of targets with extra labels.
type StaticConfig struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels,omitempty"`
}

// UnmarshalYAML applies the client defaults Prometheus applies (follow
// redirects, HTTP/2) before decoding. It has the older callback form on
// purpose: with it, yaml/v3 keeps rejecting unknown keys inside the job.
func (c *ScrapeConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*c = ScrapeConfig{HTTPClientConfig: commoncfg.DefaultHTTPClientConfig}
	type plain ScrapeConfig
	return unmarshal((*plain)(c))
}

// LoadConfig reads and validates a prometheus.yml-style file. Relative file
// paths in it (ca_file, cert_file, key_file, password_file, ...) are resolved
// against the file's directory, as Prometheus does.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	c, err := ParseConfig(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("scrape: %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig is LoadConfig for a config in memory; dir is the directory
// relative paths are resolved against.
func ParseConfig(data []byte, dir string) (*Config, error) {
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // a misspelled key is an error, as in Prometheus
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if err := c.complete(dir); err != nil {
		return nil, err
	}
	return c, nil
}

// complete applies defaults, resolves paths and validates.
func (c *Config) complete(dir string) error {
	if c.Global.ScrapeInterval == 0 {
		c.Global.ScrapeInterval = model.Duration(time.Minute)
	}
	if c.Global.ScrapeTimeout == 0 {
		c.Global.ScrapeTimeout = min(model.Duration(10*time.Second), c.Global.ScrapeInterval)
	}
	if c.Global.ScrapeTimeout > c.Global.ScrapeInterval {
		return fmt.Errorf("global: scrape_timeout %s is longer than scrape_interval %s", c.Global.ScrapeTimeout, c.Global.ScrapeInterval)
	}
	jobs := map[string]bool{}
	for i, sc := range c.ScrapeConfigs {
		if sc == nil {
			return fmt.Errorf("scrape_configs[%d]: empty scrape config", i)
		}
		if sc.JobName == "" {
			return fmt.Errorf("scrape_configs[%d]: job_name is required", i)
		}
		if jobs[sc.JobName] {
			return fmt.Errorf("scrape_configs[%d]: job_name %q is used twice", i, sc.JobName)
		}
		jobs[sc.JobName] = true
		if err := sc.complete(c.Global, dir); err != nil {
			return fmt.Errorf("job %q: %w", sc.JobName, err)
		}
	}
	return nil
}

func (sc *ScrapeConfig) complete(g GlobalConfig, dir string) error {
	if sc.ScrapeInterval == 0 {
		sc.ScrapeInterval = g.ScrapeInterval
	}
	if sc.ScrapeTimeout == 0 {
		sc.ScrapeTimeout = min(g.ScrapeTimeout, sc.ScrapeInterval)
	}
	if sc.ScrapeTimeout > sc.ScrapeInterval {
		return fmt.Errorf("scrape_timeout %s is longer than scrape_interval %s", sc.ScrapeTimeout, sc.ScrapeInterval)
	}
	switch sc.Scheme {
	case "":
		sc.Scheme = "http"
	case "http", "https":
	default:
		return fmt.Errorf("scheme %q: want http or https", sc.Scheme)
	}
	if sc.MetricsPath == "" {
		sc.MetricsPath = "/metrics"
	}
	seen := map[string]bool{}
	for _, st := range sc.StaticConfigs {
		for _, t := range st.Targets {
			if _, _, err := net.SplitHostPort(t); err != nil {
				return fmt.Errorf("target %q: want host:port: %w", t, err)
			}
			if seen[t] {
				return fmt.Errorf("target %q is listed twice", t)
			}
			seen[t] = true
		}
	}
	sc.HTTPClientConfig.SetDirectory(dir)
	return sc.HTTPClientConfig.Validate()
}
