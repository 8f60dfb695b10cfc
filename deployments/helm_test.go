package deployments_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const chartDir = "helm/revocast"

// scenarios are the values files the chart is linted and rendered with.
var scenarios = []string{"minimal", "full", "existing"}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// scenarioValues reads testdata/helm/NAME.yaml; unless it names a config
// Secret of its own, config.file is the chart's example with each
// placeholder replaced by a hash.
func scenarioValues(t *testing.T, c *chart.Chart, name string) map[string]any {
	t.Helper()
	vals, err := chartutil.ReadValues([]byte(readFile(t, "testdata/helm/"+name+".yaml")))
	if err != nil {
		t.Fatal(err)
	}
	if cfg, _ := vals["config"].(map[string]any); cfg["existingSecret"] == nil {
		vals["config"] = map[string]any{"file": exampleConfig(t, c, true)}
	}
	return vals
}

// exampleConfig is values.yaml's config.file, with hashes for its
// placeholders or as shipped.
func exampleConfig(t *testing.T, c *chart.Chart, hashes bool) map[string]any {
	t.Helper()
	b, err := yaml.Marshal(c.Values["config"].(map[string]any)["file"])
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if hashes {
		text = withHashes(t, text)
	}
	var file map[string]any
	if err := yaml.Unmarshal([]byte(text), &file); err != nil {
		t.Fatal(err)
	}
	return file
}

// render is helm template: an install run client-only as a dry run. The
// chart is rendered as a dependency of testdata/helm/workload.yaml's chart,
// which adds the sidecar to a StatefulSet with the helper templates as the
// README shows. It returns every object, hooks included, and the notes.
func render(t *testing.T, c *chart.Chart, vals map[string]any) (string, string, error) {
	t.Helper()
	parent := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "orders", Version: "1.0.0",
			Dependencies: []*chart.Dependency{{Name: c.Name(), Version: c.Metadata.Version}}},
		Templates: []*chart.File{{Name: "templates/workload.yaml", Data: []byte(readFile(t, "testdata/helm/workload.yaml"))}},
		Values:    map[string]any{},
	}
	parent.AddDependency(c)
	rel, err := install(parent, "revocast", map[string]any{"revocast": vals})
	if err != nil {
		return "", "", err
	}
	return withHooks(rel), rel.Info.Notes, nil
}

// renderChart is helm template for a chart of its own.
func renderChart(c *chart.Chart, release string, vals map[string]any) (string, error) {
	rel, err := install(c, release, vals)
	if err != nil {
		return "", err
	}
	return withHooks(rel), nil
}

func install(c *chart.Chart, release string, vals map[string]any) (*release.Release, error) {
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace, install.SubNotes = true, true, true, true
	install.ReleaseName, install.Namespace = release, "orders"
	return install.RunWithContext(context.Background(), c, vals)
}

// withHooks is the manifest with the hooks' objects.
func withHooks(rel *release.Release) string {
	var b strings.Builder
	b.WriteString(rel.Manifest)
	for _, h := range rel.Hooks {
		b.WriteString("\n---\n" + h.Manifest)
	}
	return b.String()
}

// helm lint, strict: a warning fails too.
func TestChartLint(t *testing.T) {
	c := loadChart(t)
	for _, name := range scenarios {
		t.Run(name, func(t *testing.T) {
			lint := action.NewLint()
			lint.Strict, lint.Namespace = true, "orders"
			res := lint.Run([]string{chartDir}, scenarioValues(t, c, name))
			for _, err := range res.Errors {
				t.Error(err)
			}
			for _, m := range res.Messages {
				if m.Severity >= support.WarningSev {
					t.Error(m)
				}
			}
			if res.TotalChartsLinted != 1 {
				t.Errorf("%d charts linted", res.TotalChartsLinted)
			}
		})
	}
}

// Every object the chart renders, in every scenario, decodes strictly into
// its API type (the ServiceMonitor and PodMonitor into their own minimal
// types), and the pods hold together as in TestPlainManifest.
func TestChartRenders(t *testing.T) {
	c := loadChart(t)
	want := map[string]string{
		"minimal":  "ConfigMap Deployment PodDisruptionBudget Secret Secret Service StatefulSet",
		"full":     "ConfigMap ConfigMap Deployment HorizontalPodAutoscaler Job PodDisruptionBudget PodMonitor Secret Secret Secret Secret Secret Service ServiceMonitor StatefulSet",
		"existing": "Deployment Job Service StatefulSet",
	}
	for _, name := range scenarios {
		t.Run(name, func(t *testing.T) {
			manifest, notes, err := render(t, c, scenarioValues(t, c, name))
			if err != nil {
				t.Fatal(err)
			}
			objs, err := decodeObjects(manifest)
			if err != nil {
				t.Fatalf("%v\n%s", err, manifest)
			}
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.Kind)
				if s, ok := o.Obj.(*corev1.Secret); ok && s.StringData["revocast.yaml"] != "" {
					if err := frontConfigError(t, s.StringData["revocast.yaml"]); err != nil {
						t.Errorf("the rendered config: %v", err)
					}
				}
			}
			sort.Strings(kinds)
			if got := strings.Join(kinds, " "); got != want[name] {
				t.Errorf("objects:\n got %s\nwant %s", got, want[name])
			}
			checkObjects(t, objs)
			if !strings.Contains(notes, "revocast.orders.svc:") {
				t.Errorf("notes: %s", notes)
			}
		})
	}
}

// The example config in values.yaml is refused as shipped and accepted with
// hashes; the chart refuses to render without credentials or with a
// placeholder left, and values.schema.json refuses a misspelled key.
func TestChartRefusesWhatWouldNotStart(t *testing.T) {
	c := loadChart(t)
	b, err := yaml.Marshal(exampleConfig(t, c, false))
	if err != nil {
		t.Fatal(err)
	}
	checkConfigExample(t, string(b))
	minimal := func() map[string]any { return scenarioValues(t, c, "minimal") }
	for _, tc := range []struct {
		name string
		vals func() map[string]any
		want string
	}{
		{"defaults", func() map[string]any { return map[string]any{"sidecar": map[string]any{"ids": []any{"orders-api-0"}}} }, "front.natsCreds"},
		{"placeholders", func() map[string]any {
			v := minimal()
			v["config"] = map[string]any{"file": exampleConfig(t, c, false)}
			return v
		}, "REPLACE-ME"},
		{"no sidecar ids", func() map[string]any {
			v := minimal()
			v["sidecar"] = map[string]any{"ids": []any{}}
			return v
		}, "sidecar.ids"},
		{"init without credentials", func() map[string]any {
			v := minimal()
			v["init"] = map[string]any{"enabled": true}
			return v
		}, "init.operatorCreds"},
		{"misspelled key", func() map[string]any {
			v := minimal()
			v["front"].(map[string]any)["replica"] = 3
			return v
		}, "replica"},
		{"misspelled nested key", func() map[string]any {
			v := minimal()
			v["sidecar"].(map[string]any)["grpc"] = map[string]any{"enable": true}
			return v
		}, "enable"},
		{"flag written apart from its value", func() map[string]any {
			v := minimal()
			v["front"].(map[string]any)["extraArgs"] = []any{"--registry", "authoritative"}
			return v
		}, "extraArgs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := render(t, c, tc.vals())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// A misspelled flag in extraArgs renders (Helm cannot know revocast's
// flags) and is caught by the flag check.
func TestChartFlagTypoIsCaught(t *testing.T) {
	c := loadChart(t)
	vals := scenarioValues(t, c, "minimal")
	vals["sidecar"].(map[string]any)["extraArgs"] = []any{"--max-stalenes=30s"}
	manifest, _, err := render(t, c, vals)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeObjects(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	newChecker(t, objs, func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }).run()
	if len(errs) != 1 || !strings.Contains(errs[0], "--max-stalenes") {
		t.Errorf("got %q", errs)
	}
}
