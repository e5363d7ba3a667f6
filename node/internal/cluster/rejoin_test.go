package cluster

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
)

// tcpPort returns the TCP port of c's first listen address.
func tcpPort(t testing.TB, c *Cluster) string {
	t.Helper()
	p, err := c.host.Addrs()[0].ValueForProtocol(multiaddr.P_TCP)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// gossipFlows publishes from every node until each other node has heard
// it; it fails the test after timeout.
func gossipFlows(t *testing.T, timeout time.Duration, nodes ...*Cluster) {
	t.Helper()
	inboxes := make([]*inbox, len(nodes))
	for i, n := range nodes {
		inboxes[i] = collect(n)
	}
	msg := "hello-" + time.Now().Format(time.RFC3339Nano)
	waitFor(t, timeout, "gossip flowing between every pair", func() bool {
		ok := true
		for i, from := range nodes {
			for j := range nodes {
				if i != j && !inboxes[j].has(from.ID(), msg) {
					ok = false
					_ = from.Publish(context.Background(), []byte(msg))
					break
				}
			}
		}
		return ok
	})
}

// A member restarted without its data directory comes back at its old
// address with a new identity and no join list: the others must find it
// (the seed case of issue 11).
func TestSeedRestartedWithNewIdentityRejoins(t *testing.T) {
	t.Parallel()
	a := newNode(t, testConfig())
	port := tcpPort(t, a)
	cfg := testConfig()
	cfg.Join = []string{joinAddr(a)}
	b := newNode(t, cfg)
	c := newNode(t, cfg)
	waitFor(t, 20*time.Second, "b and c know each other", func() bool { return connectedTo(b, c) && connectedTo(c, b) })
	oldA := a.ID()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	cfg = testConfig()
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/" + port}
	start := time.Now()
	a2 := newNode(t, cfg)
	if a2.ID() == oldA {
		t.Fatal("restart kept the identity")
	}
	waitFor(t, 10*time.Second, "b and c connect to the new a", func() bool {
		return connectedTo(b, a2) && connectedTo(c, a2) && connectedTo(a2, b) && connectedTo(a2, c)
	})
	gossipFlows(t, 5*time.Second, a2, b, c)
	t.Logf("restart to gossip flowing: %v", time.Since(start))
	if b.Stats().IdentityChanges < 1 && c.Stats().IdentityChanges < 1 {
		t.Fatalf("identity change not counted: b %+v c %+v", b.Stats(), c.Stats())
	}
	// a2 knows everyone through the catalog, and the old identity is not
	// dialled while its successor is connected.
	waitFor(t, 5*time.Second, "a2 learns b and c from the catalog", func() bool {
		mb, okb := member(a2, b.ID())
		mc, okc := member(a2, c.ID())
		return okb && okc && mb.Known && mc.Known
	})
	// Dials are counted from when b has dropped the replaced identity: a full CI run under load
	// once counted them while b still held it (its redial then is not the fault under test).
	// Dropping it at all is asserted here; that it happens cluster-wide is
	// TestMemberRestartedWithNewIdentityRejoins's.
	waitFor(t, 10*time.Second, "b forgets the replaced identity", func() bool {
		_, ok := member(b, oldA)
		return !ok
	})
	dials := b.Stats().Dials
	never(t, time.Second, "b keeps dialling the dead identity", func() bool { return b.Stats().Dials > dials+1 })
}

// A non-seed member restarted with a new identity is found again by the
// members that remember its address.
func TestMemberRestartedWithNewIdentityRejoins(t *testing.T) {
	t.Parallel()
	a, b, c := trio(t)
	port := tcpPort(t, c)
	oldC := c.ID()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/" + port}
	c2 := newNode(t, cfg) // no join: the others must find it
	waitFor(t, 10*time.Second, "a and b connect to the new c", func() bool { return connectedTo(a, c2) && connectedTo(b, c2) })
	gossipFlows(t, 5*time.Second, a, b, c2)
	// The old identity is forgotten cluster-wide at once, not after ForgetAfter.
	// At once means without ForgetAfter, which is off here (waitFor allows a loaded machine).
	waitFor(t, 10*time.Second, "the replaced identity is forgotten", func() bool {
		_, onA := member(a, oldC)
		_, onB := member(b, oldC)
		_, onC2 := member(c2, oldC)
		return !onA && !onB && !onC2
	})
}

// A restarted node whose new identity is not on the allow-list is refused,
// even though it answers at a member's address.
func TestNewIdentityStillNeedsTheAllowList(t *testing.T) {
	t.Parallel()
	ka, ida := newKey(t)
	kb, idb := newKey(t)
	cfg := testConfig()
	cfg.Identity, cfg.AllowPeers = ka, []peer.ID{idb}
	a := newNode(t, cfg)
	port := tcpPort(t, a)
	cfg = testConfig()
	cfg.Identity, cfg.AllowPeers, cfg.Join = kb, []peer.ID{ida}, []string{joinAddr(a)}
	b := newNode(t, cfg)
	waitFor(t, 10*time.Second, "a and b connect", func() bool { return connectedTo(b, a) })
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	cfg = testConfig()
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/" + port}
	impostor := newNode(t, cfg)
	waitFor(t, 5*time.Second, "the impostor is refused and counted", func() bool { return b.Stats().Refused >= 1 })
	if connectedTo(b, impostor) || connectedTo(impostor, b) {
		t.Fatal("b connected to a peer that is not on its allow-list")
	}
}

// --join accepts an address without /p2p/<id>: the id is learnt by dialling.
func TestJoinWithoutPeerID(t *testing.T) {
	t.Parallel()
	a := newNode(t, testConfig())
	cfg := testConfig()
	cfg.Join = []string{a.host.Addrs()[0].String()}
	b := newNode(t, cfg)
	waitFor(t, 10*time.Second, "b joins a", func() bool { return connectedTo(b, a) && connectedTo(a, b) })
	gossipFlows(t, 5*time.Second, a, b)
	for _, m := range b.Members() {
		if m.PeerID != a.ID().String() && m.PeerID != b.ID().String() {
			t.Fatalf("placeholder listed as a member: %+v", m)
		}
	}
}

// A join address that is our own is noticed and not dialled again.
func TestJoinOwnAddress(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := testConfig()
	addr := "/ip4/127.0.0.1/tcp/" + strconv.Itoa(port)
	cfg.ListenAddrs, cfg.Join = []string{addr}, []string{addr}
	a := newNode(t, cfg)
	waitFor(t, 5*time.Second, "first probe", func() bool { return a.Stats().Dials >= 1 })
	dials := a.Stats().Dials
	never(t, time.Second, "a keeps dialling itself", func() bool { return a.Stats().Dials > dials+1 })
}

// --join accepts the HTTP URL of a member: its /v1/members names it.
func TestJoinByURL(t *testing.T) {
	t.Parallel()
	a := newNode(t, testConfig())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/members" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer s3cret-token-0123" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var p2p []string
		for _, m := range a.Addrs() {
			p2p = append(p2p, m.String())
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"members": []map[string]any{
			{"id": "someone-else", "self": false},
			{"id": a.ID().String(), "self": true, "p2p": p2p},
		}})
	}))
	t.Cleanup(srv.Close)
	cfg := testConfig()
	cfg.Join = []string{strings.Replace(srv.URL, "http://", "http://s3cret-token-0123@", 1) + "/"}
	b := newNode(t, cfg)
	waitFor(t, 10*time.Second, "b joins a through its URL", func() bool { return connectedTo(b, a) })
	gossipFlows(t, 5*time.Second, a, b)
}

func TestJoinParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ join, want string }{
		{"127.0.0.1:7379", "not a multiaddr"},
		{"/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo", "no transport address"},
		{"http://", "not a URL with a host"},
	} {
		cfg := testConfig()
		cfg.Join = []string{tc.join}
		_, err := New(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.join) {
			t.Errorf("join %q: err = %v, want it to name the entry and say %q", tc.join, err, tc.want)
		}
	}
}

// recorder is a slog handler that keeps the records it sees.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// count returns how many records at level lvl have msg as their message.
func (r *recorder) count(lvl slog.Level, msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.recs {
		if rec.Level == lvl && rec.Message == msg {
			n++
		}
	}
	return n
}

// A dead join address is a warning (once, not once per redial), a counter,
// and its recovery is logged.
func TestFailedJoinIsLoudOnceAndRecoveryLogged(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "/ip4/127.0.0.1/tcp/" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	rec := &recorder{}
	cfg := testConfig()
	cfg.Logger = slog.New(rec)
	cfg.Join = []string{addr}
	b := newNode(t, cfg)
	waitFor(t, 10*time.Second, "several failed dials", func() bool { return b.Stats().DialFailures >= 3 })
	if n := rec.count(slog.LevelWarn, "cannot reach join address"); n != 1 {
		t.Fatalf("%d warnings for a join address down for %d dials, want 1", n, b.Stats().DialFailures)
	}

	cfg = testConfig()
	cfg.ListenAddrs = []string{addr}
	a := newNode(t, cfg)
	waitFor(t, 10*time.Second, "b joins a once it listens", func() bool { return connectedTo(b, a) })
	waitFor(t, 5*time.Second, "recovery logged", func() bool { return rec.count(slog.LevelInfo, "join address reachable again") == 1 })

	// Losing a known member is logged and counted, and so is regaining it.
	waitFor(t, 5*time.Second, "b knows a's record", func() bool { m, ok := member(b, a.ID()); return ok && m.Known })
	b.Gater().Block(a.ID())
	waitFor(t, 5*time.Second, "loss counted", func() bool { return b.Stats().MembersLost == 1 })
	b.Gater().Unblock(a.ID())
	waitFor(t, 5*time.Second, "regain counted", func() bool { return b.Stats().MembersRegained == 1 })
	if rec.count(slog.LevelInfo, "lost connection to member") != 1 {
		t.Fatal("loss not logged once")
	}
}

// blackhole is a TCP proxy that can swallow everything on the connections
// it holds without closing them: what a peer killed behind a network cut
// looks like to the other side.
type blackhole struct {
	l      net.Listener
	target string

	mu     sync.Mutex
	frozen bool // connections open now never forward again
	conns  []*holeConn
	wg     sync.WaitGroup
}

type holeConn struct {
	mu     sync.Mutex
	frozen bool
	a, b   net.Conn
}

func (h *holeConn) isFrozen() bool { h.mu.Lock(); defer h.mu.Unlock(); return h.frozen }

func newBlackhole(t *testing.T, target string) *blackhole {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bh := &blackhole{l: l, target: target}
	bh.wg.Add(1)
	go bh.accept()
	t.Cleanup(bh.close)
	return bh
}

func (bh *blackhole) port() string { return strconv.Itoa(bh.l.Addr().(*net.TCPAddr).Port) }

func (bh *blackhole) accept() {
	defer bh.wg.Done()
	for {
		in, err := bh.l.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", bh.target)
		if err != nil {
			in.Close()
			continue
		}
		hc := &holeConn{a: in, b: out}
		bh.mu.Lock()
		bh.conns = append(bh.conns, hc)
		bh.mu.Unlock()
		bh.wg.Add(2)
		go bh.pipe(hc, in, out)
		go bh.pipe(hc, out, in)
	}
}

// pipe copies src to dst until src fails; a frozen connection drops what
// it reads and never closes dst.
func (bh *blackhole) pipe(hc *holeConn, src, dst net.Conn) {
	defer bh.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !hc.isFrozen() {
			if _, werr := dst.Write(buf[:n]); werr != nil && !hc.isFrozen() {
				src.Close()
				return
			}
		}
		if err != nil {
			if !hc.isFrozen() {
				dst.Close()
			}
			return
		}
	}
}

// freeze makes every connection open now a black hole.
func (bh *blackhole) freeze() {
	bh.mu.Lock()
	defer bh.mu.Unlock()
	for _, hc := range bh.conns {
		hc.mu.Lock()
		hc.frozen = true
		hc.mu.Unlock()
	}
}

func (bh *blackhole) close() {
	bh.l.Close()
	bh.mu.Lock()
	for _, hc := range bh.conns {
		hc.a.Close()
		hc.b.Close()
	}
	bh.mu.Unlock()
	bh.wg.Wait()
}

// The stuck-gossip bug of issue 11: n is killed while its link to b is cut
// (b's connection to it stays open, silently dead), then restarts with the
// same identity and dials b. b must drop the dead connection so that its
// gossip reaches n on the new one, within 10 s: without the fix it waits for the dead
// connection's keepalive to fail, tens of seconds (3 s was exceeded under CPU contention).
func TestRestartAfterSilentCutGetsGossip(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.DataDir = t.TempDir() // identity and catalog survive restarts, as with --data-dir
	n := newNode(t, cfg)
	nPort := tcpPort(t, n)
	bh := newBlackhole(t, "127.0.0.1:"+nPort)
	// n first restarts so that it announces the proxy address: b reaches
	// n only through the proxy.
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/" + nPort}
	cfg.AnnounceAddrs = []string{"/ip4/127.0.0.1/tcp/" + bh.port()}
	n = newNode(t, cfg)

	bcfg := testConfig()
	bcfg.Join = []string{"/ip4/127.0.0.1/tcp/" + bh.port() + "/p2p/" + n.ID().String()}
	b := newNode(t, bcfg)
	waitFor(t, 10*time.Second, "b and n connected with gossip ready, n's catalog holding b", func() bool {
		m, ok := member(n, b.ID())
		return ok && m.Known && connectedTo(b, n) && gossipReady(b, n) && gossipReady(n, b)
	})
	if len(n.host.Network().ConnsToPeer(b.ID())) != 1 {
		t.Fatalf("n holds %d connections to b, want the proxied one only", len(n.host.Network().ConnsToPeer(b.ID())))
	}

	bh.freeze() // cut, then kill n: b never hears of it
	closeStart := time.Now()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	// Close does not wait on the dead link (bitswap's workers did, 10 s).
	if d := time.Since(closeStart); d > 3*time.Second {
		t.Fatalf("Close took %v with a silently dead peer", d)
	}
	if !connectedTo(b, n) {
		t.Fatal("b noticed the silent cut; the test no longer reproduces the bug")
	}

	cfg.Self.Region = "restarted"
	start := time.Now()
	n2 := newNode(t, cfg)
	if n2.ID() != n.ID() {
		t.Fatal("the data dir did not keep the identity")
	}
	in := collect(n2)
	waitWithin(t, 10*time.Second, "b's gossip reaches the restarted n", func() bool {
		_ = b.Publish(context.Background(), []byte("after-restart"))
		return in.has(b.ID(), "after-restart")
	})
	t.Logf("restart to gossip: %v", time.Since(start))
	// Data moved to the new connection as soon as it opened (direct.go); the dead one is
	// probed and closed after it, which the catalog's streams need.
	waitFor(t, 10*time.Second, "the dead connection closed", func() bool { return b.Stats().StaleConnsClosed >= 1 })
	// The catalog (bitswap streams on the same connections) recovers too:
	// b fetches n's new record.
	waitFor(t, 5*time.Second, "b sees n's new record", func() bool {
		m, ok := member(b, n2.ID())
		return ok && m.Region == "restarted"
	})
}

// go-ds-crdt's routine errors are not ERRORs: "context canceled" on Close
// and fetch timeouts for heads of vanished authors.
func TestCatalogLogDemotesRoutineErrors(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	l := crdtLogger{slog.New(rec)}
	l.Errorf("error processing new head: %s", context.DeadlineExceeded)
	l.Error("error in worker: ", context.Canceled)
	l.Error("disk on fire")
	if rec.count(slog.LevelWarn, "error processing new head: context deadline exceeded") != 1 ||
		rec.count(slog.LevelDebug, "error in worker: context canceled") != 1 ||
		rec.count(slog.LevelError, "disk on fire") != 1 {
		t.Fatalf("levels not mapped as documented: %+v", rec.recs)
	}
}

// A normal shutdown of a connected pair logs no ERROR.
func TestCloseLogsNoError(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	cfg := testConfig()
	cfg.Logger = slog.New(rec)
	a := newNode(t, cfg)
	cfg.Join = []string{joinAddr(a)}
	b := newNode(t, cfg)
	waitFor(t, 10*time.Second, "connected with gossip ready", func() bool { return connectedTo(a, b) && gossipReady(a, b) && gossipReady(b, a) })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, r := range rec.recs {
		if r.Level >= slog.LevelError {
			t.Errorf("ERROR logged on a normal shutdown: %s", r.Message)
		}
	}
}

// When gossipsub holds no outbound stream to a connected member (it gives
// up on a peer whose streams died repeatedly while it stayed connected),
// the member is reconnected so that gossipsub starts afresh.
func TestGossipWithoutStreamIsReconnected(t *testing.T) {
	t.Parallel()
	a, b := joined(t)
	waitFor(t, 10*time.Second, "connected, records known, gossip ready", func() bool {
		m, ok := member(a, b.ID())
		return ok && m.Known && connectedTo(a, b) && gossipReady(a, b) && gossipReady(b, a) && a.tr.hasStream(b.ID())
	})
	a.tr.OnClosedOutboundStream(b.ID()) // what gossipsub reports when it drops the peer
	waitFor(t, 5*time.Second, "the member is reconnected", func() bool { return a.Stats().GossipResets == 1 })
	waitFor(t, 5*time.Second, "a new stream", func() bool { return connectedTo(a, b) && a.tr.hasStream(b.ID()) })
	gossipFlows(t, 5*time.Second, a, b)
	if n := a.Stats().GossipResets; n != 1 {
		t.Fatalf("%d resets, want 1", n)
	}
}

// Issue 11's first bullet behind a network cut: the seed is killed while
// its link to b is silently dead, and comes back in memory (a new identity,
// knowing nobody). Nobody dials anybody unless b notices that its old
// connection is dead: it must, through failed pings, and then find the new
// identity at the old address.
func TestSeedRestartedInMemoryAfterSilentCut(t *testing.T) {
	t.Parallel()
	n := newNode(t, testConfig())
	nPort := tcpPort(t, n)
	bh := newBlackhole(t, "127.0.0.1:"+nPort)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/" + nPort}
	cfg.AnnounceAddrs = []string{"/ip4/127.0.0.1/tcp/" + bh.port()}
	n = newNode(t, cfg)
	bcfg := testConfig()
	bcfg.Join = []string{"/ip4/127.0.0.1/tcp/" + bh.port() + "/p2p/" + n.ID().String()}
	b := newNode(t, bcfg)
	waitFor(t, 10*time.Second, "b and n connected with gossip ready", func() bool {
		return connectedTo(b, n) && gossipReady(b, n) && gossipReady(n, b)
	})
	bh.freeze()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n2 := newNode(t, cfg) // same flags, in memory: a new identity, no join
	waitFor(t, 15*time.Second, "b finds the new identity", func() bool { return connectedTo(b, n2) })
	gossipFlows(t, 5*time.Second, b, n2)
	t.Logf("restart to gossip: %v (dead connection closed after %d failed pings)", time.Since(start), b.deadAfterPings())
	if b.Stats().StaleConnsClosed < 1 || b.Stats().IdentityChanges < 1 {
		t.Fatalf("stats: %+v", b.Stats())
	}
}

// A newcomer at a member's address without the cluster key is never
// adopted: its handshake fails, and that is counted.
func TestNewIdentityStillNeedsTheClusterKey(t *testing.T) {
	t.Parallel()
	key1, key2 := make([]byte, 32), make([]byte, 32)
	key1[0], key2[0] = 1, 2
	cfg := testConfig()
	cfg.ClusterKey = key1
	a := newNode(t, cfg)
	port := tcpPort(t, a)
	cfg.Join = []string{joinAddr(a)}
	b := newNode(t, cfg)
	waitFor(t, 10*time.Second, "b joins a", func() bool { return connectedTo(b, a) })
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	cfg = testConfig()
	cfg.ClusterKey = key2
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/" + port}
	other := newNode(t, cfg)
	waitFor(t, 15*time.Second, "handshake failures counted", func() bool { return b.Stats().HandshakeFailures >= 1 })
	if connectedTo(b, other) || b.Stats().IdentityChanges != 0 {
		t.Fatalf("adopted a peer without the cluster key: %+v", b.Stats())
	}
}
