// Command revocast-bench measures every figure of revocast's performance
// issue (11) beside its baseline in the same run, and writes
// docs/benchmarks.md and PNG plots. `make bench` builds bin/revocast and
// runs it; it takes about five minutes on a 2-core machine and at most
// --timeout (8 minutes).
//
// Every load goes to 127.0.0.1 and is bounded in count and time. The
// harness embeds a NATS server (JetStream, file storage in a temporary
// directory, operator mode with a trust made as `revocast nats-init` makes
// it) and starts the real binary as separate processes, one per component:
// `revocast init` as the operator, fronts (`revocast publisher`) with the
// front's credentials, sidecars (`revocast subscriber`) with credentials
// minted for each id. A process's CPU comes from /proc/<pid>/stat
// (utime+stime), its memory from /proc/<pid>/status (VmRSS).
//
// The measures, each with its baseline:
//
//	front     single-token Elasticsearch revocations, --propagation-timeout 0, 64 clients
//	          vs raw JetStream synchronous publishes (200 B, file storage, 64 publishers)
//	check     GET /v1/check, 16 clients, 100,000 revoked, vs redis-server EXISTS through go-redis
//	          and vs an empty net/http handler (204) in a process of its own;
//	          the in-process Subscriber.Check with testing.Benchmark
//	enforce   revoke→enforced at 1,000 revocations/s with 8 sidecars vs 2 sidecars: client view,
//	          sidecar side (their lag histogram), sidecar CPU per revocation vs 8 bare JetStream
//	          consumers (processes) fed the same front load; a CDF plot
//	replay    a cold sidecar replaying 1,000,000 revocations to ready vs a raw ordered consumer;
//	          a progress plot
//	memory    sidecar RSS per live revocation and fixed overhead vs ristretto's own cost
//	registry  revoking a user with 100,000 registered tokens, 2 and 8 sidecars
//	stall     requests that waited the propagation timeout while 7 sidecars join
//	fault     a Redis pub/sub deny-list and revocast, each through a restart of its bus
//
// The bare consumers and the empty handler are this binary re-executed in
// a hidden mode (selfchild.go). Progress goes to standard error; the
// table, and a Bounds section (what bounds each missed target, where a
// baseline of the same run shows it), to standard output and
// docs/benchmarks.md. --quick runs every measure with small counts (the
// package's test does, so CI keeps the harness working); --only selects
// measures. The redis baselines need redis-server (Debian's package; make
// bench installs it): without it they are reported as not measured.
package main
