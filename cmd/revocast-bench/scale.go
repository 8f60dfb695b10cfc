package main

import "time"

// scale is how big each measure is.
type scale struct {
	warmup time.Duration // before a load is measured
	settle time.Duration // before a process's RSS is read

	frontClients int
	frontDur     time.Duration // each side, split in two alternating rounds

	checkClients int
	checkRevoked int
	checkDur     time.Duration // each side, split in two alternating rounds
	inprocTime   string        // -test.benchtime of the in-process check

	enforceRate             int
	enforceDur              time.Duration // each round
	enforceFew, enforceMany int

	replayN int

	registryN                 int
	registryFew, registryMany int

	stallRate, stallJoin int

	faultN, faultRate int
	faultDown         time.Duration
}

// fullScale is the issue's: make bench, about 5 minutes on 2 cores.
var fullScale = scale{
	warmup: time.Second, settle: 2 * time.Second,
	frontClients: 64, frontDur: 10 * time.Second,
	checkClients: 16, checkRevoked: 100_000, checkDur: 10 * time.Second, inprocTime: "2s",
	enforceRate: 1000, enforceDur: 10 * time.Second, enforceFew: 2, enforceMany: 8,
	replayN:   1_000_000,
	registryN: 100_000, registryFew: 2, registryMany: 8,
	stallRate: 500, stallJoin: 7,
	faultN: 2000, faultRate: 200, faultDown: time.Second,
}

// quickScale is a smoke test of every measure (--quick): small enough to
// run under the race detector on a loaded 2-core machine.
var quickScale = scale{
	warmup: 200 * time.Millisecond, settle: 200 * time.Millisecond,
	frontClients: 4, frontDur: 400 * time.Millisecond,
	checkClients: 4, checkRevoked: 1000, checkDur: 400 * time.Millisecond, inprocTime: "100ms",
	enforceRate: 50, enforceDur: time.Second, enforceFew: 1, enforceMany: 2,
	replayN:   5000,
	registryN: 500, registryFew: 1, registryMany: 2,
	stallRate: 20, stallJoin: 2,
	faultN: 60, faultRate: 60, faultDown: 300 * time.Millisecond,
}
