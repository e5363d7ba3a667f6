package resp_test

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geocache/geocache/node/resp"
)

// monitorLine matches one MONITOR line and captures its source and arguments.
var monitorLine = regexp.MustCompile(`^\+\d{10}\.\d{6} \[0 ([^\]]+)\] (.*)\r\n$`)

// startMonitor opens a monitoring connection and reads MONITOR's +OK.
func startMonitor(t *testing.T, addr string) *rawConn {
	t.Helper()
	m := dialRaw(t, addr)
	if r := m.do(t, "MONITOR"); r != "+OK\r\n" {
		t.Fatalf("MONITOR: %q", r)
	}
	return m
}

// expectFeed reads the next lines of m and compares their sources and arguments.
func expectFeed(t *testing.T, m *rawConn, want ...string) {
	t.Helper()
	for _, w := range want {
		line, err := m.readReply(5 * time.Second)
		if err != nil {
			t.Fatalf("reading the feed, want %s: %v", w, err)
		}
		sm := monitorLine.FindStringSubmatch(line)
		if sm == nil {
			t.Fatalf("feed line %q is not a MONITOR line (want %s)", line, w)
		}
		if got := "[" + sm[1] + "] " + sm[2]; got != w {
			t.Fatalf("feed line %q, want %s", got, w)
		}
	}
}

func TestMonitor(t *testing.T) {
	t.Parallel()
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) {
			addr, _, _ := startGeocache(t, resp.Config{EventLoops: mode.loops}, nil)
			m := startMonitor(t, addr)
			c := dialRaw(t, addr)
			src := "[" + c.LocalAddr().String() + "] "

			// A command another client runs, quoted as sdscatrepr quotes.
			c.do(t, "SET", "foo", "bar")
			c.do(t, "SET", "bin", "a\"b\\c\x01\n\r\t\xff ")
			c.do(t, "GET", "foo")
			expectFeed(t, m, src+`"SET" "foo" "bar"`, src+`"SET" "bin" "a\"b\\c\x01\n\r\t\xff "`,
				src+`"GET" "foo"`)

			// Rejected commands are not fed, nor admin ones (CLIENT LIST, CONFIG).
			c.do(t, "NOSUCH")
			c.do(t, "GET")
			c.do(t, "CLIENT", "LIST")
			c.do(t, "CONFIG", "GET", "maxmemory")
			c.do(t, "PING")
			expectFeed(t, m, src+`"PING"`)

			// A script's commands come after the script, with lua as their source; a function's too.
			c.do(t, "EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "k", "v")
			expectFeed(t, m, src+`"EVAL" "return redis.call('set', KEYS[1], ARGV[1])" "1" "k" "v"`,
				`[lua] "set" "k" "v"`)
			if r := c.do(t, "FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f', function() return redis.call('get', 'k') end)"); r != "$3\r\nlib\r\n" {
				t.Fatalf("FUNCTION LOAD: %q", r)
			}
			c.do(t, "FCALL", "f", "0")
			expectFeed(t, m, src+`"FUNCTION" "LOAD" "#!lua name=lib\nredis.register_function('f', function() return redis.call('get', 'k') end)"`,
				src+`"FCALL" "f" "0"`, `[lua] "get" "k"`)

			// Passwords are redacted.
			c.do(t, "AUTH", "not-real")
			c.do(t, "AUTH", "user", "not-a-password")
			c.do(t, "AUTH", "a", "b", "c") // a syntax error: Redis shows it as sent
			c.do(t, "HELLO", "2", "AUTH", "user", "pw", "SETNAME", "n")
			expectFeed(t, m, src+`"AUTH" "(redacted)"`, src+`"AUTH" "(redacted)" "(redacted)"`,
				src+`"AUTH" "a" "b" "c"`, src+`"HELLO" "2" "AUTH" "(redacted)" "(redacted)" "SETNAME" "n"`)

			// MULTI, the queued commands as EXEC runs them, then EXEC; an aborted one shows
			// MULTI and EXEC only.
			c.do(t, "MULTI")
			c.do(t, "SET", "foo", "1")
			c.do(t, "INCR", "foo")
			c.do(t, "EXEC")
			c.do(t, "MULTI")
			c.do(t, "SYNTAX", "error")
			c.do(t, "EXEC")
			expectFeed(t, m, src+`"MULTI"`, src+`"SET" "foo" "1"`, src+`"INCR" "foo"`, src+`"EXEC"`,
				src+`"MULTI"`, src+`"EXEC"`)

			// A second monitor sees the same; the first one's own commands are fed to both.
			m2 := startMonitor(t, addr)
			c.do(t, "DEL", "foo")
			expectFeed(t, m, src+`"DEL" "foo"`)
			expectFeed(t, m2, src+`"DEL" "foo"`)

			// CLIENT LIST shows the monitors with flag O; RESET ends monitoring.
			if l := c.do(t, "CLIENT", "LIST"); strings.Count(l, " flags=O ") != 2 || strings.Count(l, " cmd=monitor ") != 2 {
				t.Fatalf("CLIENT LIST shows %d monitors, %d with cmd=monitor, want 2:\n%s",
					strings.Count(l, " flags=O "), strings.Count(l, " cmd=monitor "), l)
			}
			if r := m2.do(t, "RESET"); r != "+RESET\r\n" {
				t.Fatalf("RESET: %q", r)
			}
			c.do(t, "ECHO", "after")
			expectFeed(t, m, "["+m2.LocalAddr().String()+`] "RESET"`, src+`"ECHO" "after"`)
			if r := m2.do(t, "PING"); r != "+PONG\r\n" {
				t.Fatalf("PING after RESET: %q (still fed?)", r)
			}
		})
	}
}

// TestMonitorPipelined: commands pipelined behind MONITOR run after the +OK, and MONITOR is
// refused inside EXEC.
func TestMonitorPipelined(t *testing.T) {
	t.Parallel()
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) {
			addr, _, _ := startGeocache(t, resp.Config{EventLoops: mode.loops}, nil)
			m := dialRaw(t, addr)
			if _, err := m.Write([]byte("PING\r\nMONITOR\r\n")); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"+PONG\r\n", "+OK\r\n"} {
				if r, err := m.readReply(5 * time.Second); err != nil || r != want {
					t.Fatalf("got %q, %v; want %q", r, err, want)
				}
			}
			c := dialRaw(t, addr)
			c.do(t, "MULTI")
			c.do(t, "MONITOR")
			if r := c.do(t, "EXEC"); r != "*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n" {
				t.Fatalf("MONITOR in EXEC: %q", r)
			}
			expectFeed(t, m, "["+c.LocalAddr().String()+`] "MULTI"`, "["+c.LocalAddr().String()+`] "EXEC"`)
		})
	}
}

// TestMonitorSlowReader: a monitor that does not read is disconnected once its feed passes the
// limit, and the clients it watches never wait for it.
func TestMonitorSlowReader(t *testing.T) {
	t.Parallel()
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) {
			addr, _, s := startGeocache(t, resp.Config{EventLoops: mode.loops}, nil)
			s.SetMonitorLimit(64 << 10)
			m := startMonitor(t, addr)
			c := dialRaw(t, addr)
			val := strings.Repeat("v", 1000)
			// Far more than the socket buffers and the limit hold: 20 MB of feed.
			const n = 20000
			var req []byte
			for i := range n {
				req = append(req, encode("SET", "k"+strconv.Itoa(i), val)...)
			}
			go c.Write(req)
			for i := range n {
				if r, err := c.readReply(10 * time.Second); err != nil || r != "+OK\r\n" {
					t.Fatalf("SET %d: %q, %v", i, r, err)
				}
			}
			if s.MonitorsDropped() != 1 {
				t.Fatalf("monitors dropped: %d, want 1", s.MonitorsDropped())
			}
			// The monitor's connection is closed: reading ends in EOF.
			m.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, m.r); err != nil {
				t.Fatalf("reading the dropped monitor: %v, want EOF", err)
			}
			waitUntil(t, 10*time.Second, func() bool {
				return !strings.Contains(c.do(t, "CLIENT", "LIST"), "flags=O")
			})
		})
	}
}

// TestClientKill covers CLIENT KILL's filters, its two reply forms and SKIPME.
func TestClientKill(t *testing.T) {
	t.Parallel()
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) {
			addr, _, _ := startGeocache(t, resp.Config{EventLoops: mode.loops, Users: map[string]string{"alice": "pw"},
				Password: "secret"}, nil)
			dial := func(user, pass string) *rawConn {
				c := dialRaw(t, addr)
				if r := c.do(t, "AUTH", user, pass); r != "+OK\r\n" {
					t.Fatalf("AUTH: %q", r)
				}
				return c
			}
			me := dial("default", "secret")
			a, b, al := dial("default", "secret"), dial("default", "secret"), dial("alice", "pw")
			connected := func() string {
				info := me.do(t, "INFO", "clients")
				_, v, _ := strings.Cut(info, "connected_clients:")
				v, _, _ = strings.Cut(v, "\r\n")
				return v
			}
			closed := func(c *rawConn) {
				t.Helper()
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.r.ReadByte(); err != io.EOF {
					t.Fatalf("the killed connection reads %v, want EOF", err)
				}
			}
			steps := []struct {
				args []string
				want string
			}{
				{[]string{"CLIENT", "KILL", "ADDR", a.LocalAddr().String()}, ":1\r\n"},
				{[]string{"CLIENT", "KILL", "ADDR", a.LocalAddr().String()}, ":0\r\n"}, // gone already
				{[]string{"CLIENT", "KILL", a.LocalAddr().String()}, "-ERR No such client\r\n"},
				{[]string{"CLIENT", "KILL", "USER", "alice", "TYPE", "normal"}, ":1\r\n"},
				{[]string{"CLIENT", "KILL", "TYPE", "pubsub"}, ":0\r\n"},
				{[]string{"CLIENT", "KILL", "ID", "999999"}, ":0\r\n"},
				{[]string{"CLIENT", "KILL", "ID", "0"}, "-ERR client-id should be greater than 0\r\n"},
				{[]string{"CLIENT", "KILL", "MAXAGE", "1"}, "-ERR syntax error\r\n"}, // Redis 7.4's
				{[]string{"CLIENT", "KILL", "USER", "bob"}, "-ERR No such user 'bob'\r\n"},
				{[]string{"CLIENT", "KILL", "LADDR", "1.2.3.4:5"}, ":0\r\n"},
			}
			for _, st := range steps {
				if r := me.do(t, st.args...); r != st.want {
					t.Fatalf("%q: %q, want %q", st.args, r, st.want)
				}
			}
			closed(a)
			closed(al)
			if n := connected(); n != "2" {
				t.Fatalf("connected_clients after the kills: %s, want 2", n)
			}
			// The old form kills by address, the caller too.
			if r := me.do(t, "CLIENT", "KILL", b.LocalAddr().String()); r != "+OK\r\n" {
				t.Fatalf("CLIENT KILL addr: %q", r)
			}
			closed(b)
			// LADDR with SKIPME yes (the default) spares the caller; SKIPME no closes it after
			// the reply.
			c := dial("default", "secret")
			if r := me.do(t, "CLIENT", "KILL", "LADDR", addr); r != ":1\r\n" {
				t.Fatalf("CLIENT KILL LADDR: %q", r)
			}
			closed(c)
			id := strings.TrimSuffix(strings.TrimPrefix(me.do(t, "CLIENT", "ID"), ":"), "\r\n")
			if r := me.do(t, "CLIENT", "KILL", "ID", id, "SKIPME", "no"); r != ":1\r\n" {
				t.Fatalf("CLIENT KILL ID self SKIPME no: %q", r)
			}
			closed(me)
		})
	}
}

// BenchmarkMonitorFeed is the cost of one fed command line with one monitor attached.
func BenchmarkMonitorFeed(b *testing.B) {
	addr, _, _ := startGeocache(b, resp.Config{}, nil)
	m := dialRaw(b, addr)
	m.do(b, "MONITOR")
	go io.Copy(io.Discard, m)
	c := dialRaw(b, addr)
	req := []byte(strings.Repeat(string(encode("SET", "key", "value")), 16))
	b.ResetTimer()
	for i := 0; i < b.N; i += 16 {
		c.Write(req)
		for range 16 {
			if _, err := c.readReply(5 * time.Second); err != nil {
				b.Fatal(fmt.Sprint(err))
			}
		}
	}
}
