// Package subscriber is revocast's sidecar: it replays the revocation stream
// into a local deny-cache, follows it live, and answers "is this token
// revoked?" in microseconds, over HTTP (GET/POST /v1/check), over gRPC as
// Envoy's external authorization service (ExtAuthz, NewGRPCServer), as a Go
// API (Subscriber.Check) and as net/http middleware (Middleware).
//
// It fails closed: until the replay has reached the stream's last sequence as
// of start it is not ready and every check answers Unavailable. When it
// cannot confirm it is caught up for longer than MaxStaleness, or when the
// cache could not take a revocation, checks follow the StalePolicy (deny by
// default). It reports what it applied of every live request to the front
// that published it (an outcome), and a heartbeat so the front knows whom to
// wait for.
package subscriber
