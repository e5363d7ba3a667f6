package geo

import (
	"strings"
	"testing"
)

func TestRegionTable(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, r := range Regions() {
		if err := r.Coords.Validate(); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
		if r.Location == "" {
			t.Errorf("%s: no location", r.Name)
		}
		for _, n := range append([]string{r.Name}, r.Aliases...) {
			k := strings.ToLower(n)
			if prev, dup := seen[k]; dup {
				t.Errorf("name %q used by %s and %s", n, prev, r.Name)
			}
			seen[k] = r.Name
		}
	}
	for _, want := range []string{"us-east", "us-west", "eu-west", "eu-central", "ap-southeast", "ap-northeast", "sa-east"} {
		if _, ok := seen[want]; !ok {
			t.Errorf("region %q missing", want)
		}
	}
}

func TestLookupRegion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		city     string
	}{
		{"eu-central", "eu-central", "Frankfurt"},
		{"EU-Central", "eu-central", "Frankfurt"},
		{"  eu-central-1 ", "eu-central", "Frankfurt"},
		{"europe-west3", "eu-central", "Frankfurt"},
		{"us-east-1", "us-east", "N. Virginia"},
		{"ap-northeast", "ap-northeast", "Tokyo"},
		{"southamerica-east1", "sa-east", "São Paulo"},
		{"mars-north", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		r, ok := LookupRegion(tt.in)
		if ok != (tt.want != "") || r.Name != tt.want || r.Location != tt.city {
			t.Errorf("LookupRegion(%q) = %q (%q), %v; want %q (%q)", tt.in, r.Name, r.Location, ok, tt.want, tt.city)
		}
	}
}

// TestRegionsAreCopies: a caller scribbling on its copy must not change
// what others see (the table is shared by every node in the process).
func TestRegionsAreCopies(t *testing.T) {
	t.Parallel()
	rs := Regions()
	rs[0].Name = "scribbled"
	rs[0].Coords.Lat = -1
	r, _ := LookupRegion("eu-central")
	r.Aliases[0] = "scribbled"
	if Regions()[0].Name == "scribbled" || Regions()[0].Coords.Lat == -1 {
		t.Fatal("Regions returned the table itself")
	}
	if again, _ := LookupRegion("eu-central"); again.Aliases[0] == "scribbled" {
		t.Fatal("LookupRegion shares alias slices")
	}
	if _, ok := LookupRegion("scribbled"); ok {
		t.Fatal("a scribbled name became visible")
	}
}
