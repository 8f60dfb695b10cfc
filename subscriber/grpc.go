package subscriber

import (
	"context"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Bounds of the gRPC server NewGRPCServer builds.
const (
	// MaxExtAuthzMessage bounds a CheckRequest: Envoy's default limit on a
	// request's headers is 60 KiB, and the attributes around them are small.
	// A request body (the filter's with_request_body) is not needed; a larger
	// request fails, and Envoy's failure mode (closed) applies.
	MaxExtAuthzMessage = 128 << 10
	// MaxGRPCHeaderList bounds a call's metadata (Envoy sends a few headers).
	MaxGRPCHeaderList = 32 << 10
	// MaxGRPCStreams bounds the concurrent calls on one connection; a check
	// takes microseconds, so this many are never in flight from one Envoy.
	MaxGRPCStreams = 1024
	// GRPCHandshakeTimeout bounds a new connection's handshake (TLS
	// included); grpc-go's default is 120 s.
	GRPCHandshakeTimeout = 10 * time.Second
)

// AuthorizationService is the ext_authz service's full name, as health
// checks name it.
const AuthorizationService = "envoy.service.auth.v3.Authorization"

// NewGRPCServer returns a gRPC server with the ext_authz service answering
// from s (see ExtAuthz) and the standard health service, which says SERVING
// exactly when GET /readyz says 200. The bounds above come first; opts (TLS
// credentials, interceptors) may override them. Serve it on a listener and
// stop it with GracefulStop.
func NewGRPCServer(s *Subscriber, opts ...grpc.ServerOption) *grpc.Server {
	srv := grpc.NewServer(append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxExtAuthzMessage),
		grpc.MaxHeaderListSize(MaxGRPCHeaderList),
		grpc.MaxConcurrentStreams(MaxGRPCStreams),
		grpc.ConnectionTimeout(GRPCHandshakeTimeout),
	}, opts...)...)
	authv3.RegisterAuthorizationServer(srv, NewExtAuthz(s))
	healthpb.RegisterHealthServer(srv, &healthServer{s: s})
	return srv
}

// healthServer answers Check and List from the subscriber's readiness.
// Watch is not implemented (clients then fall back to Check, as the health
// protocol says): a stream that never ends would hold GracefulStop open.
type healthServer struct {
	healthpb.UnimplementedHealthServer
	s *Subscriber
}

func (h *healthServer) status() healthpb.HealthCheckResponse_ServingStatus {
	if _, ok := h.s.gate(); ok {
		return healthpb.HealthCheckResponse_SERVING
	}
	return healthpb.HealthCheckResponse_NOT_SERVING
}

func (h *healthServer) Check(_ context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	switch req.GetService() {
	case "", AuthorizationService:
		return &healthpb.HealthCheckResponse{Status: h.status()}, nil
	}
	return nil, status.Error(codes.NotFound, "unknown service")
}

func (h *healthServer) List(context.Context, *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	st := &healthpb.HealthCheckResponse{Status: h.status()}
	return &healthpb.HealthListResponse{Statuses: map[string]*healthpb.HealthCheckResponse{"": st, AuthorizationService: st}}, nil
}
