package main

import (
	"testing"
	"time"
)

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
			now := time.Unix(0, 0)
			for i, b := range tc.sizes {
				now = now.Add(releaseEvery) // never reaches releaseFollowUp here
				if got := w.observe(b, now); got != tc.want[i] {
					t.Errorf("observe(%d MiB) at step %d = %v, want %v", b/mib, i, got, tc.want[i])
				}
			}
		})
	}
}

// After a release, memory is returned once more releaseFollowUp later if the store stayed
// small, and not if it grew meanwhile.
func TestShrinkWatchFollowUp(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	t0 := time.Unix(0, 0)
	var w shrinkWatch
	w.observe(40*mib, t0)
	if !w.observe(0, t0.Add(releaseEvery)) {
		t.Fatal("no release when the store emptied")
	}
	if w.observe(0, t0.Add(releaseFollowUp)) {
		t.Fatal("follow-up before releaseFollowUp had passed")
	}
	if !w.observe(mib/2, t0.Add(releaseEvery+releaseFollowUp)) {
		t.Fatal("no follow-up release once releaseFollowUp had passed")
	}
	if w.observe(mib/2, t0.Add(releaseEvery+3*releaseFollowUp)) {
		t.Fatal("a second follow-up")
	}

	var g shrinkWatch
	g.observe(40*mib, t0)
	g.observe(0, t0.Add(releaseEvery))
	g.observe(5*mib, t0.Add(2*releaseEvery)) // growing again
	if g.observe(5*mib, t0.Add(releaseEvery+releaseFollowUp)) {
		t.Fatal("follow-up release although the store grew again")
	}
}
