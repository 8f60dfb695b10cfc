//go:build race

package registry

// raceEnabled: the race detector makes sync.Pool drop items on purpose, so
// allocation counts are only asserted without it.
const raceEnabled = true
