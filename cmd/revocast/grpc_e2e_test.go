package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/revocast/revocast/internal/natstest"
)

// dialGRPC connects a real gRPC client to a sidecar's --grpc-addr.
func dialGRPC(t *testing.T, addr string, creds credentials.TransportCredentials) (authv3.AuthorizationClient, healthpb.HealthClient) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return authv3.NewAuthorizationClient(conn), healthpb.NewHealthClient(conn)
}

// grpcAsk sends what Envoy sends for a request with this bearer token
// ("" for none).
func grpcAsk(c authv3.AuthorizationClient, token string) (*authv3.CheckResponse, error) {
	hdrs := map[string]string{":path": "/api/orders", "user-agent": "e2e"}
	if token != "" {
		hdrs["authorization"] = "Bearer " + token
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/api/orders", Headers: hdrs}}}})
}

// answer summarises a CheckResponse as gRPC code, HTTP status Envoy sends
// (200: let through) and the denied response's headers.
func answer(r *authv3.CheckResponse, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	code := codes.Code(r.GetStatus().GetCode())
	if code == codes.OK {
		return "OK 200"
	}
	d := r.GetDeniedResponse()
	var hs []string
	for _, h := range d.GetHeaders() {
		hs = append(hs, h.GetHeader().GetKey()+": "+h.GetHeader().GetValue())
	}
	return fmt.Sprintf("%s %d %s", code, d.GetStatus().GetCode(), strings.Join(hs, "; "))
}

func grpcServing(h healthpb.HealthClient) healthpb.HealthCheckResponse_ServingStatus {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: "envoy.service.auth.v3.Authorization"})
	if err != nil {
		return healthpb.HealthCheckResponse_UNKNOWN
	}
	return r.GetStatus()
}

const (
	grpcRevoked = `Unauthenticated 401 WWW-Authenticate: Bearer error="invalid_token"; X-Revocast-Reason: token`
	grpcNoToken = `Unauthenticated 401 WWW-Authenticate: Bearer error="invalid_request", error_description="no bearer token"`
)

// The real binary serves ext_authz on --grpc-addr: a token revoked through
// the front is denied over gRPC as soon as the front answered, and the token
// never reaches the log.
func TestE2EGRPCExtAuthz(t *testing.T) {
	d := startDev(t, t.TempDir(), nil, "--grpc-addr", "127.0.0.1:0")
	addr := d.waitLog("listening", map[string]string{"component": "grpc"}, "addr")
	c, h := dialGRPC(t, addr, insecure.NewCredentials())
	waitFor(t, "gRPC health SERVING", func() bool { return grpcServing(h) == healthpb.HealthCheckResponse_SERVING })

	if got := answer(grpcAsk(c, "grpc-secret-token")); got != "OK 200" {
		t.Fatalf("before revocation: %s", got)
	}
	if r := esRevoke(t, d.front, `{"token":"grpc-secret-token"}`); r.code != 200 || !strings.Contains(r.body, `"invalidated_tokens":1`) {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	if got := answer(grpcAsk(c, "grpc-secret-token")); got != grpcRevoked {
		t.Errorf("after revocation: %s, want %s", got, grpcRevoked)
	}
	if got := answer(grpcAsk(c, "")); got != grpcNoToken {
		t.Errorf("no token: %s, want %s", got, grpcNoToken)
	}
	if got := answer(grpcAsk(c, "another-token")); got != "OK 200" {
		t.Errorf("another token: %s", got)
	}
	d.stop() // SIGTERM: stop checks the exit status (gRPC stopped gracefully)
	if strings.Contains(d.log(), "grpc-secret-token") {
		t.Error("the raw token is in the log")
	}
}

// "revocast subscriber --grpc-addr" with NATS unreachable cannot vouch for
// anything: UNAVAILABLE with a 503 for Envoy, and NOT_SERVING.
func TestE2EGRPCNotReadyIsUnavailable(t *testing.T) {
	url := fmt.Sprintf("nats://127.0.0.1:%d", natstest.FreePort(t)) // nothing listens there
	p := start(t, nil, "subscriber", "--id", "grpc-late", "--subscriber-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--nats-url", url)
	addr := p.waitLog("listening", map[string]string{"component": "grpc"}, "addr")
	c, h := dialGRPC(t, addr, insecure.NewCredentials())
	want := "Unavailable 503 Retry-After: 1; Content-Type: application/json; Cache-Control: no-store"
	if got := answer(grpcAsk(c, "some-token")); got != want {
		t.Errorf("not ready: %s, want %s", got, want)
	}
	if s := grpcServing(h); s != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health not ready: %s", s)
	}
}
