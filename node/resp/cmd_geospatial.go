package resp

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/geocache/geocache/crdt"
)

// Redis's geospatial commands (src/geo.c). A geo index is a sorted set whose scores are
// geohashes (geohash.go): GEOADD is ZADD of encoded positions through ZADD's write, the
// searches read score ranges as ZRANGEBYSCORE does, and so a geo index replicates and merges
// across regions exactly as any sorted set (concurrent GEOADDs of different members all
// survive; of one member, the sorted set's rule picks the position), and ZRANGE, ZREM, TYPE,
// DUMP see a sorted set.

func addGeoCommands(add func(name string, arity, flags int, fn handler) *command) {
	add("geoadd", -5, flagWrite, cmdGeoAdd)
	add("geopos", -2, 0, cmdGeoPos)
	add("geohash", -2, 0, cmdGeoPos)
	add("geodist", -4, 0, cmdGeoDist)
	add("georadius", -6, flagWrite, cmdGeoSearch)
	add("georadius_ro", -6, 0, cmdGeoSearch)
	add("georadiusbymember", -5, flagWrite, cmdGeoSearch)
	add("georadiusbymember_ro", -5, 0, cmdGeoSearch)
	add("geosearch", -7, 0, cmdGeoSearch)
	add("geosearchstore", -8, flagWrite, cmdGeoSearch)
}

const errGeoMember = "ERR could not decode requested zset member"

// parseLonLat parses a longitude and a latitude as extractLongLatOrReply, replying on error.
func parseLonLat(c *client, lonArg, latArg []byte) (lon, lat float64, ok bool) {
	if lon, ok = parseDouble(lonArg); !ok {
		c.out = appendError(c.out, errNotFloat)
		return 0, 0, false
	}
	if lat, ok = parseDouble(latArg); !ok {
		c.out = appendError(c.out, errNotFloat)
		return 0, 0, false
	}
	if lon < geoLonMin || lon > geoLonMax || lat < geoLatMin || lat > geoLatMax {
		c.out = appendError(c.out, "ERR invalid longitude,latitude pair "+formatCFloat(lon)+","+formatCFloat(lat))
		return 0, 0, false
	}
	return lon, lat, true
}

// parseDouble parses a number as Redis's string2d (strtod): no leading space, the whole
// argument, hexadecimal allowed, and an overflow to infinity, an underflow to zero or a NaN
// refused (parseFloatArg, ZADD's, accepts the first two).
func parseDouble(b []byte) (float64, bool) {
	if len(b) == 0 || isCSpace(b[0]) {
		return 0, false
	}
	s := string(b)
	f, err := strconv.ParseFloat(s, 64)
	mant := s
	if isHexFloat(s) {
		i := strings.IndexAny(s, "pP")
		if i < 0 {
			f, err = strconv.ParseFloat(s+"p0", 64) // strtod takes hex without an exponent
		} else {
			mant = s[:i]
		}
		mant = strings.TrimLeft(mant, "+-")[2:]
	} else if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
	}
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	if f == 0 && strings.ContainsFunc(mant, func(r rune) bool { return r != '0' && r != '.' && r != '+' && r != '-' }) {
		return 0, false // underflow
	}
	return f, true
}

func isCSpace(ch byte) bool { return ch == ' ' || (ch >= '\t' && ch <= '\r') }

func isHexFloat(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')
}

// formatCFloat is C's %f.
func formatCFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return strconv.FormatFloat(v, 'f', 6, 64)
}

// parseUnit returns the metres of a unit (extractUnitOrReply), replying on error.
func parseUnit(c *client, b []byte) (float64, bool) {
	switch {
	case equalFold(b, "m"):
		return 1, true
	case equalFold(b, "km"):
		return 1000, true
	case equalFold(b, "ft"):
		return 0.3048, true
	case equalFold(b, "mi"):
		return 1609.34, true
	}
	c.out = appendError(c.out, "ERR unsupported unit provided. please use M, KM, FT, MI")
	return 0, false
}

// formatDistance is Redis's distance reply (fixedpoint_d2string with 4 decimals): the value
// times 10^4 rounded half to even, printed with the point put back.
func formatDistance(d float64) string {
	if d == 0 {
		return "0.0000"
	}
	v := int64(math.RoundToEven(d * 10000))
	neg := v < 0
	u := uint64(v)
	if neg {
		u = uint64(-v)
	}
	frac := strconv.FormatUint(u%10000, 10)
	s := strconv.FormatUint(u/10000, 10) + "." + "0000"[len(frac):] + frac
	if neg {
		return "-" + s
	}
	return s
}

// appendCoord appends a coordinate as addReplyHumanLongDouble: %.17Lf without trailing
// zeros, a bulk string in RESP2 and a double in RESP3.
func appendCoord(b []byte, v float64, proto int) []byte {
	s := strings.TrimRight(strconv.FormatFloat(v, 'f', 17, 64), "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" {
		s = "0"
	}
	if proto == 3 {
		b = append(b, ',')
		b = append(b, s...)
		return append(b, '\r', '\n')
	}
	return appendBulkString(b, s)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cmdGeoAdd serves GEOADD key [NX|XX] [CH] lon lat member [...]: ZADD of the members'
// geohashes, through ZADD's write and with its reply.
func cmdGeoAdd(ctx context.Context, s *Server, c *client, argv [][]byte) {
	var nx, xx, ch bool
	j := 2
	for ; j < len(argv); j++ {
		switch {
		case equalFold(argv[j], "nx"):
			nx = true
		case equalFold(argv[j], "xx"):
			xx = true
		case equalFold(argv[j], "ch"):
			ch = true
		default:
			goto done
		}
	}
done:
	rest := argv[j:]
	if len(rest)%3 != 0 || (nx && xx) {
		c.out = appendError(c.out, errSyntax)
		return
	}
	op := c.ops.zadd()
	op.nx, op.xx = nx, xx
	for i := 0; i < len(rest); i += 3 {
		lon, lat, ok := parseLonLat(c, rest[i], rest[i+1])
		if !ok {
			op.reset()
			return
		}
		h, _ := geohashEncodeWGS84(lon, lat, geoStepMax)
		op.pairs = append(op.pairs, zaddPair{float64(h.align52()), string(rest[i+2])})
	}
	zaddWrite(ctx, c, argv[1], op, ch)
}

// cmdGeoPos serves GEOPOS and GEOHASH key member [...].
func cmdGeoPos(ctx context.Context, s *Server, c *client, argv [][]byte) {
	scores := make([]float64, len(argv)-2)
	found := make([]bool, len(scores))
	_, err := c.be().ReadZSet(ctx, string(argv[1]), func(z *crdt.ZSet) {
		for i, m := range argv[2:] {
			scores[i], found[i] = z.Score(string(m))
		}
	})
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	hash := equalFold(argv[0], "geohash")
	c.out = appendArrayLen(c.out, len(scores))
	for i, sc := range scores {
		switch {
		case hash && !found[i]:
			c.out = appendNull(c.out, c.proto)
		case hash:
			c.out = appendBulkString(c.out, geohashString(sc))
		case !found[i]:
			c.out = appendNullArray(c.out, c.proto)
		default:
			lon, lat := geoDecodeScore(sc)
			c.out = appendArrayLen(c.out, 2)
			c.out = appendCoord(c.out, lon, c.proto)
			c.out = appendCoord(c.out, lat, c.proto)
		}
	}
}

// cmdGeoDist serves GEODIST key member1 member2 [unit].
func cmdGeoDist(ctx context.Context, s *Server, c *client, argv [][]byte) {
	toMeter := 1.0
	switch {
	case len(argv) == 5:
		var ok bool
		if toMeter, ok = parseUnit(c, argv[4]); !ok {
			return
		}
	case len(argv) > 5:
		c.out = appendError(c.out, errSyntax)
		return
	}
	var s1, s2 float64
	var ok1, ok2 bool
	_, err := c.be().ReadZSet(ctx, string(argv[1]), func(z *crdt.ZSet) {
		s1, ok1 = z.Score(string(argv[2]))
		s2, ok2 = z.Score(string(argv[3]))
	})
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case !ok1 || !ok2:
		c.out = appendNull(c.out, c.proto)
	default:
		lon1, lat1 := geoDecodeScore(s1)
		lon2, lat2 := geoDecodeScore(s2)
		c.out = appendBulkString(c.out, formatDistance(geoDistance(lon1, lat1, lon2, lat2)/toMeter))
	}
}

// geoPoint is a search's match (geoPoint): its position, distance in metres and score. The
// distance is geoDistanceFast's until exact is set (exactDist): the exact one is computed
// only where it shows, in a reply, a stored score or the order of close distances.
type geoPoint struct {
	lon, lat, dist, score float64
	member                string
	exact                 bool
}

// The variants of georadiusGeneric.
const (
	geoFromCoords  = 1 << iota // GEORADIUS: lon lat radius unit
	geoFromMember              // GEORADIUSBYMEMBER: member radius unit
	geoNoStore                 // the _RO variants: no STORE or STOREDIST
	geoSearch                  // GEOSEARCH's arguments
	geoSearchStore             // GEOSEARCHSTORE: destination first, STOREDIST a flag
)

// geoQuery is a parsed search: the shape, the options, the store key.
type geoQuery struct {
	shape                          geoShape
	withDist, withHash, withCoords bool
	sort                           int // 0 none, 1 ascending, 2 descending
	any                            bool
	count                          int64
	storeKey                       []byte
	storeDist                      bool
	store                          bool       // run left the store and its reply to the caller
	points                         []geoPoint // what to store
}

// cmdGeoSearch serves GEORADIUS, GEORADIUSBYMEMBER, their _RO variants, GEOSEARCH and
// GEOSEARCHSTORE, as Redis's georadiusGeneric: the arguments are parsed against the source
// set (a member's position is looked up as its argument is met, so errors come in Redis's
// order), the cells around the centre are read as score ranges, the matches filtered by
// distance, sorted and replied or stored.
func cmdGeoSearch(ctx context.Context, s *Server, c *client, argv [][]byte) {
	flags, src := 0, 1
	switch string(lowerASCII(argv[0])) {
	case "georadius":
		flags = geoFromCoords
	case "georadius_ro":
		flags = geoFromCoords | geoNoStore
	case "georadiusbymember":
		flags = geoFromMember
	case "georadiusbymember_ro":
		flags = geoFromMember | geoNoStore
	case "geosearch":
		flags = geoSearch
	default:
		flags, src = geoSearch|geoSearchStore, 2
	}
	var q geoQuery
	done := false
	found, err := c.be().ReadZSet(ctx, string(argv[src]), func(z *crdt.ZSet) {
		done = true
		q.run(c, argv, flags, z)
	})
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	if !found && !done {
		q.run(c, argv, flags, nil)
	}
	if !q.store {
		return
	}
	// A store: the matches replace the destination (none deletes it), as ZRANGESTORE's.
	ms := make([]zms, len(q.points))
	for i, p := range q.points {
		ms[i] = zms{p.member, p.score}
		if q.storeDist {
			ms[i].s = p.dist
		}
	}
	if err := zstore(ctx, c.be(), string(q.storeKey), ms); err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendInt(c.out, int64(len(ms)))
}

// run parses the arguments and searches z (nil: no such key). It replies, except to a store
// (then store is set and points holds what to store: the caller writes and replies).
func (q *geoQuery) run(c *client, argv [][]byte, flags int, z *crdt.ZSet) {
	sh := &q.shape
	var base int
	switch {
	case flags&geoFromCoords != 0:
		base = 6
		var ok bool
		if sh.lon, sh.lat, ok = parseLonLat(c, argv[2], argv[3]); !ok {
			return
		}
		if !q.parseRadius(c, argv[4], argv[5]) {
			return
		}
	case flags&geoFromMember != 0 && z == nil:
		// No source: parse the options only, to know which reply an empty result takes.
		base = 5
	case flags&geoFromMember != 0:
		base = 5
		sc, ok := z.Score(string(argv[2]))
		if !ok {
			c.out = appendError(c.out, errGeoMember)
			return
		}
		sh.lon, sh.lat = geoDecodeScore(sc)
		if !q.parseRadius(c, argv[3], argv[4]) {
			return
		}
	default:
		base = 2
		if flags&geoSearchStore != 0 {
			base = 3
			q.storeKey = argv[1]
		}
	}
	var fromMember, fromLoc, byRadius, byBox bool
	rest := argv[base:]
	for i := 0; i < len(rest); i++ {
		arg, left := rest[i], len(rest)-i-1
		switch {
		case equalFold(arg, "withdist"):
			q.withDist = true
		case equalFold(arg, "withhash"):
			q.withHash = true
		case equalFold(arg, "withcoord"):
			q.withCoords = true
		case equalFold(arg, "any"):
			q.any = true
		case equalFold(arg, "asc"):
			q.sort = 1
		case equalFold(arg, "desc"):
			q.sort = 2
		case equalFold(arg, "count") && left >= 1:
			n, err := strconv.ParseInt(string(rest[i+1]), 10, 64)
			if err != nil {
				c.out = appendError(c.out, errNotInteger)
				return
			}
			if n <= 0 {
				c.out = appendError(c.out, "ERR COUNT must be > 0")
				return
			}
			q.count = n
			i++
		case (equalFold(arg, "store") || equalFold(arg, "storedist")) && left >= 1 &&
			flags&(geoNoStore|geoSearch) == 0:
			q.storeKey, q.storeDist = rest[i+1], equalFold(arg, "storedist")
			i++
		case equalFold(arg, "storedist") && flags&geoSearchStore != 0:
			q.storeDist = true
		case equalFold(arg, "frommember") && left >= 1 && flags&geoSearch != 0 && !fromLoc:
			if z != nil {
				sc, ok := z.Score(string(rest[i+1]))
				if !ok {
					c.out = appendError(c.out, errGeoMember)
					return
				}
				sh.lon, sh.lat = geoDecodeScore(sc)
			}
			fromMember = true
			i++
		case equalFold(arg, "fromlonlat") && left >= 2 && flags&geoSearch != 0 && !fromMember:
			var ok bool
			if sh.lon, sh.lat, ok = parseLonLat(c, rest[i+1], rest[i+2]); !ok {
				return
			}
			fromLoc = true
			i += 2
		case equalFold(arg, "byradius") && left >= 2 && flags&geoSearch != 0 && !byBox:
			if !q.parseRadius(c, rest[i+1], rest[i+2]) {
				return
			}
			sh.box, byRadius = false, true
			i += 2
		case equalFold(arg, "bybox") && left >= 3 && flags&geoSearch != 0 && !byRadius:
			if !q.parseBox(c, rest[i+1], rest[i+2], rest[i+3]) {
				return
			}
			sh.box, byBox = true, true
			i += 3
		default:
			c.out = appendError(c.out, errSyntax)
			return
		}
	}
	if q.storeKey != nil && (q.withDist || q.withHash || q.withCoords) {
		what := "STORE option in GEORADIUS"
		if flags&geoSearchStore != 0 {
			what = "GEOSEARCHSTORE"
		}
		c.out = appendError(c.out, "ERR "+what+" is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
		return
	}
	if flags&geoSearch != 0 && !fromMember && !fromLoc {
		c.out = appendError(c.out, "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for "+string(argv[0]))
		return
	}
	if flags&geoSearch != 0 && !byRadius && !byBox {
		c.out = appendError(c.out, "ERR exactly one of BYRADIUS and BYBOX can be specified for "+string(argv[0]))
		return
	}
	if q.any && q.count == 0 {
		c.out = appendError(c.out, "ERR the ANY argument requires COUNT argument")
		return
	}
	if z == nil {
		if q.storeKey != nil {
			q.store = true // no points: the destination is deleted
			return
		}
		c.out = appendArrayLen(c.out, 0)
		return
	}
	// COUNT without an order means the nearest: ascending (not with ANY).
	if q.count != 0 && q.sort == 0 && !q.any {
		q.sort = 1
	}
	limit := int64(0)
	if q.any {
		limit = q.count
	}
	ga := geoMembersOfCells(z, sh, limit)
	if len(ga) == 0 && q.storeKey == nil {
		c.out = appendArrayLen(c.out, 0)
		return
	}
	returned := len(ga)
	if q.count != 0 && int64(returned) > q.count {
		returned = int(q.count)
	}
	if q.sort != 0 {
		cmp := func(a, b *geoPoint) int { return geoCmpAsc(sh, a, b) }
		if q.sort == 2 {
			cmp = func(a, b *geoPoint) int { return -geoCmpAsc(sh, a, b) }
		}
		if returned == len(ga) {
			// glibc's qsort, which Redis calls, is a stable merge sort. Sorted by index, then
			// permuted: moving the points themselves was a tenth of a large search.
			idx := make([]int32, len(ga))
			for i := range idx {
				idx[i] = int32(i)
			}
			slices.SortStableFunc(idx, func(i, j int32) int { return cmp(&ga[i], &ga[j]) })
			sorted := make([]geoPoint, len(ga))
			for i, j := range idx {
				sorted[i] = ga[j]
			}
			ga = sorted
		} else {
			pqsort(ga, 0, returned-1, cmp)
		}
	}
	ga = ga[:returned]
	for i := range ga {
		if q.withDist || q.storeDist {
			ga[i].exactDist(sh)
		}
		ga[i].dist /= sh.conversion
	}
	if q.storeKey != nil {
		q.points, q.store = ga, true
		return
	}
	opts := boolInt(q.withDist) + boolInt(q.withHash) + boolInt(q.withCoords)
	c.out = appendArrayLen(c.out, len(ga))
	for _, p := range ga {
		if opts > 0 {
			c.out = appendArrayLen(c.out, opts+1)
		}
		c.out = appendBulkString(c.out, p.member)
		if q.withDist {
			c.out = appendBulkString(c.out, formatDistance(p.dist))
		}
		if q.withHash {
			c.out = appendInt(c.out, int64(p.score))
		}
		if q.withCoords {
			c.out = appendArrayLen(c.out, 2)
			c.out = appendCoord(c.out, p.lon, c.proto)
			c.out = appendCoord(c.out, p.lat, c.proto)
		}
	}
}

// parseRadius parses radius and unit (extractDistanceOrReply), replying on error.
func (q *geoQuery) parseRadius(c *client, r, unit []byte) bool {
	d, ok := parseDouble(r)
	if !ok {
		c.out = appendError(c.out, "ERR need numeric radius")
		return false
	}
	if d < 0 {
		c.out = appendError(c.out, "ERR radius cannot be negative")
		return false
	}
	q.shape.radius = d
	q.shape.conversion, ok = parseUnit(c, unit)
	return ok
}

// parseBox parses width, height and unit (extractBoxOrReply), replying on error.
func (q *geoQuery) parseBox(c *client, w, h, unit []byte) bool {
	width, ok := parseDouble(w)
	if !ok {
		c.out = appendError(c.out, "ERR need numeric width")
		return false
	}
	height, ok := parseDouble(h)
	if !ok {
		c.out = appendError(c.out, "ERR need numeric height")
		return false
	}
	if height < 0 || width < 0 {
		c.out = appendError(c.out, "ERR height or width cannot be negative")
		return false
	}
	q.shape.width, q.shape.height = width, height
	q.shape.conversion, ok = parseUnit(c, unit)
	return ok
}

// geoMembersOfCells returns the members in the shape from the cells around its centre, in
// the order Redis finds them: cell by cell, each as a score range [min, max) read as
// ZRANGEBYSCORE reads one (zspec.window). limit > 0 (ANY) stops at that many.
func geoMembersOfCells(z *crdt.ZSet, sh *geoShape, limit int64) []geoPoint {
	cells := sh.cells()
	var ga []geoPoint
	last := 0
	for i, h := range cells {
		if h.isZero() {
			continue
		}
		// A huge radius can make neighbours the same cell: each is read once.
		if last != 0 && h == cells[last] {
			continue
		}
		if limit > 0 && int64(len(ga)) >= limit {
			break
		}
		lo := h.align52()
		h.bits++
		hi := h.align52()
		sp := zspec{kind: byScore, minScore: scoreBound{v: float64(lo)}, maxScore: scoreBound{v: float64(hi), excl: true}}
		from, to := sp.window(z)
		if from < to {
			n := to - from
			z.Walk(from, false, func(m string, score float64) bool {
				lon, lat := geoDecodeScore(score)
				if d, exact, ok := sh.within(lon, lat); ok {
					ga = append(ga, geoPoint{lon, lat, d, score, m, exact})
				}
				n--
				return n > 0 && !(limit > 0 && int64(len(ga)) >= limit)
			})
		}
		last = i
	}
	return ga
}
