package cluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	ipfslite "github.com/hsanjuan/ipfs-lite"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
	crdt "github.com/ipfs/go-ds-crdt"
	crdtpb "github.com/ipfs/go-ds-crdt/pb"
	leveldb "github.com/ipfs/go-ds-leveldb"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"
)

// The catalog is a go-ds-crdt Merkle-CRDT key-value store replicated over
// an ipfs-lite DAG service (bitswap on our host) and a broadcaster on our
// gossipsub. Keys are membersPrefix/<peer id>; each node writes only its
// own key, so go-ds-crdt's height-based conflict rule never has to pick
// between two writers.
const (
	membersPrefix = "/members"
	crdtNamespace = "/crdt"
	// dagFetchTimeout bounds fetching one catalog DAG node. go-ds-crdt
	// processes broadcast heads one at a time, so a head whose author
	// vanished must not stall the catalog for the 5-minute default.
	dagFetchTimeout = 15 * time.Second
)

type catalog struct {
	store      ds.Batching
	lite       *ipfslite.Peer
	liteCancel context.CancelFunc
	bc         *broadcaster
	crdt       *crdt.Datastore
}

// openStore returns the datastore backing the catalog and its DAG blocks:
// a mutex-wrapped map in memory, or LevelDB under dataDir/catalog.
// LevelDB (goleveldb via go-ds-leveldb) is pure Go, already in the module
// graph, compiles in about a second and journals every write, which is
// plenty for a few kilobytes that change rarely. Pebble, go-ds-crdt's own
// test store, takes ~30 s to compile and buys nothing at this size.
func openStore(dataDir string) (ds.Batching, error) {
	if dataDir == "" {
		return dssync.MutexWrap(ds.NewMapDatastore()), nil
	}
	s, err := leveldb.NewDatastore(filepath.Join(dataDir, "catalog"), nil)
	if err != nil {
		return nil, fmt.Errorf("cluster: catalog store: %w", err)
	}
	return s, nil
}

// openCatalog starts the catalog on h and ps. onPut receives every record
// that becomes current (local and remote writes); it runs on go-ds-crdt's
// goroutines while it holds its locks, so it must be quick and must not
// call back into the catalog. onDelete receives the peer id of every record deleted (see
// onRecordDeleted), under the same rules.
func openCatalog(cfg *Config, h host.Host, ps *pubsub.PubSub, env *envelopeSource, onPut func(Record), onDelete func(string)) (*catalog, error) {
	store, err := openStore(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	cat := &catalog{store: store}
	fail := func(err error) (*catalog, error) {
		cat.close()
		return nil, err
	}

	// Online bitswap: a broadcast carries only DAG head CIDs, the nodes
	// themselves are fetched from connected members. No DHT, no
	// reproviding: members are connected directly.
	liteCtx, liteCancel := context.WithCancel(context.Background())
	cat.liteCancel = liteCancel
	cat.lite, err = ipfslite.New(liteCtx, store, nil, h, nil, &ipfslite.Config{
		UncachedBlockstore: true, // tiny data; avoids the ARC/bloom goroutines
		ReprovideInterval:  -1,
	})
	if err != nil {
		return fail(fmt.Errorf("cluster: ipfs-lite: %w", err))
	}

	topic := cfg.ClusterName + "/catalog/1"
	cat.bc, err = newBroadcaster(ps, topic, env)
	if err != nil {
		return fail(err)
	}

	logger := cfg.Logger.With("component", "catalog")
	opts := crdt.DefaultOptions()
	opts.Logger = crdtLogger{logger}
	opts.RebroadcastInterval = cfg.CatalogRebroadcast
	opts.DAGSyncerTimeout = dagFetchTimeout
	opts.NumWorkers = 2
	opts.PutHook = func(k ds.Key, v []byte) {
		if !strings.HasPrefix(k.String(), membersPrefix+"/") {
			return
		}
		r, err := decodeRecord(v)
		if err != nil {
			logger.Warn("ignoring catalog entry", "key", k, "err", err)
			return
		}
		onPut(r)
	}
	opts.DeleteHook = func(k ds.Key) {
		if id, ok := memberID(k); ok {
			onDelete(id)
		}
	}
	cat.crdt, err = crdt.New(store, ds.NewKey(crdtNamespace), cat.lite, cat.bc, opts)
	if err != nil {
		return fail(fmt.Errorf("cluster: catalog: %w", err))
	}
	return cat, nil
}

// records lists the records currently in the catalog (used at start-up,
// when persisted records do not go through the put hook).
func (cat *catalog) records(ctx context.Context) ([]Record, error) {
	res, err := cat.crdt.Query(ctx, query.Query{Prefix: membersPrefix})
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var out []Record
	for e := range res.Next() {
		if e.Error != nil {
			return out, e.Error
		}
		if r, err := decodeRecord(e.Value); err == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// put writes our own record.
func (cat *catalog) put(ctx context.Context, r Record) error {
	b, err := encodeRecord(r)
	if err != nil {
		return err
	}
	return cat.crdt.Put(ctx, ds.NewKey(membersPrefix).ChildString(r.PeerID), b)
}

// announceHeads broadcasts our current DAG heads and returns them in a
// canonical form (for change detection).
func (cat *catalog) announceHeads(ctx context.Context) (string, error) {
	heads := cat.crdt.InternalStats(ctx).Heads
	if len(heads) == 0 {
		return "", nil
	}
	msg := &crdtpb.CRDTBroadcast{}
	for _, h := range heads {
		msg.Heads = append(msg.Heads, &crdtpb.Head{Cid: h.Bytes()})
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		return "", err
	}
	return headsKey(heads), cat.bc.Broadcast(ctx, b)
}

func headsKey(heads []cid.Cid) string {
	ks := make([]string, len(heads))
	for i, h := range heads {
		ks[i] = h.KeyString()
	}
	slices.Sort(ks)
	return strings.Join(ks, "")
}

// watchJoins turns every peer subscribing to the catalog topic into a
// kick on announce. Returns when ctx is done.
func (cat *catalog) watchJoins(ctx context.Context, announce chan<- struct{}) {
	for {
		ev, err := cat.bc.events.NextPeerEvent(ctx)
		if err != nil {
			return
		}
		if ev.Type == pubsub.PeerJoin {
			select {
			case announce <- struct{}{}:
			default:
			}
		}
	}
}

// headsCheckInterval is how often announceLoop looks for changed heads.
const headsCheckInterval = time.Second

// announceLoop broadcasts our heads on every kick, and whenever they have
// changed (checked every headsCheckInterval).
//
// Kicks: a peer that has just connected is kicked for twice, when it
// subscribes to the topic and when our gossip stream to it opens. Either
// may come first, and gossipsub drops what it publishes to a subscribed
// peer before the stream exists, so only the later announcement is sure to
// arrive.
//
// Changes: after merging a record from one peer, our heads include it, and
// announcing them passes the record on to peers that could not hear the
// original broadcast (go-ds-crdt itself only rebroadcasts heads it has not
// seen from others, and not at all when gossip does not relay).
func (cat *catalog) announceLoop(ctx context.Context, announce <-chan struct{}, log func(error)) {
	t := time.NewTicker(headsCheckInterval)
	defer t.Stop()
	last := ""
	for {
		force := false
		select {
		case <-ctx.Done():
			return
		case <-announce:
			force = true
		case <-t.C:
		}
		if !force && headsKey(cat.crdt.InternalStats(ctx).Heads) == last {
			continue
		}
		key, err := cat.announceHeads(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log(err)
			}
			continue
		}
		last = key
	}
}

// close stops the catalog: go-ds-crdt first (it waits for its workers,
// which use the broadcaster and the DAG service), then the broadcaster,
// bitswap, and the store.
func (cat *catalog) close() error {
	var errs []error
	if cat.crdt != nil {
		errs = append(errs, cat.crdt.Close())
	}
	if cat.bc != nil {
		cat.bc.close()
	}
	if cat.lite != nil {
		// Close bitswap synchronously; ipfs-lite's own ctx-triggered
		// close runs afterwards and is then a no-op.
		errs = append(errs, cat.lite.BlockService().Close())
	}
	if cat.liteCancel != nil {
		cat.liteCancel()
	}
	if cat.store != nil {
		errs = append(errs, cat.store.Close())
	}
	return errors.Join(errs...)
}

// envelopeSource stamps outgoing gossip with our origin and sequence.
type envelopeSource struct {
	self peer.ID
	seq  atomic.Uint64
}

func (e *envelopeSource) wrap(payload []byte) []byte {
	buf := make([]byte, 0, envelopeHeaderLen(e.self)+len(payload))
	return appendEnvelope(buf, e.self, e.seq.Add(1), payload)
}

// broadcaster implements crdt.Broadcaster on our gossipsub. It replaces
// go-ds-crdt's PubSubBroadcaster, which is the same few lines plus a
// goroutine nobody waits for; ours is closed synchronously and uses our
// envelope (unsigned gossip needs it for message IDs).
type broadcaster struct {
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	events *pubsub.TopicEventHandler
	env    *envelopeSource
}

var _ crdt.Broadcaster = (*broadcaster)(nil)

func newBroadcaster(ps *pubsub.PubSub, topic string, env *envelopeSource) (*broadcaster, error) {
	t, err := ps.Join(topic)
	if err != nil {
		return nil, fmt.Errorf("cluster: join %s: %w", topic, err)
	}
	// Our own broadcasts are not needed back: go-ds-crdt already applied them.
	sub, err := t.Subscribe(pubsub.WithBufferSize(256), pubsub.WithMessageFilter(func(m *pubsub.Message) bool { return m.ReceivedFrom != env.self }))
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribe %s: %w", topic, err)
	}
	ev, err := t.EventHandler()
	if err != nil {
		sub.Cancel()
		return nil, fmt.Errorf("cluster: events %s: %w", topic, err)
	}
	return &broadcaster{topic: t, sub: sub, events: ev, env: env}, nil
}

// Broadcast implements crdt.Broadcaster.
func (b *broadcaster) Broadcast(ctx context.Context, data []byte) error {
	return b.topic.Publish(ctx, b.env.wrap(data))
}

// Next implements crdt.Broadcaster: it returns the next well-formed
// broadcast from another member.
func (b *broadcaster) Next(ctx context.Context) ([]byte, error) {
	for {
		m, err := b.sub.Next(ctx)
		if err != nil {
			// Cancelled subscription or context: go-ds-crdt stops reading.
			return nil, crdt.ErrNoMoreBroadcast
		}
		origin, _, _, payload, err := parseEnvelope(m.Data)
		if err != nil || origin == b.env.self {
			continue
		}
		return payload, nil
	}
}

func (b *broadcaster) close() {
	b.events.Cancel()
	b.sub.Cancel()
}
