package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
)

// pubsubSlack is added to MaxMessageSize for gossipsub's own limit, which
// applies to whole RPCs (topic name, framing, piggybacked control).
const pubsubSlack = 64 << 10

// seenTTLNoRelay is how long message IDs are remembered when nothing is relayed (NoRelay).
const seenTTLNoRelay = 30 * time.Second

// validateQueue is gossipsub's validation queue length.
const validateQueue = 4096

// newPubSub creates the gossipsub router of the
// catalog. Messages are unsigned: every connection is authenticated
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
