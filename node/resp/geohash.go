package resp

import "math"

// Geohashes as Redis 7.0 computes them (src/geohash.c, src/geohash_helper.c), ported
// operation for operation so that scores, decoded positions, distances and the cells a search
// visits are Redis's to the last bit: a geo index is a sorted set whose scores are 52-bit
// interleaved geohashes (26 bits of longitude, 26 of latitude), and a search reads the score
// ranges of the 3x3 cells around the centre at a step chosen from the radius.

const (
	geoStepMax = 26 // 26*2 = 52 bits, a double's mantissa
	geoLatMin  = -85.05112878
	geoLatMax  = 85.05112878
	geoLonMin  = -180
	geoLonMax  = 180

	// earthRadius is Redis's: the WGS-84 quadratic mean radius, in metres.
	earthRadius = 6372797.560856
	mercatorMax = 20037726.37
)

// geoHash is a geohash of step bits per coordinate (GeoHashBits).
type geoHash struct {
	bits uint64
	step uint8
}

func (h geoHash) isZero() bool { return h.bits == 0 && h.step == 0 }

type geoRange struct{ min, max float64 }

// geoArea is a geohash's cell.
type geoArea struct{ lon, lat geoRange }

// The coordinate ranges, as fields (float64 values) so the arithmetic on them is float64's,
// as C's, not Go's exact constant arithmetic.
func geoCoordRange() (lon, lat geoRange) {
	return geoRange{geoLonMin, geoLonMax}, geoRange{geoLatMin, geoLatMax}
}

// degToRad is C's D_R, M_PI/180.0: the double nearest π divided in double precision (Go's
// constant arithmetic would round once, possibly to another double).
func degToRad() float64 {
	pi := math.Pi
	return pi / 180
}

func degRad(a float64) float64 { return a * degToRad() }
func radDeg(a float64) float64 { return a / degToRad() }

func interleave64(xlo, ylo uint32) uint64 {
	b := [...]uint64{0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F,
		0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF}
	s := [...]uint{1, 2, 4, 8, 16}
	x, y := uint64(xlo), uint64(ylo)
	for i := 4; i >= 0; i-- {
		x = (x | x<<s[i]) & b[i]
		y = (y | y<<s[i]) & b[i]
	}
	return x | y<<1
}

func deinterleave64(v uint64) uint64 {
	b := [...]uint64{0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F,
		0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF, 0x00000000FFFFFFFF}
	s := [...]uint{0, 1, 2, 4, 8, 16}
	x, y := v, v>>1
	for i := range 6 {
		x = (x | x>>s[i]) & b[i]
		y = (y | y>>s[i]) & b[i]
	}
	return x | y<<32
}

// geohashEncode is geohashEncode: ok is false outside the ranges.
func geohashEncode(lonR, latR geoRange, lon, lat float64, step uint8) (geoHash, bool) {
	if lon > geoLonMax || lon < geoLonMin || lat > geoLatMax || lat < geoLatMin {
		return geoHash{}, false
	}
	if lat < latR.min || lat > latR.max || lon < lonR.min || lon > lonR.max {
		return geoHash{step: step}, false
	}
	latOff := (lat - latR.min) / (latR.max - latR.min)
	lonOff := (lon - lonR.min) / (lonR.max - lonR.min)
	latOff *= float64(uint64(1) << step)
	lonOff *= float64(uint64(1) << step)
	return geoHash{interleave64(uint32(latOff), uint32(lonOff)), step}, true
}

// geohashEncodeWGS84 encodes a position within Redis's ranges.
func geohashEncodeWGS84(lon, lat float64, step uint8) (geoHash, bool) {
	lonR, latR := geoCoordRange()
	return geohashEncode(lonR, latR, lon, lat, step)
}

func geohashDecode(lonR, latR geoRange, h geoHash) (geoArea, bool) {
	if h.isZero() {
		return geoArea{}, false
	}
	sep := deinterleave64(h.bits) // [LAT][LONG]
	latScale := latR.max - latR.min
	lonScale := lonR.max - lonR.min
	ilato := uint32(sep)
	ilono := uint32(sep >> 32)
	div := float64(uint64(1) << h.step)
	var a geoArea
	a.lat.min = latR.min + (float64(ilato)/div)*latScale
	a.lat.max = latR.min + (float64(uint64(ilato)+1)/div)*latScale
	a.lon.min = lonR.min + (float64(ilono)/div)*lonScale
	a.lon.max = lonR.min + (float64(uint64(ilono)+1)/div)*lonScale
	return a, true
}

// geoDecodeScore returns the centre of the step-26 cell a score encodes (decodeGeohash),
// clamped to the ranges: what GEOPOS replies.
func geoDecodeScore(score float64) (lon, lat float64) {
	lonR, latR := geoCoordRange()
	a, _ := geohashDecode(lonR, latR, geoHash{uint64(score), geoStepMax})
	lon = (a.lon.min + a.lon.max) / 2
	lon = min(max(lon, geoLonMin), geoLonMax)
	lat = (a.lat.min + a.lat.max) / 2
	lat = min(max(lat, geoLatMin), geoLatMax)
	return lon, lat
}

// align52 is geohashAlign52Bits: the hash as a 52-bit score prefix.
func (h geoHash) align52() uint64 { return h.bits << (52 - uint(h.step)*2) }

// moveX and moveY are geohash_move_x and geohash_move_y: the neighbouring cell d (-1, 0 or 1)
// steps along the interleaved bits of one axis (x: the odd bits, y: the even ones).
func (h geoHash) moveX(d int) geoHash { return h.move(d, 0xaaaaaaaaaaaaaaaa) }
func (h geoHash) moveY(d int) geoHash { return h.move(d, 0x5555555555555555) }

// move adds d to the axis whose bits are the set bits of axis, leaving the other axis's bits.
func (h geoHash) move(d int, axis uint64) geoHash {
	if d == 0 {
		return h
	}
	shift := 64 - uint(h.step)*2
	a := h.bits & axis
	other := h.bits &^ axis
	zz := ^axis >> shift // the other axis's bits: carries pass through them
	if d > 0 {
		a = a + (zz + 1)
	} else {
		a = a | zz
		a = a - (zz + 1)
	}
	a &= axis >> shift
	h.bits = a | other
	return h
}

// geoNeighbours are a cell's eight neighbours.
type geoNeighbours struct {
	north, south, east, west                   geoHash
	northEast, northWest, southEast, southWest geoHash
}

func (h geoHash) neighbours() geoNeighbours {
	return geoNeighbours{
		east:      h.moveX(1),
		west:      h.moveX(-1),
		south:     h.moveY(-1),
		north:     h.moveY(1),
		northWest: h.moveX(-1).moveY(1),
		northEast: h.moveX(1).moveY(1),
		southEast: h.moveX(1).moveY(-1),
		southWest: h.moveX(-1).moveY(-1),
	}
}

// geoShape is a search's area (GeoShape): a circle of radius, or a box of width by height,
// both in the unit whose metres are conversion, around (lon, lat).
type geoShape struct {
	box           bool
	lon, lat      float64
	radius        float64
	width, height float64
	conversion    float64
	bounds        [4]float64 // min lon, min lat, max lon, max lat
}

func geoEstimateSteps(rangeMeters, lat float64) uint8 {
	if rangeMeters == 0 {
		return 26
	}
	step := 1
	for rangeMeters < mercatorMax {
		rangeMeters *= 2
		step++
	}
	step -= 2 // make sure the range is included in most of the base cases
	// Wider towards the poles.
	if lat > 66 || lat < -66 {
		step--
		if lat > 80 || lat < -80 {
			step--
		}
	}
	return uint8(min(max(step, 1), 26))
}

func (sh *geoShape) boundingBox() {
	var height, width float64
	if sh.box {
		height = sh.conversion * (sh.height / 2)
		width = sh.conversion * (sh.width / 2)
	} else {
		height = sh.conversion * sh.radius
		width = sh.conversion * sh.radius
	}
	latDelta := radDeg(height / earthRadius)
	lonDeltaTop := radDeg(width / earthRadius / geoCos(degRad(sh.lat+latDelta)))
	lonDeltaBottom := radDeg(width / earthRadius / geoCos(degRad(sh.lat-latDelta)))
	// The northern and southern hemispheres' widest edges are opposite.
	if sh.lat < 0 {
		sh.bounds[0] = sh.lon - lonDeltaBottom
		sh.bounds[2] = sh.lon + lonDeltaBottom
	} else {
		sh.bounds[0] = sh.lon - lonDeltaTop
		sh.bounds[2] = sh.lon + lonDeltaTop
	}
	sh.bounds[1] = sh.lat - latDelta
	sh.bounds[3] = sh.lat + latDelta
}

// geoCells returns the cells a search reads, in Redis's order (the centre's, then north,
// south, east, west, north-east, north-west, south-east, south-west); a zero cell is skipped
// (geohashCalculateAreasByShapeWGS84).
func (sh *geoShape) cells() [9]geoHash {
	sh.boundingBox()
	minLon, minLat, maxLon, maxLat := sh.bounds[0], sh.bounds[1], sh.bounds[2], sh.bounds[3]
	radiusMeters := sh.radius
	if sh.box {
		radiusMeters = math.Sqrt((sh.width/2)*(sh.width/2) + (sh.height/2)*(sh.height/2))
	}
	radiusMeters *= sh.conversion
	steps := geoEstimateSteps(radiusMeters, sh.lat)
	lonR, latR := geoCoordRange()
	hash, _ := geohashEncode(lonR, latR, sh.lon, sh.lat, steps)
	nb := hash.neighbours()
	area, _ := geohashDecode(lonR, latR, hash)

	// Near an edge of the area the estimated step may be too coarse for a neighbour to cover
	// the search area: one step less then.
	decrease := false
	north, _ := geohashDecode(lonR, latR, nb.north)
	south, _ := geohashDecode(lonR, latR, nb.south)
	east, _ := geohashDecode(lonR, latR, nb.east)
	west, _ := geohashDecode(lonR, latR, nb.west)
	if north.lat.max < maxLat || south.lat.min > minLat || east.lon.max < maxLon || west.lon.min > minLon {
		decrease = true
	}
	if steps > 1 && decrease {
		steps--
		hash, _ = geohashEncode(lonR, latR, sh.lon, sh.lat, steps)
		nb = hash.neighbours()
		area, _ = geohashDecode(lonR, latR, hash)
	}
	// Exclude the cells that cannot hold a match.
	if steps >= 2 {
		if area.lat.min < minLat {
			nb.south, nb.southWest, nb.southEast = geoHash{}, geoHash{}, geoHash{}
		}
		if area.lat.max > maxLat {
			nb.north, nb.northEast, nb.northWest = geoHash{}, geoHash{}, geoHash{}
		}
		if area.lon.min < minLon {
			nb.west, nb.southWest, nb.northWest = geoHash{}, geoHash{}, geoHash{}
		}
		if area.lon.max > maxLon {
			nb.east, nb.southEast, nb.northEast = geoHash{}, geoHash{}, geoHash{}
		}
	}
	return [9]geoHash{hash, nb.north, nb.south, nb.east, nb.west, nb.northEast, nb.northWest, nb.southEast, nb.southWest}
}

func geoLatDistance(lat1, lat2 float64) float64 {
	return earthRadius * math.Abs(degRad(lat2)-degRad(lat1))
}

// geoDistance is Redis's haversine distance in metres (geohashGetDistance).
func geoDistance(lon1, lat1, lon2, lat2 float64) float64 {
	lon1r := degRad(lon1)
	lon2r := degRad(lon2)
	v := geoSin((lon2r - lon1r) / 2)
	// Same longitude: the cheaper latitude distance.
	if v == 0 {
		return geoLatDistance(lat1, lat2)
	}
	lat1r := degRad(lat1)
	lat2r := degRad(lat2)
	u := geoSin((lat2r - lat1r) / 2)
	a := float64(u*u) + float64(float64(float64(geoCos(lat1r)*geoCos(lat2r))*v)*v)
	return 2.0 * earthRadius * geoAsin(math.Sqrt(a))
}

// geoDistanceFast is geoDistance with Go's math functions: within a few ulps of it, but
// near antipodes, where asin's slope magnifies them (to centimetres).
func geoDistanceFast(lon1, lat1, lon2, lat2 float64) float64 {
	lon1r, lon2r := degRad(lon1), degRad(lon2)
	v := math.Sin((lon2r - lon1r) / 2)
	lat1r, lat2r := degRad(lat1), degRad(lat2)
	u := math.Sin((lat2r - lat1r) / 2)
	a := u*u + math.Cos(lat1r)*math.Cos(lat2r)*v*v
	return 2.0 * earthRadius * math.Asin(math.Sqrt(a))
}

// Whether a distance is above a limit is judged by geoDistanceFast when it is far from the
// limit, with a margin far above its error: the exact distance (about 10 times as costly) is
// computed only near the limit.
func geoFastAbove(d, limit float64) bool { return d > limit*(1+1e-6)+1 }
func geoFastBelow(d, limit float64) bool { return d < limit*(1-1e-6)-1 }

// within reports whether the point (lon, lat) is in the shape (geoWithinShape), and its
// distance in metres from the centre: exact (geoDistance's) or, if exact is false,
// geoDistanceFast's (geoPoint.exactDist makes it exact).
func (sh *geoShape) within(lon, lat float64) (d float64, exact, ok bool) {
	if !sh.box {
		r := sh.radius * sh.conversion
		f := geoDistanceFast(sh.lon, sh.lat, lon, lat)
		switch {
		case geoFastAbove(f, r):
			return 0, false, false
		case geoFastBelow(f, r):
			return f, false, true
		}
		d := geoDistance(sh.lon, sh.lat, lon, lat)
		return d, true, d <= r
	}
	w, h := sh.width*sh.conversion, sh.height*sh.conversion
	if geoLatDistance(lat, sh.lat) > h/2 {
		return 0, false, false
	}
	f := geoDistanceFast(lon, lat, sh.lon, lat)
	if geoFastAbove(f, w/2) || (!geoFastBelow(f, w/2) && geoDistance(lon, lat, sh.lon, lat) > w/2) {
		return 0, false, false
	}
	return geoDistanceFast(sh.lon, sh.lat, lon, lat), false, true
}

// geohashString is GEOHASH's 11-character standard geohash of a score: its cell's centre
// re-encoded over latitudes -90..90 (the score's range is -85..85), the 11th character 0.
func geohashString(score float64) string {
	const alphabet = "0123456789bcdefghjkmnpqrstuvwxyz"
	lon, lat := geoDecodeScore(score)
	h, _ := geohashEncode(geoRange{-180, 180}, geoRange{-90, 90}, lon, lat, 26)
	var buf [11]byte
	for i := range 10 {
		buf[i] = alphabet[(h.bits>>(52-(uint(i)+1)*5))&0x1f]
	}
	buf[10] = '0'
	return string(buf[:])
}
