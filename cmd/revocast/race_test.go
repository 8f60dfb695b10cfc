//go:build race

package main

// raceEnabled: the race detector makes sync.Pool drop items on purpose, so
// allocation counts are only asserted without it.
const raceEnabled = true
