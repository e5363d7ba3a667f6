package node

import (
	"bytes"
	"testing"
)

// value.warm reads one byte per cache line of a string value's first warmValueMax bytes and its
// last one there, and nothing of an empty value or a collection.
func TestValueWarmReadsItsLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n    int
		want uint64
	}{
		{0, 0},
		{1, 2},    // offset 0 and the last byte (the same)
		{100, 3},  // 0, 64, 99
		{128, 3},  // 0, 64, 127
		{129, 4},  // 0, 64, 128, 128
		{1000, 5}, // 0, 64, 128, 192, 255: only the first warmValueMax bytes
	} {
		var v value
		v.setData(bytes.Repeat([]byte{1}, tc.n))
		if got := v.warm(); got != tc.want {
			t.Errorf("%d bytes: warm = %d, want %d", tc.n, got, tc.want)
		}
	}
	obj := value{bits: objBit, p: nil, n: 5}
	if got := obj.warm(); got != 0 {
		t.Errorf("collection: warm = %d, want 0", got)
	}
}
