package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Server. The zero value of every field means the default in its comment;
// New never modifies the caller's Config.
type Config struct {
	// Tokens are the bearer tokens accepted in "Authorization: Bearer <token>". Default none:
	// no authentication. When set, every endpoint but /healthz and /readyz requires one.
	Tokens []string

	// MaxBodySize bounds a PUT body. Default 8 MiB; larger bodies get 413.
	MaxBodySize int64

	// Collectors are registered on /metrics beside the cache's own metrics (for example the
	// RESP server's connection counters). A Backend that implements prometheus.Collector is
	// registered too.
	Collectors []prometheus.Collector

	// Pprof serves net/http/pprof under /debug/pprof/ (behind the tokens). Default off.
	Pprof bool

	// Version is reported on the status page. Default "dev".
	Version string

	// Logger receives request errors. Default slog.Default().
	Logger *slog.Logger

	// SampleInterval is how often Run reads the node's counters for the status page's rate
	// charts. Default 5s: finer shows bursts, at the cost of a Stats call per tick.
	SampleInterval time.Duration

	// SampleWindow is how far back the charts reach; the ring holds SampleWindow /
	// SampleInterval samples (at most 10000). Default 10 minutes.
	SampleWindow time.Duration
}

// maxSamples bounds the rate ring whatever the configuration.
const maxSamples = 10000

func (c Config) withDefaults() (Config, error) {
	if c.MaxBodySize < 0 {
		return c, fmt.Errorf("httpapi: MaxBodySize must not be negative, got %d", c.MaxBodySize)
	}
	for _, t := range c.Tokens {
		if t == "" {
			return c, errors.New("httpapi: empty token")
		}
	}
	if c.SampleInterval < 0 || c.SampleWindow < 0 {
		return c, fmt.Errorf("httpapi: SampleInterval and SampleWindow must not be negative, got %s and %s",
			c.SampleInterval, c.SampleWindow)
	}
	if c.SampleInterval == 0 {
		c.SampleInterval = 5 * time.Second
	}
	if c.SampleWindow == 0 {
		c.SampleWindow = 10 * time.Minute
	}
	if c.SampleWindow < c.SampleInterval {
		return c, fmt.Errorf("httpapi: SampleWindow %s is shorter than SampleInterval %s", c.SampleWindow, c.SampleInterval)
	}
	if c.MaxBodySize == 0 {
		c.MaxBodySize = 8 << 20
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
