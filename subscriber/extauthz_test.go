package subscriber

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/prometheus/client_golang/prometheus"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/revocast/revocast/internal/natstest"
)

// serveGRPC serves s's gRPC API on a real loopback listener and returns
// clients connected to it, all closed when the test ends.
func serveGRPC(t *testing.T, s *Subscriber) (authv3.AuthorizationClient, healthpb.HealthClient) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewGRPCServer(s)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.GracefulStop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return authv3.NewAuthorizationClient(conn), healthpb.NewHealthClient(conn)
}

// envoyRequest is what Envoy sends for a request with these headers
// (lower-cased names, as Envoy sends them).
func envoyRequest(headers map[string]string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/api/orders", Host: "api.example", Headers: headers},
	}}}
}

func hv(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v}}
}

func denied(code codes.Code, msg string, httpCode typev3.StatusCode, body string, hdrs ...*corev3.HeaderValueOption) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code), Message: msg},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: httpCode}, Headers: hdrs, Body: body}},
	}
}

var (
	okAnswer = &authv3.CheckResponse{Status: &rpcstatus.Status{},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}}
	revokedAnswer = denied(codes.Unauthenticated, "revoked", typev3.StatusCode_Unauthorized, "",
		hv("WWW-Authenticate", `Bearer error="invalid_token"`), hv("X-Revocast-Reason", "token"))
)

func invalidAnswer(why string) *authv3.CheckResponse {
	return denied(codes.Unauthenticated, why, typev3.StatusCode_Unauthorized, "",
		hv("WWW-Authenticate", `Bearer error="invalid_request", error_description="`+why+`"`))
}

func askGRPC(t *testing.T, c authv3.AuthorizationClient, req *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Check(ctx, req)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return resp
}

func wantAnswer(t *testing.T, what string, got, want *authv3.CheckResponse) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Errorf("%s: got\n%s\nwant\n%s", what, prototext.Format(got), prototext.Format(want))
	}
}

func TestExtAuthzGRPCCheck(t *testing.T) {
	e := newEnv(t)
	e.append(t, revokeToken("revoked-token"))
	s := startSub(t, e, Config{}, nil)
	waitReady(t, s)
	c, health := serveGRPC(t, s)

	wantAnswer(t, "allowed", askGRPC(t, c, envoyRequest(map[string]string{"authorization": "Bearer good-token"})), okAnswer)
	wantAnswer(t, "revoked", askGRPC(t, c, envoyRequest(map[string]string{"authorization": "Bearer revoked-token"})), revokedAnswer)
	wantAnswer(t, "revoked, scheme in lower case", askGRPC(t, c, envoyRequest(map[string]string{"authorization": "bearer revoked-token"})), revokedAnswer)

	// Revoked while the sidecar runs: the next check denies it.
	e.append(t, revokeToken("good-token"))
	natstest.Eventually(t, 10*time.Second, "a live revocation denied over gRPC", func() bool {
		return proto.Equal(askGRPC(t, c, envoyRequest(map[string]string{"authorization": "Bearer good-token"})), revokedAnswer)
	})

	// encode_raw_headers: the headers come one by one in header_map.
	raw := envoyRequest(nil)
	raw.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: ":path", RawValue: []byte("/api")}, {Key: "authorization", RawValue: []byte("Bearer revoked-token")}}}
	wantAnswer(t, "revoked, raw headers", askGRPC(t, c, raw), revokedAnswer)

	for what, hdrs := range map[string]map[string]string{
		"no headers":                             nil,
		"no authorization":                       {"x-other": "Bearer revoked-token"},
		"basic":                                  {"authorization": "Basic Zm9vOmJhcg=="},
		"empty bearer":                           {"authorization": "Bearer   "},
		"upper-case name (not Envoy's spelling)": {"Authorization": "Bearer revoked-token"},
	} {
		wantAnswer(t, what, askGRPC(t, c, envoyRequest(hdrs)), invalidAnswer("no bearer token"))
	}
	wantAnswer(t, "merged authorization headers",
		askGRPC(t, c, envoyRequest(map[string]string{"authorization": "Bearer good,Bearer revoked-token"})),
		invalidAnswer("more than one authorization header"))
	two := envoyRequest(nil)
	two.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: "authorization", RawValue: []byte("Bearer fine")}, {Key: "Authorization", RawValue: []byte("Bearer revoked-token")}}}
	wantAnswer(t, "two raw authorization headers", askGRPC(t, c, two), invalidAnswer("more than one authorization header"))
	wantAnswer(t, "token over 16 KiB",
		askGRPC(t, c, envoyRequest(map[string]string{"authorization": "Bearer " + strings.Repeat("x", 16385)})),
		invalidAnswer("token too long"))

	// Over the message bound: the call fails (Envoy's failure mode, closed).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	big := envoyRequest(map[string]string{"authorization": "Bearer good", "x-big": strings.Repeat("b", MaxExtAuthzMessage)})
	if _, err := c.Check(ctx, big); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a request over %d bytes: %v, want ResourceExhausted", MaxExtAuthzMessage, err)
	}

	for _, svc := range []string{"", AuthorizationService} {
		if r, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health %q when ready: %v %v", svc, r, err)
		}
	}
	if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("health of an unknown service: %v", err)
	}
}

func TestExtAuthzGRPCNotReady(t *testing.T) {
	e := newEnv(t)
	s, err := New(Config{ID: "x"}, e.nc, &refusingCache{}, zerologNop(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	c, health := serveGRPC(t, s) // never Run: never ready
	want := denied(codes.Unavailable, reasonNotReady, typev3.StatusCode_ServiceUnavailable,
		`{"error":"unavailable","reason":"not ready: replaying the revocation stream"}`+"\n",
		hv("Retry-After", "1"), hv("Content-Type", "application/json"), hv("Cache-Control", "no-store"))
	wantAnswer(t, "not ready", askGRPC(t, c, envoyRequest(map[string]string{"authorization": "Bearer t"})), want)
	// The HTTP contract: a request without a token is 401 even then.
	wantAnswer(t, "not ready, no token", askGRPC(t, c, envoyRequest(nil)), invalidAnswer("no bearer token"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health when not ready: %v %v", r, err)
	}
}

// A stale answer allowed under the allow policy tells the backend, and a
// client cannot forge that header: Envoy overwrites it.
func TestExtAuthzStaleAllowedAnswer(t *testing.T) {
	got := decisionResponse(Decision{Verdict: Allowed, Stale: true})
	want := &authv3.CheckResponse{Status: &rpcstatus.Status{},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{Headers: []*corev3.HeaderValueOption{{
			Header:       &corev3.HeaderValue{Key: "X-Revocast-Stale", Value: "true"},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD}}}}}
	wantAnswer(t, "stale allowed", got, want)
}
