package resp

import "math"

// Correctly rounded sin, cos and asin for Redis's haversine. Redis calls glibc's, which round
// correctly (to the nearest double) all but never; Go's math.Sin, Cos and Asin are off by an
// ulp now and then, and an ulp shows: STOREDIST stores a distance with 17 digits, and a
// point on a search's edge is in or out by it. So these evaluate in double-double arithmetic
// (about 106 bits) and round once.

// dd is a double-double: hi + lo, |lo| <= ulp(hi)/2.
type dd struct{ hi, lo float64 }

func twoSum(a, b float64) dd {
	s := a + b
	bb := s - a
	return dd{s, (a - (s - bb)) + (b - bb)}
}

func quickTwoSum(a, b float64) dd {
	s := a + b
	return dd{s, b - (s - a)}
}

func ddAdd(a, b dd) dd {
	s := twoSum(a.hi, b.hi)
	t := twoSum(a.lo, b.lo)
	s.lo += t.hi
	s = quickTwoSum(s.hi, s.lo)
	s.lo += t.lo
	return quickTwoSum(s.hi, s.lo)
}

func ddMul(a, b dd) dd {
	p := a.hi * b.hi
	e := math.FMA(a.hi, b.hi, -p)
	e += a.hi*b.lo + a.lo*b.hi
	return quickTwoSum(p, e)
}

// ddMulF is a times the double b.
func ddMulF(a dd, b float64) dd {
	p := a.hi * b
	e := math.FMA(a.hi, b, -p)
	e += a.lo * b
	return quickTwoSum(p, e)
}

// ddDivF is a over the double b.
func ddDivF(a dd, b float64) dd {
	q1 := a.hi / b
	r := ddAdd(a, ddMulF(dd{-q1, 0}, b)) // remainder, exact enough
	q2 := r.hi / b
	return quickTwoSum(q1, q2)
}

// twoPi is 2π as three doubles.
const (
	twoPi0 = 6.283185307179586
	twoPi1 = 2.4492935982947064e-16
	twoPi2 = -5.989539619436679e-33
)

// ddReduce returns x reduced to about [-π, π] in double-double.
func ddReduce(x float64) dd {
	if math.Abs(x) <= 4 {
		return dd{x, 0}
	}
	k := math.Round(x / twoPi0)
	r := ddAdd(dd{x, 0}, ddMulF(dd{-twoPi0, 0}, k))
	r = ddAdd(r, ddMulF(dd{-twoPi1, 0}, k))
	return ddAdd(r, dd{-twoPi2 * k, 0})
}

// ddSinCos returns sin and cos of r (|r| <= about 4) by their Taylor series.
func ddSinCos(r dd) (s, c dd) {
	r2 := ddMul(r, r)
	// sin: r - r^3/3! + ...; cos: 1 - r^2/2! + ...
	term := r
	s = r
	for n := 2; n < 60; n += 2 {
		term = ddDivF(ddMul(term, r2), -float64(n*(n+1)))
		s = ddAdd(s, term)
		if math.Abs(term.hi) < 1e-36 {
			break
		}
	}
	term = dd{1, 0}
	c = dd{1, 0}
	for n := 1; n < 60; n += 2 {
		term = ddDivF(ddMul(term, r2), -float64(n*(n+1)))
		c = ddAdd(c, term)
		if math.Abs(term.hi) < 1e-36 {
			break
		}
	}
	return s, c
}

// geoSin is sin(x) rounded to the nearest double.
func geoSin(x float64) float64 {
	if x == 0 || math.IsInf(x, 0) || math.IsNaN(x) || math.Abs(x) > 1e9 {
		return math.Sin(x)
	}
	s, _ := ddSinCos(ddReduce(x))
	return s.hi + s.lo
}

// geoCos is cos(x) rounded to the nearest double.
func geoCos(x float64) float64 {
	if math.IsInf(x, 0) || math.IsNaN(x) || math.Abs(x) > 1e9 {
		return math.Cos(x)
	}
	_, c := ddSinCos(ddReduce(x))
	return c.hi + c.lo
}

// geoAsin is asin(x) rounded to the nearest double: math.Asin refined by a Newton step in
// double-double.
func geoAsin(x float64) float64 {
	if x == 0 || !(math.Abs(x) <= 1) {
		return math.Asin(x)
	}
	y := math.Asin(x)
	s, c := ddSinCos(dd{y, 0})
	f := ddAdd(s, dd{-x, 0})
	if c.hi == 0 {
		return y
	}
	corr := ddDivF(f, c.hi)
	r := ddAdd(dd{y, 0}, dd{-corr.hi, -corr.lo})
	return r.hi + r.lo
}
