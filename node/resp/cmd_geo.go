package resp

import (
	"context"
	"strconv"
	"strings"

	"github.com/geocache/geocache/node"
)

// Locator is implemented by a Backend that knows where its cluster's members are (as
// *node.Node does); GEOCACHE.NEAREST uses it.
type Locator interface {
	Nearest(lat, lon float64, count int) []node.Member
}

// cmdNearest serves GEOCACHE.NEAREST lat lon [COUNT n]: the healthy nodes nearest to the
// position, nearest first, each as a map (RESP3) or flat field/value array (RESP2) of id,
// region, resp, http, state, lat, lon and rtt_ms. Clients use it to pick their closest region.
func cmdNearest(_ context.Context, s *Server, c *client, argv [][]byte) {
	lat, err1 := strconv.ParseFloat(string(argv[1]), 64)
	lon, err2 := strconv.ParseFloat(string(argv[2]), 64)
	if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		c.out = appendError(c.out, "ERR invalid longitude,latitude pair")
		return
	}
	count := 3
	switch {
	case len(argv) == 3:
	case len(argv) == 5 && equalFold(argv[3], "count"):
		n, ok := string2ll(argv[4])
		if !ok || n < 1 || n > 1000 {
			c.out = appendError(c.out, "ERR COUNT must be between 1 and 1000")
			return
		}
		count = int(n)
	default:
		c.out = appendError(c.out, errSyntax)
		return
	}
	l, ok := s.b.(Locator)
	if !ok {
		c.out = appendArrayLen(c.out, 0)
		return
	}
	ms := l.Nearest(lat, lon, count)
	c.out = appendArrayLen(c.out, len(ms))
	for _, m := range ms {
		c.out = appendMapLen(c.out, 8, c.proto)
		for _, kv := range [...][2]string{
			{"id", m.PeerID}, {"region", m.Region}, {"resp", m.RESP}, {"http", m.HTTP}, {"state", m.State},
			{"lat", strconv.FormatFloat(m.Lat, 'f', -1, 64)}, {"lon", strconv.FormatFloat(m.Lon, 'f', -1, 64)},
			{"rtt_ms", strconv.FormatFloat(float64(m.RTT.Microseconds())/1000, 'f', 3, 64)},
		} {
			c.out = appendBulkString(c.out, kv[0])
			c.out = appendBulkString(c.out, kv[1])
		}
	}
}

// Forgetter is implemented by a Backend that can forget a cluster member (as *node.Node does);
// GEOCACHE.FORGET uses it.
type Forgetter interface {
	Forget(ctx context.Context, peerID string) error
}

// cmdForget serves GEOCACHE.FORGET peer-id: forget an unreachable cluster member now (see
// node.Node.Forget). +OK, or an error saying why not (this node itself, a connected member, an
// unknown peer id).
func cmdForget(ctx context.Context, s *Server, c *client, argv [][]byte) {
	f, ok := s.b.(Forgetter)
	if !ok {
		c.out = appendError(c.out, "ERR this node has no cluster")
		return
	}
	id := string(argv[1])
	run := func(ctx context.Context) {
		if err := f.Forget(ctx, id); err != nil {
			c.out = appendError(c.out, "ERR "+strings.TrimPrefix(err.Error(), "node: "))
			return
		}
		c.out = appendSimple(c.out, "OK")
	}
	if c.loop != nil {
		// It writes the catalog: off the event loop, as WAIT.
		c.wait = &waitRequest{run: run}
		return
	}
	run(ctx)
}
