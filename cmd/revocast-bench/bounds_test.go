package main

import (
	"strings"
	"testing"
	"time"
)

// TestBounds checks that each sentence of the Bounds section says what the
// figures it is given show, and that none is written without them.
func TestBounds(t *testing.T) {
	h := &harness{}
	h.boundCPU(enforced{sidecars: 8, cpuPerRev: 95 * time.Microsecond}, rawRound{consumers: 8, revs: 100, msgs: 800,
		cpuPerRev: 54 * time.Microsecond})
	h.boundCPU(enforced{sidecars: 8, cpuPerRev: 30 * time.Microsecond}, rawRound{consumers: 8, revs: 100, msgs: 800,
		cpuPerRev: 12 * time.Microsecond})
	h.boundCPU(enforced{sidecars: 8, cpuPerRev: 30 * time.Microsecond}, rawRound{}) // not measured: no sentence
	h.boundCheck(17000, 50000, 30000)
	h.boundCheck(17000, 50000, 80000)
	h.boundCheck(17000, 50000, 0) // not measured: no sentence
	h.boundMemory(335, 216)
	h.boundMemory(335, 150) // the library fits: no sentence
	h.boundInproc(451, 292)
	h.boundInproc(451, 120) // room left under the target: no sentence
	h.boundInproc(280, 270) // met: no sentence
	want := [][]string{
		{"(≤ 20 µs): 95.0 µs with 8 sidecars against 54.0 µs", "1.00 messages per revocation", "receiving alone is above the target", "other 41.0 µs"},
		{"30.0 µs with 8 sidecars against 12.0 µs", "receiving fits in the target", "(18.0 µs more)"},
		{"17,000/s, 34% of Redis `EXISTS` (50,000/s) and 57% of an empty net/http handler (30,000/s)", "reaches only 60% of Redis", "load generator's HTTP client"},
		{"21% of an empty net/http handler (80,000/s)", "net/http alone would meet the target"},
		{"335 B in the sidecar against 216 B for ristretto's own entry"},
		{"(≤ 300 ns): 451 ns against 292 ns", "97% of the target by itself", "(159 ns)"},
	}
	if len(h.bounds) != len(want) {
		t.Fatalf("%d sentences, want %d:\n%s", len(h.bounds), len(want), strings.Join(h.bounds, "\n"))
	}
	for i, ws := range want {
		for _, w := range ws {
			if !strings.Contains(h.bounds[i], w) {
				t.Errorf("sentence %d lacks %q:\n%s", i, w, h.bounds[i])
			}
		}
	}
	var b strings.Builder
	h.writeBounds(&b, "## Bounds")
	if !strings.HasPrefix(b.String(), "\n## Bounds\n\n") || strings.Count(b.String(), "\n- ") != len(want) {
		t.Errorf("section:\n%s", b.String())
	}
	b.Reset()
	(&harness{}).writeBounds(&b, "## Bounds")
	if b.Len() != 0 {
		t.Errorf("a section without sentences: %q", b.String())
	}
}
