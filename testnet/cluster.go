package testnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Ports are the ports every node listens on. Every node has its own loopback address, so they
// never collide with each other, but a server bound to all addresses (a local Redis on
// 0.0.0.0:6379) holds its port on every loopback address too: then move them.
type Ports struct {
	P2P, RESP, HTTP uint16
}

// DefaultPorts are libp2p 7000, RESP 6379 and HTTP 8080.
func DefaultPorts() Ports { return Ports{P2P: 7000, RESP: 6379, HTTP: 8080} }

// withDefaults fills the zero ports from DefaultPorts.
func (p Ports) withDefaults() Ports {
	d := DefaultPorts()
	if p.P2P == 0 {
		p.P2P = d.P2P
	}
	if p.RESP == 0 {
		p.RESP = d.RESP
	}
	if p.HTTP == 0 {
		p.HTTP = d.HTTP
	}
	return p
}

// ClusterConfig configures a test network of real geocache processes. The zero value of every
// field but Binary and Dir selects the default in its comment.
type ClusterConfig struct {
	// Binary is the geocache executable. Required.
	Binary string
	// Dir holds every node's data directory and log file. Required.
	Dir string
	// Matrix is the emulated WAN. Default DefaultMatrix().
	Matrix Matrix
	// Regions is how many of the matrix's regions get nodes. Default 3.
	Regions int
	// NodesPerRegion is the number of nodes per region. Default 1.
	NodesPerRegion int
	// Subnet is the second octet of the 127.Subnet.0.0/16 block the network lives in. Default: a
	// random one in [100, 250), so that concurrent test networks on a machine do not collide.
	Subnet byte
	// LogLevel is the nodes' log level. Default "warn".
	LogLevel string
	// Ports are the nodes' listen ports. Default DefaultPorts() for each zero field.
	Ports Ports
	// ClockOffsets shifts the wall clock of named nodes from their first start (--clock-offset).
	ClockOffsets map[string]time.Duration
	// ExtraArgs are appended to every node's command line.
	ExtraArgs []string
	// StartTimeout bounds how long a node may take to answer /healthz. Default 30 s.
	StartTimeout time.Duration
	// Progress receives one-line progress messages. Default: discarded.
	Progress io.Writer
}

func (c ClusterConfig) withDefaults() (ClusterConfig, error) {
	if c.Binary == "" || c.Dir == "" {
		return c, errors.New("testnet: ClusterConfig needs Binary and Dir")
	}
	if c.Matrix.Regions == nil {
		c.Matrix = DefaultMatrix()
	}
	if c.Regions == 0 {
		c.Regions = 3
	}
	if c.NodesPerRegion == 0 {
		c.NodesPerRegion = 1
	}
	if c.NodesPerRegion < 0 || c.NodesPerRegion > 50 {
		return c, fmt.Errorf("testnet: NodesPerRegion must be 1..50, got %d", c.NodesPerRegion)
	}
	m, err := c.Matrix.First(c.Regions)
	if err != nil {
		return c, err
	}
	c.Matrix = m
	if c.Subnet == 0 {
		c.Subnet = byte(100 + rand.IntN(150))
	}
	if c.LogLevel == "" {
		c.LogLevel = "warn"
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 30 * time.Second
	}
	c.Ports = c.Ports.withDefaults()
	if p := c.Ports; p.P2P == p.RESP || p.P2P == p.HTTP || p.RESP == p.HTTP {
		return c, fmt.Errorf("testnet: the libp2p, RESP and HTTP ports must differ, got %d, %d, %d", p.P2P, p.RESP, p.HTTP)
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c, nil
}

// NodeState is the life-cycle state of a node process.
type NodeState string

// Node states.
const (
	StateRunning NodeState = "running"
	StatePaused  NodeState = "paused"  // SIGSTOP
	StateKilled  NodeState = "killed"  // SIGKILL
	StateStopped NodeState = "stopped" // SIGTERM, graceful
)

// Node is one geocache process of the network.
type Node struct {
	Name    string // region-k, for example "eu-west-1"
	Region  string
	Index   int
	IP      netip.Addr // the node's own address: p2p, RESP and HTTP listen here
	FrontIP netip.Addr // where the node's relay front listens: the address peers dial
	PeerID  string
	DataDir string
	ports   Ports

	mu          sync.Mutex
	cmd         *exec.Cmd
	exited      chan struct{}
	state       NodeState
	incarnation int
	replica     string // replica id of the current incarnation
	offset      time.Duration
	lastStart   time.Time
	inMemory    bool // restarted without --data-dir and --join (RestartNewIdentity)
}

// P2P is the node's real libp2p listen address (only the relay dials it).
func (n *Node) P2P() string { return netip.AddrPortFrom(n.IP, n.ports.P2P).String() }

// Front is the relay address peers dial to reach n.
func (n *Node) Front() string { return netip.AddrPortFrom(n.FrontIP, n.ports.P2P).String() }

// RESP is the node's Redis protocol address.
func (n *Node) RESP() string { return netip.AddrPortFrom(n.IP, n.ports.RESP).String() }

// HTTP is the node's HTTP API base URL.
func (n *Node) HTTP() string { return "http://" + netip.AddrPortFrom(n.IP, n.ports.HTTP).String() }

// State returns the node's state, its incarnation (starts so far) and current replica id.
func (n *Node) State() (NodeState, int, string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state, n.incarnation, n.replica
}

// ClockOffset is the --clock-offset of the current incarnation.
func (n *Node) ClockOffset() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.offset
}

// Cluster is a running test network: the emulator and the node processes.
type Cluster struct {
	cfg   ClusterConfig
	Emu   *Emulator
	Nodes []*Node
	http  *http.Client
	Log   *EventLog

	mu    sync.Mutex
	incs  []Incarnation
	close sync.Once
}

// StartCluster creates identities, starts the emulator and every node, and waits until every
// node answers and is connected to every other (through the emulator).
func StartCluster(ctx context.Context, cfg ClusterConfig) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, Emu: NewEmulator(), Log: newEventLog(),
		http: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second, DisableCompression: true}}}
	for ri, r := range cfg.Matrix.Regions {
		for k := 1; k <= cfg.NodesPerRegion; k++ {
			i := ri*cfg.NodesPerRegion + k - 1
			if i >= 250 {
				return nil, errors.New("testnet: at most 250 nodes")
			}
			n := &Node{Name: fmt.Sprintf("%s-%d", r.Name, k), Region: r.Name, Index: i,
				IP:      netip.AddrFrom4([4]byte{127, cfg.Subnet, 2, byte(i + 1)}),
				FrontIP: netip.AddrFrom4([4]byte{127, cfg.Subnet, 1, byte(i + 1)}),
				DataDir: filepath.Join(cfg.Dir, fmt.Sprintf("%s-%d", r.Name, k)), ports: cfg.Ports,
				offset: cfg.ClockOffsets[fmt.Sprintf("%s-%d", r.Name, k)], state: StateStopped}
			if n.PeerID, err = writeIdentity(n.DataDir); err != nil {
				return nil, err
			}
			c.Nodes = append(c.Nodes, n)
		}
	}
	for _, a := range c.Nodes {
		if err := c.Emu.AddNode(a.Name, a.Front(), a.P2P()); err != nil {
			c.Close()
			return nil, err
		}
		// Should the node ever dial from its own address, that identifies it too.
		c.Emu.SetSourceIP(a.IP, a.Name)
		for _, b := range c.Nodes {
			if a != b {
				c.Emu.SetDelay(a.Name, b.Name, cfg.Matrix.OneWay(a.Region, b.Region), cfg.Matrix.Jitter)
			}
		}
	}
	for _, n := range c.Nodes {
		if err := c.start(n); err != nil {
			c.Close()
			return nil, err
		}
	}
	for _, n := range c.Nodes {
		if err := c.waitHealthy(ctx, n); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.WaitConnected(ctx, 60*time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Config returns the defaulted configuration.
func (c *Cluster) Config() ClusterConfig { return c.cfg }

// Matrix is the WAN the cluster runs on.
func (c *Cluster) Matrix() Matrix { return c.cfg.Matrix }

// Node returns the named node, or the first node of the named region.
func (c *Cluster) Node(name string) (*Node, error) {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n, nil
		}
	}
	for _, n := range c.Nodes {
		if n.Region == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("testnet: no node or region %q", name)
}

// args is a node's command line.
func (c *Cluster) args(n *Node) []string {
	r, _ := c.cfg.Matrix.Region(n.Region)
	a := []string{
		"--region", n.Region,
		"--lat", strconv.FormatFloat(r.Lat, 'f', -1, 64),
		"--lon", strconv.FormatFloat(r.Lon, 'f', -1, 64),
		"--p2p-listen", fmt.Sprintf("/ip4/%s/tcp/%d", n.IP, n.ports.P2P),
		// Peers are told the relay front, never the real address.
		"--p2p-announce", fmt.Sprintf("/ip4/%s/tcp/%d", n.FrontIP, n.ports.P2P),
		"--resp-listen", n.RESP(),
		"--http-listen", netip.AddrPortFrom(n.IP, n.ports.HTTP).String(),
		"--log-level", c.cfg.LogLevel,
	}
	if n.inMemory {
		return append(a, c.cfg.ExtraArgs...)
	}
	a = append(a, "--data-dir", n.DataDir)
	for _, o := range c.Nodes {
		if o != n {
			a = append(a, "--join", fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", o.FrontIP, o.ports.P2P, o.PeerID))
		}
	}
	if n.offset != 0 {
		a = append(a, "--clock-offset", n.offset.String())
	}
	return append(a, c.cfg.ExtraArgs...)
}

// Close stops every node (SIGTERM, SIGKILL after 5 s) and the emulator. It is idempotent.
func (c *Cluster) Close() error {
	c.close.Do(func() {
		var wg sync.WaitGroup
		for _, n := range c.Nodes {
			if st, _, _ := n.State(); st == StateRunning || st == StatePaused {
				wg.Go(func() { c.signal(n, syscall.SIGTERM, 5*time.Second) })
			}
		}
		wg.Wait()
		c.Emu.Close()
		c.http.CloseIdleConnections()
	})
	return nil
}
