package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	networkingv1 "istio.io/api/networking/v1"
	securityv1 "istio.io/api/security/v1"
)

// k8sObject is a Kubernetes object's envelope, decoded strictly (the
// Kubernetes types are not worth importing for this); the spec is decoded
// with istio.io/api's types.
type k8sObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec json.RawMessage `json:"spec"`
}

func decodeK8s(t *testing.T, text string, spec proto.Message) (k8sObject, error) {
	t.Helper()
	docs := yamlDocs(t, text)
	if len(docs) != 1 {
		t.Fatalf("%d YAML documents, want 1", len(docs))
	}
	var o k8sObject
	dec := json.NewDecoder(bytes.NewReader(docs[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil || spec == nil {
		return o, err
	}
	return o, strictProto(o.Spec, spec)
}

// meshConfigOf decodes an IstioOperator's spec.meshConfig (the operator
// type itself lives in istio.io/istio, too large to import for this).
func meshConfigOf(t *testing.T, text string) (*meshv1alpha1.MeshConfig, error) {
	t.Helper()
	var spec struct {
		MeshConfig json.RawMessage `json:"meshConfig"`
	}
	o, err := decodeK8s(t, text, nil)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(o.Spec))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return nil, err
	}
	if o.APIVersion != "install.istio.io/v1alpha1" || o.Kind != "IstioOperator" {
		t.Errorf("extension-provider.yaml: %s %s", o.APIVersion, o.Kind)
	}
	var mc meshv1alpha1.MeshConfig
	return &mc, strictProto(spec.MeshConfig, &mc)
}

func readDeployment(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../deployments/istio/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The Istio files decode with Istio's own types, strictly, and fit
// together: the policy's provider is declared, as an ext_authz gRPC provider
// failing closed on the host and port of the service entry, which is the
// pod's loopback.
func TestShippedIstioConfig(t *testing.T) {
	mc, err := meshConfigOf(t, readDeployment(t, "extension-provider.yaml"))
	if err != nil {
		t.Fatalf("extension-provider.yaml: %v", err)
	}
	var policy securityv1.AuthorizationPolicy
	po, err := decodeK8s(t, readDeployment(t, "authorization-policy.yaml"), &policy)
	if err != nil {
		t.Fatalf("authorization-policy.yaml: %v", err)
	}
	var se networkingv1.ServiceEntry
	so, err := decodeK8s(t, readDeployment(t, "service-entry.yaml"), &se)
	if err != nil {
		t.Fatalf("service-entry.yaml: %v", err)
	}
	if po.APIVersion != "security.istio.io/v1" || po.Kind != "AuthorizationPolicy" ||
		so.APIVersion != "networking.istio.io/v1" || so.Kind != "ServiceEntry" || po.Metadata.Namespace != so.Metadata.Namespace {
		t.Errorf("kinds: %s %s, %s %s (namespaces %q %q)", po.APIVersion, po.Kind, so.APIVersion, so.Kind,
			po.Metadata.Namespace, so.Metadata.Namespace)
	}
	if policy.GetAction() != securityv1.AuthorizationPolicy_CUSTOM || len(policy.GetRules()) == 0 {
		t.Errorf("policy: action %s with %d rules, want CUSTOM with rules", policy.GetAction(), len(policy.GetRules()))
	}
	var grpc *meshv1alpha1.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationGrpcProvider
	for _, p := range mc.GetExtensionProviders() {
		if p.GetName() == policy.GetProvider().GetName() {
			grpc = p.GetEnvoyExtAuthzGrpc()
		}
	}
	if grpc == nil {
		t.Fatalf("no envoyExtAuthzGrpc provider named %q", policy.GetProvider().GetName())
	}
	if grpc.GetFailOpen() || grpc.GetStatusOnError() != "503" {
		t.Errorf("the provider must fail closed with 503: failOpen %v, statusOnError %q", grpc.GetFailOpen(), grpc.GetStatusOnError())
	}
	if len(se.GetHosts()) != 1 || se.GetHosts()[0] != grpc.GetService() || len(se.GetPorts()) != 1 ||
		se.GetPorts()[0].GetNumber() != grpc.GetPort() || se.GetPorts()[0].GetProtocol() != "GRPC" {
		t.Errorf("the service entry (%v %v) is not the provider's %s:%d", se.GetHosts(), se.GetPorts(), grpc.GetService(), grpc.GetPort())
	}
	if len(se.GetEndpoints()) != 1 || se.GetEndpoints()[0].GetAddress() != "127.0.0.1" || grpc.GetPort() != 8082 {
		t.Errorf("the provider must be the pod's own sidecar on 127.0.0.1:8082: %v port %d", se.GetEndpoints(), grpc.GetPort())
	}

	// Strict: a misspelled field is refused.
	for file, c := range map[string][2]string{
		"authorization-policy.yaml": {"action: CUSTOM", "acton: CUSTOM"},
		"extension-provider.yaml":   {"failOpen: false", "failopen: false"},
		"service-entry.yaml":        {"resolution: STATIC", "resolution: STATIK"},
	} {
		text := readDeployment(t, file)
		if !strings.Contains(text, c[0]) {
			t.Fatalf("%s has no %q", file, c[0])
		}
		bad := strings.Replace(text, c[0], c[1], 1)
		var err error
		switch file {
		case "extension-provider.yaml":
			_, err = meshConfigOf(t, bad)
		case "authorization-policy.yaml":
			_, err = decodeK8s(t, bad, &securityv1.AuthorizationPolicy{})
		default:
			_, err = decodeK8s(t, bad, &networkingv1.ServiceEntry{})
		}
		if err == nil {
			t.Errorf("%s with %q accepted", file, c[1])
		}
	}
}
