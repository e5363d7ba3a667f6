package main

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"
)

// The shipped example configuration parses with the daemon's own loader and validates (with the
// secrets it expects from the environment).
func TestShippedExampleConfiguration(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig([]string{"--config", "dist/geocache.yaml"}, env(map[string]string{
		"GEOCACHE_PASSWORD":    "example-password",
		"GEOCACHE_HTTP_TOKEN":  "example-token-0123456789",
		"GEOCACHE_CLUSTER_KEY": "example-cluster-key",
	}), func() {})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west" || cfg.MaxMemory != 4<<30 || cfg.DefaultTTL != 24*time.Hour ||
		cfg.DataDir != "/var/lib/geocache" || len(cfg.Join) != 1 || cfg.RESPListen != "0.0.0.0:6379" {
		t.Fatalf("example configuration read as %+v", cfg)
	}
}

// The systemd unit starts the daemon with the example configuration's path and stops it after
// the daemon's own shutdown deadline.
func TestShippedSystemdUnit(t *testing.T) {
	t.Parallel()
	f, err := os.Open("dist/geocache.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			keys[k] = v
		}
	}
	if keys["ExecStart"] != "/usr/local/bin/geocache --config /etc/geocache/geocache.yaml" {
		t.Fatalf("ExecStart = %q", keys["ExecStart"])
	}
	stop, err := time.ParseDuration(keys["TimeoutStopSec"] + "s")
	if err != nil || stop <= defaultConfig().ShutdownTimeout {
		t.Fatalf("TimeoutStopSec %q must exceed --shutdown-timeout %s", keys["TimeoutStopSec"], defaultConfig().ShutdownTimeout)
	}
}
