package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freePort returns a TCP port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// respClient dials a daemon's RESP address.
func respClient(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// writesCross waits until a key written on each daemon is read on the other.
func writesCross(t *testing.T, a, b string) {
	t.Helper()
	ca, ra := respClient(t, a)
	cb, rb := respClient(t, b)
	i := 0
	waitFor(t, func() bool {
		i++
		k := strconv.Itoa(i)
		respDo(t, ra, ca, "SET", "from-a-"+k, "1")
		respDo(t, rb, cb, "SET", "from-b-"+k, "1")
		return respDo(t, rb, cb, "GET", "from-a-"+k) == "1" && respDo(t, ra, ca, "GET", "from-b-"+k) == "1"
	})
}

// Issue 11: a seed restarted in memory (a new identity, no --join) at its old address is found
// again by the member that joined it, here joined by address without /p2p/<id>.
func TestSeedRestartedInMemoryRejoins(t *testing.T) {
	t.Parallel()
	p2p := "/ip4/127.0.0.1/tcp/" + strconv.Itoa(freePort(t))
	banner, stopA := startDaemon(t, "--p2p-listen", p2p)
	ma := addrRE.FindStringSubmatch(banner)
	bannerB, _ := startDaemon(t, "--join", p2p)
	mb := addrRE.FindStringSubmatch(bannerB)
	if ma == nil || mb == nil {
		t.Fatalf("banners:\n%s\n%s", banner, bannerB)
	}
	writesCross(t, ma[1], mb[1])

	if code := stopA(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	banner2, _ := startDaemon(t, "--p2p-listen", p2p)
	ma2 := addrRE.FindStringSubmatch(banner2)
	if ma2 == nil || ma2[3] == ma[3] {
		t.Fatalf("restarted banner (want a new identity):\n%s", banner2)
	}
	start := time.Now()
	writesCross(t, ma2[1], mb[1])
	t.Logf("writes cross %v after the restart", time.Since(start))

	c, r := respClient(t, mb[1])
	c.Write([]byte("*2\r\n$4\r\nINFO\r\n$11\r\nreplication\r\n"))
	hdr, _ := r.ReadString('\n')
	n, _ := strconv.Atoi(strings.TrimSpace(hdr[1:]))
	body := make([]byte, n+2)
	io.ReadFull(r, body)
	// a stopped gracefully: it said goodbye, so it left rather than got lost. Its old identity
	// is either forgotten (found again at its address as a new identity) or listed as left.
	info := string(body)
	oldID := ma[3][strings.LastIndex(ma[3], "/")+1:]
	oldLine := regexp.MustCompile(`peer\d+:id=` + oldID + `,[^\r]*`).FindString(info)
	if !strings.Contains(info, "cluster_members_lost:0") || !strings.Contains(info, "cluster_peers_connected:1\r\n") ||
		(oldLine != "" && !strings.Contains(oldLine, "state=left")) {
		t.Fatalf("INFO replication:\n%s", body)
	}
}

// --join accepts a member's HTTP URL.
func TestJoinByHTTPURL(t *testing.T) {
	t.Parallel()
	banner, _ := startDaemon(t)
	ma := addrRE.FindStringSubmatch(banner)
	bannerB, _ := startDaemon(t, "--join", ma[2])
	mb := addrRE.FindStringSubmatch(bannerB)
	if ma == nil || mb == nil {
		t.Fatalf("banners:\n%s\n%s", banner, bannerB)
	}
	writesCross(t, ma[1], mb[1])
}

func TestBadJoinExits2(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ join, want string }{
		{"127.0.0.1:7379", "--join 127.0.0.1:7379: not a multiaddr"},
		{"/ip4/127.0.0.1/tcp/7379/p2p/QmA", "--join /ip4/127.0.0.1/tcp/7379/p2p/QmA: not a multiaddr"},
		{"http://", "--join http://: not a URL with a host"},
	} {
		var stderr strings.Builder
		code := run(context.Background(), func() {}, []string{"--resp-listen", "127.0.0.1:0", "--http-listen", "",
			"--join", c.join}, env(nil), io.Discard, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("--join %s: exit %d, stderr %q; want 2 and %q", c.join, code, stderr.String(), c.want)
		}
	}
}

// A busy replication port prints geocache's own error, one line, and no libp2p internals.
func TestBusyReplicationPortIsOneLine(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cmd := exec.Command(os.Args[0], "--resp-listen", "127.0.0.1:0", "--http-listen", "",
		"--p2p-listen", "/ip4/127.0.0.1/tcp/"+strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	cmd.Env = append(os.Environ(), "GEOCACHE_TEST_RUN_MAIN=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "geocache: ") || !strings.Contains(lines[0], "address already in use") {
		t.Fatalf("stderr is not one geocache error line:\n%s", stderr.String())
	}
}
