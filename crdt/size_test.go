package crdt

import (
	"testing"
	"unsafe"
)

// A set member's write is its dot alone: 16 bytes (see Dotted).
func TestDottedSetIsADot(t *testing.T) {
	if s := unsafe.Sizeof(Dotted[struct{}]{}); s != 16 {
		t.Fatalf("Dotted[struct{}] is %d bytes, want 16", s)
	}
}
