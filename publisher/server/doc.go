// Package server assembles revocast's HTTP front: every dialect's route, the
// registry feed, /healthz, /readyz and /metrics, behind an access log (which
// never records bodies or credentials), per-route metrics and a panic guard.
// It is the one place that knows all dialects; a dialect never knows another.
package server
