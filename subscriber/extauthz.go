package subscriber

import (
	"context"
	"encoding/json"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"

	"github.com/revocast/revocast/internal/jwtclaims"
)

// ExtAuthz answers Envoy's external authorization gRPC call
// (envoy.service.auth.v3.Authorization/Check) with the contract of
// GET /v1/check, for the bearer token in the checked request's
// authorization header:
//
//   - not revoked: OK (Envoy lets the request through);
//   - revoked: status UNAUTHENTICATED and a denied response 401 with
//     WWW-Authenticate: Bearer error="invalid_token" and X-Revocast-Reason;
//   - no bearer token (or more than one, or one longer than
//     jwtclaims.MaxTokenLen): UNAUTHENTICATED, 401 error="invalid_request";
//   - the sidecar cannot vouch (not ready; stale or unhealthy under the deny
//     policy): status UNAVAILABLE and a denied response 503 with Retry-After.
//
// Every answer is a CheckResponse, never a failed call: Envoy treats any
// CheckResponse whose status is not OK (and that has no error_response) as a
// denial and sends its denied response's HTTP status, so a sidecar that
// cannot vouch is a 503 whatever the filter's failure_mode_allow says. Only
// a call that fails (the sidecar is down or unreachable) goes to Envoy's
// failure mode: keep failure_mode_allow false and status_on_error 503.
type ExtAuthz struct {
	authv3.UnimplementedAuthorizationServer
	c Checker
}

// NewExtAuthz returns the ext_authz service answering from c (a
// *Subscriber); register it with authv3.RegisterAuthorizationServer, or use
// NewGRPCServer.
func NewExtAuthz(c Checker) *ExtAuthz { return &ExtAuthz{c: c} }

var _ authv3.AuthorizationServer = (*ExtAuthz)(nil)

// Check answers one ext_authz request. The token is never logged or echoed.
func (a *ExtAuthz) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	tok, problem := checkedBearer(req.GetAttributes().GetRequest().GetHttp())
	if problem != "" {
		return deny(codes.Unauthenticated, problem, 401,
			header("WWW-Authenticate", `Bearer error="invalid_request", error_description="`+problem+`"`)), nil
	}
	return decisionResponse(a.c.Check(tok)), nil
}

// checkedBearer returns the bearer token of the checked HTTP request, or
// why there is none. Envoy lower-cases header names and merges repeated
// headers with commas into headers; with encode_raw_headers it sends them
// one by one in header_map instead. Two Authorization headers are refused:
// the backend may read another one than the one checked. A comma never
// occurs in a bearer token (RFC 6750 b64token), so it marks merged headers.
func checkedBearer(h *authv3.AttributeContext_HttpRequest) (string, string) {
	var vals []string
	if v, ok := h.GetHeaders()["authorization"]; ok {
		vals = append(vals, v)
	}
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		if strings.EqualFold(hv.GetKey(), "authorization") {
			v := hv.GetValue()
			if len(hv.GetRawValue()) > 0 {
				v = string(hv.GetRawValue())
			}
			vals = append(vals, v)
		}
	}
	if len(vals) > 1 {
		return "", "more than one authorization header"
	}
	if len(vals) == 0 {
		return "", "no bearer token"
	}
	tok := bearer(vals[0])
	switch {
	case tok == "":
		return "", "no bearer token"
	case len(tok) > jwtclaims.MaxTokenLen:
		return "", "token too long"
	case strings.Contains(tok, ","):
		return "", "more than one authorization header"
	}
	return tok, ""
}

// decisionResponse renders a Decision as writeDecision does for HTTP.
func decisionResponse(d Decision) *authv3.CheckResponse {
	var stale []*corev3.HeaderValueOption
	if d.Stale {
		stale = append(stale, header("X-Revocast-Stale", "true"))
	}
	switch d.Verdict {
	case Allowed:
		// The backend learns that the answer was stale; a client cannot
		// forge the header, it is overwritten.
		for _, h := range stale {
			h.AppendAction = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
		}
		return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{Headers: stale}}}
	case Revoked:
		return deny(codes.Unauthenticated, "revoked", 401, append(stale,
			header("WWW-Authenticate", `Bearer error="invalid_token"`),
			header("X-Revocast-Reason", d.Reason))...)
	default:
		body, _ := json.Marshal(map[string]string{"error": "unavailable", "reason": d.Reason})
		resp := deny(codes.Unavailable, d.Reason, 503, append(stale,
			header("Retry-After", "1"), header("Content-Type", "application/json"),
			header("Cache-Control", "no-store"))...)
		resp.GetDeniedResponse().Body = string(body) + "\n"
		return resp
	}
}

func deny(code codes.Code, msg string, httpStatus int, hdrs ...*corev3.HeaderValueOption) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code), Message: msg},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(httpStatus)},
			Headers: hdrs,
		}},
	}
}

func header(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v}}
}
