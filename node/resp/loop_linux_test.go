package resp

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

// testLoop is an event loop of a server configured with spin, not running: the test calls
// poll itself and makes events with wake.
func testLoop(t *testing.T, spin time.Duration) *loop {
	t.Helper()
	cfg, err := Config{LoopSpin: spin}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	l, err := newLoop(&Server{cfg: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.release)
	return l
}

// pollWake makes one event (a wake-up) and polls it, then drains it so the next poll waits.
func pollWake(t *testing.T, l *loop) {
	t.Helper()
	l.wake()
	n, err := l.poll()
	if err != nil || n != 1 || int(l.events[0].Fd) != l.wakeR {
		t.Fatalf("poll = %d, %v (fd %d), want the wake-up pipe", n, err, l.events[0].Fd)
	}
	l.drainWake()
}

func TestLoopSpinOffByDefault(t *testing.T) {
	l := testLoop(t, 0)
	for range 3 {
		pollWake(t, l)
		if l.spin {
			t.Fatal("LoopSpin 0 spins")
		}
	}
}

// A wait shorter than the spin makes the next wait spin first, and a spin that finds the
// next event answers it without sleeping.
func TestLoopSpinsAfterShortWait(t *testing.T) {
	l := testLoop(t, time.Hour) // every wait is shorter than an hour
	if l.spin {
		t.Fatal("a new loop spins before its first wait")
	}
	pollWake(t, l) // blocking wait, answered at once
	if !l.spin {
		t.Fatal("no spin after a wait shorter than LoopSpin")
	}
	done := make(chan struct{})
	go func() { // the event comes while poll spins (or before: a spin's first poll finds it)
		defer close(done)
		l.wake()
	}()
	n, err := l.poll()
	<-done
	if err != nil || n != 1 {
		t.Fatalf("spinning poll = %d, %v, want the wake-up", n, err)
	}
	if l.spun != 1 {
		t.Fatalf("spun = %d, want the spin to have answered the wait", l.spun)
	}
}

// A wait longer than the spin stops the spinning: an idle or lightly loaded loop sleeps.
func TestLoopSleepsAfterLongWait(t *testing.T) {
	l := testLoop(t, time.Nanosecond) // every wait is longer than a nanosecond
	pollWake(t, l)
	if l.spin {
		t.Fatal("spinning after a blocking wait longer than LoopSpin")
	}
	// A spin that finds nothing sleeps when it runs out, and the sleep decides the next.
	l.spin = true
	go l.wake() // during the 1 ns spin or after it: either answers the wait
	n, err := l.poll()
	if err != nil || n != 1 {
		t.Fatalf("poll = %d, %v, want the wake-up", n, err)
	}
	if l.spun == 0 && l.spin {
		t.Fatal("still spinning after a sleep longer than LoopSpin")
	}
}

func TestLoopNeverSpinsWhenOff(t *testing.T) {
	l := testLoop(t, -1)
	for range 3 {
		pollWake(t, l)
		if l.spin {
			t.Fatal("LoopSpin < 0 spins")
		}
	}
	if l.spun != 0 {
		t.Fatalf("spun = %d with LoopSpin < 0", l.spun)
	}
}

// TestWakeAfterReleaseWritesNothing: a wake-up that comes after the loop released its pipe
// writes nothing. Close's and removeClient's wakeLoops race the loops' exit, and a wake-up
// that lost the race wrote its byte to whatever the write end's descriptor number had become:
// a connection of another server in the process, whose client read a NUL before its next
// reply ("\x00-ERR Script killed ..." in TestScriptBusyAndKill).
func TestWakeAfterReleaseWritesNothing(t *testing.T) {
	cfg, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	l, err := newLoop(&Server{cfg: cfg})
	if err != nil {
		t.Fatal(err)
	}
	freed := l.wakeW
	l.release()
	// Take the freed number with a socket, as the next accepted connection would: the kernel
	// hands out the lowest free descriptor, so one of the first few pairs gets it.
	peer := -1
	for range 16 {
		sv, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Close(sv[0]); syscall.Close(sv[1]) })
		if sv[0] == freed {
			peer = sv[1]
		} else if sv[1] == freed {
			peer = sv[0]
		}
		if peer >= 0 {
			break
		}
	}
	if peer < 0 {
		t.Fatalf("no socket got the released descriptor %d", freed)
	}
	l.wake()
	var b [8]byte
	if n, err := syscall.Read(peer, b[:]); n > 0 || !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("the socket that reused the loop's pipe received %q (%v)", b[:max(n, 0)], err)
	}
}
