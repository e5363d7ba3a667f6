package node

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// memNet is an in-memory network for replication tests in the style of etcd-raft's: gossip is
// delivered synchronously, sync streams are net.Pipe pairs, and links can be cut, healed and
// made lossy. It never sleeps.
type memNet struct {
	mu     sync.Mutex
	nodes  map[string]*Node
	clocks map[*Node]*fakeClock
	cut    map[[2]string]bool
	pipes  map[[2]string][]net.Conn // open sync streams by (opener, peer): a partition closes them
	drop   float64                  // fraction of gossip messages lost
	rng    *rand.Rand
	// lose, when set, is asked about every gossip message: true loses it on the link from→to.
	lose func(from, to string, data []byte) bool
}

func newMemNet() *memNet {
	return &memNet{nodes: map[string]*Node{}, clocks: map[*Node]*fakeClock{}, cut: map[[2]string]bool{}, rng: rand.New(rand.NewPCG(1, 2))}
}

type memTransport struct {
	net *memNet
	id  string
}

func (t *memTransport) Publish(_ context.Context, data []byte) error {
	t.net.mu.Lock()
	var to []*Node
	for id, n := range t.net.nodes {
		if id == t.id || t.net.cut[[2]string{t.id, id}] {
			continue
		}
		if t.net.drop > 0 && t.net.rng.Float64() < t.net.drop {
			continue
		}
		if t.net.lose != nil && t.net.lose(t.id, id, data) {
			continue
		}
		to = append(to, n)
	}
	t.net.mu.Unlock()
	for _, n := range to {
		n.repl.onMessage(t.id, append([]byte(nil), data...))
	}
	return nil
}

func (t *memTransport) OpenSync(_ context.Context, peer string) (io.ReadWriteCloser, error) {
	t.net.mu.Lock()
	n := t.net.nodes[peer]
	cut := t.net.cut[[2]string{t.id, peer}]
	t.net.mu.Unlock()
	if n == nil || cut {
		return nil, io.ErrClosedPipe
	}
	a, b := net.Pipe()
	if !n.goAsync(func() { n.repl.handleSync(t.id, b) }) {
		a.Close()
		return nil, io.ErrClosedPipe
	}
	// A partition must also end a session already under way: otherwise it goes on carrying
	// writes made after the cut (TestTransactionReplicatedAsUnit saw one in a CI run).
	t.net.mu.Lock()
	if t.net.pipes == nil {
		t.net.pipes = map[[2]string][]net.Conn{}
	}
	l := [2]string{t.id, peer}
	t.net.pipes[l] = append(t.net.pipes[l], a)
	t.net.mu.Unlock()
	return a, nil
}

// add starts a replicating node named id on the network and connects it to every other node.
func (m *memNet) add(t *testing.T, id string, mod func(*Config)) *Node {
	t.Helper()
	return m.addWith(t, id, mod, replConfig{})
}

// addWith is add with replication settings (heartbeats and syncs default to fast); it does not
// connect the new node over links already cut.
func (m *memNet) addWith(t *testing.T, id string, mod func(*Config), rc replConfig) *Node {
	t.Helper()
	n, clk := newTestNode(t, mod)
	if rc.HeartbeatInterval == 0 {
		rc.HeartbeatInterval = 20 * time.Millisecond
	}
	if rc.SyncInterval == 0 {
		rc.SyncInterval = 200 * time.Millisecond
	}
	n.enableReplication(&memTransport{net: m, id: id}, rc)
	m.mu.Lock()
	others := make(map[string]*Node, len(m.nodes))
	for k, v := range m.nodes {
		if !m.cut[[2]string{id, k}] {
			others[k] = v
		}
	}
	m.nodes[id] = n
	m.clocks[n] = clk
	m.mu.Unlock()
	for oid, o := range others {
		o.repl.onPeer(id, true)
		n.repl.onPeer(oid, true)
	}
	return n
}

// partition cuts every link between the groups a and b.
func (m *memNet) partition(a, b []string) {
	m.mu.Lock()
	for _, x := range a {
		for _, y := range b {
			m.cut[[2]string{x, y}], m.cut[[2]string{y, x}] = true, true
			for _, l := range [][2]string{{x, y}, {y, x}} {
				for _, c := range m.pipes[l] {
					c.Close()
				}
				delete(m.pipes, l)
			}
		}
	}
	nodes := m.nodes
	m.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			nodes[x].repl.onPeer(y, false)
			nodes[y].repl.onPeer(x, false)
		}
	}
}

// heal restores every link and reconnects, which starts anti-entropy.
func (m *memNet) heal() {
	m.mu.Lock()
	links := m.cut
	m.cut = map[[2]string]bool{}
	nodes := m.nodes
	m.mu.Unlock()
	for l := range links {
		nodes[l[0]].repl.onPeer(l[1], true)
	}
}

// clock returns the fake clock of a node on this network.
func (m *memNet) clock(n *Node) *fakeClock {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.clocks[n]
}
