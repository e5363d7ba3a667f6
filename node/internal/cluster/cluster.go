package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/multiformats/go-multiaddr"
)

// Cluster is one member's transport and membership: a libp2p host, the
// data streams (direct.go), the catalog of member records, connection upkeep and
// RTT measurement. Create it with New; all methods are safe for concurrent
// use.
type Cluster struct {
	cfg   Config
	log   *slog.Logger
	id    peer.ID
	host  host.Host
	gater *Gater
	c     counters

	ps       *pubsub.PubSub
	tr       *tracer
	psCancel context.CancelFunc
	env      *envelopeSource

	direct      directOut                             // data links (direct.go)
	chunkPool   sync.Pool                             // *[]byte send chunks of the data links
	handler     atomic.Pointer[func(peer.ID, []byte)] // OnMessage's
	handlerSet  chan struct{}                         // closed by the first OnMessage
	deliverOnce sync.Once

	cat    *catalog
	selfMu sync.Mutex // serialises writes of our record; guards self
	self   Record

	table   *table
	started time.Time // when New ran: the forget horizon of members never seen counts from it
	notes   *notifier
	connSub event.Subscription
	kick    chan struct{}
	urls    sync.Map // placeholder peer.ID -> join URL (string)
	warned  limiter  // rate limit of repeated warnings per peer
	dups    *dupChecker

	forgetMu  sync.Mutex
	forgetFns []func(peer.ID)

	// Lifecycle: every goroutine we start is counted in wg, and none is
	// started once closing is set.
	ctx       context.Context
	cancel    context.CancelFunc
	lifeMu    sync.Mutex
	closing   bool
	wg        sync.WaitGroup
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// New starts a cluster member: it creates the host and listens, joins the
// gossip topics, opens the catalog, writes our record and starts dialling
// the Join peers in the background (New does not wait for them). ctx bounds
// start-up only. Close releases everything.
func New(ctx context.Context, cfg Config) (*Cluster, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	key, err := loadIdentity(&cfg)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		cfg:   cfg,
		gater: newGater(cfg.AllowPeers),
		table: newTable(),
		notes: newNotifier(),
		kick:  make(chan struct{}, 1),

		handlerSet: make(chan struct{}),

		started: time.Now(),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if err := c.start(ctx, key); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, key crypto.PrivKey) error {
	cfg := &c.cfg
	var err error
	if c.host, err = newHost(cfg, key, c.gater); err != nil {
		return err
	}
	c.id = c.host.ID()
	c.table.self = c.id
	c.log = cfg.Logger.With("component", "cluster", "peer", c.id.String())
	c.gater.stranger = c.onStranger
	c.dups = newDupChecker()
	c.host.Network().Notify(&network.NotifyBundle{ConnectedF: c.onConnOpened})
	c.notes.add(c.onDirectPeer)
	c.host.SetStreamHandler(c.protocolID(dataProto), c.handleDirect)
	c.gater.closePeer = func(p peer.ID) { _ = c.host.Network().ClosePeer(p) }
	c.gater.unblocked = func(p peer.ID) { c.table.resetDial(p); c.kickDialer() }
	if c.gater.allow == nil && len(cfg.ClusterKey) == 0 {
		c.log.Warn("no allow-list and no cluster key: any peer may connect (development mode)")
	}

	// Subscribe before dialling anyone. A peer that dialled us in the
	// instant since the host started listening is picked up by the scan
	// below; replayed events are deduped by the table.
	c.connSub, err = c.host.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged), eventbus.BufSize(256))
	if err != nil {
		return fmt.Errorf("cluster: event bus: %w", err)
	}
	for _, p := range c.host.Network().Peers() {
		if c.host.Network().Connectedness(p) == network.Connected && c.table.setConnected(p, true, time.Now()) {
			c.c.connects.Add(1)
			c.notes.post(p, true)
		}
	}

	var psCtx context.Context
	psCtx, c.psCancel = context.WithCancel(context.Background())
	announce := make(chan struct{}, 1)
	kickAnnounce := func() {
		select {
		case announce <- struct{}{}:
		default:
		}
	}
	tr := &tracer{c: &c.c, newStream: kickAnnounce}
	c.tr = tr
	if c.ps, err = newPubSub(psCtx, cfg, c.host, tr); err != nil {
		return err
	}
	c.env = &envelopeSource{self: c.id}
	c.env.seq.Store(uint64(time.Now().UnixNano()))
	if c.cat, err = openCatalog(cfg, c.host, c.ps, c.env, c.onRecord, c.onRecordDeleted); err != nil {
		return err
	}
	recs, err := c.cat.records(ctx)
	if err != nil {
		return fmt.Errorf("cluster: catalog: %w", err)
	}
	for _, r := range recs {
		c.onRecord(r)
	}
	c.self = cfg.Self
	if err := c.writeSelf(ctx); err != nil {
		return err
	}

	if err := c.addJoinTargets(); err != nil {
		return err
	}

	sub := c.connSub.Out()
	c.goFn(func() { c.watchConnections(sub) })
	c.goFn(func() { c.notes.run(c.ctx) })
	c.goFn(func() { c.dialLoop(c.ctx) })
	c.goFn(func() { c.dupLoop(c.ctx) })
	if cfg.PingInterval > 0 {
		c.goFn(func() { c.pingLoop(c.ctx) })
	}
	if cfg.RecordRefresh > 0 {
		c.goFn(func() { c.refreshLoop(c.ctx) })
	}
	if cfg.ForgetAfter > 0 {
		c.goFn(func() { c.forgetLoop(c.ctx) })
	}
	c.goFn(func() { c.cat.watchJoins(c.ctx, announce) })
	c.goFn(func() {
		c.cat.announceLoop(c.ctx, announce, func(err error) { c.log.Debug("announce catalog heads", "err", err) })
	})
	return nil
}

// goFn runs fn on a goroutine owned by the cluster; it reports false (and
// does not run fn) once Close has begun.
func (c *Cluster) goFn(fn func()) bool {
	c.lifeMu.Lock()
	defer c.lifeMu.Unlock()
	if c.closing {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return true
}

// Close stops every goroutine the cluster started, leaves the topics,
// closes the catalog, the host and the datastore, and waits for all of it.
// It does not announce departure: write State "left" with UpdateSelf
// first for a graceful exit. Close is idempotent; later calls return the
// first result.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.shutdown() })
	return c.closeErr
}

func (c *Cluster) shutdown() error {
	c.closed.Store(true)
	c.lifeMu.Lock()
	c.closing = true
	c.lifeMu.Unlock()
	c.cancel()
	if c.connSub != nil {
		c.connSub.Close() // ends watchConnections
	}
	c.wg.Wait()

	// Hang up first: bitswap's Close waits for its workers, and a worker
	// writing to a peer behind a silently dead link would hold it for 10 s.
	if c.host != nil {
		for _, p := range c.host.Network().Peers() {
			_ = c.host.Network().ClosePeer(p)
		}
	}
	var errs []error
	if c.cat != nil {
		errs = append(errs, c.cat.close())
	}
	if c.psCancel != nil {
		c.psCancel()
	}
	if c.host != nil {
		errs = append(errs, c.host.Close())
	}
	return errors.Join(errs...)
}

// ID returns our peer ID.
func (c *Cluster) ID() peer.ID { return c.id }

// Addrs returns our full dialable addresses (with /p2p/<id>), as announced
// to peers.
func (c *Cluster) Addrs() []multiaddr.Multiaddr {
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: c.id, Addrs: c.host.Addrs()})
	if err != nil {
		return nil
	}
	return addrs
}

// Gater returns the connection gater (allow-list accounting and the
// Block/Unblock partition switch for tests).
func (c *Cluster) Gater() *Gater { return c.gater }

// protocolID maps a protocol name relative to the cluster namespace.
func (c *Cluster) protocolID(proto string) protocol.ID {
	return protocol.ID("/" + c.cfg.ClusterName + "/" + strings.TrimPrefix(proto, "/"))
}

// HandleStream registers h for inbound streams of proto, a name relative to
// the cluster namespace ("sync/1" becomes "/<cluster>/sync/1"). h runs on
// its own goroutine per stream and must close or reset the stream; streams
// are reset when the cluster closes.
func (c *Cluster) HandleStream(proto string, h func(s network.Stream)) {
	c.host.SetStreamHandler(c.protocolID(proto), h)
}

// OpenStream opens a stream of proto (relative to the namespace) to p,
// dialling p if it is not connected (subject to the gater).
func (c *Cluster) OpenStream(ctx context.Context, p peer.ID, proto string) (network.Stream, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	s, err := c.host.NewStream(ctx, p, c.protocolID(proto))
	if err != nil {
		return nil, fmt.Errorf("cluster: open stream to %s: %w", p, err)
	}
	return s, nil
}

// UpdateSelf replaces our catalog record (the only one we may write) and
// replicates it. PeerID is always ours; empty Addrs are filled with Addrs();
// UpdatedMs is set to now.
func (c *Cluster) UpdateSelf(ctx context.Context, r Record) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if r.State != "" && !validState(r.State) {
		return fmt.Errorf("cluster: invalid state %q", r.State)
	}
	c.selfMu.Lock()
	c.self = r
	c.selfMu.Unlock()
	return c.writeSelf(ctx)
}

// writeSelf writes c.self, stamped, to the catalog.
func (c *Cluster) writeSelf(ctx context.Context) error {
	c.selfMu.Lock()
	defer c.selfMu.Unlock()
	r := c.self
	r.PeerID = c.id.String()
	r.Addrs = slices.Clone(r.Addrs)
	if len(r.Addrs) == 0 {
		for _, a := range c.Addrs() {
			r.Addrs = append(r.Addrs, a.String())
		}
	}
	r.UpdatedMs = time.Now().UnixMilli()
	if err := c.cat.put(ctx, r); err != nil {
		return fmt.Errorf("cluster: write record: %w", err)
	}
	c.self = r
	return nil
}

// refreshLoop rewrites our record every RecordRefresh so UpdatedMs stays
// meaningful.
func (c *Cluster) refreshLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.RecordRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.writeSelf(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("refresh record", "err", err)
			}
		}
	}
}

// onRecord applies a catalog record (put hook and start-up load). It runs
// under go-ds-crdt's locks: only quick, non-blocking work.
func (c *Cluster) onRecord(r Record) {
	p, err := peer.Decode(r.PeerID)
	if err != nil {
		c.log.Warn("catalog record with bad peer id", "peer_id", r.PeerID, "err", err)
		return
	}
	c.c.catalogUpdates.Add(1)
	if p == c.id {
		return
	}
	c.learnAddrs(p, r.Addrs)
	c.table.setRecord(p, r)
	c.kickDialer()
}

// Members returns every member we know of (from the catalog) and every
// connected peer, ourselves included (Self), sorted by peer ID.
func (c *Cluster) Members() []Member {
	out := c.table.members()
	c.selfMu.Lock()
	self := c.self
	c.selfMu.Unlock()
	self.Addrs = slices.Clone(self.Addrs)
	out = append(out, Member{Record: self, Self: true, Known: true, Connected: true, LastSeen: time.Now()})
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.PeerID, b.PeerID) })
	return out
}

// ConnectedPeers returns the peers we hold a connection to, sorted.
func (c *Cluster) ConnectedPeers() []peer.ID { return c.table.connected() }

// Notify registers fn to be told when a peer connects (true) or
// disconnects (false). Calls come from one goroutine, never under a lock,
// and only for changes after registration. Changes are coalesced per peer
// while fn runs, but consecutive calls for a peer always alternate, so a
// quick disconnect-reconnect is still reported as false then true. fn must
// not block for long: it delays the notifications of other peers.
func (c *Cluster) Notify(fn func(p peer.ID, connected bool)) { c.notes.add(fn) }

// Stats returns a snapshot of the counters.
func (c *Cluster) Stats() Stats {
	return Stats{
		Published:         c.c.published.Load(),
		Received:          c.c.received.Load(),
		DroppedOutbound:   c.c.droppedOutbound.Load(),
		Rejected:          c.c.rejected.Load(),
		Refused:           c.gater.refused.Load(),
		Blocked:           c.gater.blockedHits.Load(),
		Connects:          c.c.connects.Load(),
		Disconnects:       c.c.disconnects.Load(),
		CatalogUpdates:    c.c.catalogUpdates.Load(),
		Dials:             c.c.dials.Load(),
		DialFailures:      c.c.dialFailures.Load(),
		Forgotten:         c.c.forgotten.Load(),
		HandshakeFailures: c.c.handshakeFailures.Load(),
		MembersLost:       c.c.membersLost.Load(),
		MembersRegained:   c.c.membersRegained.Load(),
		IdentityChanges:   c.c.identityChanges.Load(),
		StaleConnsClosed:  c.c.staleConns.Load(),
		GossipResets:      c.c.gossipResets.Load(),
	}
}
