package main

import (
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"testing"
)

func TestGCPercentFromEnv(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]int{"": 100, "off": -1, "50": 50, "400": 400, "lots": 100} {
		if got := gcPercentFromEnv(v); got != want {
			t.Errorf("GOGC=%q: %d, want %d", v, got, want)
		}
	}
}

// The load pause turns GOGC off only under a memory limit, and resuming restores the
// environment's value even when two pauses overlap (two daemons in one process). It changes
// the process's collector settings, so it is not parallel and restores them.
func TestPauseGCForLoad(t *testing.T) {
	t.Setenv("GOGC", "") // (t.Setenv: the test cannot be made parallel)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	limit := debug.SetMemoryLimit(-1)
	percent := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetMemoryLimit(limit); debug.SetGCPercent(percent) })
	gcPercent := func() int { p := debug.SetGCPercent(100); debug.SetGCPercent(p); return p }

	debug.SetMemoryLimit(math.MaxInt64)
	resume := pauseGCForLoad(log)
	if got := gcPercent(); got != 100 {
		t.Fatalf("without a memory limit the pause set GOGC to %d", got)
	}
	resume()

	debug.SetMemoryLimit(1 << 40)
	r1 := pauseGCForLoad(log)
	r2 := pauseGCForLoad(log)
	if got := gcPercent(); got != -1 {
		t.Fatalf("GOGC during the load = %d, want off", got)
	}
	r1()
	r2()
	r2()
	if got := gcPercent(); got != 100 {
		t.Fatalf("GOGC after overlapping loads = %d, want 100", got)
	}
	t.Setenv("GOGC", "300")
	pauseGCForLoad(log)()
	if got := gcPercent(); got != 300 {
		t.Fatalf("GOGC after the load = %d, want the environment's 300", got)
	}
}
