package main

import (
	"io"
	"log/slog"
	"math"
	"os"
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

// The limit follows a bound set at run time (CONFIG SET maxmemory), 0 lifting it, unless
// GOMEMLIMIT was set. It changes the process's limit, so it is not parallel and restores it.
func TestMemoryLimitFollowsMaxMemory(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(limit) })

	t.Setenv("GOMEMLIMIT", "1GiB")
	if follow := setMemoryLimit(64<<20, log); follow != nil {
		t.Fatal("under GOMEMLIMIT the limit follows maxmemory")
	}
	os.Unsetenv("GOMEMLIMIT") // t.Setenv restores it after the test
	follow := setMemoryLimit(64<<20, log)
	if got := debug.SetMemoryLimit(-1); got != goMemoryLimit(64<<20) {
		t.Fatalf("limit at start %d, want %d", got, goMemoryLimit(64<<20))
	}
	follow(1 << 30)
	if got := debug.SetMemoryLimit(-1); got != goMemoryLimit(1<<30) {
		t.Fatalf("limit after maxmemory 1 GiB: %d, want %d", got, goMemoryLimit(1<<30))
	}
	// Shrunk below the start bound, the runtime keeps room for the evicted-keys table sized
	// at start: 1 MiB at 64 MiB, against 64 KiB at 1 MiB.
	follow(1 << 20)
	if got, want := debug.SetMemoryLimit(-1), goMemoryLimit(1<<20)+(1<<20)-(64<<10); got != want {
		t.Fatalf("limit after maxmemory 1 MiB: %d, want %d", got, want)
	}
	if got, want := goMemoryLimitAt(1<<20, 1<<30), goMemoryLimit(1<<20)+(1<<30>>10)*16-(1<<12)*16; got != want {
		t.Fatalf("limit at 1 MiB started at 1 GiB: %d, want %d", got, want)
	}
	follow(0)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("limit after maxmemory 0: %d, want none", got)
	}
}
