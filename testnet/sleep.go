package testnet

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Precise sleeping. time.Sleep overshoots by up to ~1 ms (the runtime's timers fire from the
// netpoller, which waits with millisecond granularity on Linux), too coarse for a WAN emulator.
// A raw nanosleep is accurate to ~0.1 ms but blocks its OS thread while the goroutine keeps its
// P, so with GOMAXPROCS=2 two sleeping goroutines stall every other one until sysmon retakes the
// Ps (up to 10 ms). A timerfd read through the runtime's netpoller has neither problem: the
// goroutine parks, its P runs other work, and the kernel's high-resolution timer makes the fd
// readable on time.

// preciseTimer sleeps on a timerfd. One per goroutine; not safe for concurrent use.
type preciseTimer struct {
	fd int
	f  *os.File // the same fd, registered with the netpoller
}

// newPreciseTimer returns a timerfd-backed timer, or nil where timerfds are unavailable (then
// sleepUntil falls back to a coarse sleep finished with nanosleep).
func newPreciseTimer() *preciseTimer {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	return &preciseTimer{fd: fd, f: os.NewFile(uintptr(fd), "timerfd")}
}

// Close releases the timerfd. Nil-safe.
func (t *preciseTimer) Close() {
	if t != nil {
		t.f.Close()
	}
}

// sleepUntil blocks until the monotonic clock reaches deadline.
func (t *preciseTimer) sleepUntil(deadline time.Time) {
	if t == nil {
		sleepUntil(deadline)
		return
	}
	var buf [8]byte
	for {
		d := time.Until(deadline)
		if d <= 0 {
			return
		}
		spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
		if err := unix.TimerfdSettime(t.fd, 0, &spec, nil); err != nil {
			sleepUntil(deadline)
			return
		}
		if _, err := t.f.Read(buf[:]); err != nil {
			sleepUntil(deadline)
			return
		}
	}
}

// coarseMargin is how early the coarse sleep of the fallback stops before the deadline.
const coarseMargin = 2 * time.Millisecond

// sleepUntil is the fallback precise sleep: time.Sleep for the long part of the wait, nanosleep
// for the last ≤ coarseMargin (holding the P for that long).
func sleepUntil(t time.Time) {
	for {
		d := time.Until(t)
		if d <= 0 {
			return
		}
		if d > coarseMargin {
			time.Sleep(d - coarseMargin)
			continue
		}
		ts := syscall.NsecToTimespec(int64(d))
		// EINTR (a signal to this thread) just loops and recomputes the remainder.
		_ = syscall.Nanosleep(&ts, nil)
	}
}
