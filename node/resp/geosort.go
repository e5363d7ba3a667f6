package resp

import "math"

// The order of a search's matches, as Redis sorts them: by distance, with glibc's stable
// qsort for a full sort and Redis's partial quicksort under COUNT.

// exactDist replaces p's distance, if it was geoDistanceFast's, by geoDistance's.
func (p *geoPoint) exactDist(sh *geoShape) {
	if !p.exact {
		p.dist, p.exact = geoDistance(sh.lon, sh.lat, p.lon, p.lat), true
	}
}

// geoCmpAsc orders points by distance as Redis's sort_gp_asc, by their exact distances:
// distances apart by far more than geoDistanceFast's error are compared as they are, others
// are made exact first (once per point). So a sort compares as Redis's, with few exact
// distances computed.
func geoCmpAsc(sh *geoShape, a, b *geoPoint) int {
	if (!a.exact || !b.exact) && math.Abs(a.dist-b.dist) <= max(a.dist, b.dist)*1e-6+2 {
		a.exactDist(sh)
		b.exactDist(sh)
	}
	switch {
	case a.dist > b.dist:
		return 1
	case a.dist == b.dist:
		return 0
	}
	return -1
}

// pqsort is Redis's partial quicksort (src/pqsort.c, Bentley and McIlroy's with the
// partitions outside [lrange, rrange] left unsorted), ported step for step: with COUNT Redis
// sorts the matches with it, and the order it leaves equal distances in is part of the reply.
func pqsort(a []geoPoint, lrange, rrange int, cmp func(a, b *geoPoint) int) {
	pqsortPart(a, 0, len(a), lrange, rrange, cmp)
}

// pqsortPart sorts a[base:base+n] as _pqsort.
func pqsortPart(a []geoPoint, base, n, lrange, rrange int, cmp func(a, b *geoPoint) int) {
	swap := func(i, j int) { a[i], a[j] = a[j], a[i] }
	vecswap := func(i, j, n int) {
		for k := 0; k < n; k++ {
			swap(i+k, j+k)
		}
	}
	med3 := func(i, j, k int) int {
		if cmp(&a[i], &a[j]) < 0 {
			if cmp(&a[j], &a[k]) < 0 {
				return j
			}
			if cmp(&a[i], &a[k]) < 0 {
				return k
			}
			return i
		}
		if cmp(&a[j], &a[k]) > 0 {
			return j
		}
		if cmp(&a[i], &a[k]) < 0 {
			return i
		}
		return k
	}
	// outside reports whether [l, r] holds neither end of the range to sort.
	outside := func(l, r int) bool {
		return (lrange < l && rrange < l) || (lrange > r && rrange > r)
	}
	for {
		if n < 7 {
			for pm := base + 1; pm < base+n; pm++ {
				for pl := pm; pl > base && cmp(&a[pl-1], &a[pl]) > 0; pl-- {
					swap(pl, pl-1)
				}
			}
			return
		}
		pm := base + n/2
		if n > 7 {
			pl, pn := base, base+n-1
			if n > 40 {
				d := n / 8
				pl = med3(pl, pl+d, pl+2*d)
				pm = med3(pm-d, pm, pm+d)
				pn = med3(pn-2*d, pn-d, pn)
			}
			pm = med3(pl, pm, pn)
		}
		swap(base, pm)
		pa, pb := base+1, base+1
		pc, pd := base+n-1, base+n-1
		for {
			for pb <= pc {
				r := cmp(&a[pb], &a[base])
				if r > 0 {
					break
				}
				if r == 0 {
					swap(pa, pb)
					pa++
				}
				pb++
			}
			for pb <= pc {
				r := cmp(&a[pc], &a[base])
				if r < 0 {
					break
				}
				if r == 0 {
					swap(pc, pd)
					pd--
				}
				pc--
			}
			if pb > pc {
				break
			}
			swap(pb, pc)
			pb++
			pc--
		}
		pn := base + n
		r := min(pa-base, pb-pa)
		vecswap(base, pb-r, r)
		r = min(pd-pc, pn-pd-1)
		vecswap(pb, pn-r, r)
		if r = pb - pa; r > 1 && !outside(base, base+r-1) {
			pqsortPart(a, base, r, lrange, rrange, cmp)
		}
		r = pd - pc
		if r <= 1 {
			return
		}
		// Iterate rather than recurse.
		base, n = pn-r, r
		if outside(base, base+r-1) {
			return
		}
	}
}
