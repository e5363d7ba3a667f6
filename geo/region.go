package geo

import (
	"slices"
	"strings"
)

// Region is a well-known cloud region: a short provider-neutral name, the
// metro area its data centres are in, and that metro's coordinates.
type Region struct {
	// Name is the canonical name, e.g. "eu-central".
	Name string
	// Location is the metro area, e.g. "Frankfurt".
	Location string
	// Coords locates the metro area.
	Coords Coordinates
	// Aliases are provider names for the same metro ("eu-central-1",
	// "europe-west3", "germanywestcentral"), so a node configured with its
	// provider's region name finds its coordinates.
	Aliases []string
}

// regions is read-only: it is handed out only as copies (Regions,
// LookupRegion), so no caller can change another's view.
var regions = []Region{
	{"us-east", "N. Virginia", Coordinates{39.04, -77.49}, []string{"us-east-1", "us-east4", "eastus"}},
	{"us-east-2", "Ohio", Coordinates{39.96, -83.00}, nil},
	{"us-central", "Iowa", Coordinates{41.26, -95.86}, []string{"us-central1", "centralus"}},
	{"us-west", "Oregon", Coordinates{45.60, -121.18}, []string{"us-west-2", "us-west1", "westus2"}},
	{"us-west-1", "N. California", Coordinates{37.35, -121.96}, []string{"westus"}},
	{"ca-central", "Montreal", Coordinates{45.50, -73.57}, []string{"ca-central-1", "northamerica-northeast1", "canadaeast"}},
	{"sa-east", "São Paulo", Coordinates{-23.55, -46.63}, []string{"sa-east-1", "southamerica-east1", "brazilsouth"}},
	{"eu-west", "Ireland", Coordinates{53.35, -6.26}, []string{"eu-west-1", "northeurope"}},
	{"eu-west-2", "London", Coordinates{51.51, -0.13}, []string{"europe-west2", "uksouth"}},
	{"eu-west-3", "Paris", Coordinates{48.86, 2.35}, []string{"europe-west9", "francecentral"}},
	{"eu-central", "Frankfurt", Coordinates{50.11, 8.68}, []string{"eu-central-1", "europe-west3", "germanywestcentral"}},
	{"eu-north", "Stockholm", Coordinates{59.33, 18.07}, []string{"eu-north-1", "swedencentral"}},
	{"eu-south", "Milan", Coordinates{45.46, 9.19}, []string{"eu-south-1", "europe-west8", "italynorth"}},
	{"me-central", "UAE", Coordinates{25.20, 55.27}, []string{"me-central-1", "uaenorth"}},
	{"af-south", "Cape Town", Coordinates{-33.92, 18.42}, []string{"af-south-1", "southafricawest"}},
	{"ap-south", "Mumbai", Coordinates{19.08, 72.88}, []string{"ap-south-1", "asia-south1", "westindia"}},
	{"ap-southeast", "Singapore", Coordinates{1.35, 103.82}, []string{"ap-southeast-1", "asia-southeast1", "southeastasia"}},
	{"ap-southeast-2", "Sydney", Coordinates{-33.87, 151.21}, []string{"australia-southeast1", "australiaeast"}},
	{"ap-east", "Hong Kong", Coordinates{22.32, 114.17}, []string{"ap-east-1", "asia-east2", "eastasia"}},
	{"ap-northeast", "Tokyo", Coordinates{35.68, 139.69}, []string{"ap-northeast-1", "asia-northeast1", "japaneast"}},
	{"ap-northeast-2", "Seoul", Coordinates{37.57, 126.98}, []string{"asia-northeast3", "koreacentral"}},
}

// Regions returns the region table, ordered as listed in the source
// (roughly west to east by continent). The result is a copy.
func Regions() []Region {
	out := make([]Region, len(regions))
	for i, r := range regions {
		out[i] = r.clone()
	}
	return out
}

// LookupRegion finds a region by canonical name or alias, ignoring case and
// surrounding space.
func LookupRegion(name string) (Region, bool) {
	name = strings.TrimSpace(name)
	for _, r := range regions {
		if strings.EqualFold(r.Name, name) || slices.ContainsFunc(r.Aliases, func(a string) bool {
			return strings.EqualFold(a, name)
		}) {
			return r.clone(), true
		}
	}
	return Region{}, false
}

func (r Region) clone() Region {
	r.Aliases = slices.Clone(r.Aliases)
	return r
}
