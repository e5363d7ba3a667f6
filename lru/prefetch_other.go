//go:build !amd64 && !arm64

package lru

// prefetch does nothing where no prefetch instruction is wired up: warm's loads remain.
func prefetch(addr uintptr) {}

// Prefetch does nothing where no prefetch instruction is wired up.
func Prefetch(addr uintptr) {}
