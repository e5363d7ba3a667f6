package resp

import "math"

// sin, cos and asin for Redis's haversine. An ulp shows in a reply: STOREDIST stores a
// distance with 17 digits, and a point on a search's edge is in or out by it. Redis calls the
// C library's; so does geocache when built with cgo on Linux (geomath_libm.go), and then its
// distances are redis-server's on the same host bit for bit. Without cgo (the static release
// build) it uses the correctly rounded functions below, evaluated in double-double arithmetic
// (about 106 bits) and rounded once: glibc 2.36's round the other way on 125 of 140,000
// arguments measured, Go's math package's on 46,664.

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

// π/2 as three doubles, for argument reduction.
const (
	pio2Hi  = 1.5707963267948966
	pio2Mid = 6.123233995736766e-17
	pio2Lo  = -1.4973849048591698e-33
)

// sinCoef and cosCoef are the Taylor coefficients (-1)^k/(2k+1)! and (-1)^k/(2k)! in
// double-double, k = 0..14: enough for |r| <= π/4 to 1e-33. Read only.
var (
	sinCoef = [15]dd{{1.0, 0.0}, {-0.16666666666666666, -9.25185853854297e-18},
		{0.008333333333333333, 1.1564823173178714e-19}, {-0.0001984126984126984, -1.7209558293420705e-22},
		{2.7557319223985893e-06, -1.858393274046472e-22}, {-2.505210838544172e-08, 1.448814070935912e-24},
		{1.6059043836821613e-10, 1.2585294588752098e-26}, {-7.647163731819816e-13, -7.03872877733453e-30},
		{2.8114572543455206e-15, 1.6508842730861433e-31}, {-8.22063524662433e-18, -2.2141894119604265e-34},
		{1.9572941063391263e-20, -1.3643503830087908e-36}, {-3.868170170630684e-23, 8.843177655482344e-40},
		{6.446950284384474e-26, -1.9330404233703465e-42}, {-9.183689863795546e-29, -1.4303150396787322e-45},
		{1.1309962886447716e-31, 1.0498015412959506e-47}}
	cosCoef = [15]dd{{1.0, 0.0}, {-0.5, 0.0},
		{0.041666666666666664, 2.3129646346357427e-18}, {-0.001388888888888889, 5.300543954373577e-20},
		{2.48015873015873e-05, 2.1511947866775882e-23}, {-2.755731922398589e-07, -2.3767714622250297e-23},
		{2.08767569878681e-09, -1.20734505911326e-25}, {-1.1470745597729725e-11, -2.0655512752830745e-28},
		{4.779477332387385e-14, 4.399205485834081e-31}, {-1.5619206968586225e-16, -1.1910679660273754e-32},
		{4.110317623312165e-19, 1.4412973378659527e-36}, {-8.896791392450574e-22, 7.911402614872376e-38},
		{1.6117375710961184e-24, -3.6846573564509766e-41}, {-2.4795962632247976e-27, 1.2953730964765229e-43},
		{3.279889237069838e-30, 1.5117542744029879e-46}}
)

// ddReduce returns r = x - q·π/2 with |r| <= about π/4, in double-double, and q mod 4.
func ddReduce(x float64) (dd, int) {
	if math.Abs(x) <= math.Pi/4 {
		return dd{x, 0}, 0
	}
	k := math.Round(x / pio2Hi)
	r := ddAdd(dd{x, 0}, ddMulF(dd{-pio2Hi, 0}, k)) // the product is exact (FMA)
	r = ddAdd(r, ddMulF(dd{-pio2Mid, 0}, k))
	r = ddAdd(r, dd{-pio2Lo * k, 0})
	return r, int(int64(k) & 3)
}

// ddPoly is the sum of c[k]·r2^k: the small high-order terms in double (their rounding errors
// are below 1e-26 of the sum for r2 <= 0.62), the last six in double-double.
func ddPoly(c *[15]dd, r2 dd) dd {
	t := c[14].hi
	for k := 13; k >= 6; k-- {
		t = t*r2.hi + c[k].hi
	}
	p := dd{t, 0}
	for k := 5; k >= 0; k-- {
		p = ddAdd(ddMul(p, r2), c[k])
	}
	return p
}

func ddSinR(r dd) dd { return ddMul(r, ddPoly(&sinCoef, ddMul(r, r))) }
func ddCosR(r dd) dd { return ddPoly(&cosCoef, ddMul(r, r)) }

func ddNeg(a dd) dd { return dd{-a.hi, -a.lo} }

// ddSin and ddCos are sin(x) and cos(x) in double-double.
func ddSin(x float64) dd {
	r, q := ddReduce(x)
	switch q {
	case 1:
		return ddCosR(r)
	case 2:
		return ddNeg(ddSinR(r))
	case 3:
		return ddNeg(ddCosR(r))
	}
	return ddSinR(r)
}

func ddCos(x float64) dd {
	r, q := ddReduce(x)
	switch q {
	case 1:
		return ddNeg(ddSinR(r))
	case 2:
		return ddNeg(ddCosR(r))
	case 3:
		return ddSinR(r)
	}
	return ddCosR(r)
}

// crSin is sin(x) rounded to the nearest double.
func crSin(x float64) float64 {
	if x == 0 || math.IsInf(x, 0) || math.IsNaN(x) || math.Abs(x) > 1e9 {
		return math.Sin(x)
	}
	s := ddSin(x)
	return s.hi + s.lo
}

// crCos is cos(x) rounded to the nearest double.
func crCos(x float64) float64 {
	if math.IsInf(x, 0) || math.IsNaN(x) || math.Abs(x) > 1e9 {
		return math.Cos(x)
	}
	c := ddCos(x)
	return c.hi + c.lo
}

// crAsin is asin(x) rounded to the nearest double: math.Asin refined by a Newton step in
// double-double.
func crAsin(x float64) float64 {
	if x == 0 || !(math.Abs(x) <= 1) {
		return math.Asin(x)
	}
	y := math.Asin(x)
	c := ddCos(y)
	if c.hi == 0 {
		return y
	}
	f := ddAdd(ddSin(y), dd{-x, 0})
	corr := ddDivF(f, c.hi)
	r := ddAdd(dd{y, 0}, ddNeg(corr))
	return r.hi + r.lo
}
