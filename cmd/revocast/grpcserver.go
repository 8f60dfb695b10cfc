package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/revocast/revocast/subscriber"
)

// grpcOpts: --grpc-addr serves Envoy's ext_authz gRPC API on the sidecar.
type grpcOpts struct {
	addr string
}

func (o *grpcOpts) register(fs *flag.FlagSet) {
	fs.StringVar(&o.addr, "grpc-addr", "", "address of the sidecar's Envoy ext_authz gRPC API (empty: off; port 0: any free port)")
}

// grpcServer is the sidecar's gRPC API (ext_authz and health) on its listener.
type grpcServer struct {
	srv  *grpc.Server
	ln   net.Listener
	done chan error
	log  zerolog.Logger
}

// startGRPC serves sub's gRPC API on addr (nil, nil when addr is empty),
// with TLS when tlsCfg is set, and logs the bound address ("listening",
// with addr). With client CAs in tlsCfg, checks need a verified client
// certificate (requireClientCertGRPC).
func startGRPC(addr string, sub *subscriber.Subscriber, tlsCfg *tls.Config, log zerolog.Logger) (*grpcServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (--grpc-addr): %w", addr, err)
	}
	var opts []grpc.ServerOption
	if tlsCfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	if mutual(tlsCfg) {
		opts = append(opts, grpc.UnaryInterceptor(requireClientCertGRPC))
	}
	g := &grpcServer{srv: subscriber.NewGRPCServer(sub, opts...), ln: ln, done: make(chan error, 1), log: log}
	go func() { g.done <- g.srv.Serve(ln) }()
	log.Info().Str("addr", ln.Addr().String()).Bool("tls", tlsCfg != nil).Bool("mutual_tls", mutual(tlsCfg)).Msg("listening")
	return g, nil
}

// stop lets calls in flight finish, for up to timeout; nil-safe.
func (g *grpcServer) stop(timeout time.Duration) {
	if g == nil {
		return
	}
	stopped := make(chan struct{})
	go func() { g.srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(timeout):
		g.log.Warn().Msg("gRPC shutdown did not finish in time")
		g.srv.Stop()
		<-stopped
	}
	if err := <-g.done; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		g.log.Error().Err(err).Msg("gRPC server failed")
	}
}

// requireClientCertGRPC refuses every call but the health service's whose
// connection did not present a verified client certificate. The call fails
// (UNAUTHENTICATED): Envoy's failure mode applies, closed when
// failure_mode_allow is false.
func requireClientCertGRPC(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if strings.HasPrefix(info.FullMethod, "/grpc.health.v1.Health/") {
		return h(ctx, req)
	}
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.VerifiedChains) > 0 {
			return h(ctx, req)
		}
	}
	return nil, status.Error(codes.Unauthenticated, "a client certificate signed by the sidecar's --tls-client-ca is required")
}
