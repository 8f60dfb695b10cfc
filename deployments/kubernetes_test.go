package deployments_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The image make image VERSION=devel builds.
const shippedImage = "localhost/revocast:devel"

// kubernetes/revocast.yaml decodes strictly into the API types, and its pods
// hold together: probes reach what listens, flags and variables exist, files
// are mounted, every sidecar id has its credentials, and the example
// configuration is what the front accepts once its hashes are filled in.
func TestPlainManifest(t *testing.T) {
	objs, err := decodeObjects(readFile(t, "kubernetes/revocast.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.Kind]++
		if spec, _ := podSpec(o); spec != nil {
			for _, c := range spec.Containers {
				if len(c.Args) > 0 && revocastCommands[c.Args[0]] && c.Image != shippedImage {
					t.Errorf("%s %s: image %s, want %s", o.Kind, o.Name, c.Image, shippedImage)
				}
			}
		}
		if s, ok := o.Obj.(*corev1.Secret); ok && s.Name == "revocast-config" {
			checkConfigExample(t, s.StringData["revocast.yaml"])
		}
	}
	if want := "map[Deployment:1 PodDisruptionBudget:1 Secret:1 Service:2 StatefulSet:1]"; fmt.Sprint(kinds) != want {
		t.Errorf("objects %v, want %s", kinds, want)
	}
	checkObjects(t, objs)
}

// The checks catch the manifest's old mistakes and a typo in any flag,
// variable or mount.
func TestManifestChecksCatchMistakes(t *testing.T) {
	manifest := readFile(t, "kubernetes/revocast.yaml")
	for _, tc := range []struct{ name, old, new string }{
		{"probe on the node's loopback", "{httpGet: {path: /readyz, port: revocast-http}", "{httpGet: {path: /readyz, port: revocast-http, host: 127.0.0.1}"},
		{"sidecar on the pod's loopback", "--subscriber-addr=0.0.0.0:8081", "--subscriber-addr=127.0.0.1:8081"},
		{"probe on another port", "--subscriber-addr=0.0.0.0:8081", "--subscriber-addr=0.0.0.0:9091"},
		{"misspelled flag", "--cache-capacity=", "--cache-capacty="},
		{"flag of another command", "--publisher-addr=0.0.0.0:8080", "--subscriber-addr=0.0.0.0:8080"},
		{"misspelled variable", "name: REVOCAST_ID", "name: REVOCAST_IDD"},
		{"credentials of a missing pod", "path: orders-api-2.creds", "path: orders-api-3.creds"},
		{"unmounted file", "--nats-tls-ca=/etc/revocast/nats-ca/ca.pem\n            - --replicas", "--nats-tls-ca=/etc/revocast/ca.pem\n            - --replicas"},
		{"root filesystem writable", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(manifest, tc.old) {
				t.Fatalf("the manifest no longer holds %q", tc.old)
			}
			objs, err := decodeObjects(strings.Replace(manifest, tc.old, tc.new, 1))
			if err != nil {
				t.Fatal(err)
			}
			var errs []string
			newChecker(t, objs, func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }).run()
			if len(errs) == 0 {
				t.Error("not caught")
			}
		})
	}
}
