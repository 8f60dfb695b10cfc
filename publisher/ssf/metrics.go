package ssf

import "github.com/prometheus/client_golang/prometheus"

// metrics of the receiver; labels are bounded (transmitter names come from
// the configuration, results and kinds are constants).
type metrics struct {
	signals  *prometheus.CounterVec
	unmapped *prometheus.CounterVec
	jwks     *prometheus.CounterVec
	leader   *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		signals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "revocast_publisher_ssf_signals_total",
			Help: "Signals received from transmitters, by transmitter, delivery (push, poll, logout) and result (accepted, replayed, an RFC 8935 error code, unavailable, over_budget)."},
			[]string{"transmitter", "delivery", "result"}),
		unmapped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "revocast_publisher_ssf_unmapped_total",
			Help: "Signals refused because revocast cannot map their event type or subject, by transmitter and what (event, subject)."},
			[]string{"transmitter", "what"}),
		jwks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "revocast_publisher_ssf_jwks_fetches_total",
			Help: "Fetches of transmitters' JWKS, by transmitter and result (ok, error)."}, []string{"transmitter", "result"}),
		leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "revocast_publisher_ssf_poll_leader",
			Help: "1 while this front holds the lease to poll the transmitter."}, []string{"transmitter"}),
	}
	if reg != nil {
		reg.MustRegister(m.signals, m.unmapped, m.jwks, m.leader)
	}
	return m
}
