package main

import "fmt"

// howTo says how each figure and its baseline were measured, with this
// run's counts.
func (h *harness) howTo() []string {
	s := h.sc
	return []string{
		fmt.Sprintf("**front**: `revocast publisher --propagation-timeout 0` (no sidecar), %d closed-loop clients each sending "+
			"`DELETE /_security/oauth2/token` with `{\"token\":...}` (a new token each time, Basic auth, keep-alive) for %s; "+
			"baseline: %d goroutines each publishing a 200-byte message synchronously (`jetstream.Publish`) to a file-storage "+
			"stream on the same server over one connection. Two alternating rounds of each after a warm-up. CPU: the publisher's "+
			"utime+stime from /proc/<pid>/stat over its rounds, divided by the revocations answered.", s.frontClients, s.frontDur, s.frontClients),
		fmt.Sprintf("**check**: %s revocations stored as the front stores a bulk revocation (batch events of 500 from the events "+
			"package, appended by the publisher's JetStream store), a sidecar process replays them; %d closed-loop clients send "+
			"`GET /v1/check` with `Authorization: Bearer <token>`, half of the tokens revoked (401), half not (204), for %s; "+
			"baseline: redis-server (no persistence) holding the same keys (`deny:<sha256 hex>` with a TTL), the same clients "+
			"hashing the token and asking `EXISTS` through go-redis (a pool of %d connections). Wrong answers count as failures. "+
			"Second baseline: the same clients sending the same requests to an empty net/http server (the harness's binary "+
			"re-executed as its own process, the sidecar's server timeouts and header limit, a handler that only answers 204), "+
			"what net/http and the load itself cost per request. The three alternate in two rounds after a warm-up. "+
			"In-process: `subscriber.New` on the same stream, `Subscriber.Check` under `testing.Benchmark` with `RunParallel`.",
			count(s.checkRevoked), s.checkClients, s.checkDur, s.checkClients),
		fmt.Sprintf("**revoke→enforced**: a front with the default propagation wait (it answers after every live sidecar "+
			"confirmed), %d revocations/s sent open-loop (each on its own goroutine, whatever the others do) for %s, first with "+
			"%d sidecars (the baseline), then with %d. Client view: each request's latency. Sidecar side: the sidecars' "+
			"`revocast_subscriber_revoke_to_applied_seconds` histograms (scraped before and after, summed; quantiles interpolated "+
			"within buckets as Prometheus does). CPU: every sidecar's utime+stime over the round divided by sidecars × revocations. "+
			"Its baseline, a round before any sidecar starts: %d bare JetStream consumers (the harness's binary re-executed, one "+
			"process each, with sidecar credentials minted for its name and the sidecar's consumer: named after it, no acks, memory "+
			"storage, one replica, from the sequence after the stream's last, pulled by 16 MiB with a 10 s expiry and 2 s "+
			"heartbeats) that count and discard every message, fed by the same front at the same rate for the same time; their "+
			"utime+stime from the end of the warm-up until each received the stream's last message, divided by consumers × "+
			"revocations (the messages each received per revocation are shown).",
			s.enforceRate, s.enforceDur, s.enforceFew, s.enforceMany, s.enforceMany),
		fmt.Sprintf("**cold replay**: %s revocations stored as batch events (as above); a new sidecar process with the default "+
			"capacity, timed from its start to the first 200 of `/readyz` (polled every 10 ms); its entries read from `/metrics` "+
			"every 50 ms for the plot. Baseline: an ordered consumer (nats.go `jetstream`) reading every message of the same stream "+
			"on the same server, once before and once after the sidecar (the mean).", count(s.replayN)),
		fmt.Sprintf("**memory**: VmRSS (/proc/<pid>/status) of the replayed sidecar %s after ready, minus that of an empty "+
			"sidecar of the same (default) capacity, divided by the revocations; fixed overhead: the empty sidecar of default capacity "+
			"minus one of capacity %d, per million of capacity. Baseline: ristretto alone in the harness (`NumCounters` 10 per entry, "+
			"as ristretto recommends, `IgnoreInternalCost`), Go heap in use after GC with %s 32-byte keys set with a TTL (each set "+
			"again until `Get` finds it) minus the empty cache's.", s.settle, smallCapacity, count(s.replayN)),
		fmt.Sprintf("**revoke a user**: `POST /v1/tokens` with %s tokens of one user (NDJSON, refresh/access pairs), then "+
			"`DELETE /_security/oauth2/token` `{\"username\",\"realm_name\"}`; enforced: every sidecar answers 401 for a sample "+
			"of about 200 of the tokens, the last included (polled over HTTP, each sidecar from the last token back); answer: the "+
			"request's latency (its count checked). %d sidecars, then %d.", count(s.registryN), s.registryFew, s.registryMany),
		fmt.Sprintf("**start-up stall**: a front with the default 1 s propagation wait and one sidecar takes %d revocations/s "+
			"(open loop); %d more sidecars are started; requests sent from that moment until 1 s after the front counted them "+
			"all live are counted if they took ≥ 0.95 s or their answer holds a `timeout_exception`.", s.stallRate, s.stallJoin),
		fmt.Sprintf("**rival under fault**: %s revocations at %d/s, one after another, each retried every 50 ms until its bus "+
			"accepts it (a 200 from the front, each attempt cut after 15 s; a PUBLISH answered), for at most 40 s; halfway, the bus is stopped for %s and started again (the embedded NATS server on the same port and "+
			"store; redis-server on the same port). revocast: the front and one sidecar, then `GET /v1/check` of every token. "+
			"Rival: `PUBLISH` of each hash to a channel, read by a go-redis `SUBSCRIBE` client that adds each hash to a local set "+
			"and, after an error, reconnects and subscribes again (backoff 100 ms to 1 s); then the set is counted. The target: "+
			"revocast denies every revocation its front accepted.",
			count(s.faultN), s.faultRate, s.faultDown),
	}
}
