package testnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Emulator is the userspace WAN between the nodes of a test network. Every node has a front: a
// relay listener on the address the node announces to its peers. A connection accepted by B's
// front is attributed to the node that dialled it (by its source IP when the node dials from its
// own address, else by asking the kernel which registered process owns the client socket), then
// relayed to B's real listen address through two delay queues, one per direction, each applying
// the one-way delay of its directed link (A→B for what A sends, B→A for the replies).
//
// Faults act on links: Cut resets the connections between two nodes and refuses new ones; Stall
// holds the bytes of one direction (a black hole that keeps the connection) until Resume; Heal
// lifts both. Delays may change at any time and apply to bytes arriving afterwards.
//
// All methods are safe for concurrent use.
type Emulator struct {
	dialTimeout time.Duration

	mu     sync.Mutex
	nodes  map[string]*endpoint
	links  map[[2]string]*link
	pairs  map[[2]string]*pairState
	byIP   map[netip.Addr]string
	byPID  map[int]string
	closed bool

	wg           sync.WaitGroup
	accepted     atomic.Uint64
	unclassified atomic.Uint64
	refused      atomic.Uint64
	dialFailed   atomic.Uint64
}

// endpoint is one node as the emulator knows it.
type endpoint struct {
	name   string
	front  string // relay address peers dial
	target string // the node's real listen address
	ln     net.Listener
}

// pairState is the undirected state of two nodes: cut or not, and their live relayed connections.
type pairState struct {
	cut   bool
	conns map[*relayConn]struct{}
}

// ErrEmulatorClosed is returned by calls made after Close.
var ErrEmulatorClosed = errors.New("testnet: emulator closed")

// NewEmulator returns an emulator with no nodes.
func NewEmulator() *Emulator {
	return &Emulator{
		dialTimeout: 2 * time.Second,
		nodes:       map[string]*endpoint{},
		links:       map[[2]string]*link{},
		pairs:       map[[2]string]*pairState{},
		byIP:        map[netip.Addr]string{},
		byPID:       map[int]string{},
	}
}

// AddNode starts the relay front of node name on front and relays what it accepts to target.
func (e *Emulator) AddNode(name, front, target string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrEmulatorClosed
	}
	if _, dup := e.nodes[name]; dup {
		return fmt.Errorf("testnet: node %q added twice", name)
	}
	ln, err := net.Listen("tcp", front)
	if err != nil {
		return fmt.Errorf("testnet: relay front for %s: %w", name, err)
	}
	ep := &endpoint{name: name, front: ln.Addr().String(), target: target, ln: ln}
	e.nodes[name] = ep
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.serve(ep)
	}()
	return nil
}

// Front returns the relay address of node name ("" if unknown).
func (e *Emulator) Front(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ep := e.nodes[name]; ep != nil {
		return ep.front
	}
	return ""
}

// SetSourceIP attributes connections from ip to node name.
func (e *Emulator) SetSourceIP(ip netip.Addr, name string) {
	e.mu.Lock()
	e.byIP[ip.Unmap()] = name
	e.mu.Unlock()
}

// SetSourcePID attributes connections whose client socket process pid owns to node name; a
// name of "" forgets pid.
func (e *Emulator) SetSourcePID(pid int, name string) {
	e.mu.Lock()
	if name == "" {
		delete(e.byPID, pid)
	} else {
		e.byPID[pid] = name
	}
	e.mu.Unlock()
}

// SetDelay sets the one-way delay and jitter of the directed link from -> to.
func (e *Emulator) SetDelay(from, to string, delay, jitter time.Duration) {
	l := e.link(from, to)
	l.delay.Store(int64(delay))
	l.jitter.Store(int64(jitter))
}

// Delay returns the configured one-way delay of from -> to.
func (e *Emulator) Delay(from, to string) time.Duration {
	return time.Duration(e.link(from, to).delay.Load())
}

// Cut disconnects a and b: their relayed connections are reset and new ones refused until Heal.
// TCP cannot lose one direction only; use Stall for a one-way black hole.
func (e *Emulator) Cut(a, b string) {
	e.mu.Lock()
	ps := e.pairLocked(a, b)
	ps.cut = true
	conns := make([]*relayConn, 0, len(ps.conns))
	for rc := range ps.conns {
		conns = append(conns, rc)
	}
	e.mu.Unlock()
	for _, rc := range conns {
		rc.reset()
	}
}

// Stall holds every byte sent from -> to (connections stay open) until Resume or Heal.
func (e *Emulator) Stall(from, to string) { e.link(from, to).stall() }

// Resume lifts a Stall of from -> to.
func (e *Emulator) Resume(from, to string) { e.link(from, to).resume() }

// Heal lifts a Cut between a and b and the stalls of both directions.
func (e *Emulator) Heal(a, b string) {
	e.mu.Lock()
	e.pairLocked(a, b).cut = false
	e.mu.Unlock()
	e.link(a, b).resume()
	e.link(b, a).resume()
}

// HealAll lifts every cut and stall.
func (e *Emulator) HealAll() {
	e.mu.Lock()
	for _, ps := range e.pairs {
		ps.cut = false
	}
	links := make([]*link, 0, len(e.links))
	for _, l := range e.links {
		links = append(links, l)
	}
	e.mu.Unlock()
	for _, l := range links {
		l.resume()
	}
}

// IsCut reports whether a and b are cut.
func (e *Emulator) IsCut(a, b string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pairLocked(a, b).cut
}

// ResetConns resets the relayed connections of node name (used when a node is paused or killed:
// the emulator does not need it, but tests may).
func (e *Emulator) ResetConns(name string) {
	e.mu.Lock()
	var conns []*relayConn
	for k, ps := range e.pairs {
		if k[0] == name || k[1] == name {
			for rc := range ps.conns {
				conns = append(conns, rc)
			}
		}
	}
	e.mu.Unlock()
	for _, rc := range conns {
		rc.reset()
	}
}

// EmulatorStats counts what the fronts accepted.
type EmulatorStats struct {
	Accepted     uint64 // connections accepted by the fronts
	Unclassified uint64 // refused: the dialling node could not be identified
	Refused      uint64 // refused: the pair is cut
	DialFailed   uint64 // the target node did not answer
	Links        []LinkStats
}

// Stats returns the counters and every link's statistics, sorted by (from, to).
func (e *Emulator) Stats() EmulatorStats {
	e.mu.Lock()
	links := make([]*link, 0, len(e.links))
	for _, l := range e.links {
		links = append(links, l)
	}
	open := map[[2]string]int{}
	cut := map[[2]string]bool{}
	for k, ps := range e.pairs {
		for rc := range ps.conns {
			open[[2]string{rc.src, rc.dst}]++
			open[[2]string{rc.dst, rc.src}]++
		}
		cut[k] = ps.cut
	}
	e.mu.Unlock()
	s := EmulatorStats{Accepted: e.accepted.Load(), Unclassified: e.unclassified.Load(),
		Refused: e.refused.Load(), DialFailed: e.dialFailed.Load()}
	for _, l := range links {
		ls := l.snapshot()
		ls.OpenConns = open[[2]string{l.from, l.to}]
		if cut[pairKey(l.from, l.to)] {
			ls.Cut = 1
		}
		s.Links = append(s.Links, ls)
	}
	slices.SortFunc(s.Links, func(a, b LinkStats) int {
		if a.From != b.From {
			return cmpString(a.From, b.From)
		}
		return cmpString(a.To, b.To)
	})
	return s
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Close stops the fronts, resets every relayed connection and waits for all relay goroutines.
// It is idempotent.
func (e *Emulator) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	var conns []*relayConn
	for _, ep := range e.nodes {
		ep.ln.Close()
	}
	for _, ps := range e.pairs {
		for rc := range ps.conns {
			conns = append(conns, rc)
		}
	}
	e.mu.Unlock()
	for _, l := range e.allLinks() {
		l.resume()
	}
	for _, rc := range conns {
		rc.reset()
	}
	e.wg.Wait()
	return nil
}

func (e *Emulator) allLinks() []*link {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*link, 0, len(e.links))
	for _, l := range e.links {
		out = append(out, l)
	}
	return out
}

func (e *Emulator) link(from, to string) *link {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := [2]string{from, to}
	l := e.links[k]
	if l == nil {
		l = newLink(from, to)
		e.links[k] = l
	}
	return l
}

func pairKey(a, b string) [2]string {
	if b < a {
		a, b = b, a
	}
	return [2]string{a, b}
}

func (e *Emulator) pairLocked(a, b string) *pairState {
	k := pairKey(a, b)
	ps := e.pairs[k]
	if ps == nil {
		ps = &pairState{conns: map[*relayConn]struct{}{}}
		e.pairs[k] = ps
	}
	return ps
}

// serve accepts on one front until it is closed.
func (e *Emulator) serve(ep *endpoint) {
	for {
		c, err := ep.ln.Accept()
		if err != nil {
			return // closed
		}
		e.accepted.Add(1)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.relay(ep, c.(*net.TCPConn))
		}()
	}
}

// relay attributes one accepted connection to its source node and relays it to the target.
func (e *Emulator) relay(ep *endpoint, client *net.TCPConn) {
	src, ok := e.classify(client)
	if !ok {
		e.unclassified.Add(1)
		resetConn(client)
		return
	}
	if e.IsCut(src, ep.name) {
		e.refused.Add(1)
		resetConn(client)
		return
	}
	d, err := net.DialTimeout("tcp", ep.target, e.dialTimeout)
	if err != nil {
		e.dialFailed.Add(1)
		resetConn(client)
		return
	}
	server := d.(*net.TCPConn)
	client.SetNoDelay(true)
	server.SetNoDelay(true)
	rc := newRelayConn(src, ep.name, client, server)

	e.mu.Lock()
	ps := e.pairLocked(src, ep.name)
	if e.closed || ps.cut { // cut (or closed) while we dialled
		e.mu.Unlock()
		e.refused.Add(1)
		rc.reset()
		return
	}
	ps.conns[rc] = struct{}{}
	e.mu.Unlock()

	rc.run(e.link(src, ep.name), e.link(ep.name, src))

	e.mu.Lock()
	delete(ps.conns, rc)
	e.mu.Unlock()
}

// classify names the node that opened c: by source IP, else by the process owning the client
// socket.
func (e *Emulator) classify(c *net.TCPConn) (string, bool) {
	remote := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	local := c.LocalAddr().(*net.TCPAddr).AddrPort()
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	e.mu.Lock()
	name, ok := e.byIP[remote.Addr()]
	pids := make([]int, 0, len(e.byPID))
	for pid := range e.byPID {
		pids = append(pids, pid)
	}
	e.mu.Unlock()
	if ok {
		return name, true
	}
	if len(pids) == 0 {
		return "", false
	}
	// The client socket's local address is our remote one and vice versa.
	pid, err := socketOwner(remote, local, pids)
	if err != nil {
		return "", false
	}
	e.mu.Lock()
	name, ok = e.byPID[pid]
	e.mu.Unlock()
	return name, ok
}
