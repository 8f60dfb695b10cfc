package subscriber

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	checks                      *checkCounts
	appliedTokens, appliedRules prometheus.Counter
	undecodable                 prometheus.Counter
	clamped                     prometheus.Counter
	rebuilds, lost, resumes     prometheus.Counter
	targetSeq                   prometheus.Gauge
	lag                         prometheus.Histogram
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func newMetrics(reg prometheus.Registerer, s *Subscriber) *metrics {
	checks := newCheckCounts()
	applied := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "revocast_subscriber_events_applied_total",
		Help: "Revocation events applied, by kind (token, rule).",
	}, []string{"kind"})
	m := &metrics{
		checks:        checks,
		appliedTokens: applied.WithLabelValues("token"), appliedRules: applied.WithLabelValues("rule"),
		undecodable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "revocast_subscriber_undecodable_events_total",
			Help: "Events that could not be read (corrupt, or written by a newer revocast); the sidecar is unhealthy while any exist.",
		}),
		clamped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "revocast_subscriber_clamped_events_total",
			Help: "Events whose expiry went past --max-token-lifetime, or whose rule reached into the future, clamped on arrival.",
		}),
		rebuilds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "revocast_subscriber_rebuilds_total",
			Help: "Times the sidecar emptied its state and replayed the stream from the start (stream re-created, revocations lost to capacity).",
		}),
		resumes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "revocast_subscriber_consumer_resumes_total",
			Help: "Times the sidecar re-created its consumer after the last applied sequence (a gap in the delivery, lost heartbeats, a lost consumer).",
		}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "revocast_subscriber_dropped_revocations_total",
			Help: "Revocations neither the deny-cache nor its side list could hold: every check is denied until a rebuild fits them.",
		}),
		targetSeq: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "revocast_subscriber_replay_target_sequence",
			Help: "The stream's last sequence when the replay started; ready once applied reaches it.",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "revocast_subscriber_revoke_to_applied_seconds",
			Help:    "Time from a live revocation being accepted by the front to its being enforced here.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	reg.MustRegister(checks, applied, m.undecodable, m.clamped, m.rebuilds, m.lost, m.resumes, m.targetSeq, m.lag,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "revocast_subscriber_cache_capacity",
			Help: "Live revocations the deny-cache holds at most (--cache-capacity).",
		}, func() float64 { return float64(s.cache.Capacity()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "revocast_subscriber_cache_entries",
			Help: "Revoked token hashes held in the deny-cache.",
		}, func() float64 { return float64(s.cache.Stats().Entries) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "revocast_subscriber_rules",
			Help: "Issued-before rules held.",
		}, func() float64 { return float64(s.rules.Len()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "revocast_subscriber_admission_retries_total",
			Help: "Cache entries offered again after ristretto dropped or rejected them.",
		}, func() float64 { return float64(s.cache.Stats().Retries) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "revocast_subscriber_admission_failures_total",
			Help: "Cache entries that could not be admitted after every retry.",
		}, func() float64 { return float64(s.cache.Stats().Failures) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "revocast_subscriber_unexpired_evictions_total",
			Help: "Unexpired revocations evicted from the cache: its capacity is exhausted.",
		}, func() float64 { return float64(s.cache.Stats().UnexpiredEvictions) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "revocast_subscriber_replay_applied_sequence",
			Help: "The last stream sequence applied.",
		}, func() float64 { return float64(s.applied.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "revocast_subscriber_ready",
			Help: "1 once the replay is complete.",
		}, func() float64 { return boolGauge(s.ready.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "revocast_subscriber_stale",
			Help: "1 while the sidecar cannot confirm it is caught up within the staleness bound.",
		}, func() float64 { return boolGauge(s.stale()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "revocast_subscriber_healthy",
			Help: "0 while a revocation could not be applied or the cache capacity is exhausted.",
		}, func() float64 { return boolGauge(s.healthy()) }),
	)
	return m
}
