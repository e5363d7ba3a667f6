package resp_test

import (
	"math/rand/v2"
	"strconv"
)

// Differential sessions of the geospatial commands (GEOADD, GEOPOS, GEODIST, GEOHASH,
// GEOSEARCH, GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and the _RO variants): every reply
// and error byte for byte against redis-server, in RESP2 and RESP3, in MULTI/EXEC and EVAL, and
// a seeded random session of searches near the poles, the antimeridian and box edges.
func init() {
	sicily := []step{
		cmd("GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
		cmd("GEOADD", "Sicily", "12.758489", "38.788135", "edge1", "17.241510", "38.788135", "edge2"),
	}
	basics := append(append([]step{}, sicily...),
		cmd("GEOPOS", "Sicily", "Palermo", "Catania", "NonExisting"),
		cmd("GEOPOS", "Sicily"),
		cmd("GEOPOS", "nokey", "a", "b"),
		cmd("GEOHASH", "Sicily", "Palermo", "Catania", "nope"),
		cmd("GEOHASH", "nokey", "a"),
		cmd("GEOHASH", "Sicily"),
		cmd("GEODIST", "Sicily", "Palermo", "Catania"),
		cmd("GEODIST", "Sicily", "Palermo", "Catania", "km"),
		cmd("GEODIST", "Sicily", "Palermo", "Catania", "MI"),
		cmd("GEODIST", "Sicily", "Palermo", "Catania", "ft"),
		cmd("GEODIST", "Sicily", "Palermo", "Catania", "M"),
		cmd("GEODIST", "Sicily", "Palermo", "Palermo"),
		cmd("GEODIST", "Sicily", "Palermo", "nope"),
		cmd("GEODIST", "nokey", "a", "b"),
		cmd("GEODIST", "nokey", "a", "b", "yd"),
		cmd("GEODIST", "Sicily", "Palermo", "Catania", "yd"),
		cmd("GEODIST", "Sicily", "Palermo", "Catania", "km", "x"),
		cmd("GEODIST", "Sicily", "Palermo"),
		cmd("ZRANGE", "Sicily", "0", "-1", "WITHSCORES"),
		cmd("ZSCORE", "Sicily", "Palermo"),
		cmd("TYPE", "Sicily"),
		cmd("ZREM", "Sicily", "edge1"),
		cmd("ZCARD", "Sicily"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "ASC"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "DESC"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1", "DESC"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1", "ANY"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "ANY"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "0"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "-3"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "x"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "STORE", "dst"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "dst"),
		cmd("ZRANGE", "dst", "0", "-1", "WITHSCORES"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "dst"),
		cmd("ZRANGE", "dst", "0", "-1", "WITHSCORES"),
		cmd("GEORADIUS", "Sicily", "15", "37", "1", "m", "STOREDIST", "dst"),
		cmd("EXISTS", "dst"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE"),
		cmd("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "dst"),
		cmd("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STOREDIST", "dst"),
		cmd("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "WITHCOORD"),
		cmd("GEORADIUS", "Sicily", "15", "37", "-1", "km"),
		cmd("GEORADIUS", "Sicily", "15", "37", "x", "km"),
		cmd("GEORADIUS", "Sicily", "15", "37", "1", "yd"),
		cmd("GEORADIUS", "Sicily", "x", "37", "1", "km"),
		cmd("GEORADIUS", "Sicily", "181", "37", "1", "km"),
		cmd("GEORADIUS", "Sicily", "15", "86", "1", "km"),
		cmd("GEORADIUS", "Sicily", "inf", "-inf", "1", "km"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "FROMMEMBER", "Palermo"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "BYBOX", "1", "1", "km"),
		cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "bogus"),
		cmd("GEORADIUS", "nokey", "15", "37", "200", "km"),
		cmd("GEORADIUS", "nokey", "15", "37", "200", "km", "STORE", "Sicily2"),
		cmd("GEORADIUS", "nokey", "15", "91", "200", "km"),
		cmd("SET", "str", "x"),
		cmd("GEORADIUS", "nokey", "15", "37", "200", "km", "STORE", "str"),
		cmd("EXISTS", "str"),
		cmd("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "WITHDIST"),
		cmd("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "WITHCOORD", "COUNT", "1"),
		cmd("GEORADIUSBYMEMBER", "Sicily", "nope", "200", "km"),
		cmd("GEORADIUSBYMEMBER", "Sicily", "nope", "x", "km"),
		cmd("GEORADIUSBYMEMBER", "Sicily", "Palermo", "x", "km"),
		cmd("GEORADIUSBYMEMBER", "nokey", "nope", "x", "yd"),
		cmd("GEORADIUSBYMEMBER", "nokey", "nope", "x", "yd", "STORE", "d"),
		cmd("GEORADIUSBYMEMBER", "nokey", "nope", "x", "yd", "bogus"),
		cmd("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "STORE", "d2"),
		cmd("ZRANGE", "d2", "0", "-1", "WITHSCORES"),
		cmd("GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "200", "km", "STORE", "d2"),
		cmd("GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "200", "km", "WITHHASH", "DESC"),
		cmd("georadiusbymember_ro", "Sicily", "Palermo", "200", "KM", "withhash", "desc"),
	)
	search := append(append([]step{}, sicily...),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "ASC", "WITHCOORD", "WITHDIST", "WITHHASH"),
		cmd("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "400", "400", "km", "DESC", "WITHDIST"),
		cmd("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "0", "m", "WITHDIST"),
		cmd("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "0", "0", "m", "WITHDIST"),
		cmd("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "FROMMEMBER", "Catania", "BYRADIUS", "1", "m"),
		cmd("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "m"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m", "BYBOX", "1", "1", "m"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "1", "m", "BYRADIUS", "1", "m"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "1", "m", "BYBOX", "2", "2", "m"),
		cmd("GEOSEARCH", "Sicily", "BYRADIUS", "1", "m", "ASC"),
		cmd("geosearch", "Sicily", "BYRADIUS", "1", "m", "ASC"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "ASC", "DESC"),
		cmd("GeoSearch", "Sicily", "FROMLONLAT", "15", "37", "ASC", "DESC"),
		cmd("GEOSEARCH", "Sicily", "FROMMEMBER", "nope", "BYRADIUS", "1", "m"),
		cmd("GEOSEARCH", "nokey", "FROMMEMBER", "nope", "BYRADIUS", "1", "m"),
		cmd("GEOSEARCH", "nokey", "FROMMEMBER", "nope", "BYRADIUS", "1", "yd"),
		cmd("GEOSEARCH", "nokey", "FROMMEMBER", "nope"),
		cmd("GEOSEARCH", "nokey", "FROMMEMBER", "nope", "BYRADIUS", "1", "m", "STORE", "x"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STORE", "x"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "x", "1", "km"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "x", "km"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "x", "x", "km"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "-1", "1", "km"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "-1", "yd"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "1", "yd"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "1"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "BYBOX", "1", "1", "km"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "200", "37", "BYRADIUS", "1", "km"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "2", "ANY"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ANY", "COUNT", "2", "DESC"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ANY"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "WITHDIST", "COUNT", "3"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "WITHDIST", "COUNT", "30"),
		cmd("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "ASC", "COUNT", "3"),
		cmd("ZRANGE", "dst", "0", "-1", "WITHSCORES"),
		cmd("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "ASC", "COUNT", "3", "STOREDIST"),
		cmd("ZRANGE", "dst", "0", "-1", "WITHSCORES"),
		cmd("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "WITHDIST"),
		cmd("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "STORE", "x"),
		cmd("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "1", "m"),
		cmd("EXISTS", "dst"),
		cmd("GEOSEARCHSTORE", "dst", "nokey", "FROMLONLAT", "15", "37", "BYBOX", "1", "1", "m"),
		cmd("GEOSEARCHSTORE", "Sicily", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "100", "km", "STOREDIST"),
		cmd("ZRANGE", "Sicily", "0", "-1", "WITHSCORES"),
		cmd("SET", "s", "x"),
		cmd("GEOSEARCHSTORE", "s", "nokey", "FROMLONLAT", "15", "37", "BYBOX", "1", "1", "m"),
		cmd("GET", "s"),
		cmd("GEOSEARCH", "s", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m"),
		cmd("GEOSEARCH", "s", "bogus"),
		cmd("GEOSEARCHSTORE", "x", "s", "bogus"),
		cmd("GEORADIUS", "s", "15", "37", "1", "m"),
		cmd("GEORADIUSBYMEMBER", "s", "m", "1", "m"),
		cmd("GEOPOS", "s", "m"),
		cmd("GEOHASH", "s", "m"),
		cmd("GEODIST", "s", "a", "b"),
		cmd("GEODIST", "s", "a", "b", "yd"),
		cmd("GEOADD", "s", "1", "2", "m"),
		cmd("GEOSEARCH", "Sicily"),
		cmd("GEOSEARCHSTORE", "a", "b", "c"),
		// Degenerate sizes: infinite, huge, tiny, zero, hexadecimal.
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "inf", "km", "ASC"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "inf", "inf", "km", "ASC"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "inf", "1", "km", "ASC"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1e300", "mi", "DESC", "WITHDIST"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "20000", "km", "DESC", "WITHDIST"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "-180", "-85.05112878", "BYRADIUS", "20000", "km", "WITHDIST"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "180", "85.05112878", "BYBOX", "40000", "40000", "km", "WITHDIST"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "nan", "km"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1e-320", "km"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "0x1p20", "m"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "-0", "m"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "0", "0", "m"),
		cmd("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "0", "m", "WITHCOORD", "WITHHASH"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "9223372036854775807"),
		cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "9223372036854775808"),
	)
	adds := []step{
		cmd("GEOADD", "g", "1", "2", "a"),
		cmd("GEOADD", "g", "1", "2", "a"),
		cmd("GEOADD", "g", "CH", "1", "3", "a", "4", "5", "b"),
		cmd("GEOADD", "g", "NX", "9", "9", "a", "7", "7", "c"),
		cmd("GEOADD", "g", "XX", "8", "8", "a", "6", "6", "d"),
		cmd("GEOADD", "g", "XX", "CH", "8", "8.5", "a", "6", "6", "d"),
		cmd("GEOADD", "g", "ch", "xx", "ch", "8", "8.5", "a"),
		cmd("GEOADD", "g", "NX", "XX", "1", "2", "a"),
		cmd("GEOADD", "g", "GT", "1", "2", "a"),
		cmd("GEOADD", "g", "1", "2"),
		cmd("GEOADD", "g", "1", "2", "a", "3"),
		cmd("GEOADD", "g", "NX", "1", "2"),
		cmd("GEOADD", "g", "1", "2", "a", "x", "2", "b"),
		cmd("GEOADD", "g", "1", "2", "a", "1", "86", "b"),
		cmd("GEOADD", "g", "180.1", "2", "a"),
		cmd("GEOADD", "g", "-180.000001", "-85.05112879", "a"),
		cmd("GEOADD", "g", "180", "85.05112878", "ne", "-180", "-85.05112878", "sw", "0", "0", "zero"),
		cmd("GEOADD", "g", "1e400", "0", "a"),
		cmd("GEOADD", "g", "nan", "0", "a"),
		cmd("GEOADD", "g", "inf", "0", "a"),
		cmd("GEOADD", "g", " 1", "0", "a"),
		cmd("GEOADD", "g", "0x10", "0", "hex"),
		cmd("GEOADD", "g", "1e-400", "0", "tiny"),
		cmd("GEOADD", "g", "-0", "-0", "negzero"),
		cmd("GEOPOS", "g", "ne", "sw", "zero", "a", "b", "c", "d", "negzero", "tiny"),
		cmd("GEOHASH", "g", "ne", "sw", "zero", "a", "b", "c", "d", "negzero"),
		cmd("ZRANGE", "g", "0", "-1", "WITHSCORES"),
		cmd("GEODIST", "g", "ne", "sw"),
		cmd("GEODIST", "g", "ne", "sw", "km"),
		cmd("GEODIST", "g", "zero", "negzero"),
		cmd("GEORADIUS", "g", "0", "0", "50000", "km", "WITHDIST", "WITHCOORD", "WITHHASH"),
		cmd("GEORADIUS", "g", "0", "0", "50000", "km", "WITHDIST", "WITHCOORD", "WITHHASH", "COUNT", "2"),
		cmd("ZADD", "z", "-1", "neg", "1e20", "huge", "0", "zero", "4503599627370495", "top"),
		cmd("GEOPOS", "z", "zero", "top"),
		cmd("GEOHASH", "z", "zero", "top"),
	}
	resp3 := append([]step{cmd("HELLO", "3").helloID()}, basics...)
	resp3 = append(resp3, search...)
	resp3 = append(resp3, adds...)
	txn := append(append([]step{}, sicily...),
		cmd("MULTI"),
		cmd("GEOADD", "t", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
		cmd("GEOPOS", "t", "Palermo"),
		cmd("GEOSEARCHSTORE", "t2", "t", "FROMMEMBER", "Palermo", "BYRADIUS", "300", "km", "STOREDIST"),
		cmd("GEORADIUS", "t", "15", "37", "200", "km", "STORE", "t3"),
		cmd("GEODIST", "t", "Palermo", "Catania"),
		cmd("ZRANGE", "t2", "0", "-1", "WITHSCORES"),
		cmd("ZRANGE", "t3", "0", "-1", "WITHSCORES"),
		cmd("EXEC"),
		cmd("MULTI"),
		cmd("GEOADD", "t", "1", "2"),
		cmd("GEOADD", "t", "1", "200", "x"),
		cmd("EXEC"),
		cmd("EVAL", "redis.call('GEOADD', KEYS[1], 1, 2, 'a', 3, 4, 'b'); return redis.call('GEOSEARCH', KEYS[1], 'FROMMEMBER', 'a', 'BYRADIUS', 1000, 'km', 'WITHDIST', 'WITHCOORD')", "1", "e"),
		cmd("EVAL", "return redis.call('GEOPOS', KEYS[1], 'a', 'zz')", "1", "e"),
		cmd("EVAL", "return redis.call('GEODIST', KEYS[1], 'a', 'b', 'km')", "1", "e"),
		cmd("EVAL", "return redis.call('GEOHASH', KEYS[1], 'a', 'zz')", "1", "e"),
		cmd("EVAL", "return redis.pcall('GEOADD', KEYS[1], 1, 200, 'a')", "1", "e"),
		cmd("EVAL", "return redis.call('GEORADIUS', KEYS[1], 1, 2, 1000, 'km', 'STORE', KEYS[2])", "2", "e", "e2"),
		cmd("EVAL_RO", "return redis.pcall('GEORADIUS', KEYS[1], 1, 2, 1000, 'km', 'STORE', KEYS[2])", "2", "e", "e2"),
		cmd("EVAL_RO", "return redis.call('GEORADIUS_RO', KEYS[1], 1, 2, 1000, 'km')", "1", "e"),
		cmd("EVAL_RO", "return redis.pcall('GEOADD', KEYS[1], 1, 2, 'z')", "1", "e"),
		cmd("HELLO", "3").helloID(),
		cmd("EVAL", "return redis.call('GEOSEARCH', KEYS[1], 'FROMMEMBER', 'a', 'BYRADIUS', 1000, 'km', 'WITHDIST', 'WITHCOORD')", "1", "e"),
		cmd("MULTI"),
		cmd("GEOPOS", "e", "a", "zz"),
		cmd("GEOSEARCH", "e", "FROMMEMBER", "a", "BYRADIUS", "1000", "km", "WITHDIST", "WITHCOORD", "WITHHASH"),
		cmd("EXEC"),
	)
	sessions = append(sessions,
		session{name: "geo-basics", steps: basics},
		session{name: "geo-search", steps: search},
		session{name: "geo-add", steps: adds},
		session{name: "geo-resp3", steps: resp3},
		session{name: "geo-multi-eval", steps: txn},
		session{name: "geo-random", steps: randomGeoSteps(rand.New(rand.NewPCG(61, 3)), 400)},
		session{name: "geo-random-dense", steps: randomGeoDenseSteps(rand.New(rand.NewPCG(61, 4)), 200)},
	)
}

// randomGeoSteps adds random points, many near the poles' limits, the antimeridian and the
// equator, and searches them with random centres, radii and boxes in every unit, in both
// orders, with COUNT (with and without ANY), replying every field.
func randomGeoSteps(r *rand.Rand, n int) []step {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	lon := func() float64 {
		switch r.IntN(4) {
		case 0:
			return 180 - r.Float64()*3 // near the antimeridian, both sides
		case 1:
			return -180 + r.Float64()*3
		}
		return r.Float64()*360 - 180
	}
	lat := func() float64 {
		switch r.IntN(4) {
		case 0:
			return 85.05112878 - r.Float64()*8 // near the limits, past 80 and 66
		case 1:
			return -85.05112878 + r.Float64()*8
		case 2:
			return r.Float64()*2 - 1
		}
		return r.Float64()*170 - 85
	}
	units := []string{"m", "km", "ft", "mi"}
	var steps []step
	for range 60 {
		args := []string{"GEOADD", "rg"}
		for range 50 {
			args = append(args, f(lon()), f(lat()), "p"+strconv.Itoa(r.IntN(100000)))
		}
		steps = append(steps, cmd(args...))
	}
	for range n {
		unit := units[r.IntN(len(units))]
		scale := map[string]float64{"m": 1, "km": 1000, "ft": 0.3048, "mi": 1609.34}[unit]
		dist := math10(r) / scale
		args := []string{"GEOSEARCH", "rg", "FROMLONLAT", f(lon()), f(lat())}
		if r.IntN(2) == 0 {
			args = append(args, "BYRADIUS", f(dist), unit)
		} else {
			args = append(args, "BYBOX", f(dist*(0.2+r.Float64()*2)), f(dist*(0.2+r.Float64()*2)), unit)
		}
		switch r.IntN(3) {
		case 0:
			args = append(args, "ASC")
		case 1:
			args = append(args, "DESC")
		}
		if r.IntN(3) == 0 {
			args = append(args, "COUNT", strconv.Itoa(1+r.IntN(20)))
			if r.IntN(3) == 0 {
				args = append(args, "ANY")
			}
		}
		args = append(args, "WITHDIST", "WITHHASH", "WITHCOORD")
		steps = append(steps, cmd(args...))
	}
	return steps
}

// math10 is a distance in metres spread over 1 m to 20000 km on a log scale.
func math10(r *rand.Rand) float64 {
	e := r.Float64() * 7.3
	v := 1.0
	for ; e >= 1; e-- {
		v *= 10
	}
	return v * (1 + e*9)
}

// randomGeoDenseSteps puts many points in a few cells, some on the same spot (equal
// distances: the order of ties is the sort's), and searches around members with COUNT.
func randomGeoDenseSteps(r *rand.Rand, n int) []step {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	var steps []step
	for range 20 {
		args := []string{"GEOADD", "dg"}
		for range 50 {
			x, y := 10+float64(r.IntN(40))*0.001, 45+float64(r.IntN(40))*0.001
			args = append(args, f(x), f(y), "m"+strconv.Itoa(r.IntN(2000)))
		}
		steps = append(steps, cmd(args...))
	}
	for range n {
		args := []string{"GEORADIUSBYMEMBER", "dg", "m" + strconv.Itoa(r.IntN(2000)), f(float64(r.IntN(5000))), "m"}
		if r.IntN(2) == 0 {
			args = []string{"GEORADIUS", "dg", f(10 + r.Float64()*0.04), f(45 + r.Float64()*0.04), f(float64(r.IntN(5000))), "m"}
		}
		switch r.IntN(3) {
		case 0:
			args = append(args, "ASC")
		case 1:
			args = append(args, "DESC")
		}
		if r.IntN(2) == 0 {
			args = append(args, "COUNT", strconv.Itoa(1+r.IntN(60)))
		}
		if r.IntN(2) == 0 {
			args = append(args, "WITHDIST")
		}
		steps = append(steps, cmd(args...))
	}
	return steps
}
