package main

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"sync"

	"github.com/geocache/geocache/node"
)

// goMemoryLimit is the Go runtime's soft memory limit for a daemon whose store holds maxMemory
// bytes. The RSS the process promises is 1.5 × maxMemory + 32 MiB; the 32 MiB are for what the
// runtime does not manage, the binary's mapped text and data (measured 29–31 MiB resident on
// linux/amd64), so the runtime gets 1.5 × maxMemory less a sixteenth of maxMemory: the limit
// is soft, and under a write flood the heap overshot a limit of exactly 1.5 × maxMemory by
// 2–8 MiB at 64 MiB (peak RSS 130–142 MiB against 128) and by ~5 % at 1 GiB. Below 64 MiB the
// runtime gets maxMemory + 16 MiB at least: the node's own structures (libp2p, the catalog,
// buffers) take ~15 MiB whatever the store holds. Without a limit the garbage collector lets
// the heap grow to twice the live data (GOGC=100): a node holding its 64 MiB plus the
// replication buffers sat at 440–500 MiB of RSS under a write flood.
func goMemoryLimit(maxMemory int64) int64 {
	return max(maxMemory+maxMemory/2-maxMemory/16, maxMemory+16<<20)
}

// setMemoryLimit tells the runtime the limit, unless the operator set GOMEMLIMIT (which wins).
// It returns the function that moves the limit with the store's bound when CONFIG SET
// maxmemory changes it (node.Config.OnMaxMemory): nil under GOMEMLIMIT, which still wins.
func setMemoryLimit(maxMemory int64, log *slog.Logger) (follow func(maxMemory int64)) {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		log.Info("memory limit from GOMEMLIMIT", "limit", debug.SetMemoryLimit(-1))
		return nil
	}
	lim := goMemoryLimit(maxMemory)
	debug.SetMemoryLimit(lim)
	log.Debug("go memory limit", "bytes", lim)
	start := maxMemory
	return func(maxMemory int64) {
		lim := goMemoryLimitAt(maxMemory, start)
		debug.SetMemoryLimit(lim)
		log.Info("go memory limit follows maxmemory", "maxmemory", maxMemory, "limit", lim)
	}
}

// goMemoryLimitAt is goMemoryLimit for a bound set at run time in a daemon started with a
// bound of start bytes: what the node keeps sized by start (node.KeptFromStart: up to 16 MiB)
// is added where it exceeds what the new bound would size, or a shrink from 1 GiB to 1 MiB would
// leave the runtime 17 MiB for 15 MiB of node structures and a 16 MiB table. 0 (maxmemory 0)
// means no bound on the store: the runtime then gets no limit either (math.MaxInt64, its
// default), as a limit derived from nothing would make the collector run flat out on a
// growing store.
func goMemoryLimitAt(maxMemory, start int64) int64 {
	if maxMemory == 0 {
		return math.MaxInt64
	}
	return goMemoryLimit(maxMemory) + max(node.KeptFromStart(start)-node.KeptFromStart(maxMemory), 0)
}

// pauseGCForLoad turns the collector's proportional pacing (GOGC) off while the node loads its
// snapshot, and returns the function that turns it back on (idempotent). A load allocates the
// data set and almost no garbage, so each cycle the pacing would start marks the growing heap
// for nothing: measured, half of the load's CPU time for 1M keys. The memory limit still
// applies (the collector runs when the heap nears it), so this is done only under a limit;
// without one, nothing changes. Resuming sets GOGC as the environment gave it rather than what
// was in force before, so that daemons started in one process (tests) whose loads overlap can
// never leave the collector off.
func pauseGCForLoad(log *slog.Logger) (resume func()) {
	if debug.SetMemoryLimit(-1) == math.MaxInt64 {
		return func() {}
	}
	debug.SetGCPercent(-1)
	log.Debug("GC pacing off while the snapshot loads")
	var once sync.Once
	return func() { once.Do(func() { debug.SetGCPercent(gcPercentFromEnv(os.Getenv("GOGC"))) }) }
}

// gcPercentFromEnv is the GOGC the runtime derives from the environment: 100 when unset or
// invalid, -1 for "off".
func gcPercentFromEnv(v string) int {
	if v == "off" {
		return -1
	}
	if n, err := strconv.Atoi(v); err == nil {
		return n
	}
	return 100
}
