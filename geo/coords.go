package geo

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// EarthRadiusKm is the mean radius of the Earth (IUGG), the sphere on which
// [Distance] measures. The spherical model is within 0.5% of the ellipsoid,
// far below the noise of network routing.
const EarthRadiusKm = 6371.0088

// ErrInvalidCoordinates reports a latitude or longitude out of range or not a
// number.
var ErrInvalidCoordinates = errors.New("geo: invalid coordinates")

// Coordinates is a point on the Earth in decimal degrees: Lat in [-90, 90]
// (north positive), Lon in [-180, 180] (east positive). The zero value is a
// valid point (0°, 0°); code that must distinguish "unknown" uses a pointer.
type Coordinates struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// NewCoordinates returns validated coordinates.
func NewCoordinates(lat, lon float64) (Coordinates, error) {
	c := Coordinates{Lat: lat, Lon: lon}
	if err := c.Validate(); err != nil {
		return Coordinates{}, err
	}
	return c, nil
}

// ParseCoordinates parses "lat,lon" in decimal degrees, e.g. "50.11,8.68", as
// written in flags and config files. Spaces around either number are allowed.
func ParseCoordinates(s string) (Coordinates, error) {
	latS, lonS, ok := strings.Cut(s, ",")
	if !ok {
		return Coordinates{}, fmt.Errorf("%w: %q is not \"lat,lon\"", ErrInvalidCoordinates, s)
	}
	lat, err := strconv.ParseFloat(strings.TrimSpace(latS), 64)
	if err != nil {
		return Coordinates{}, fmt.Errorf("%w: latitude %q: %v", ErrInvalidCoordinates, latS, err)
	}
	lon, err := strconv.ParseFloat(strings.TrimSpace(lonS), 64)
	if err != nil {
		return Coordinates{}, fmt.Errorf("%w: longitude %q: %v", ErrInvalidCoordinates, lonS, err)
	}
	return NewCoordinates(lat, lon)
}

// Validate reports whether c is a point on the Earth. The error wraps
// [ErrInvalidCoordinates].
func (c Coordinates) Validate() error {
	if math.IsNaN(c.Lat) || c.Lat < -90 || c.Lat > 90 {
		return fmt.Errorf("%w: latitude %v not in [-90, 90]", ErrInvalidCoordinates, c.Lat)
	}
	if math.IsNaN(c.Lon) || c.Lon < -180 || c.Lon > 180 {
		return fmt.Errorf("%w: longitude %v not in [-180, 180]", ErrInvalidCoordinates, c.Lon)
	}
	return nil
}

// Valid is Validate() == nil.
func (c Coordinates) Valid() bool { return c.Validate() == nil }

// String formats c as "lat,lon", the form [ParseCoordinates] reads.
func (c Coordinates) String() string {
	return strconv.FormatFloat(c.Lat, 'f', -1, 64) + "," + strconv.FormatFloat(c.Lon, 'f', -1, 64)
}

// Distance returns the great-circle distance between a and b in kilometres,
// by the haversine formula, which stays accurate for small distances (unlike
// the spherical law of cosines). Invalid coordinates give NaN.
func Distance(a, b Coordinates) float64 {
	if !a.Valid() || !b.Valid() {
		return math.NaN()
	}
	const rad = math.Pi / 180
	φ1, φ2 := a.Lat*rad, b.Lat*rad
	dφ := (b.Lat - a.Lat) * rad
	dλ := (b.Lon - a.Lon) * rad
	sφ, sλ := math.Sin(dφ/2), math.Sin(dλ/2)
	h := sφ*sφ + math.Cos(φ1)*math.Cos(φ2)*sλ*sλ
	// Rounding can push h a hair outside [0, 1] for antipodal points.
	h = min(max(h, 0), 1)
	return 2 * EarthRadiusKm * math.Asin(math.Sqrt(h))
}
