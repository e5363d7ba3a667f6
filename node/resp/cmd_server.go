package resp

import (
	"context"
	"errors"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/node"
)

// cmdWait serves WAIT numreplicas timeout: block until numreplicas other nodes have applied
// every write this node issued before the call (this connection's writes among them), or
// timeout milliseconds pass (0: no limit), and reply with how many have.
func cmdWait(ctx context.Context, s *Server, c *client, argv [][]byte) {
	want, ok := string2ll(argv[1])
	if !ok {
		c.out = appendError(c.out, errNotInteger)
		return
	}
	timeout, ok := string2ll(argv[2])
	if !ok {
		c.out = appendError(c.out, "ERR timeout is not an integer or out of range")
		return
	}
	if timeout < 0 {
		c.out = appendError(c.out, "ERR timeout is negative")
		return
	}
	if s.repl == nil {
		// No replication: no region can acknowledge, as for a Redis master without replicas.
		c.out = appendInt(c.out, 0)
		return
	}
	req := &waitRequest{replicas: int(min(max(want, 0), math.MaxInt32))}
	if timeout > 0 && timeout < math.MaxInt64/int64(time.Millisecond) { // longer is forever
		req.timeout = time.Duration(timeout) * time.Millisecond
	}
	if c.tx != nil {
		// Inside EXEC a command must not block (Redis's CLIENT_DENY_BLOCKING): answer with the
		// acknowledgements there are now.
		done, cancel := context.WithCancel(ctx)
		cancel()
		s.runWait(done, c, &waitRequest{replicas: req.replicas})
		return
	}
	if c.loop != nil && req.replicas > 0 {
		// An event loop must not block: it hands the connection to a goroutine that runs
		// the WAIT and hands it back with the reply.
		c.wait = req
		return
	}
	c.ungate()
	s.runWait(ctx, c, req)
}

// waitRequest is a parsed WAIT, or (run set) another request that must not block an event
// loop, such as a GET that reads through to another region.
type waitRequest struct {
	replicas int
	timeout  time.Duration // 0: no limit
	run      func(ctx context.Context)
	blocking bool // run may wait indefinitely (BZPOPMIN): counted as blocked, cancelled by Shutdown
	quiet    bool // CLIENT REPLY OFF or SKIP: the reply is dropped (client.quiet)
}

// runWait blocks until the request is answered and appends the reply.
func (s *Server) runWait(ctx context.Context, c *client, req *waitRequest) {
	if req.quiet {
		mark := len(c.out)
		defer func() {
			if mark <= len(c.out) { // (MONITOR's hand-over writes c.out out itself)
				c.out = c.out[:mark]
			}
		}()
	}
	if req.run != nil {
		if req.blocking {
			bctx, cancel := context.WithCancel(ctx)
			defer cancel()
			defer s.markBlocked(c, cancel)()
			ctx = bctx
		}
		req.run(ctx)
		return
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if req.timeout > 0 {
		var cancelT context.CancelFunc
		wctx, cancelT = context.WithTimeout(wctx, req.timeout)
		defer cancelT()
	}
	if req.replicas > 0 {
		defer s.markBlocked(c, cancel)()
	}
	n, err := s.repl.WaitReplicated(wctx, req.replicas)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendInt(c.out, int64(n))
}

// markBlocked marks c blocked (INFO blocked_clients; Shutdown cancels it) until the returned
// function is called. Shutdown checks the state after setting its flag, and we check the flag
// after setting the state, so one of us sees the other.
func (s *Server) markBlocked(c *client, cancel context.CancelFunc) (unmark func()) {
	c.state.Store(stateBlocked)
	s.blockedConns.Add(1)
	if s.shutting.Load() {
		cancel()
	}
	return func() {
		s.blockedConns.Add(-1)
		c.state.Store(stateRunning)
	}
}

// infoSections lists INFO's sections in output order; the bool says whether INFO without
// arguments includes it.
var infoSections = []struct {
	name      string
	byDefault bool
}{
	{"server", true}, {"clients", true}, {"memory", true}, {"persistence", true}, {"stats", true},
	{"replication", true}, {"keyspace", true},
}

func cmdInfo(_ context.Context, s *Server, c *client, argv [][]byte) {
	want := map[string]bool{}
	all, def := false, len(argv) == 1
	for _, a := range argv[1:] {
		name := strings.ToLower(string(a))
		switch name {
		case "all", "everything":
			all = true
		case "default":
			def = true
		default:
			want[name] = true
		}
	}
	var b strings.Builder
	n := 0
	for _, sec := range infoSections {
		if !all && !(def && sec.byDefault) && !want[sec.name] {
			continue
		}
		if n > 0 {
			b.WriteString("\r\n")
		}
		n++
		s.writeInfo(&b, c, sec.name)
	}
	c.out = appendVerbatim(c.out, b.String(), c.proto)
}

func (s *Server) writeInfo(b *strings.Builder, c *client, section string) {
	line := func(k string, v any) {
		b.WriteString(k)
		b.WriteByte(':')
		switch v := v.(type) {
		case string:
			b.WriteString(v)
		case int:
			b.WriteString(strconv.Itoa(v))
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
		case uint64:
			b.WriteString(strconv.FormatUint(v, 10))
		case float64:
			b.WriteString(strconv.FormatFloat(v, 'f', 2, 64))
		}
		b.WriteString("\r\n")
	}
	now := time.Now()
	switch section {
	case "server":
		b.WriteString("# Server\r\n")
		line("redis_version", redisVersion)
		line("geocache_version", s.cfg.Version)
		line("redis_mode", "standalone")
		line("os", runtime.GOOS+" "+runtime.GOARCH)
		line("arch_bits", strconv.Itoa(strconv.IntSize))
		line("go_version", runtime.Version())
		line("process_id", os.Getpid())
		line("tcp_port", s.tcpPort.Load())
		line("server_time_usec", now.UnixMicro())
		up := now.Sub(s.started)
		line("uptime_in_seconds", int64(up/time.Second))
		line("uptime_in_days", int64(up/(24*time.Hour)))
	case "clients":
		b.WriteString("# Clients\r\n")
		line("connected_clients", s.connected.Load())
		line("maxclients", s.cfg.MaxClients)
		line("blocked_clients", s.blockedConns.Load())
	case "memory":
		st := c.be().Stats()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.WriteString("# Memory\r\n")
		line("used_memory", st.Bytes)
		line("used_memory_human", humanBytes(st.Bytes))
		// Redis's used_memory_rss is the process's resident set; used_memory above is the
		// data (what counts against maxmemory).
		rss := processRSS()
		if rss == 0 {
			rss = int64(ms.Sys)
		}
		line("used_memory_rss", rss)
		line("used_memory_rss_human", humanBytes(rss))
		line("maxmemory", st.MaxMemory)
		line("maxmemory_human", humanBytes(st.MaxMemory))
		line("maxmemory_policy", "allkeys-lru")
		line("process_heap_bytes", ms.HeapAlloc)
		line("process_sys_bytes", ms.Sys)
	case "persistence":
		s.writePersistenceInfo(b, line)
	case "stats":
		st := c.be().Stats()
		ss := s.Stats()
		b.WriteString("# Stats\r\n")
		line("total_connections_received", ss.ConnectionsTotal)
		line("total_commands_processed", ss.Commands)
		line("rejected_connections", ss.ConnectionsRejected)
		line("protocol_errors", ss.ProtocolErrors)
		line("expired_keys", st.Expirations)
		line("evicted_keys", st.Evictions)
		line("keyspace_hits", st.Hits)
		line("keyspace_misses", st.Misses)
		line("total_writes", st.Sets)
		line("total_deletes", st.Deletes)
		line("delete_tombstones", st.DeleteTombstones)
		line("local_tombstones", st.LocalTombstones)
		line("local_tombstones_dropped", st.LocalTombstonesDropped)
		line("read_through_hits", st.RemoteHits)
		line("read_through_misses", st.RemoteMisses)
		line("origin_loads", st.OriginLoads)
	case "replication":
		b.WriteString("# Replication\r\n")
		line("role", "master")
		line("connected_slaves", 0)
		region, replica := "", ""
		if r, ok := s.b.(interface{ Region() string }); ok {
			region = r.Region()
		}
		if r, ok := s.b.(interface{ ReplicaID() crdt.ReplicaID }); ok {
			replica = r.ReplicaID().String()
		}
		var peers []node.Member
		var rs node.ReplicationStats
		if s.cluster != nil {
			for _, m := range s.cluster.Members() {
				if !m.Self {
					peers = append(peers, m)
				}
			}
			rs = s.cluster.ReplicationStats()
		}
		connected := 0
		for _, p := range peers {
			if p.Connected {
				connected++
			}
		}
		peerID := ""
		if r, ok := s.b.(interface{ PeerID() string }); ok {
			peerID = r.PeerID()
		}
		line("cluster_region", region)
		line("cluster_replica_id", replica)
		line("cluster_peer_id", peerID)
		line("cluster_peers", len(peers))
		line("cluster_peers_connected", connected)
		for i, p := range peers {
			conn := "disconnected"
			if p.Connected {
				conn = "connected"
			}
			line("peer"+strconv.Itoa(i), "id="+p.PeerID+",region="+p.Region+",state="+p.State+
				",link="+conn+",lag_ms="+strconv.FormatFloat(float64(p.Lag.Microseconds())/1000, 'f', 3, 64)+
				",rtt_ms="+strconv.FormatFloat(float64(p.RTT.Microseconds())/1000, 'f', 3, 64)+
				",behind="+strconv.FormatUint(p.Behind, 10)+",resp="+p.RESP)
		}
		line("repl_deltas_sent", rs.DeltasSent)
		line("repl_deltas_applied", rs.DeltasApplied)
		line("repl_deltas_stale", rs.DeltasStale)
		line("repl_deltas_duplicate", rs.DeltasDuplicate)
		line("repl_deltas_rejected", rs.DeltasRejected)
		line("repl_clock_skew_rejected", rs.ClockSkewRejected)
		line("repl_deltas_dropped", rs.DeltasDropped)
		line("repl_sync_sessions", rs.SyncSessions)
		line("repl_sync_failures", rs.SyncFailures)
		line("repl_log_bytes", rs.LogBytes)
		line("repl_deltas_received_gossip", rs.GossipDeltasRecv)
		line("repl_deltas_received_sync", rs.SyncDeltasIn)
		line("repl_sync_deltas_duplicate", rs.SyncDeltasDuplicate)
		line("repl_sync_deltas_stale", rs.SyncDeltasStale)
		line("repl_sync_starts_connect", rs.SyncStartsConnect)
		line("repl_sync_starts_gap", rs.SyncStartsGap)
		line("repl_sync_starts_loss", rs.SyncStartsLoss)
		line("repl_sync_starts_periodic", rs.SyncStartsPeriodic)
		line("repl_sync_paced", rs.SyncPaced)
		line("repl_passes_waited", rs.PassesWaited)
		line("repl_snapshots_sent", rs.SnapshotsSent)
		if cs, ok := s.cluster.(interface{ ClusterStats() node.ClusterStats }); ok {
			st := cs.ClusterStats()
			line("cluster_dials", st.Dials)
			line("cluster_dial_failures", st.DialFailures)
			line("cluster_handshake_failures", st.HandshakeFailures)
			line("cluster_refused_peers", st.RefusedPeers)
			line("cluster_members_lost", st.MembersLost)
			line("cluster_members_regained", st.MembersRegained)
			line("cluster_identity_changes", st.IdentityChanges)
			line("cluster_stale_conns_closed", st.StaleConnsClosed)
			line("cluster_gossip_resets", st.GossipResets)
			line("cluster_dropped_outbound", st.DroppedOutbound)
		}
	case "keyspace":
		b.WriteString("# Keyspace\r\n")
		ki := node.KeyspaceInfo{Keys: c.be().Len()}
		if k, ok := c.be().(interface{ KeyspaceInfo() node.KeyspaceInfo }); ok {
			ki = k.KeyspaceInfo()
		}
		if ki.Keys > 0 {
			line("db0", "keys="+strconv.Itoa(ki.Keys)+",expires="+strconv.Itoa(ki.Expires)+
				",avg_ttl="+strconv.FormatInt(ki.AvgTTL.Milliseconds(), 10))
		}
	}
}

// humanBytes formats n as Redis's used_memory_human does ("1.50M").
func humanBytes(n int64) string {
	f := float64(n)
	switch {
	case f < 1024:
		return strconv.FormatInt(n, 10) + "B"
	case f < 1024*1024:
		return strconv.FormatFloat(f/1024, 'f', 2, 64) + "K"
	case f < 1024*1024*1024:
		return strconv.FormatFloat(f/(1024*1024), 'f', 2, 64) + "M"
	case f < 1024*1024*1024*1024:
		return strconv.FormatFloat(f/(1024*1024*1024), 'f', 2, 64) + "G"
	}
	return strconv.FormatFloat(f/(1024*1024*1024*1024), 'f', 2, 64) + "T"
}

// cmdConfigGet serves CONFIG GET for the few parameters clients and tools read at start
// (redis-benchmark reads save and appendonly). Only the encoding thresholds are settable at
// run time, and they change nothing (cmd_config.go).
func cmdConfigGet(_ context.Context, s *Server, c *client, argv [][]byte) {
	st := c.be().Stats()
	params := []struct{ k, v string }{
		{"maxmemory", strconv.FormatInt(st.MaxMemory, 10)},
		{"maxmemory-policy", "allkeys-lru"},
		{"maxclients", strconv.Itoa(s.cfg.MaxClients)},
		{"timeout", strconv.FormatInt(int64(max(s.cfg.IdleTimeout, 0)/time.Second), 10)},
		{"proto-max-bulk-len", strconv.Itoa(s.cfg.MaxBulkLen)},
		{"client-query-buffer-limit", strconv.Itoa(s.cfg.MaxRequestSize)},
		{"databases", "1"},
		{"save", ""},
		{"appendonly", "no"},
		{"busy-reply-threshold", strconv.FormatInt(s.busyTime.Load()/int64(time.Millisecond), 10)},
		{"lua-time-limit", strconv.FormatInt(s.busyTime.Load()/int64(time.Millisecond), 10)},
	}
	params = append(params, s.encoding.list()...)
	var out []int
	for i, p := range params {
		for _, pat := range argv[2:] {
			if node.Match(strings.ToLower(string(pat)), p.k) {
				out = append(out, i)
				break
			}
		}
	}
	c.out = appendMapLen(c.out, len(out), c.proto)
	for _, i := range out {
		c.out = appendBulkString(c.out, params[i].k)
		c.out = appendBulkString(c.out, params[i].v)
	}
}

// processRSS is this process's resident set size in bytes, from /proc/self/statm (0 where that
// does not exist).
func processRSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
