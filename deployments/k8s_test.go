package deployments_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// object is one decoded Kubernetes object: Obj is the typed value.
type object struct {
	Kind, Name string
	Obj        any
}

// newObject returns the typed value for an apiVersion and kind, or nil.
func newObject(apiVersion, kind string) any {
	switch apiVersion + " " + kind {
	case "v1 Secret":
		return &corev1.Secret{}
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}
	case "v1 Service":
		return &corev1.Service{}
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}
	case "batch/v1 Job":
		return &batchv1.Job{}
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return &serviceMonitor{}
	case "monitoring.coreos.com/v1 PodMonitor":
		return &podMonitor{}
	}
	return nil
}

// decodeObjects splits a multi-document manifest and decodes every object
// strictly into its API type: an unknown or misspelled field, a duplicate
// field, a wrong type or an unknown kind is an error.
func decodeObjects(manifest string) ([]object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	var objs []object
	var errs []error
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, errors.Join(errs...)
		}
		if err != nil {
			return nil, err
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			errs = append(errs, err)
			continue
		}
		if tm.Kind == "" && len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue // a document of comments only
		}
		obj := newObject(tm.APIVersion, tm.Kind)
		if obj == nil {
			errs = append(errs, fmt.Errorf("unknown object %q %q", tm.APIVersion, tm.Kind))
			continue
		}
		if err := strictUnmarshal(doc, obj); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", tm.Kind, tm.APIVersion, err))
			continue
		}
		objs = append(objs, object{Kind: tm.Kind, Name: nameOf(obj), Obj: obj})
	}
}

// strictUnmarshal decodes YAML as the API server's strict field validation
// does: duplicate keys (in YAML or JSON), unknown fields and fields spelled
// in another case are errors (encoding/json alone matches names without
// regard to case, so it would take "targetport" for "targetPort").
func strictUnmarshal(doc []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, obj)
	return errors.Join(append(strict, err)...)
}

func stripComments(doc []byte) []byte {
	var out []byte
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' && string(t) != "---" {
			out = append(out, l...)
		}
	}
	return out
}

func nameOf(obj any) string {
	if o, ok := obj.(metav1.Object); ok {
		return o.GetName()
	}
	switch o := obj.(type) {
	case *serviceMonitor:
		return o.Metadata.Name
	case *podMonitor:
		return o.Metadata.Name
	}
	return ""
}

// The prometheus-operator kinds, as far as the chart uses them (strict
// decoding refuses anything else).
type monitorMeta struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
}

type monitorEndpoint struct {
	Port      string `json:"port"`
	Path      string `json:"path"`
	Interval  string `json:"interval"`
	Scheme    string `json:"scheme,omitempty"`
	TLSConfig *struct {
		InsecureSkipVerify bool `json:"insecureSkipVerify"`
	} `json:"tlsConfig,omitempty"`
}

type serviceMonitor struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   monitorMeta `json:"metadata"`
	Spec       struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []monitorEndpoint    `json:"endpoints"`
	} `json:"spec"`
}

type podMonitor struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   monitorMeta `json:"metadata"`
	Spec       struct {
		Selector            metav1.LabelSelector `json:"selector"`
		PodMetricsEndpoints []monitorEndpoint    `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// podSpec returns the pod template of a workload, or nil.
func podSpec(o object) (*corev1.PodSpec, map[string]string) {
	switch w := o.Obj.(type) {
	case *appsv1.Deployment:
		return &w.Spec.Template.Spec, w.Spec.Template.Labels
	case *appsv1.StatefulSet:
		return &w.Spec.Template.Spec, w.Spec.Template.Labels
	case *batchv1.Job:
		return &w.Spec.Template.Spec, w.Spec.Template.Labels
	}
	return nil, nil
}

// TestStrictDecodingRefusesMisspellings shows that the decoding the other
// tests rely on fails on a misspelled field, a nested one too.
func TestStrictDecodingRefusesMisspellings(t *testing.T) {
	good := "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports: [{port: 80, targetPort: 8080}]\n"
	if _, err := decodeObjects(good); err != nil {
		t.Fatalf("a valid Service: %v", err)
	}
	for _, bad := range []string{
		strings.Replace(good, "targetPort", "targetport", 1),
		strings.Replace(good, "spec:", "specs:", 1),
		good + "  selector: {app: a}\n  selector: {app: b}\n",
		strings.Replace(good, "kind: Service", "kind: Servce", 1),
		"apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: a}\nspec: {endpoints: [{prot: http}]}\n",
	} {
		if _, err := decodeObjects(bad); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}
