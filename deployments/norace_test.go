//go:build !race

package deployments_test

const raceEnabled = false
