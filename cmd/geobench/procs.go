package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is one process under test (a redis-server or a geocache node), reachable over RESP.
type server struct {
	name string
	addr string // host:port of its RESP listener
	cmd  *exec.Cmd
	log  *os.File
	// exited is closed once the process has exited (and was reaped).
	exited chan struct{}
}

// pid is the process id (0 once stopped).
func (s *server) pid() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// startServer starts bin with args, its output in dir/name.log, and waits until its RESP
// address answers PING.
func startServer(ctx context.Context, dir, name, addr, bin string, args ...string) (*server, error) {
	// Something already answering there would be measured instead of our process.
	if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("geobench: %s: port %s is already in use", name, addr)
	}
	f, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("geobench: start %s: %w", name, err)
	}
	s := &server{name: name, addr: addr, cmd: cmd, log: f, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.exited:
			f.Close()
			return nil, fmt.Errorf("geobench: %s exited at start (see %s)", name, f.Name())
		default:
		}
		c, err := dialRESP(addr, time.Second)
		if err == nil {
			r, err := c.do("PING")
			c.Close()
			if err == nil && r == "PONG" {
				return s, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stop()
			return nil, fmt.Errorf("geobench: %s did not answer on %s (see %s)", name, addr, f.Name())
		}
		time.Sleep(50 * time.Millisecond) // polling a process we do not control
	}
}

// stop sends SIGTERM, then SIGKILL after 5 s, and waits.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
	s.log.Close()
}

// procStatus reads VmRSS and VmHWM (peak RSS) of pid, in bytes.
func procStatus(pid int) (rss, hwm int64, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			hwm = kb << 10
		}
	}
	return rss, hwm, sc.Err()
}

// cpuTime is the user + system CPU pid has used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) start after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("geobench: bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("geobench: short /proc stat")
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * (time.Second / 100), nil // USER_HZ is 100 on Linux
}

// respConn is a minimal RESP client: enough for PING, SET, GET, INFO and FLUSHALL.
type respConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRESP(addr string, timeout time.Duration) (*respConn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return &respConn{c: c, r: bufio.NewReader(c)}, nil
}

func (c *respConn) Close() error { return c.c.Close() }

// do sends one command and returns its reply as a string: a simple or bulk string, an integer in
// decimal, "" for nil. An error reply is an error.
func (c *respConn) do(args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	c.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return c.read()
}

// read reads one reply, as do returns it.
func (c *respConn) read() (string, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("geobench: empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", replyError(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("geobench: unexpected reply %q", line)
}

// infoField returns one field of INFO section from addr ("" if absent).
func infoField(addr, section, field string) (string, error) {
	c, err := dialRESP(addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	r, err := c.do("INFO", section)
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(r, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && k == field {
			return v, nil
		}
	}
	return "", nil
}

// replyError is an error reply of the server (the connection stays in step), as opposed to a
// failure of the connection.
type replyError string

func (e replyError) Error() string { return string(e) }

// dbsize is DBSIZE on addr.
func dbsize(addr string) (int, error) {
	c, err := dialRESP(addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	v, err := c.do("DBSIZE")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(v)
}

// promValue reads one unlabelled sample (go_goroutines, say) from the Prometheus text on
// http://httpAddr/metrics.
func promValue(httpAddr, name string) (float64, error) {
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("geobench: %s/metrics: %s", httpAddr, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("geobench: %s/metrics has no %s", httpAddr, name)
}
