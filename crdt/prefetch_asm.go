//go:build amd64 || arm64

package crdt

// prefetch asks the processor to load the cache line holding addr, without waiting for it
// and without faulting on any address. Unlike a load, a prefetch does not hold its place in
// the processor's reorder window until the line arrives, so a loop of them keeps every
// miss of a batch in flight at once; a loop of loads stalls once the window fills behind the
// oldest miss (a few keys' worth of instructions).
//
//go:noescape
func prefetch(addr uintptr)
