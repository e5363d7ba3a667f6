package resp_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/resp"
)

// TestGeoDumpRestoreWithRedis moves a geo index both ways between geocache and redis-server
// with DUMP and RESTORE: it is a sorted set, and the other side reads the same positions,
// geohashes and search replies from it.
func TestGeoDumpRestoreWithRedis(t *testing.T) {
	geoAddr, _, _ := startGeocache(t, resp.Config{}, nil)
	geo, red := dialRaw(t, geoAddr), dialRaw(t, startRedis(t))
	red.do(t, "FLUSHALL")
	r := rand.New(rand.NewPCG(61, 9))
	args := []string{"GEOADD", "idx"}
	var members []string
	for i := range 200 { // past 128: Redis keeps it as a skiplist, not a listpack
		m := "m" + strconv.Itoa(i)
		members = append(members, m)
		args = append(args, strconv.FormatFloat(r.Float64()*360-180, 'f', -1, 64),
			strconv.FormatFloat(r.Float64()*170-85, 'f', -1, 64), m)
	}
	for _, c := range []*rawConn{geo, red} {
		if got := c.do(t, args...); got != ":200\r\n" {
			t.Fatalf("GEOADD = %q", got)
		}
	}
	reads := [][]string{
		append([]string{"GEOPOS", "k"}, members...),
		append([]string{"GEOHASH", "k"}, members...),
		{"ZRANGE", "k", "0", "-1", "WITHSCORES"},
		{"GEOSEARCH", "k", "FROMMEMBER", "m7", "BYRADIUS", "5000", "km", "WITHDIST", "WITHCOORD", "WITHHASH"},
	}
	for _, dir := range []struct {
		name     string
		from, to *rawConn
	}{{"geocache to redis", geo, red}, {"redis to geocache", red, geo}} {
		payload := bulkBody(t, dir.from.do(t, "DUMP", "idx"))
		if got := dir.to.do(t, "RESTORE", "k", "0", payload, "REPLACE"); got != "+OK\r\n" {
			t.Fatalf("%s: RESTORE = %q", dir.name, got)
		}
		if got := dir.from.do(t, "RESTORE", "k", "0", payload, "REPLACE"); got != "+OK\r\n" {
			t.Fatalf("%s: RESTORE = %q", dir.name, got)
		}
		for _, rd := range reads {
			a, b := dir.from.do(t, rd...), dir.to.do(t, rd...)
			if a != b || strings.HasPrefix(a, "-") {
				t.Fatalf("%s: %s differs:\nfrom %.300q\nto   %.300q", dir.name, rd[0], a, b)
			}
		}
	}
}

// TestGeoIndexConverges writes one geo index on two replicating nodes at once: GEOADDs of
// different members on each all survive, a member both add (at different places) ends at one
// position on both, and the two answer every geo read alike: GEOADD's writes are ordinary
// sorted-set deltas, merged by the sorted set's rules.
func TestGeoIndexConverges(t *testing.T) {
	p2p := func(c *node.Config) { c.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"} }
	addrA, a, _ := startGeocache(t, resp.Config{}, p2p)
	addrB, _, _ := startGeocache(t, resp.Config{}, func(c *node.Config) {
		p2p(c)
		c.Join = a.P2PAddrs()
	})
	ca, cb := dialRaw(t, addrA), dialRaw(t, addrB)
	var wg sync.WaitGroup
	for i, c := range []*rawConn{ca, cb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				lon, lat := fmt.Sprint(-10+float64(j)*0.3), fmt.Sprint(40+float64(i))
				// Each node's own members, and "both" moved by each.
				// Not c.do: it may call t.Fatal, which this goroutine must not.
				if _, err := c.Write(encode("GEOADD", "idx", lon, lat, fmt.Sprintf("n%d-%d", i, j), lon, lat, "both")); err != nil {
					t.Error(err)
					return
				}
				if got, err := c.readReply(5 * time.Second); err != nil || !strings.HasPrefix(got, ":") {
					t.Errorf("GEOADD = %q, %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	same := func(args ...string) bool { return ca.do(t, args...) == cb.do(t, args...) }
	waitUntil(t, 30*time.Second, func() bool { return same("ZRANGE", "idx", "0", "-1", "WITHSCORES") })
	if got := ca.do(t, "ZCARD", "idx"); got != ":101\r\n" {
		t.Fatalf("ZCARD = %q, want 101 (50 members of each node and one of both)", got)
	}
	for _, rd := range [][]string{
		{"GEOPOS", "idx", "both", "n0-0", "n1-49"},
		{"GEOSEARCH", "idx", "FROMMEMBER", "both", "BYBOX", "3000", "400", "km", "ASC", "WITHDIST", "WITHCOORD"},
		{"GEORADIUS", "idx", "0", "40", "500", "km", "COUNT", "7", "DESC", "WITHHASH"},
		{"TYPE", "idx"},
	} {
		if !same(rd...) {
			t.Errorf("%s differs: %q vs %q", rd[0], ca.do(t, rd...), cb.do(t, rd...))
		}
	}
	// A search on one node stores into a key the other reads.
	if got := ca.do(t, "GEOSEARCHSTORE", "near", "idx", "FROMLONLAT", "-10", "40", "BYRADIUS", "100", "km", "STOREDIST"); !strings.HasPrefix(got, ":") || got == ":0\r\n" {
		t.Fatalf("GEOSEARCHSTORE = %q", got)
	}
	waitUntil(t, 30*time.Second, func() bool { return same("ZRANGE", "near", "0", "-1", "WITHSCORES") })
}

// TestGeoSearchAtMemberDistances searches around members with radii and boxes equal to
// another member's distance, as GEODIST gives it (4 decimals: that member lies within 0.05 mm
// of the edge) and exactly (STOREDIST's 17 digits: on the edge, where a distance an ulp off
// leaves it out), comparing every reply with redis-server's: the edge decisions and stored
// distances must be Redis's to the last bit.
func TestGeoSearchAtMemberDistances(t *testing.T) {
	geoAddr, _, _ := startGeocache(t, resp.Config{}, nil)
	geo, red := dialRaw(t, geoAddr), dialRaw(t, startRedis(t))
	red.do(t, "FLUSHALL")
	r := rand.New(rand.NewPCG(61, 11))
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	const n = 400
	args := []string{"GEOADD", "k"}
	for i := range n {
		var lon, lat float64
		switch i % 4 {
		case 0: // near a pole's limit
			lon, lat = r.Float64()*360-180, 84.9+r.Float64()*0.15
		case 1: // across the antimeridian
			lon, lat = 179.9+r.Float64()*0.1, r.Float64()*2-1
			if r.IntN(2) == 0 {
				lon = -lon
			}
		case 2: // a city's worth
			lon, lat = 2.3+r.Float64()*0.1, 48.8+r.Float64()*0.1
		default:
			lon, lat = r.Float64()*360-180, r.Float64()*170-85
		}
		args = append(args, f(lon), f(lat), "m"+strconv.Itoa(i))
	}
	for _, c := range []*rawConn{geo, red} {
		c.do(t, args...)
	}
	for range 300 {
		a, b := "m"+strconv.Itoa(r.IntN(n)), "m"+strconv.Itoa(r.IntN(n))
		if r.IntN(2) == 0 { // a neighbour in the same group
			b = "m" + strconv.Itoa((r.IntN(n/4))*4+(ordinal(a)%4))
		}
		d := bulkBody(t, red.do(t, "GEODIST", "k", a, b))
		dd, _ := strconv.ParseFloat(d, 64)
		box := f(2 * dd)
		// b's exact distance, all 17 digits (STOREDIST in metres): b lies on that circle.
		red.do(t, "GEOSEARCHSTORE", "tmp", "k", "FROMMEMBER", a, "BYRADIUS", "30000000", "m", "STOREDIST")
		exact := bulkBody(t, red.do(t, "ZSCORE", "tmp", b))
		qs := [][]string{
			{"GEOSEARCH", "k", "FROMMEMBER", a, "BYRADIUS", d, "m", "WITHDIST", "ASC"},
			{"GEOSEARCH", "k", "FROMMEMBER", a, "BYBOX", box, box, "m", "WITHDIST", "DESC"},
			{"GEOSEARCH", "k", "FROMMEMBER", a, "BYBOX", box, "1e9", "m", "COUNT", "3"},
			{"GEORADIUSBYMEMBER", "k", a, d, "m", "COUNT", "5", "DESC", "WITHCOORD"},
		}
		if resp.GeoUsesLibm {
			// Without the C library's functions, one distance in a few hundred is an ulp off
			// (docs/api.md, Geospatial): these would see it.
			qs = append(qs,
				[]string{"GEOSEARCH", "k", "FROMMEMBER", a, "BYRADIUS", exact, "m", "ASC"},
				[]string{"GEORADIUSBYMEMBER", "k", a, exact, "m", "STOREDIST", "st"},
				[]string{"ZRANGE", "st", "0", "-1", "WITHSCORES"})
		}
		for _, q := range qs {
			if want, got := red.do(t, q...), geo.do(t, q...); want != got {
				t.Fatalf("%s:\n%s", strings.Join(q, " "), firstDiff(want, got))
			}
		}
	}
}

// ordinal is the number in a member name "m<n>".
func ordinal(m string) int { n, _ := strconv.Atoi(m[1:]); return n }

// firstDiff shows where two replies first differ.
func firstDiff(want, got string) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	from := max(0, i-120)
	return fmt.Sprintf("redis:    ...%q\ngeocache: ...%q", want[from:min(len(want), i+60)], got[from:min(len(got), i+60)])
}
