package geo

import (
	"errors"
	"math"
	"testing"
)

func TestNewCoordinates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		lat, lon float64
		ok       bool
	}{
		{"origin", 0, 0, true},
		{"north pole", 90, 0, true},
		{"south pole", -90, 180, true},
		{"date line west", 10, -180, true},
		{"lat too high", 90.0001, 0, false},
		{"lat too low", -91, 0, false},
		{"lon too high", 0, 180.5, false},
		{"lon too low", 0, -181, false},
		{"lat NaN", math.NaN(), 0, false},
		{"lon NaN", 0, math.NaN(), false},
		{"lat +Inf", math.Inf(1), 0, false},
		{"lon -Inf", 0, math.Inf(-1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCoordinates(tt.lat, tt.lon)
			if tt.ok {
				if err != nil {
					t.Fatalf("NewCoordinates(%v, %v): %v", tt.lat, tt.lon, err)
				}
				if c.Lat != tt.lat || c.Lon != tt.lon || !c.Valid() {
					t.Fatalf("NewCoordinates(%v, %v) = %+v", tt.lat, tt.lon, c)
				}
				return
			}
			if !errors.Is(err, ErrInvalidCoordinates) {
				t.Fatalf("NewCoordinates(%v, %v) error = %v, want ErrInvalidCoordinates", tt.lat, tt.lon, err)
			}
			if c != (Coordinates{}) {
				t.Fatalf("NewCoordinates(%v, %v) returned %+v with an error", tt.lat, tt.lon, c)
			}
		})
	}
}

func TestParseCoordinates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Coordinates
		ok   bool
	}{
		{"50.11,8.68", Coordinates{50.11, 8.68}, true},
		{" -33.87 , 151.21 ", Coordinates{-33.87, 151.21}, true},
		{"0,0", Coordinates{}, true},
		{"50.11", Coordinates{}, false},
		{"", Coordinates{}, false},
		{"a,b", Coordinates{}, false},
		{"1,b", Coordinates{}, false},
		{"91,0", Coordinates{}, false},
		{"NaN,0", Coordinates{}, false},
		{"1,2,3", Coordinates{}, false},
	}
	for _, tt := range tests {
		got, err := ParseCoordinates(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseCoordinates(%q) = %+v, %v; want %+v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidCoordinates) {
			t.Errorf("ParseCoordinates(%q) error %v does not wrap ErrInvalidCoordinates", tt.in, err)
		}
		if err == nil {
			back, err := ParseCoordinates(got.String())
			if err != nil || back != got {
				t.Errorf("round trip of %q via %q = %+v, %v", tt.in, got.String(), back, err)
			}
		}
	}
}

func TestDistance(t *testing.T) {
	t.Parallel()
	london := Coordinates{51.5074, -0.1278}
	paris := Coordinates{48.8566, 2.3522}
	nyc := Coordinates{40.7128, -74.0060}
	sydney := Coordinates{-33.8688, 151.2093}
	tests := []struct {
		name string
		a, b Coordinates
		want float64 // km
		tol  float64 // km
	}{
		{"same point", paris, paris, 0, 1e-9},
		{"London-Paris", london, paris, 343.5, 1},
		{"New York-London", nyc, london, 5570, 10},
		{"London-Sydney", london, sydney, 16994, 20},
		{"quarter meridian", Coordinates{0, 0}, Coordinates{90, 0}, math.Pi / 2 * EarthRadiusKm, 1e-6},
		{"antipodes", Coordinates{0, 0}, Coordinates{0, 180}, math.Pi * EarthRadiusKm, 1e-6},
		{"across the date line", Coordinates{0, 179.5}, Coordinates{0, -179.5}, math.Pi / 180 * EarthRadiusKm, 1e-6},
		{"pole to pole", Coordinates{90, 0}, Coordinates{-90, 0}, math.Pi * EarthRadiusKm, 1e-6},
	}
	for _, tt := range tests {
		d := Distance(tt.a, tt.b)
		if math.Abs(d-tt.want) > tt.tol {
			t.Errorf("%s: Distance = %.3f km, want %.3f ± %v", tt.name, d, tt.want, tt.tol)
		}
		if back := Distance(tt.b, tt.a); math.Abs(back-d) > 1e-9 {
			t.Errorf("%s: not symmetric: %v vs %v", tt.name, d, back)
		}
	}
	if d := Distance(Coordinates{100, 0}, paris); !math.IsNaN(d) {
		t.Errorf("Distance with invalid coordinates = %v, want NaN", d)
	}
}

// TestDistanceTriangle checks the triangle inequality over the region
// table, a cheap guard against a formula slip (e.g. degrees vs radians).
func TestDistanceTriangle(t *testing.T) {
	t.Parallel()
	rs := Regions()
	for _, a := range rs {
		for _, b := range rs {
			for _, c := range rs {
				ab, bc, ac := Distance(a.Coords, b.Coords), Distance(b.Coords, c.Coords), Distance(a.Coords, c.Coords)
				if ac > ab+bc+1e-6 {
					t.Fatalf("triangle inequality: %s-%s %.1f > %s-%s %.1f + %s-%s %.1f",
						a.Name, c.Name, ac, a.Name, b.Name, ab, b.Name, c.Name, bc)
				}
			}
		}
	}
}

func FuzzParseCoordinates(f *testing.F) {
	for _, s := range []string{"50.11,8.68", " -33.87 , 151.21 ", "NaN,1", "1e400,0", "0x1p-2,3", ","} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCoordinates(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidCoordinates) {
				t.Fatalf("error %v does not wrap ErrInvalidCoordinates", err)
			}
			return
		}
		if !c.Valid() {
			t.Fatalf("accepted invalid %+v", c)
		}
		back, err := ParseCoordinates(c.String())
		if err != nil || back != c {
			t.Fatalf("round trip %q -> %+v -> %q -> %+v, %v", s, c, c.String(), back, err)
		}
		if d := Distance(c, c); d != 0 {
			t.Fatalf("Distance to itself = %v", d)
		}
	})
}
