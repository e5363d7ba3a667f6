package client_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geocache/geocache/client"
)

// fakeNode is a tiny RESP server standing in for a geocache node: PING
// (at the distance delay emulates: fakeCluster.config's clients add it to
// every probe's round trip, the reply itself does not wait), AUTH, GET, SET,
// DEL, and OK for the connection set-up commands go-redis sends. It can be
// stopped (listener and every connection closed, as in a crash) and
// restarted on the same address.
type fakeNode struct {
	id, region string
	lat, lon   float64
	password   string
	delay      time.Duration

	mu    sync.Mutex
	addr  string
	ln    net.Listener
	conns map[net.Conn]bool
	store map[string]string
	cmds  map[string]int
	state string // as the member list shows it
	wg    sync.WaitGroup
}

func newFakeNode(t *testing.T, id string, delay time.Duration) *fakeNode {
	t.Helper()
	f, err := startFakeNode(id, delay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.stop)
	return f
}

// startFakeNode starts a node on a free loopback port; stop it when done.
func startFakeNode(id string, delay time.Duration) (*fakeNode, error) {
	f := &fakeNode{id: id, region: "region-" + id, delay: delay, addr: "127.0.0.1:0",
		conns: map[net.Conn]bool{}, store: map[string]string{}, cmds: map[string]int{}, state: "serving"}
	return f, f.listen()
}

// start restarts a stopped node on its address.
func (f *fakeNode) start(t *testing.T) {
	t.Helper()
	if err := f.listen(); err != nil {
		t.Fatal(err)
	}
}

func (f *fakeNode) listen() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln != nil {
		return fmt.Errorf("%s already running", f.id)
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("%s: %w", f.id, err)
	}
	f.ln, f.addr = ln, ln.Addr().String()
	f.wg.Add(1)
	go f.accept(ln)
	return nil
}

// stop kills the node: no new connections, existing ones reset.
func (f *fakeNode) stop() {
	f.mu.Lock()
	if f.ln != nil {
		f.ln.Close()
		f.ln = nil
	}
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *fakeNode) Addr() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addr
}

func (f *fakeNode) setState(s string) {
	f.mu.Lock()
	f.state = s
	f.mu.Unlock()
}

// count returns how many times cmd (upper case) was served.
func (f *fakeNode) count(cmd string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cmds[cmd]
}

func (f *fakeNode) value(key string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.store[key]
	return v, ok
}

func (f *fakeNode) accept(ln net.Listener) {
	defer f.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		if f.ln != ln { // stopped meanwhile
			f.mu.Unlock()
			c.Close()
			return
		}
		f.conns[c] = true
		f.wg.Add(1)
		f.mu.Unlock()
		go f.serve(c)
	}
}

func (f *fakeNode) serve(c net.Conn) {
	defer f.wg.Done()
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReader(c)
	authed := f.password == ""
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		cmd := strings.ToUpper(args[0])
		var reply string
		switch {
		case cmd == "HELLO":
			reply = "-ERR unknown command 'HELLO'\r\n" // go-redis falls back to RESP2 + AUTH
		case cmd == "AUTH":
			if args[len(args)-1] == f.password {
				authed = true
				reply = "+OK\r\n"
			} else {
				reply = "-WRONGPASS invalid username-password pair\r\n"
			}
		case !authed:
			reply = "-NOAUTH Authentication required.\r\n"
		case cmd == "PING":
			reply = "+PONG\r\n"
		case cmd == "CLIENT" || cmd == "SELECT":
			reply = "+OK\r\n"
		case cmd == "GET" && len(args) == 2:
			reply = "$-1\r\n"
			if v, ok := f.value(args[1]); ok {
				reply = "$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n"
			}
		case cmd == "SET" && len(args) >= 3:
			f.mu.Lock()
			f.store[args[1]] = args[2]
			f.mu.Unlock()
			reply = "+OK\r\n"
		case cmd == "DEL" && len(args) >= 2:
			n := 0
			f.mu.Lock()
			for _, k := range args[1:] {
				if _, ok := f.store[k]; ok {
					delete(f.store, k)
					n++
				}
			}
			f.mu.Unlock()
			reply = ":" + strconv.Itoa(n) + "\r\n"
		default:
			reply = "-ERR unknown command '" + args[0] + "'\r\n"
		}
		f.mu.Lock()
		f.cmds[cmd]++
		f.mu.Unlock()
		if _, err := io.WriteString(c, reply); err != nil {
			return
		}
	}
}

// readCommand reads one RESP array of bulk strings, as clients send.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := readLine(r)
	if err != nil {
		return nil, err
	}
	if len(line) < 2 || line[0] != '*' {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 1 || n > 1024 {
		return nil, fmt.Errorf("bad array length %q", line)
	}
	args := make([]string, n)
	for i := range args {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if len(line) < 2 || line[0] != '$' {
			return nil, fmt.Errorf("not a bulk string: %q", line)
		}
		size, err := strconv.Atoi(line[1:])
		if err != nil || size < 0 || size > 1<<20 {
			return nil, fmt.Errorf("bad bulk length %q", line)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

func readLine(r *bufio.Reader) (string, error) {
	s, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// fakeCluster serves GET /v1/members for a set of fake nodes, in the shape
// node/httpapi uses ({"self": id, "members": [...]}).
type fakeCluster struct {
	mu    sync.Mutex
	nodes []*fakeNode
	srv   *httptest.Server
	token string
}

func newFakeCluster(t *testing.T, nodes ...*fakeNode) *fakeCluster {
	t.Helper()
	fc := startFakeCluster(nodes...)
	t.Cleanup(fc.srv.Close)
	return fc
}

// startFakeCluster serves the member list of nodes; Close its srv when
// done.
func startFakeCluster(nodes ...*fakeNode) *fakeCluster {
	fc := &fakeCluster{nodes: nodes}
	fc.srv = httptest.NewServer(http.HandlerFunc(fc.serveMembers))
	return fc
}

func (fc *fakeCluster) URL() string { return fc.srv.URL }

// config is testConfig seeded with fc, its client's probes measuring each of fc's nodes at the
// distance the node emulates (its delay) on top of the loopback round trip.
func (fc *fakeCluster) config() client.Config {
	cfg := testConfig(fc.URL())
	client.SetProbeDistance(&cfg, fc.distance)
	return cfg
}

// distance is the delay of fc's node at addr; 0 for an address it does not list.
func (fc *fakeCluster) distance(addr string) time.Duration {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, n := range fc.nodes {
		if n.Addr() == addr {
			return n.delay
		}
	}
	return 0
}

func (fc *fakeCluster) setNodes(nodes ...*fakeNode) {
	fc.mu.Lock()
	fc.nodes = nodes
	fc.mu.Unlock()
}

func (fc *fakeCluster) serveMembers(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/members" {
		http.NotFound(w, r)
		return
	}
	fc.mu.Lock()
	nodes, token := fc.nodes, fc.token
	fc.mu.Unlock()
	if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
		http.Error(w, `{"error":"missing or invalid bearer token"}`, http.StatusUnauthorized)
		return
	}
	var ms []map[string]any
	for _, f := range nodes {
		f.mu.Lock()
		ms = append(ms, map[string]any{
			"id": f.id, "region": f.region, "lat": f.lat, "lon": f.lon,
			"resp": f.addr, "http": fc.srv.URL, "state": f.state, "rtt_ms": 0.5,
		})
		f.mu.Unlock()
	}
	self := ""
	if len(nodes) > 0 {
		self = nodes[0].id
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"self": self, "members": ms})
}

// waitFor polls cond until it holds or the deadline passes. Generous: the
// test machine is shared.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// deadAddr returns an address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
