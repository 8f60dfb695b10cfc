package deployments_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// grafanaVars are the dashboard variables its expressions use, with a value
// for parsing them.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m")

// The panels the deployment issue asks for, by a metric each must show.
var wantPanels = map[string]string{
	"Propagation lag":                "revocast_subscriber_revoke_to_applied_seconds_bucket",
	"Live sidecars":                  "revocast_publisher_live_subscribers",
	"Sidecar lag":                    "revocast_subscriber_replay_target_sequence",
	"Checks":                         "revocast_subscriber_checks_total",
	"Publishing":                     "revocast_publisher_publish_failures_total",
	"Cache fill":                     "revocast_subscriber_cache_capacity",
	"Replay progress":                "revocast_subscriber_replay_applied_sequence",
	"Sidecar id conflicts":           "revocast_publisher_sidecar_id_conflicts",
	"Clamped and undecodable events": "revocast_subscriber_undecodable_events_total",
}

// decodeDashboard decodes the dashboard, each panel and each panel's
// queries strictly. The SDK (v0.0.22) keeps a decoded part only when its
// decoding returned a nil error, but a valid panel's or query's returns an
// empty error list: decoding the whole dashboard drops every panel, and a
// panel every query, without a word. So each level is decoded here.
//
// The v1 schema is what deployments/grafana/revocast.json is (what Grafana
// imports from a file); dashboardv2 is another format, hence SA1019 ignored.
//
//lint:ignore SA1019 the shipped dashboard is a v1 (classic JSON) dashboard
func decodeDashboard(raw string) (*dashboard.Dashboard, []panel, error) {
	plugins.RegisterDefaultPlugins() // panel and query types, for their strict decoding
	var d dashboard.Dashboard        //lint:ignore SA1019 the shipped dashboard is v1
	if err := orNil(d.UnmarshalJSONStrict([]byte(raw))); err != nil {
		return nil, nil, err
	}
	if err := orNil(d.Validate()); err != nil {
		return nil, nil, err
	}
	var doc struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return nil, nil, err
	}
	var panels []panel
	for i, r := range doc.Panels {
		var p panel
		var parts struct {
			Targets     []json.RawMessage `json:"targets"`
			FieldConfig json.RawMessage   `json:"fieldConfig"`
		}
		if err := orNil(p.UnmarshalJSONStrict(r)); err != nil {
			return nil, nil, fmt.Errorf("panels[%d]: %w", i, err)
		}
		if err := orNil(p.Validate()); err != nil {
			return nil, nil, fmt.Errorf("panels[%d]: %w", i, err)
		}
		if err := json.Unmarshal(r, &parts); err != nil {
			return nil, nil, err
		}
		var fc dashboard.FieldConfigSource
		if err := orNil(fc.UnmarshalJSONStrict(parts.FieldConfig)); err != nil {
			return nil, nil, fmt.Errorf("panels[%d].fieldConfig: %w", i, err)
		}
		for j, tr := range parts.Targets {
			q := &prometheus.Dataquery{}
			if err := orNil(q.UnmarshalJSONStrict(tr)); err != nil {
				return nil, nil, fmt.Errorf("panels[%d].targets[%d]: %w", i, j, err)
			}
			p.queries = append(p.queries, q)
		}
		panels = append(panels, p)
	}
	return &d, panels, nil
}

// panel is a decoded panel with its queries.
type panel struct {
	dashboard.Panel
	queries []*prometheus.Dataquery
}

// orNil turns the SDK's empty error list (a typed nil) into nil.
func orNil(err error) error {
	if errs, ok := err.(cog.BuildErrors); ok && len(errs) == 0 {
		return nil
	}
	return err
}

// grafana/revocast.json decodes strictly with Grafana's dashboard schema
// (grafana-foundation-sdk: an unknown field in the dashboard, a panel, its
// options or its queries is an error); every query is PromQL that Prometheus
// parses and selects only metrics the binaries export.
func TestDashboard(t *testing.T) {
	exported := exportedSeries(t)
	raw := readFile(t, "grafana/revocast.json")
	d, panels, err := decodeDashboard(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d.Title == nil || *d.Title != "revocast" || len(panels) != len(d.Panels) {
		t.Fatalf("dashboard %v: %d panels of %d", d.Title, len(panels), len(d.Panels))
	}
	shows := map[string]string{}
	for _, p := range panels {
		if len(p.queries) == 0 {
			t.Errorf("panel %q has no query", *p.Title)
		}
		for _, pq := range p.queries {
			expr := grafanaVars.Replace(pq.Expr)
			if err := unexported(exported, expr); err != nil {
				t.Errorf("panel %q: %s: %v", *p.Title, pq.Expr, err)
			}
			shows[*p.Title] += expr + "\n"
		}
	}
	for title, metric := range wantPanels {
		if !strings.Contains(shows[title], metric) {
			t.Errorf("no panel %q showing %s", title, metric)
		}
	}
	for i, bad := range []string{
		strings.Replace(raw, `"gridPos"`, `"gridpos"`, 1),
		strings.Replace(raw, `"legendFormat"`, `"legend"`, 1),
		strings.Replace(raw, `"schemaVersion"`, `"schemaversion"`, 1),
		strings.Replace(raw, `"unit"`, `"units"`, 1),
		strings.Replace(raw, `"expr"`, `"exp"`, 1),
	} {
		if _, _, err := decodeDashboard(bad); err == nil {
			t.Errorf("misspelling %d decodes", i)
		}
	}
}
