package main

import "testing"

func TestShrinkWatch(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	for _, tc := range []struct {
		name  string
		sizes []int64
		want  []bool
	}{
		{"growth never releases", []int64{0, 10 * mib, 20 * mib, 40 * mib}, []bool{false, false, false, false}},
		{"steady load never releases", []int64{40 * mib, 38 * mib, 41 * mib, 39 * mib, 40 * mib}, []bool{false, false, false, false, false}},
		{"halving releases once", []int64{40 * mib, 30 * mib, 20 * mib, 19 * mib, 12 * mib, 0}, []bool{false, false, true, false, false, true}},
		// Half a MiB freed is under releaseMin; 2 MiB is not.
		{"small stores need releaseMin", []int64{mib / 2, 0, 2 * mib, 0}, []bool{false, false, false, true}},
		{"a wave of expiries releases at each halving", []int64{12 * mib, 6 * mib, 3 * mib, 3 * mib / 2, mib, 0}, []bool{false, true, true, true, false, true}},
		{"the peak restarts after a release", []int64{40 * mib, 10 * mib, 30 * mib, 14 * mib}, []bool{false, true, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var w shrinkWatch
			for i, b := range tc.sizes {
				if got := w.observe(b); got != tc.want[i] {
					t.Errorf("observe(%d MiB) at step %d = %v, want %v", b/mib, i, got, tc.want[i])
				}
			}
		})
	}
}
