//go:build !(cgo && linux)

package resp

// Without cgo, the correctly rounded functions (geomath.go).

func geoSin(x float64) float64  { return crSin(x) }
func geoCos(x float64) float64  { return crCos(x) }
func geoAsin(x float64) float64 { return crAsin(x) }

// geoUsesLibm: geo distances use the correctly rounded functions, not the C library's.
const geoUsesLibm = false
