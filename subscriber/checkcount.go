package subscriber

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// checkStripes spreads the check counters over cache lines: one shared
// counter is written by every core on every check, and the line bouncing
// between cores cost about 7% of a check on two cores (BenchmarkCheck's
// profile). A check picks its stripe from its token's hash, so concurrent
// checks of different tokens write different lines.
const checkStripes = 16

type checkStripe struct {
	n [3]atomic.Uint64 // by Verdict
	_ [64 - 3*8]byte   // one stripe per cache line
}

// checkCounts is revocast_subscriber_checks_total{result}.
type checkCounts struct {
	desc    *prometheus.Desc
	stripes [checkStripes]checkStripe
}

func newCheckCounts() *checkCounts {
	return &checkCounts{desc: prometheus.NewDesc("revocast_subscriber_checks_total",
		"Checks answered, by result (allowed, revoked, unavailable).", []string{"result"}, nil)}
}

func (c *checkCounts) inc(v Verdict, stripe byte) {
	c.stripes[stripe%checkStripes].n[v].Add(1)
}

func (c *checkCounts) total(v Verdict) uint64 {
	var t uint64
	for i := range c.stripes {
		t += c.stripes[i].n[v].Load()
	}
	return t
}

// Describe implements prometheus.Collector.
func (c *checkCounts) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *checkCounts) Collect(ch chan<- prometheus.Metric) {
	for _, v := range [...]Verdict{Allowed, Revoked, Unavailable} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.total(v)), v.String())
	}
}
