package main

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// fleet is everything under test, both sides, started once per run:
//
//   - redis: a primary with two --replicaof replicas (the replicated anchor) and a standalone
//     redis-server (the anchor the brief compares a cluster node's writes with);
//   - geocache: a three-node cluster on loopback, peers connected, and a standalone node
//     (--p2p-listen "") for the memory row's "standalone" role.
//
// Every process gets the same memory limit (redis --maxmemory with allkeys-lru, geocache
// --max-memory), so the peak RSS row compares like with like.
type fleet struct {
	redis   []*server // primary, replica 1, replica 2
	redisSA *server
	geo     []*server // cluster nodes a, b, c
	geoSA   *server
}

func (f *fleet) all() []*server {
	out := append(append([]*server{}, f.redis...), f.redisSA)
	out = append(out, f.geo...)
	return append(out, f.geoSA)
}

// procRole names one process of the fleet for the tables.
type procRole struct {
	side, role string
	s          *server
}

// roles is every process, redis first, in the order the tables list them.
func (f *fleet) roles() []procRole {
	return []procRole{
		{"redis", "primary (writer)", f.redis[0]}, {"redis", "replica", f.redis[1]}, {"redis", "replica", f.redis[2]},
		{"redis", "standalone", f.redisSA},
		{"geocache", "node a (writer)", f.geo[0]}, {"geocache", "node b (receiver)", f.geo[1]},
		{"geocache", "node c (receiver)", f.geo[2]}, {"geocache", "standalone", f.geoSA},
	}
}

func (f *fleet) stop() {
	for _, s := range f.all() {
		if s != nil {
			s.stop()
		}
	}
}

// port layout inside the range starting at base.
const (
	offRedis   = 0  // +0 primary, +1 and +2 replicas, +3 standalone
	offGeoRESP = 10 // +10..+12 cluster nodes, +13 standalone
	offGeoHTTP = 20
	offGeoP2P  = 30
	portsUsed  = 34
)

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

func startFleet(ctx context.Context, cfg *config, dir string) (*fleet, error) {
	f := &fleet{}
	ok := false
	defer func() {
		if !ok {
			f.stop()
		}
	}()
	mem := strconv.FormatInt(cfg.maxMemory, 10)
	redisArgs := func(port int) []string {
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--maxmemory", mem, "--maxmemory-policy", "allkeys-lru", "--dir", dir}
	}
	for i := range 3 {
		a := redisArgs(cfg.port(offRedis + i))
		if i > 0 {
			a = append(a, "--replicaof", "127.0.0.1", strconv.Itoa(cfg.port(offRedis)))
		}
		s, err := startServer(ctx, dir, "redis-"+strconv.Itoa(i), addr(cfg.port(offRedis+i)), cfg.redisServer, a...)
		if err != nil {
			return nil, err
		}
		f.redis = append(f.redis, s)
	}
	s, err := startServer(ctx, dir, "redis-standalone", addr(cfg.port(offRedis+3)), cfg.redisServer, redisArgs(cfg.port(offRedis+3))...)
	if err != nil {
		return nil, err
	}
	f.redisSA = s

	ids := make([]string, 3)
	for i := range ids {
		if ids[i], err = writeIdentity(filepath.Join(dir, "geo-"+strconv.Itoa(i))); err != nil {
			return nil, err
		}
	}
	geoArgs := func(i int) []string {
		return []string{
			"--resp-listen", addr(cfg.port(offGeoRESP + i)),
			"--http-listen", addr(cfg.port(offGeoHTTP + i)),
			"--max-memory", mem,
			"--log-level", "warn",
			"--pprof",
		}
	}
	for i := range 3 {
		a := append(geoArgs(i),
			"--p2p-listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", cfg.port(offGeoP2P+i)),
			"--data-dir", filepath.Join(dir, "geo-"+strconv.Itoa(i)))
		for j := range 3 {
			if j != i {
				a = append(a, "--join", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", cfg.port(offGeoP2P+j), ids[j]))
			}
		}
		s, err := startServer(ctx, dir, "geocache-"+string(rune('a'+i)), addr(cfg.port(offGeoRESP+i)), cfg.geocache, a...)
		if err != nil {
			return nil, err
		}
		f.geo = append(f.geo, s)
	}
	if s, err = startServer(ctx, dir, "geocache-standalone", addr(cfg.port(offGeoRESP+3)), cfg.geocache, append(geoArgs(3), "--p2p-listen", "")...); err != nil {
		return nil, err
	}
	f.geoSA = s

	if err := waitReplicas(ctx, f.redis[1:], 30*time.Second); err != nil {
		return nil, err
	}
	if err := waitMesh(ctx, f.geo, 60*time.Second); err != nil {
		return nil, err
	}
	ok = true
	return f, nil
}

// waitReplicas waits until each replica reports its link to the primary up.
func waitReplicas(ctx context.Context, replicas []*server, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, r := range replicas {
		for {
			v, _ := infoField(r.addr, "replication", "master_link_status")
			if v == "up" {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("geobench: replica %s not linked to its primary", r.name)
			}
			time.Sleep(50 * time.Millisecond) // polling a process we do not control
		}
	}
	return nil
}

// waitMesh waits until a write on each node is readable on every other node within 100 ms:
// peers connected, gossip subscriptions exchanged (until then writes arrive by anti-entropy,
// hundreds of milliseconds late), every node warmed.
func waitMesh(ctx context.Context, nodes []*server, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for round := 0; ; round++ {
		fast := true
		for i, src := range nodes {
			key := fmt.Sprintf("geobench:mesh:%d:%d", round, i)
			if err := setKey(src.addr, key, "1"); err != nil {
				return err
			}
			t0 := time.Now()
			for _, dst := range nodes {
				if dst == src {
					continue
				}
				for {
					v, err := getKey(dst.addr, key)
					if err != nil {
						return err
					}
					if v != "" {
						break
					}
					if time.Now().After(deadline) || ctx.Err() != nil {
						return fmt.Errorf("geobench: a write on %s never reached %s", src.name, dst.name)
					}
					time.Sleep(5 * time.Millisecond) // polling processes we do not control
				}
			}
			if time.Since(t0) > 100*time.Millisecond {
				fast = false
			}
		}
		if fast {
			return nil
		}
	}
}

func setKey(a, key, val string) error {
	c, err := dialRESP(a, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.do("SET", key, val)
	return err
}

func getKey(a, key string) (string, error) {
	c, err := dialRESP(a, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.do("GET", key)
}

// flushAll empties a server (redis FLUSHALL; geocache FLUSHALL where it is supported). Errors
// are ignored: geocache may not implement it, and the rows do not depend on it.
func flushAll(a string) {
	if c, err := dialRESP(a, time.Second); err == nil {
		c.do("FLUSHALL")
		c.Close()
	}
}

// writeIdentity creates dir/identity.key (a marshalled libp2p Ed25519 key, the format the daemon
// reads from its --data-dir) and returns its peer id, so nodes can --join each other by id.
func writeIdentity(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	key, _, err := crypto.GenerateEd25519Key(crand.Reader)
	if err != nil {
		return "", err
	}
	b, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "identity.key"), b, 0o600); err != nil {
		return "", err
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// loadavg is /proc/loadavg's first three fields.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
