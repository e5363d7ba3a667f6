package httpapi

import (
	"testing"
	"time"
)

func TestRateRing(t *testing.T) {
	r := newRateRing(3)
	if got := r.samples(); len(got) != 0 {
		t.Fatalf("empty ring has %d samples", len(got))
	}
	t0 := time.Unix(1000, 0)
	for i := range 5 {
		r.add(rateSample{at: t0.Add(time.Duration(i) * time.Second), writes: uint64(i * 10)})
	}
	ss := r.samples()
	if len(ss) != 3 || ss[0].writes != 20 || ss[2].writes != 40 {
		t.Fatalf("ring keeps %+v, want the last three oldest first", ss)
	}
	pts := rates(ss)
	if len(pts) != 2 || pts[0].writes != 10 || pts[1].writes != 10 || !pts[1].at.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("rates %+v, want two of 10/s", pts)
	}
	// A counter that went back (a restarted backend) is 0 for that interval, not a wrap-around.
	back := rates([]rateSample{{at: t0, sent: 50}, {at: t0.Add(2 * time.Second), sent: 10}})
	if back[0].sent != 0 {
		t.Fatalf("backwards counter gave %v", back[0].sent)
	}
	// Two samples at the same instant give no point.
	if same := rates([]rateSample{{at: t0}, {at: t0, writes: 5}}); len(same) != 0 {
		t.Fatalf("zero interval gave %+v", same)
	}
}

func TestStatusFormatting(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1536, "1.5 KiB"}, {5 << 20, "5.0 MiB"}, {3 << 30, "3.0 GiB"}, {1 << 50, "1024.0 TiB"}} {
		if got := humanBytes(c.n); got != c.want {
			t.Errorf("humanBytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
	for _, c := range []struct {
		d    time.Duration
		want string
	}{{850 * time.Millisecond, "850ms"}, {12400 * time.Millisecond, "12.4s"}, {200 * time.Second, "3m20s"},
		{10 * time.Minute, "10m"}, {125 * time.Minute, "2h5m"}} {
		if got := shortDuration(c.d); got != c.want {
			t.Errorf("shortDuration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	for _, c := range []struct{ v, want float64 }{{0, 1}, {0.3, 1}, {1.5, 2}, {3, 5}, {7, 10}, {11, 20}, {4500, 5000}} {
		if got := niceCeil(c.v); got != c.want {
			t.Errorf("niceCeil(%v) = %v, want %v", c.v, got, c.want)
		}
	}
	for _, c := range []struct {
		v    float64
		want string
	}{{0, "0"}, {0.25, "0.2"}, {12.4, "12"}, {3500, "3.5k"}, {1.25e6, "1.2M"}} {
		if got := formatRate(c.v); got != c.want {
			t.Errorf("formatRate(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}
