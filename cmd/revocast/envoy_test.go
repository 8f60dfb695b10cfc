package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	httpupv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// The filter types the shipped config names in typed_config, so that
// protojson resolves them (imported for their registration).
var _ = []proto.Message{(*hcmv3.HttpConnectionManager)(nil), (*extauthzv3.ExtAuthz)(nil),
	(*routerv3.Router)(nil), (*httpupv3.HttpProtocolOptions)(nil)}

// yamlDocs converts each document of a YAML file to JSON. Duplicate keys
// are an error (yaml.v3).
func yamlDocs(t *testing.T, text string) [][]byte {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(text))
	var docs [][]byte
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("YAML: %v", err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("YAML to JSON: %v", err)
		}
		docs = append(docs, b)
	}
}

// strictProto decodes JSON into m: an unknown field, a wrong type or an
// Any whose type is not linked in is an error.
func strictProto(b []byte, m proto.Message) error {
	return protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(b, m)
}

func decodeEnvoy(t *testing.T, text string) (*bootstrapv3.Bootstrap, error) {
	t.Helper()
	docs := yamlDocs(t, text)
	if len(docs) != 1 {
		t.Fatalf("%d YAML documents, want 1", len(docs))
	}
	var b bootstrapv3.Bootstrap
	if err := strictProto(docs[0], &b); err != nil {
		return nil, err
	}
	return &b, b.ValidateAll()
}

// deployments/envoy/envoy.yaml is a valid Envoy bootstrap (Envoy's own
// protos and their validation rules), with the ext_authz filter asking the
// revocast cluster over HTTP/2, closed on failure, before the router.
func TestShippedEnvoyConfig(t *testing.T) {
	raw, err := os.ReadFile("../../deployments/envoy/envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := decodeEnvoy(t, string(raw))
	if err != nil {
		t.Fatalf("envoy.yaml: %v", err)
	}
	clusters := map[string]*clusterv3.Cluster{}
	for _, c := range b.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = c
	}
	ls := b.GetStaticResources().GetListeners()
	if len(ls) != 1 || len(ls[0].GetFilterChains()) != 1 || len(ls[0].GetFilterChains()[0].GetFilters()) != 1 {
		t.Fatalf("want one listener with one HTTP connection manager")
	}
	var hcm hcmv3.HttpConnectionManager
	if err := ls[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	if err := hcm.ValidateAll(); err != nil {
		t.Fatal(err)
	}
	fs := hcm.GetHttpFilters()
	if len(fs) != 2 || fs[0].GetName() != "envoy.filters.http.ext_authz" || fs[1].GetName() != "envoy.filters.http.router" {
		t.Fatalf("http_filters: want ext_authz then router, got %v", fs)
	}
	var az extauthzv3.ExtAuthz
	if err := fs[0].GetTypedConfig().UnmarshalTo(&az); err != nil {
		t.Fatal(err)
	}
	if err := az.ValidateAll(); err != nil {
		t.Fatal(err)
	}
	if az.GetFailureModeAllow() || az.GetStatusOnError().GetCode() != typev3.StatusCode_ServiceUnavailable {
		t.Errorf("ext_authz must fail closed with 503: failure_mode_allow %v, status_on_error %v",
			az.GetFailureModeAllow(), az.GetStatusOnError())
	}
	gs := az.GetGrpcService()
	if d := gs.GetTimeout().AsDuration(); d <= 0 || d > time.Second {
		t.Errorf("ext_authz timeout %v", d)
	}
	c := clusters[gs.GetEnvoyGrpc().GetClusterName()]
	if c == nil {
		t.Fatalf("ext_authz names cluster %q, which is not defined", gs.GetEnvoyGrpc().GetClusterName())
	}
	var po httpupv3.HttpProtocolOptions
	if err := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].UnmarshalTo(&po); err != nil ||
		po.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
		t.Errorf("the sidecar's cluster must speak HTTP/2 (gRPC): %v", err)
	}
	sa := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	if sa.GetAddress() != "127.0.0.1" || sa.GetPortValue() != 8082 {
		t.Errorf("the sidecar's cluster points at %s:%d, want the documented 127.0.0.1:8082", sa.GetAddress(), sa.GetPortValue())
	}
}

// The strict decoding catches a misspelled field, an unknown filter type
// and a value of the wrong type in the shipped file.
func TestEnvoyConfigCheckIsStrict(t *testing.T) {
	raw, err := os.ReadFile("../../deployments/envoy/envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{
		{"failure_mode_allow: false", "failure_mode_alow: false"},
		{"ext_authz.v3.ExtAuthz", "ext_authz.v3.ExtAuth"},
		{"port_value: 8082", "port_value: eighty"},
		{"timeout: 0.25s", "timeout: 250"},
		{"{code: ServiceUnavailable}", "{code: Unavailable}"},
	} {
		if !bytes.Contains(raw, []byte(c[0])) {
			t.Fatalf("envoy.yaml has no %q", c[0])
		}
		if _, err := decodeEnvoy(t, strings.Replace(string(raw), c[0], c[1], 1)); err == nil {
			t.Errorf("%q accepted", c[1])
		}
	}
}
