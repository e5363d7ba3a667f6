package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/geocache/geocache/geo"
)

// Errors returned by the Client. Connection and server errors are returned
// wrapped, so errors.Is and errors.As see the underlying cause.
var (
	// ErrClosed is returned by every call after Close.
	ErrClosed = errors.New("client: closed")
	// ErrNoNode means no node could serve the call: none answers probes,
	// or every node tried failed.
	ErrNoNode = errors.New("client: no reachable node")
	// ErrNotFound is Get's answer for a missing key.
	ErrNotFound = errors.New("client: key not found")
)

// Node describes one cache node as the client sees it. It is a snapshot.
type Node struct {
	// ID is the node's id from the member list (its RESP address when the
	// list gives none).
	ID     string
	Region string
	// Coords is where the node says it is; nil when it did not say.
	Coords *geo.Coordinates
	// RESP is the address commands go to; HTTP the base URL of its HTTP
	// API ("" when unknown).
	RESP string
	HTTP string
	// State is the node's state in the member list ("serving", "self",
	// "connected", "leaving", ...).
	State string
	// Up: the node answers our probes (RecoverProbes in a row after a
	// failure).
	Up bool
	// Healthy: Up, and the member list says it serves and is reachable.
	// Healthy nodes are preferred to merely Up ones.
	Healthy bool
	// RTT is our smoothed PING round trip; 0 when down or not measured
	// recently.
	RTT time.Duration
	// Err is the last probe or connection error while down; nil when up.
	Err error
}

// Stats counts what the client did.
type Stats struct {
	Switches        uint64 // the current node changed
	Failovers       uint64 // a call moved to another node after a connection error
	ProbeFailures   uint64 // probes that failed
	Refreshes       uint64 // member lists fetched
	RefreshFailures uint64 // member list fetches that failed on every source
}

// Client is a connection to a geocache cluster that follows the nearest
// healthy node. It is safe for concurrent use. See the package doc.
type Client struct {
	cfg       Config
	ownHTTP   *http.Transport    // the default HTTPClient's, closed by Close
	cancel    context.CancelFunc // stops run
	done      chan struct{}      // closed when run returns
	wake      chan struct{}      // cap 1: a call saw a node fail
	closeOnce sync.Once

	mu      sync.Mutex
	closed  bool
	nodes   map[string]*node // by id
	tracker *geo.Tracker     // RTT per node id
	current *node
	stats   Stats
	// refreshSoon: a node the member list shows as not serving answers
	// probes again; fetch the list at the next round instead of waiting
	// for RefreshInterval, so that failback does not wait for it.
	refreshSoon bool
}

// node is the client's state for one member. Fields are guarded by
// Client.mu, except prober, which only the probe loop (and New and Close,
// when the loop is not running) uses.
type node struct {
	m        member
	prober   *prober
	rdb      *redis.Client // command client
	okStreak int           // probes answered in a row
	need     int           // okStreak needed to count as up
	stale    bool          // rdb saw a failure: replace it once the node is back
	lastErr  error
	gone     bool // removed from the client
}

func (n *node) up() bool { return n.okStreak >= n.need }

// maxParallelProbes bounds the goroutines of one probe round.
const maxParallelProbes = 16

// startupProbes is how many probe rounds New runs before choosing a node:
// three samples give the median filter something to work with, so one slow
// first PING (a cold connection, a busy node) does not pick the wrong node.
// It costs New three round trips to the farthest node.
const startupProbes = 3

// New discovers the cluster from cfg.Seeds, probes every node three times,
// connects to the nearest healthy one and starts the background loop that re-probes,
// fails over and fails back. It fails if no seed answers with a member
// list or no node answers a probe (ErrNoNode). ctx bounds only this
// start-up.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	tr, err := geo.NewTracker(cfg.Tracker)
	if err != nil {
		return nil, fmt.Errorf("client: Tracker: %w", err)
	}
	var ownHTTP *http.Transport
	if cfg.HTTPClient == nil {
		ownHTTP = http.DefaultTransport.(*http.Transport).Clone()
		cfg.HTTPClient = &http.Client{Transport: ownHTTP}
	}
	c := &Client{
		cfg:     cfg,
		ownHTTP: ownHTTP,
		done:    make(chan struct{}),
		wake:    make(chan struct{}, 1),
		nodes:   make(map[string]*node),
		tracker: tr,
	}
	if err := c.refresh(ctx); err != nil {
		c.closeNodes()
		return nil, err
	}
	for range startupProbes {
		c.probeAll(ctx)
	}
	if err := ctx.Err(); err != nil {
		c.closeNodes()
		return nil, err
	}
	c.mu.Lock()
	noNode := c.current == nil
	var errs []error
	if noNode {
		for _, n := range c.nodes {
			err := n.lastErr
			if err == nil {
				err = errors.New("not up")
			}
			errs = append(errs, fmt.Errorf("%s (%s): %w", n.m.id, n.m.resp, err))
		}
	}
	c.mu.Unlock()
	if noNode {
		c.closeNodes()
		return nil, fmt.Errorf("%w: %w", ErrNoNode, errors.Join(errs...))
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.run(loopCtx)
	return c, nil
}

// Close stops the background loop, waits for it and closes every
// connection. Calls in flight fail; later calls return ErrClosed. Close is
// idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.cancel()
		<-c.done
		c.closeNodes()
	})
	return nil
}

func (c *Client) closeNodes() {
	c.mu.Lock()
	nodes := c.nodes
	c.nodes = map[string]*node{}
	c.current = nil
	for _, n := range nodes {
		n.gone = true
	}
	c.mu.Unlock()
	for _, n := range nodes {
		n.prober.close()
		n.rdb.Close()
	}
	if c.ownHTTP != nil {
		c.ownHTTP.CloseIdleConnections()
	}
}

// fetchResult is a member list fetched by run's helper goroutine.
type fetchResult struct {
	ms  []member
	err error
}

// run is the background loop: re-probe every ProbeInterval (sooner when a
// call saw a node fail), refresh the member list every RefreshInterval.
// The member list is fetched on a helper goroutine, so slow or dead HTTP
// sources do not hold up probing; it is merged here, between probe rounds,
// because merge replaces probers that a round is using.
func (c *Client) run(ctx context.Context) {
	defer close(c.done)
	wakeGap := min(c.cfg.ProbeInterval, 100*time.Millisecond)
	t := time.NewTimer(c.cfg.ProbeInterval)
	defer t.Stop()
	var fetched chan fetchResult // non-nil while a fetch runs
	defer func() {
		if fetched != nil {
			<-fetched // ctx is cancelled: the fetch returns promptly
		}
	}()
	lastRound, lastRefresh := time.Now(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case res := <-fetched:
			fetched = nil
			lastRefresh = time.Now()
			if res.err != nil {
				if ctx.Err() == nil {
					c.cfg.Logger.Warn("client: member list refresh failed", "err", res.err)
				}
			} else {
				c.merge(res.ms)
				// The list may have made a node healthy (or not): act on it now.
				c.mu.Lock()
				ev := c.reselectLocked(time.Now())
				c.mu.Unlock()
				c.report(ev)
			}
			continue
		case <-c.wake:
			// Re-probe soon to confirm the failure and find the next
			// node, but at most once per wakeGap however many calls fail.
			if d := time.Until(lastRound.Add(wakeGap)); d > 0 {
				t.Reset(d)
				continue
			}
		case <-t.C:
		}
		if fetched == nil && (time.Since(lastRefresh) >= c.cfg.RefreshInterval || c.takeRefreshSoon()) {
			fetched = make(chan fetchResult, 1)
			go func(out chan<- fetchResult) {
				ms, err := c.fetch(ctx)
				out <- fetchResult{ms, err}
			}(fetched)
		}
		c.probeAll(ctx)
		lastRound = time.Now()
		t.Reset(c.cfg.ProbeInterval)
	}
}

// Do runs fn with the command client of the nearest healthy node. When fn
// fails with a connection error (refused, reset, timeout: anything that is
// not a reply from the server), the node is marked down and fn runs again
// on the next nearest, up to MaxAttempts nodes, so fn must be safe to
// repeat. A reply error, including redis.Nil, is returned as is, and so is
// any error once ctx is done.
func (c *Client) Do(ctx context.Context, fn func(ctx context.Context, rdb *redis.Client) error) error {
	var tried []*node
	var errs []error
	reopened := 0
	for len(tried) < c.cfg.MaxAttempts {
		n, rdb, addr, err := c.pick(tried)
		if err != nil {
			if errors.Is(err, ErrNoNode) && len(errs) > 0 {
				return fmt.Errorf("%w: %w", ErrNoNode, errors.Join(errs...))
			}
			return err
		}
		if len(tried) > 0 {
			c.count(func(s *Stats) { s.Failovers++ })
		}
		err = fn(ctx, rdb)
		switch {
		case err == nil, ctx.Err() != nil, isReply(err):
			return err
		case errors.Is(err, redis.ErrClosed):
			// The command client was replaced (the node recovered) or the
			// Client closed while fn ran.
			if c.isClosed() {
				return ErrClosed
			}
			if reopened++; reopened > c.cfg.MaxAttempts {
				return err
			}
			continue
		}
		c.markDown(n, err)
		tried = append(tried, n)
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
	}
	return fmt.Errorf("%w: %w", ErrNoNode, errors.Join(errs...))
}

// isReply reports whether err is the server's answer rather than a
// failure to reach it.
func isReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// Get returns the value of key, or ErrNotFound.
func (c *Client) Get(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := c.Do(ctx, func(ctx context.Context, rdb *redis.Client) error {
		var err error
		v, err = rdb.Get(ctx, key).Bytes()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	return v, err
}

// Set stores value under key, expiring after ttl (0 = never). Like every
// geocache write, it returns once the nearest node applied it; replication
// to other regions is asynchronous.
func (c *Client) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("client: negative TTL %v", ttl)
	}
	return c.Do(ctx, func(ctx context.Context, rdb *redis.Client) error {
		return rdb.Set(ctx, key, value, ttl).Err()
	})
}

// Del deletes keys and returns how many existed on the node that served
// the call.
func (c *Client) Del(ctx context.Context, keys ...string) (int64, error) {
	var n int64
	err := c.Do(ctx, func(ctx context.Context, rdb *redis.Client) error {
		var err error
		n, err = rdb.Del(ctx, keys...).Result()
		return err
	})
	return n, err
}

// Redis returns the go-redis client of the current node, for commands the
// helper does not wrap; nil when no node is up or after Close. It does not
// fail over by itself (use Do for that), and it is closed when the client
// moves on after a failure, so fetch it again for each use rather than
// keeping it.
func (c *Client) Redis() *redis.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.current == nil {
		return nil
	}
	return c.current.rdb
}

// Current returns the node calls go to; the zero Node when none is up.
func (c *Client) Current() Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.current == nil {
		return Node{}
	}
	return c.snapshotLocked(c.current, time.Now())
}

// Nodes returns every known node, in the order the client would use them:
// healthy first, then up, then down, each by RTT.
func (c *Client) Nodes() []Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	ranked := c.rankLocked(now, func(*node) bool { return true })
	out := make([]Node, len(ranked))
	for i, r := range ranked {
		out[i] = c.snapshotLocked(c.nodes[r.ID], now)
	}
	return out
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

func (c *Client) count(f func(*Stats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

func (c *Client) takeRefreshSoon() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.refreshSoon
	c.refreshSoon = false
	return r
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *Client) snapshotLocked(n *node, now time.Time) Node {
	out := Node{
		ID: n.m.id, Region: n.m.region, RESP: n.m.resp, HTTP: n.m.http, State: n.m.state,
		Up: n.up(), Healthy: n.up() && n.m.viewOK, Err: n.lastErr,
	}
	if n.m.coords != nil {
		cc := *n.m.coords
		out.Coords = &cc
	}
	if out.Up {
		out.RTT, _ = c.tracker.RTT(n.m.id, now)
		out.Err = nil
	}
	return out
}

// newRedis builds the command client for a node. It may call the user's
// RedisOptions, so it runs without c.mu held.
func (c *Client) newRedis(addr string) *redis.Client {
	opt := &redis.Options{
		Addr:                  addr,
		Username:              c.cfg.Username,
		Password:              c.cfg.Password,
		TLSConfig:             c.cfg.TLS,
		DialTimeout:           c.cfg.DialTimeout,
		ReadTimeout:           c.cfg.ReadTimeout,
		WriteTimeout:          c.cfg.WriteTimeout,
		ContextTimeoutEnabled: true,
		// One retry covers a pooled connection the server closed (a
		// restart); beyond that, failing over beats retrying a dead node.
		MaxRetries:    1,
		DialerRetries: 1,
		// A new connection (the first call after a failover goes to a node
		// across the WAN) pays one round trip per set-up step before its
		// command: keep HELLO, skip CLIENT SETINFO and the maintenance
		// notifications handshake, which geocache does not use. The testnet
		// locality scenario measured 4 WAN round trips for that first call
		// with them, 2 without.
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	if c.cfg.Dialer != nil {
		opt.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialVia(ctx, c.cfg.Dialer, c.cfg.TLS, network, addr)
		}
	}
	if c.cfg.RedisOptions != nil {
		c.cfg.RedisOptions(opt)
	}
	return redis.NewClient(opt)
}

func (c *Client) newProber(addr string) *prober {
	return &prober{addr: addr, username: c.cfg.Username, password: c.cfg.Password, tls: c.cfg.TLS,
		dialer: c.cfg.Dialer}
}

// dialVia opens a connection with dialer (Config.Dialer) and, with tlsCfg, runs the TLS
// handshake on it as tls.Dial would (ServerName from addr unless set).
func dialVia(ctx context.Context, dialer func(context.Context, string, string) (net.Conn, error),
	tlsCfg *tls.Config, network, addr string) (net.Conn, error) {
	conn, err := dialer(ctx, network, addr)
	if err != nil || tlsCfg == nil {
		return conn, err
	}
	cfg := tlsCfg
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// wakeLoop asks the loop for an early probe round.
func (c *Client) wakeLoop() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// deleteLocked removes n; the caller closes the returned resources after
// unlocking.
func (c *Client) deleteLocked(n *node) {
	delete(c.nodes, n.m.id)
	c.tracker.Forget(n.m.id)
	n.gone = true
	if c.current == n {
		c.current = nil
	}
}
