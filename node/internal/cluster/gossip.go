package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// pubsubSlack is added to MaxMessageSize for gossipsub's own limit, which
// applies to whole RPCs (topic name, framing, piggybacked control).
const pubsubSlack = 64 << 10

// seenTTLNoRelay is how long message IDs are remembered when nothing is relayed (NoRelay).
const seenTTLNoRelay = 30 * time.Second

// validateQueue is gossipsub's validation queue length.
const validateQueue = 4096

// newPubSub creates the gossipsub router shared by the data topic and the
// catalog. Messages are unsigned: every connection is Noise-authenticated
// and restricted to members, and signing costs ~3x latency (DESIGN.md §4).
func newPubSub(ctx context.Context, cfg *Config, h host.Host, tr *tracer) (*pubsub.PubSub, error) {
	// NewGossipSubWithRouter rather than NewGossipSub: the latter also
	// installs a tracer that tags peers in the connection manager on every
	// delivery, for trimming we never do (and, with our null connection
	// manager, logs a warning per message).
	var relay []pubsub.Option
	if cfg.NoRelay {
		// No mesh and no lazy gossip: the publisher's flood publish is the
		// only transmission. (Members are then not made direct peers, see
		// dialLoop, since direct peers always get forwarded messages.)
		p := pubsub.DefaultGossipSubParams()
		p.D, p.Dlo, p.Dhi, p.Dout, p.Dscore, p.Dlazy, p.GossipFactor = 0, 0, 0, 0, 0, 0, 0
		// Nobody advertises (IHAVE) what it holds, so the message cache answers no one: keep
		// one heartbeat of it (the least gossipsub allows) instead of five. Under a write
		// flood the cache held ~45 MB of published batches (5 s of them).
		p.HistoryLength, p.HistoryGossip = 1, 1
		// Without relays a message arrives once, straight from its publisher, so the seen-IDs
		// cache guards against nothing beyond a few seconds; its default 2 min held ~5 MB of
		// IDs under a flood.
		relay = append(relay, pubsub.WithGossipSubParams(p), pubsub.WithSeenMessagesTTL(seenTTLNoRelay))
	}
	ps, err := pubsub.NewGossipSubWithRouter(ctx, h, pubsub.DefaultGossipSubRouter(h), append(relay,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(messageID),
		pubsub.WithFloodPublish(true),
		pubsub.WithPeerExchange(false),
		pubsub.WithPeerOutboundQueueSize(cfg.OutboundQueue),
		// Only used by validated topics (none today); raised from 32 so
		// adding a validator cannot introduce silent drops.
		pubsub.WithValidateQueueSize(validateQueue),
		pubsub.WithMaxMessageSize(cfg.MaxMessageSize+pubsubSlack),
		pubsub.WithRawTracer(tr),
		pubsub.WithLogger(slog.New(minLevel{slog.LevelWarn, cfg.Logger.Handler()}).With("component", "pubsub")),
	)...)
	if err != nil {
		return nil, fmt.Errorf("cluster: gossipsub: %w", err)
	}
	return ps, nil
}

// joinData joins the data topic and subscribes; our own publications
// (ReceivedFrom is us; Message.Local means something else) are filtered out
// before they take receive-queue space.
//
// The topic deliberately has no validator: gossipsub hands messages of
// validated topics to a pool of validation workers, which reorders them
// and adds a goroutine hop, while unvalidated messages are delivered inline
// by its event loop, in arrival order. Members are trusted, so a malformed
// message is merely skipped (and counted) on delivery.
func joinData(ps *pubsub.PubSub, cfg *Config, self peer.ID) (*pubsub.Topic, *pubsub.Subscription, error) {
	name := cfg.ClusterName + "/deltas/1"
	t, err := ps.Join(name)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: join %s: %w", name, err)
	}
	sub, err := t.Subscribe(
		pubsub.WithBufferSize(cfg.ReceiveQueue),
		pubsub.WithMessageFilter(func(m *pubsub.Message) bool { return m.ReceivedFrom != self }),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: subscribe %s: %w", name, err)
	}
	return t, sub, nil
}

// Publish sends data to every other member on the data topic and returns
// once gossipsub has queued it. Delivery is best effort: a member that is
// disconnected, or whose queue is full (Stats.DroppedOutbound), misses it,
// and anti-entropy must repair that. Publish copies data, so the caller may
// reuse it. It may block briefly when the gossipsub event loop is busy;
// it returns ErrTooLarge when the message would exceed MaxMessageSize.
func (c *Cluster) Publish(ctx context.Context, data []byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if envelopeHeaderLen(c.id)+len(data) > c.cfg.MaxMessageSize {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	if err := c.dataTopic.Publish(ctx, c.env.wrap(data)); err != nil {
		if c.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("cluster: publish: %w", err)
	}
	c.c.published.Add(1)
	return nil
}

// OnMessage sets the handler for messages published by other members and
// starts delivery: until the first call, received messages wait in the
// ReceiveQueue (and are dropped, counted, when it fills). The handler is
// called from a single goroutine, one message at a time, in arrival order;
// messages from one publisher over one link arrive in publish order, but
// relayed copies may be reordered and any message may be lost. from is the
// publisher, not the relaying peer. data is owned by the handler. The
// handler must return promptly: while it runs, messages queue up. A later
// call replaces the handler. Never called after Close returns; Close
// waits for a running handler to return.
func (c *Cluster) OnMessage(h func(from peer.ID, data []byte)) {
	c.handler.Store(&h)
	c.deliverOnce.Do(func() {
		c.goFn(func() { c.deliver(c.ctx) })
	})
}

// deliver reads the data subscription and calls the handler.
func (c *Cluster) deliver(ctx context.Context) {
	for {
		m, err := c.dataSub.Next(ctx)
		if err != nil {
			return
		}
		origin, _, _, payload, err := parseEnvelope(m.Data)
		if err != nil {
			c.c.rejected.Add(1)
			continue
		}
		if origin == c.id {
			continue // our own message relayed back
		}
		c.c.received.Add(1)
		(*c.handler.Load())(origin, payload)
	}
}
