package main

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// daemonProc is a geocache process started from the test binary (TestMain runs main when
// GEOCACHE_TEST_RUN_MAIN is set).
type daemonProc struct {
	cmd  *exec.Cmd
	resp string
	done chan error
}

func startProc(t *testing.T, dataDir string, extra ...string) *daemonProc {
	t.Helper()
	args := append([]string{"--resp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--p2p-listen", "", "--data-dir", dataDir, "--save-interval", "0", "--log-level", "info"}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "GEOCACHE_TEST_RUN_MAIN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &daemonProc{cmd: cmd, done: make(chan error, 1)}
	t.Cleanup(func() { cmd.Process.Kill(); <-p.done })
	sc := bufio.NewScanner(out)
	var lines []string
	for len(lines) < 3 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	go func() { io.Copy(io.Discard, out); p.done <- cmd.Wait() }()
	for _, l := range lines {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "RESP" {
			p.resp = f[1]
		}
	}
	if p.resp == "" {
		t.Fatalf("no RESP address in the banner: %q", lines)
	}
	return p
}

// do runs one command on a fresh connection, retrying while the node loads (-LOADING).
func (p *daemonProc) do(t *testing.T, args ...string) string {
	t.Helper()
	var got string
	waitFor(t, func() bool {
		c, err := net.Dial("tcp", p.resp)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		got = respDo(t, bufio.NewReader(c), c, args...)
		return !strings.HasPrefix(got, "-LOADING")
	})
	return got
}

func (p *daemonProc) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		p.done <- nil // for the cleanup
	case <-time.After(20 * time.Second):
		t.Fatal("the daemon did not exit")
	}
}

// A daemon with --data-dir keeps its cache across a SIGTERM restart, and across a kill -9 keeps
// what its last SAVE held (and loses the writes after it: it had no peer to get them back from).
func TestRestartKeepsTheCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startProc(t, dir)
	for _, kv := range [][2]string{{"a", "1"}, {"b", "2"}} {
		if got := p.do(t, "SET", kv[0], kv[1]); got != "+OK" {
			t.Fatalf("SET: %q", got)
		}
	}
	p.do(t, "SET", "short", "x", "PX", "300")
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t)

	// Down for "a second": the restarted node's clock runs 1 s ahead, past "short"'s expiry.
	p = startProc(t, dir, "--clock-offset", "1s")
	if got := p.do(t, "GET", "a"); got != "1" {
		t.Fatalf("after SIGTERM and restart, GET a = %q", got)
	}
	if got := p.do(t, "DBSIZE"); got != ":2" {
		t.Fatalf("after restart DBSIZE = %q, want :2 (short expired while down)", got)
	}
	if got := p.do(t, "SAVE"); got != "+OK" {
		t.Fatalf("SAVE: %q", got)
	}
	p.do(t, "SET", "unsaved", "3")
	p.cmd.Process.Kill()
	p.wait(t)

	p = startProc(t, dir, "--clock-offset", "1s")
	if got := p.do(t, "GET", "b"); got != "2" {
		t.Fatalf("after kill -9, GET b = %q", got)
	}
	if got := p.do(t, "EXISTS", "unsaved"); got != ":0" {
		t.Fatalf("a write after the last save survived a kill -9 without peers: EXISTS = %q", got)
	}
}
