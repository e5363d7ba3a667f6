package testnet

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Origin is a test network's HTTP origin for nodes started with --origin: GET /<key> answers
// OriginValue(key) after a fixed service time, and counts the requests per key. It lives in one
// region; nodes reach it only through the WAN emulator (a front named "origin"), each with the
// one-way delay between its region and the origin's. Every connection it accepts is checked to
// come from the emulator's relay: one from a node process directly is refused and counted
// (Direct), as a bypass.
type Origin struct {
	Region  string
	Service time.Duration // time the handler takes per request

	front string
	ln    net.Listener
	srv   *http.Server
	done  chan struct{}

	mu       sync.Mutex
	requests map[string]int
	inflight int
	direct   atomic.Uint64
}

// OriginValue is what the test origin answers for key.
func OriginValue(key string) string { return "origin-value-of-" + key }

// originName is the emulator endpoint of the origin.
const originName = "origin"

// StartOrigin starts the origin in region (by name) with the given service time and connects it
// to the emulator of c: every node gets a link to it with the one-way delay from its region. The
// URL for --origin is OriginURL(cfg) (known before the cluster starts).
func StartOrigin(c *Cluster, region string, service time.Duration) (*Origin, error) {
	m := c.Matrix()
	if _, ok := m.Region(region); !ok {
		return nil, fmt.Errorf("testnet: origin region %q is not in the network", region)
	}
	sub := c.cfg.Subnet
	ln, err := net.Listen("tcp4", netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, sub, 5, 2}), 0).String())
	if err != nil {
		return nil, fmt.Errorf("testnet: origin: %w", err)
	}
	o := &Origin{Region: region, Service: service, ln: ln, requests: map[string]int{}, done: make(chan struct{}),
		front: originFront(sub)}
	o.srv = &http.Server{Handler: o, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(o.done)
		o.srv.Serve(&checkedListener{Listener: ln, o: o})
	}()
	if err := c.Emu.AddNode(originName, o.front, ln.Addr().String()); err != nil {
		o.Close()
		return nil, err
	}
	for _, n := range c.Nodes {
		c.Emu.SetDelay(n.Name, originName, m.OneWay(n.Region, region), m.Jitter)
		c.Emu.SetDelay(originName, n.Name, m.OneWay(region, n.Region), m.Jitter)
	}
	return o, nil
}

func originFront(subnet byte) string {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, subnet, 5, 1}), 8000).String()
}

// OriginURL is the --origin URL of the origin a cluster with this (defaulted) configuration
// will have.
func OriginURL(subnet byte) string { return "http://" + originFront(subnet) + "/" }

// ServeHTTP answers GET /<key>.
func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/"))
	if err != nil || r.Method != http.MethodGet {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	o.requests[key]++
	o.inflight++
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.inflight--
		o.mu.Unlock()
	}()
	t := time.NewTimer(o.Service)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	if strings.HasPrefix(key, "absent/") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "max-age=300")
	w.Write([]byte(OriginValue(key)))
}

// Requests returns how many requests key received.
func (o *Origin) Requests(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests[key]
}

// Idle waits until no request is in flight or ctx is done.
func (o *Origin) Idle(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		o.mu.Lock()
		n := o.inflight
		o.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Direct counts connections that reached the origin without crossing the emulator (must be 0).
func (o *Origin) Direct() uint64 { return o.direct.Load() }

// Close stops the origin.
func (o *Origin) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := o.srv.Shutdown(ctx)
	<-o.done
	return err
}

// checkedListener accepts only connections whose client socket this process owns (the
// emulator's relay dialling the origin); others are closed and counted.
type checkedListener struct {
	net.Listener
	o *Origin
}

func (l *checkedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		remote := c.RemoteAddr().(*net.TCPAddr).AddrPort()
		local := c.LocalAddr().(*net.TCPAddr).AddrPort()
		if _, err := socketOwner(remote, local, []int{os.Getpid()}); err != nil {
			l.o.direct.Add(1)
			c.Close()
			continue
		}
		return c, nil
	}
}

var _ net.Listener = (*checkedListener)(nil)
