package node

import (
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Config configures a Node. The zero value of every field means "use the default" stated in the
// field's comment; DefaultConfig returns a Config with the defaults filled in. New never modifies
// the caller's Config.
type Config struct {
	// MaxMemory bounds the bytes held by the cache: keys, values and a fixed per-entry overhead.
	// Default 256 MiB. Least-recently-used entries are evicted to stay under it; evictions are
	// local and never replicated.
	MaxMemory int64

	// OnMaxMemory, if set, is called with the store's new bound each time SetMaxMemory changes
	// it (0: unbounded; a bound too small for any entry leaves the store's as it was), before
	// SetMaxMemory returns; calls are serialised and in order. The daemon moves the Go
	// runtime's memory limit with it. It must not call SetMaxMemory. Default nil.
	OnMaxMemory func(maxMemory int64)

	// MaxEntries optionally bounds the number of entries as well. Default 0: bounded by
	// MaxMemory only.
	MaxEntries int

	// MaxKeySize is the largest key accepted, in bytes. Default 16 KiB, at most 65535 (the store
	// keeps a key's length in 16 bits of its value).
	MaxKeySize int

	// MaxValueSize is the largest value accepted, in bytes. Default 1 MiB. Raising it raises the
	// size of replication frames as well.
	MaxValueSize int

	// DefaultTTL is applied to writes that give no expiry. Default 0: keys never expire unless
	// told to.
	DefaultTTL time.Duration

	// TombstoneTTL is how long a replicated delete is kept as a full tombstone entry so that late,
	// older writes arriving from other regions cannot resurrect the key. After it, the delete
	// shrinks to a local tombstone (key hash and timestamp) that is collected once causally
	// stable. Default 1 hour: longer protects against longer partitions at the cost of memory.
	TombstoneTTL time.Duration

	// MaxTombstones bounds the local tombstones left by evictions, expiries and aged deletes.
	// Default 1<<20 (about 16 MiB). When full, the oldest are dropped and a timestamp floor is
	// raised, so a late delta for an absent key older than the floor becomes a miss, never a
	// stale value.
	MaxTombstones int

	// MaxClockOffset is how far ahead of local wall time a remote timestamp may be before it is
	// rejected (and counted) instead of adopted. Default 500 ms.
	MaxClockOffset time.Duration

	// JanitorInterval is how often expired entries are reclaimed without reads and stable
	// tombstones are collected. Default 100 ms; each pass does bounded work.
	JanitorInterval time.Duration

	// Now is the wall clock. Default time.Now. Tests inject a fake clock to move an hour of
	// TTL in an instant.
	Now func() time.Time

	// Logger receives the node's structured logs. Default: slog.Default().
	Logger *slog.Logger

	// Region names this node's region, for example "eu-west". Default "local".
	Region string

	// Lat and Lon are this node's coordinates in degrees, used for nearest-node selection when
	// no RTT has been measured. Default 0, 0.
	Lat, Lon float64

	// ListenAddrs are the libp2p multiaddrs this node replicates on, for example
	// "/ip4/0.0.0.0/tcp/7946". Default empty: the node does not replicate (an in-process cache).
	ListenAddrs []string

	// AnnounceAddrs replace the listen addresses in what peers are told, for nodes behind port
	// forwards or the testnet WAN emulator. Default: the listen addresses.
	AnnounceAddrs []string

	// Join lists addresses of any existing members: libp2p multiaddrs with or without
	// /p2p/<peer id> (the id is learnt by dialling), or http(s)://host:port URLs of a member's
	// HTTP API. The rest of the cluster is learnt from the catalog. Default empty: start a new
	// cluster.
	Join []string

	// DataDir persists the node's libp2p identity, the cluster catalog and a snapshot of the
	// cache (DataDir/cache.snap: values, expiries, versions and dots, delete tombstones, the
	// version vector, the flush marker), written on Close and as SaveInterval and
	// SaveAfterWrites say, and loaded at start. Default "": all in memory, so the node has a new
	// identity and an empty cache on every start.
	DataDir string

	// SaveInterval is how often the cache snapshot is written when something changed. Default
	// 60 s: a kill -9 loses at most the last minute of this node's writes that had not reached
	// another region. Negative: only on Close, SaveAfterWrites and explicit saves. Ignored
	// without DataDir.
	SaveInterval time.Duration

	// SaveAfterWrites, when positive, also saves as soon as that many writes (local and
	// replicated) accumulated since the last save (checked every second). Default 0: off.
	SaveAfterWrites int

	// ClusterName namespaces gossip topics and protocols; nodes with different names never
	// exchange data. Default "geocache".
	ClusterName string

	// ClusterKey is an optional 32-byte pre-shared key: peers without it cannot complete a
	// handshake. Default none.
	ClusterKey []byte

	// AllowPeers is the allow-list of peer ids that may connect. Default empty: any peer
	// (development mode) unless ClusterKey is set.
	AllowPeers []string

	// RESPAddr and HTTPAddr are the client addresses advertised in the cluster catalog for
	// nearest-node lookups. Default empty; front ends set them with SetClientAddrs.
	RESPAddr, HTTPAddr string

	// DisableReadThrough turns off filling a local miss from the nearest peers. By default a
	// replicating node asks its nearest healthy peers (hedged) before reporting a miss of a key
	// it evicted, or of any key while it is not Ready; other misses never leave the node.
	DisableReadThrough bool

	// ReadThroughTimeout bounds a read-through. Default 250 ms: above most inter-region round
	// trips; lower it to cap miss latency.
	ReadThroughTimeout time.Duration

	// NegativeTTL is how long a key no peer held is remembered as absent, so a truly absent key
	// does not cost a round trip on every read. Default 2 s.
	NegativeTTL time.Duration

	// LoadLeaseTTL bounds how long one node may hold the cluster-wide right to load a cold key
	// in GetOrLoad. Others wait up to this long for its result before loading themselves (the
	// failure behaviour when the holder dies). Default 5 s.
	LoadLeaseTTL time.Duration

	// Loader, when set, fills local misses of Get from an origin (a database, an HTTP service):
	// after the read-through to peers finds nothing, Get loads the key as GetOrLoad does (once
	// per node at a time, and once per cluster through a load lease unless DisableLoadLease),
	// stores it and returns it. A loader that reports ErrNotFound makes Get a miss, remembered
	// for NegativeTTL; any other loader error is returned as a *LoadError and nothing is stored.
	// Default nil: a miss is a miss. The loader may block (the RESP front end calls Get off its
	// event loops) and runs concurrently for different keys; it should bound its own duration.
	Loader Loader

	// DisableLoadLease makes loads (GetOrLoad and Loader) deduplicate per node only: every node
	// that misses a cold key loads it itself instead of asking the key's lease owner and
	// waiting for another region's load. Default false (one load per cluster). Set it when each
	// region has its own nearby origin and a local load is cheaper than a cross-region wait.
	DisableLoadLease bool

	// WarmupTimeout is no longer used: a joining node is ready after its first completed
	// anti-entropy session with a member, however long that takes (readiness.go), because a
	// timeout made a node that never reached anyone look ready. Kept so configurations that set
	// it still compile.
	WarmupTimeout time.Duration

	// ForgetAfter is how long a member may stay unreachable (not connected; counted from this
	// node's start for a member never seen since) before it is forgotten: removed from the
	// catalog of every member, member lists, metrics and causal stability (see Forget). Default
	// 24 h, and at least TombstoneTTL: a member silent for longer than TombstoneTTL already no
	// longer holds back tombstone collection here, so forgetting it later loses no safety,
	// while a day is far longer than any partition we expect to heal by itself. It must not be
	// below TombstoneTTL. Negative disables it (forget only with Forget).
	ForgetAfter time.Duration

	// Version is the software version this node announces in the cluster catalog (Members).
	// Default the package's Version; the daemon sets its build version, so that INFO, the
	// status page and other nodes' member lists agree.
	Version string
}

// DefaultConfig returns the configuration used for zero-valued fields.
func DefaultConfig() Config {
	return Config{
		MaxMemory:          256 << 20,
		MaxKeySize:         16 << 10,
		MaxValueSize:       1 << 20,
		TombstoneTTL:       time.Hour,
		MaxTombstones:      1 << 20,
		MaxClockOffset:     500 * time.Millisecond,
		JanitorInterval:    100 * time.Millisecond,
		Now:                time.Now,
		Logger:             slog.Default(),
		Region:             "local",
		ClusterName:        "geocache",
		WarmupTimeout:      10 * time.Second,
		SaveInterval:       time.Minute,
		ReadThroughTimeout: 250 * time.Millisecond,
		NegativeTTL:        2 * time.Second,
		LoadLeaseTTL:       5 * time.Second,
		ForgetAfter:        24 * time.Hour,
	}
}

// withDefaults returns a copy of c with zero fields replaced by defaults, or an error naming the
// first invalid field.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	switch {
	case c.MaxMemory < 0:
		return c, fmt.Errorf("node: MaxMemory must not be negative, got %d", c.MaxMemory)
	case c.MaxEntries < 0:
		return c, fmt.Errorf("node: MaxEntries must not be negative, got %d", c.MaxEntries)
	case c.MaxKeySize < 0 || c.MaxKeySize > maxKeyLen:
		return c, fmt.Errorf("node: MaxKeySize must be between 0 and %d, got %d", maxKeyLen, c.MaxKeySize)
	case c.MaxValueSize < 0:
		return c, fmt.Errorf("node: MaxValueSize must not be negative, got %d", c.MaxValueSize)
	case c.MaxValueSize > maxValueSize:
		// A stored value's length is 32 bits (value.n in node.go).
		return c, fmt.Errorf("node: MaxValueSize must be at most %d, got %d", maxValueSize, c.MaxValueSize)
	case c.DefaultTTL < 0:
		return c, fmt.Errorf("node: DefaultTTL must not be negative, got %s", c.DefaultTTL)
	case c.TombstoneTTL < 0:
		return c, fmt.Errorf("node: TombstoneTTL must not be negative, got %s", c.TombstoneTTL)
	case c.MaxTombstones < 0:
		return c, fmt.Errorf("node: MaxTombstones must not be negative, got %d", c.MaxTombstones)
	case c.MaxClockOffset < 0:
		return c, fmt.Errorf("node: MaxClockOffset must not be negative, got %s", c.MaxClockOffset)
	case c.JanitorInterval < 0:
		return c, fmt.Errorf("node: JanitorInterval must not be negative, got %s", c.JanitorInterval)
	case c.SaveAfterWrites < 0:
		return c, fmt.Errorf("node: SaveAfterWrites must not be negative, got %d", c.SaveAfterWrites)
	case c.Lat < -90 || c.Lat > 90:
		return c, fmt.Errorf("node: Lat must be within [-90, 90], got %g", c.Lat)
	case c.Lon < -180 || c.Lon > 180:
		return c, fmt.Errorf("node: Lon must be within [-180, 180], got %g", c.Lon)
	}
	if c.MaxMemory == 0 {
		c.MaxMemory = d.MaxMemory
	}
	if c.MaxKeySize == 0 {
		c.MaxKeySize = d.MaxKeySize
	}
	if c.MaxValueSize == 0 {
		c.MaxValueSize = d.MaxValueSize
	}
	if c.TombstoneTTL == 0 {
		c.TombstoneTTL = d.TombstoneTTL
	}
	if c.MaxTombstones == 0 {
		c.MaxTombstones = d.MaxTombstones
	}
	if c.MaxClockOffset == 0 {
		c.MaxClockOffset = d.MaxClockOffset
	}
	if c.JanitorInterval == 0 {
		c.JanitorInterval = d.JanitorInterval
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	if c.Region == "" {
		c.Region = d.Region
	}
	if c.ClusterName == "" {
		c.ClusterName = d.ClusterName
	}
	if c.SaveInterval == 0 {
		c.SaveInterval = d.SaveInterval
	}
	if c.WarmupTimeout <= 0 {
		c.WarmupTimeout = d.WarmupTimeout
	}
	switch {
	case c.ForgetAfter > 0 && c.ForgetAfter < c.TombstoneTTL:
		return c, fmt.Errorf("node: ForgetAfter (%s) must not be below TombstoneTTL (%s)", c.ForgetAfter, c.TombstoneTTL)
	case c.ForgetAfter == 0:
		c.ForgetAfter = max(d.ForgetAfter, c.TombstoneTTL)
	case c.ForgetAfter < 0:
		c.ForgetAfter = 0 // the cluster's "never"
	}
	if c.Version == "" {
		c.Version = Version
	}
	if c.ReadThroughTimeout <= 0 {
		c.ReadThroughTimeout = d.ReadThroughTimeout
	}
	if c.NegativeTTL <= 0 {
		c.NegativeTTL = d.NegativeTTL
	}
	if c.LoadLeaseTTL <= 0 {
		c.LoadLeaseTTL = d.LoadLeaseTTL
	}
	if len(c.ClusterKey) != 0 && len(c.ClusterKey) != 32 {
		return c, fmt.Errorf("node: ClusterKey must be 32 bytes, got %d", len(c.ClusterKey))
	}
	// Slices are copied so that the caller's Config is never shared with the node.
	c.ListenAddrs = slices.Clone(c.ListenAddrs)
	c.AnnounceAddrs = slices.Clone(c.AnnounceAddrs)
	c.Join = slices.Clone(c.Join)
	c.AllowPeers = slices.Clone(c.AllowPeers)
	c.ClusterKey = slices.Clone(c.ClusterKey)
	return c, nil
}
