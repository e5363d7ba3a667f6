package resp

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestGeoMathCorrectlyRounded checks crSin, crCos and crAsin against the correctly rounded
// sin, cos and asin, bit for bit, on arguments of the ranges the haversine and the bounding
// box use: testdata/geo_libm.txt holds "f x f(x)" in C's %a, f(x) computed by mpmath at 200
// bits and rounded. Its last 40 lines are arguments where glibc 2.36 (redis-server's libm)
// is off by an ulp: of 140,000 such arguments glibc rounds 125 wrongly, Go's math package
// 46,664 (which this test logs, failing 33 % of the lines). GEO_LIBM names another file.
func TestGeoMathCorrectlyRounded(t *testing.T) {
	path := "testdata/geo_libm.txt"
	if p := os.Getenv("GEO_LIBM"); p != "" {
		path = p
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fns := map[string]func(float64) float64{"s": crSin, "c": crCos, "a": crAsin}
	gos := map[string]func(float64) float64{"s": math.Sin, "c": math.Cos, "a": math.Asin}
	n, bad, goBad := 0, 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		x, err1 := strconv.ParseFloat(fs[1], 64)
		want, err2 := strconv.ParseFloat(fs[2], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad line %q", sc.Text())
		}
		n++
		if gos[fs[0]](x) != want {
			goBad++
		}
		if got := fns[fs[0]](x); got != want {
			bad++
			if bad < 10 {
				t.Errorf("%s(%x) = %x, want %x", fs[0], x, got, want)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d differ", bad, n)
	}
	t.Logf("%d values; Go's math package rounds %d of them wrongly", n, goBad)
}

// BenchmarkGeoDistance is the haversine of a search's candidate, with the correctly rounded
// functions; BenchmarkGeoDistanceGoMath with Go's math package's, for comparison.
func BenchmarkGeoDistance(b *testing.B) {
	lon, lat := 13.361389, 38.115556
	var sum float64
	for i := range b.N {
		sum += geoDistance(lon, lat, 15.087269+float64(i&1023)*1e-3, 37.502669)
	}
	_ = sum
}

func BenchmarkGeoDistanceGoMath(b *testing.B) {
	lon1, lat1 := degRad(13.361389), degRad(38.115556)
	var sum float64
	for i := range b.N {
		lon2, lat2 := degRad(15.087269+float64(i&1023)*1e-3), degRad(37.502669)
		u, v := math.Sin((lat2-lat1)/2), math.Sin((lon2-lon1)/2)
		sum += 2 * earthRadius * math.Asin(math.Sqrt(u*u+math.Cos(lat1)*math.Cos(lat2)*v*v))
	}
	_ = sum
}
