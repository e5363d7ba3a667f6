package testnet

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/geocache/geocache/crdt"
)

// Register is one key as a node holds it.
type Register struct {
	Key        string
	Value      string
	ExpireAtMs int64 // unix ms, 0 = never
	Version    crdt.Version
	Deleted    bool   // a replicated delete tombstone
	Type       string // "hash", "set", "zset" (Value is the encoded state), else "string" or ""
}

// NodeDump is everything one node held at one moment.
type NodeDump struct {
	Node    string
	Replica string
	At      time.Time     // when the dump was taken (testnet clock)
	Offset  time.Duration // the node's clock offset: its clock read At+Offset
	Regs    map[string]Register
	Partial bool // taken without /v1/dump: delete tombstones are invisible
}

// dumpLine is one line of GET /v1/dump.
type dumpLine struct {
	Key        string `json:"key"`
	ValueB64   string `json:"value_b64"`
	ExpireAtMs int64  `json:"expire_at_ms"`
	Version    string `json:"version"`
	HLC        uint64 `json:"hlc"`
	Replica    string `json:"replica"`
	Deleted    bool   `json:"deleted"`
	Type       string `json:"type"`
}

// errNoDump means the node has no /v1/dump endpoint.
var errNoDump = errors.New("testnet: node has no /v1/dump")

// Dump reads every register a node holds: from GET /v1/dump, or, on nodes without it, by
// scanning the keys over RESP and reading each over HTTP (delete tombstones are then invisible).
func (c *Cluster) Dump(ctx context.Context, n *Node) (NodeDump, error) {
	_, _, rep := n.State()
	d := NodeDump{Node: n.Name, Replica: rep, At: time.Now(), Offset: n.ClockOffset(), Regs: map[string]Register{}}
	err := c.dumpHTTP(ctx, n, &d)
	if errors.Is(err, errNoDump) {
		d.Partial = true
		err = c.dumpScan(ctx, n, &d)
	}
	return d, err
}

func (c *Cluster) dumpHTTP(ctx context.Context, n *Node, d *NodeDump) error {
	req, err := http.NewRequestWithContext(ctx, "GET", n.HTTP()+"/v1/dump", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
		io.Copy(io.Discard, resp.Body)
		return errNoDump
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("testnet: %s /v1/dump: %s", n.Name, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	for sc.Scan() {
		var l dumpLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("testnet: %s /v1/dump: %w", n.Name, err)
		}
		v, err := base64.StdEncoding.DecodeString(l.ValueB64)
		if err != nil {
			return fmt.Errorf("testnet: %s /v1/dump value: %w", n.Name, err)
		}
		ver, err := parseVersion(l.Version)
		if err != nil {
			var r uint64
			if _, err2 := fmt.Sscanf(l.Replica, "%x", &r); err2 != nil {
				return err
			}
			ver = crdt.Version{TS: crdt.Timestamp(l.HLC), Replica: crdt.ReplicaID(r)}
		}
		d.Regs[l.Key] = Register{Key: l.Key, Value: string(v), ExpireAtMs: l.ExpireAtMs, Version: ver, Deleted: l.Deleted, Type: l.Type}
	}
	return sc.Err()
}

func (c *Cluster) dumpScan(ctx context.Context, n *Node, d *NodeDump) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	rc, err := dialRESP(n.RESP(), time.Second)
	if err != nil {
		return err
	}
	defer rc.Close()
	var keys []string
	cursor := "0"
	for {
		r, err := rc.do(deadline, "SCAN", cursor, "COUNT", "1000")
		if err != nil {
			return err
		}
		if r.kind != '*' || len(r.arr) != 2 {
			return fmt.Errorf("testnet: %s SCAN: unexpected reply", n.Name)
		}
		for _, k := range r.arr[1].arr {
			keys = append(keys, k.str)
		}
		if cursor = r.arr[0].str; cursor == "0" {
			break
		}
	}
	for _, k := range keys {
		kr, err := c.readKey(ctx, n, k)
		if err != nil {
			return err
		}
		if kr.found {
			d.Regs[k] = Register{Key: k, Value: kr.value, ExpireAtMs: kr.expireAtMs, Version: kr.version}
		}
	}
	return nil
}

// keyRead is a key read over HTTP, with its version.
type keyRead struct {
	found      bool
	value      string
	version    crdt.Version
	expireAtMs int64
}

// readKey reads one key over HTTP with its version (X-Geocache-Version, else the ETag).
func (c *Cluster) readKey(ctx context.Context, n *Node, key string) (keyRead, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", n.HTTP()+"/v1/keys/"+url.PathEscape(key), nil)
	if err != nil {
		return keyRead{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return keyRead{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return keyRead{}, err
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		return keyRead{}, nil
	case http.StatusOK:
	default:
		return keyRead{}, fmt.Errorf("testnet: %s GET %s: %s", n.Name, key, resp.Status)
	}
	kr := keyRead{found: true, value: string(body)}
	if v := resp.Header.Get("X-Geocache-Version"); v != "" {
		kr.version, err = parseVersion(v)
	} else {
		kr.version, err = parseETag(resp.Header.Get("ETag"))
	}
	if err != nil {
		return keyRead{}, err
	}
	if e := resp.Header.Get("X-Geocache-Expires-At"); e != "" {
		if t, err := time.Parse(time.RFC3339Nano, e); err == nil {
			kr.expireAtMs = t.UnixMilli()
		}
	}
	return kr, nil
}
