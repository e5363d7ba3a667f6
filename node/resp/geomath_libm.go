//go:build cgo && linux

package resp

/*
#cgo LDFLAGS: -lm
#include <math.h>
*/
import "C"

// With cgo, the C library's functions, which redis-server calls: replies match its, bit for
// bit, on the same host (geomath.go).

func geoSin(x float64) float64  { return float64(C.sin(C.double(x))) }
func geoCos(x float64) float64  { return float64(C.cos(C.double(x))) }
func geoAsin(x float64) float64 { return float64(C.asin(C.double(x))) }

// geoUsesLibm: geo distances use the C library's sin, cos and asin, as redis-server does.
const geoUsesLibm = true
