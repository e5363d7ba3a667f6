//go:build race

package lru

const raceEnabled = true
