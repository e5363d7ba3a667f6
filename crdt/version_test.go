package crdt

import "testing"

func TestVersionCompare(t *testing.T) {
	t.Parallel()
	ts := MakeTimestamp
	tests := []struct {
		a, b Version
		want int
	}{
		{Version{ts(1, 0), 1}, Version{ts(1, 0), 1}, 0},
		{Version{ts(1, 0), 9}, Version{ts(1, 1), 1}, -1}, // timestamp dominates replica
		{Version{ts(2, 0), 1}, Version{ts(1, 5), 9}, 1},
		{Version{ts(1, 0), 1}, Version{ts(1, 0), 2}, -1}, // replica breaks ties
		{Version{}, Version{ts(0, 0), 1}, -1},
	}
	for _, tt := range tests {
		if got := tt.a.Compare(tt.b); got != tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := tt.b.Compare(tt.a); got != -tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d (antisymmetry)", tt.b, tt.a, got, -tt.want)
		}
		if got := tt.a.Less(tt.b); got != (tt.want < 0) {
			t.Errorf("%v.Less(%v) = %v", tt.a, tt.b, got)
		}
	}
}

func TestVersionStrings(t *testing.T) {
	t.Parallel()
	if !(Version{}).IsZero() || (Version{Replica: 1}).IsZero() || (Version{TS: 1}).IsZero() {
		t.Error("IsZero wrong")
	}
	v := Version{TS: MakeTimestamp(1700000000000, 2), Replica: 0xab}
	if got, want := v.String(), "1700000000000.2@00000000000000ab"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := (Dot{Replica: 0xab, Seq: 7}).String(), "00000000000000ab:7"; got != want {
		t.Errorf("Dot.String() = %q, want %q", got, want)
	}
}
