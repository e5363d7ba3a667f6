package testnet

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// testSubnet returns a random 127.X.Y.0/24 prefix so that parallel tests and concurrent test
// networks on the machine do not collide.
func testSubnet() [3]byte {
	return [3]byte{127, byte(100 + rand.IntN(150)), byte(1 + rand.IntN(250))}
}

func ip(s [3]byte, last byte) netip.Addr { return netip.AddrFrom4([4]byte{s[0], s[1], s[2], last}) }

// echoServer accepts on addr and echoes every byte back until the test ends.
func echoServer(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// dialFrom dials to from a given source IP.
func dialFrom(t *testing.T, src netip.Addr, to string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// newTestEmulator starts an emulator with one node "b" (an echo server) and a source IP
// attributed to node "a".
func newTestEmulator(t *testing.T) (e *Emulator, front string, srcIP netip.Addr) {
	t.Helper()
	s := testSubnet()
	target := echoServer(t, ip(s, 2).String()+":0")
	e = NewEmulator()
	t.Cleanup(func() { e.Close() })
	if err := e.AddNode("b", ip(s, 1).String()+":0", target); err != nil {
		t.Fatal(err)
	}
	e.SetSourceIP(ip(s, 3), "a")
	return e, e.Front("b"), ip(s, 3)
}

func TestRelayAppliesPerDirectionDelay(t *testing.T) {
	t.Parallel()
	e, front, src := newTestEmulator(t)
	const fwd, back = 30 * time.Millisecond, 10 * time.Millisecond
	e.SetDelay("a", "b", fwd, 0)
	e.SetDelay("b", "a", back, 0)
	c := dialFrom(t, src, front)
	buf := make([]byte, 8)
	for i := 0; i < 5; i++ {
		start := time.Now()
		if _, err := c.Write([]byte("01234567")); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		rtt := time.Since(start)
		// Never early; late only by scheduling noise (generous: CI machines are shared).
		if rtt < fwd+back || rtt > fwd+back+100*time.Millisecond {
			t.Fatalf("round trip %v, want %v (+ < 100ms)", rtt, fwd+back)
		}
	}
	st := e.Stats()
	var ab LinkStats
	for _, l := range st.Links {
		if l.From == "a" && l.To == "b" {
			ab = l
		}
	}
	if ab.Bytes != 40 || ab.Chunks != 5 || ab.Delay != fwd || ab.OpenConns != 1 {
		t.Fatalf("a->b stats %+v", ab)
	}
}

func TestRelayKeepsOrderUnderJitter(t *testing.T) {
	t.Parallel()
	e, front, src := newTestEmulator(t)
	e.SetDelay("a", "b", 2*time.Millisecond, 5*time.Millisecond)
	e.SetDelay("b", "a", 0, 5*time.Millisecond)
	c := dialFrom(t, src, front)
	const n = 2000
	go func() {
		w := bufio.NewWriter(c)
		for i := uint32(0); i < n; i++ {
			binary.Write(w, binary.BigEndian, i)
			if i%50 == 0 {
				w.Flush() // many small chunks, each with its own random delay
			}
		}
		w.Flush()
	}()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	for i := uint32(0); i < n; i++ {
		var got uint32
		if err := binary.Read(r, binary.BigEndian, &got); err != nil {
			t.Fatal(err)
		}
		if got != i {
			t.Fatalf("message %d arrived as %d: reordered", i, got)
		}
	}
}

func TestCutResetsAndRefusesUntilHeal(t *testing.T) {
	t.Parallel()
	e, front, src := newTestEmulator(t)
	c := dialFrom(t, src, front)
	roundTrip(t, c)

	e.Cut("b", "a") // pair order does not matter
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !isReset(err) && !errors.Is(err, io.EOF) {
		t.Fatalf("read on a cut connection: %v, want a reset", err)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}, Timeout: 2 * time.Second}
	if c2, err := d.Dial("tcp", front); err == nil { // the front accepts, then resets
		defer c2.Close()
		c2.SetReadDeadline(time.Now().Add(5 * time.Second))
		c2.Write([]byte("x"))
		if _, err := c2.Read(make([]byte, 1)); err == nil {
			t.Fatal("a cut pair relayed a new connection")
		}
	}
	waitFor(t, 5*time.Second, "the refusal to be counted", func() bool { return e.Stats().Refused == 1 })

	e.Heal("a", "b")
	roundTrip(t, dialFrom(t, src, front))
}

func TestStallHoldsDataUntilResume(t *testing.T) {
	t.Parallel()
	e, front, src := newTestEmulator(t)
	c := dialFrom(t, src, front)
	roundTrip(t, c)

	e.Stall("a", "b")
	if _, err := c.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	// Nothing may come back while the link is stalled; the deadline bounds the check.
	c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	if n, err := c.Read(make([]byte, 4)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read during a stall: %d bytes, err %v", n, err)
	}
	e.Resume("a", "b")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "held" {
		t.Fatalf("after resume: %q, %v", buf, err)
	}
	if st := e.Stats(); st.Links[0].Held == 0 {
		t.Fatalf("held = 0: %+v", st.Links)
	}
}

func TestUnknownSourceIsRefused(t *testing.T) {
	t.Parallel()
	e, front, src := newTestEmulator(t)
	other := netip.AddrFrom4([4]byte{127, src.As4()[1], src.As4()[2], 9})
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: other.AsSlice()}, Timeout: 2 * time.Second}
	// The front accepts and resets at once: the reset may even beat the dial's return.
	if c, err := d.Dial("tcp", front); err == nil {
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("x"))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("an unattributed connection was relayed")
		}
	}
	waitFor(t, 5*time.Second, "the refusal to be counted", func() bool { return e.Stats().Unclassified == 1 })
}

func roundTrip(t *testing.T, c *net.TCPConn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("round trip: %q, %v", buf, err)
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// The helper process: when GEOCACHE_TESTNET_HELPER is set, the test binary listens or dials as
// told and blocks; it plays a node process in the /proc tests.
func TestMain(m *testing.M) {
	switch os.Getenv("GEOCACHE_TESTNET_HELPER") {
	case "listen":
		ln, err := net.Listen("tcp", os.Getenv("HELPER_ADDR"))
		if err != nil {
			os.Exit(3)
		}
		fmt.Println(ln.Addr())
		var conns []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(0)
			}
			conns = append(conns, c)
		}
	case "dial":
		bufio.NewReader(os.Stdin).ReadString('\n') // go
		c, err := net.Dial("tcp", os.Getenv("HELPER_ADDR"))
		if err != nil {
			os.Exit(3)
		}
		fmt.Println(c.LocalAddr())
		io.Copy(io.Discard, c) // until killed
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helper starts the test binary as a helper process and returns it with its first output line.
// before runs once the process exists (its pid is known) and before it dials.
func helper(t *testing.T, mode, addr string, before func(pid int)) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GEOCACHE_TESTNET_HELPER="+mode, "HELPER_ADDR="+addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if before != nil {
		before(cmd.Process.Pid)
	}
	in.Write([]byte("go\n"))
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper %s: %v", mode, err)
	}
	return cmd, line[:len(line)-1]
}

func TestProcessAttributionAndBypassAudit(t *testing.T) {
	t.Parallel()
	s := testSubnet()
	// Node "x" listens; node "y" dials it directly: a bypass.
	x, xAddr := helper(t, "listen", ip(s, 2).String()+":0", nil)
	y, _ := helper(t, "dial", xAddr, nil)
	nodes := map[int]string{x.Process.Pid: "x", y.Process.Pid: "y"}
	waitFor(t, 10*time.Second, "the direct x<->y connection to show", func() bool {
		a, err := auditConnections(nodes)
		return err == nil && len(a.Bypasses) == 2 // seen from both ends
	})

	// Node "z" dials x through the emulator and is attributed by its process.
	e := NewEmulator()
	t.Cleanup(func() { e.Close() })
	if err := e.AddNode("x", ip(s, 1).String()+":0", xAddr); err != nil {
		t.Fatal(err)
	}
	z, _ := helper(t, "dial", e.Front("x"), func(pid int) { e.SetSourcePID(pid, "z") })
	nodes[z.Process.Pid] = "z"
	waitFor(t, 10*time.Second, "a relayed z->x connection", func() bool {
		for _, l := range e.Stats().Links {
			if l.From == "z" && l.To == "x" && l.OpenConns == 1 {
				return true
			}
		}
		return false
	})
	// z->relay and relay->x (once x has accepted it), and still only the x<->y bypass.
	var a ConnAudit
	waitFor(t, 10*time.Second, "two relayed connections in the audit", func() bool {
		var err error
		a, err = auditConnections(nodes)
		return err == nil && a.Relayed == 2
	})
	if len(a.Bypasses) != 2 {
		t.Fatalf("audit %+v: want only the x<->y bypass", a)
	}
	if st := e.Stats(); st.Unclassified != 0 {
		t.Fatalf("unclassified = %d", st.Unclassified)
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}
