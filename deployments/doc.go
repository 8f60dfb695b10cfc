// Package deployments holds no code: its tests validate the deployment
// files in this directory with the real tools' own code. The Helm chart
// is linted and rendered with Helm's Go packages and every object it
// renders, and the plain manifest, is decoded strictly into the Kubernetes
// API types; the alert rules are parsed by Prometheus's rule and PromQL
// parsers; every flag and REVOCAST_* variable the manifests pass is checked
// against the binary's own -h; and every metric the dashboard and the
// alerts name is one the binaries register. Its dependencies (Helm,
// k8s.io/api, Prometheus) are test-only: no binary links them.
package deployments
