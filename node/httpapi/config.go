package httpapi

import (
	"errors"
	"fmt"
	"log/slog"

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
}

func (c Config) withDefaults() (Config, error) {
	if c.MaxBodySize < 0 {
		return c, fmt.Errorf("httpapi: MaxBodySize must not be negative, got %d", c.MaxBodySize)
	}
	for _, t := range c.Tokens {
		if t == "" {
			return c, errors.New("httpapi: empty token")
		}
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
