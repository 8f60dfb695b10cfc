package publisher

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the front's Prometheus metrics.
type Metrics struct {
	Published       *prometheus.CounterVec // kind=token|rule
	Previously      prometheus.Counter
	PublishRetries  prometheus.Counter
	PublishFailures prometheus.Counter
	Propagation     *prometheus.CounterVec // kind=propagation|timeout
	LiveSubscribers prometheus.Gauge
	// SidecarConflicts counts ids announced by two live instances;
	// SidecarsRefused ids refused past --max-sidecars.
	SidecarConflicts prometheus.Gauge
	SidecarsRefused  prometheus.Counter
	Requests         *prometheus.CounterVec   // dialect, code
	RequestDuration  *prometheus.HistogramVec // route
	Registered       prometheus.Counter
	RegistryRefused  prometheus.Counter
}

// NewMetrics registers the front's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocast_publisher_revocations_published_total",
			Help: "Revocation events durably stored in the stream, by kind (token or rule).",
		}, []string{"kind"}),
		Previously: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "revocast_publisher_previously_invalidated_total",
			Help: "Token revocations asked for tokens the stream already held as revoked.",
		}),
		PublishRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "revocast_publisher_publish_retries_total",
			Help: "Events published again after a transient JetStream failure.",
		}),
		PublishFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "revocast_publisher_publish_failures_total",
			Help: "Events that could not be stored within the publish timeout.",
		}),
		Propagation: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocast_publisher_propagation_errors_total",
			Help: "Sidecar failures (kind=propagation) and missing confirmations (kind=timeout) reported in answers.",
		}, []string{"kind"}),
		LiveSubscribers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "revocast_publisher_live_subscribers",
			Help: "Sidecars whose heartbeat is recent.",
		}),
		SidecarConflicts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "revocast_publisher_sidecar_id_conflicts",
			Help: "Sidecar ids announced by more than one live instance: their confirmations are not trusted.",
		}),
		SidecarsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "revocast_publisher_sidecars_refused_total",
			Help: "Heartbeats of new sidecar ids ignored because --max-sidecars are tracked already.",
		}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocast_publisher_http_requests_total",
			Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "revocast_publisher_http_request_duration_seconds",
			Help:    "Time to answer a request by route; for revocations, storing them and collecting the sidecars' confirmations.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		Registered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "revocast_publisher_registry_registered_total",
			Help: "Token records registered (POST /v1/tokens and the registry subject).",
		}),
		RegistryRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "revocast_publisher_registry_refused_total",
			Help: "Token records refused (bad input, conflicts, store failures).",
		}),
	}
	reg.MustRegister(m.Registered, m.RegistryRefused, m.Published, m.Previously, m.PublishRetries, m.PublishFailures, m.Propagation,
		m.LiveSubscribers, m.SidecarConflicts, m.SidecarsRefused, m.Requests, m.RequestDuration)
	return m
}

// StoreMetrics returns the hooks a JetStreamStore reports to.
func (m *Metrics) StoreMetrics() StoreMetrics {
	return StoreMetrics{
		Retries:  func(n int) { m.PublishRetries.Add(float64(n)) },
		Failures: func(n int) { m.PublishFailures.Add(float64(n)) },
	}
}
