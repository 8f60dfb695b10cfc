package deployments_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
)

// The alerts the deployment issue asks for.
var wantAlerts = []string{"RevocastSidecarStale", "RevocastSidecarCapacityHigh", "RevocastPublishFailures",
	"RevocastNoLiveSidecars", "RevocastSidecarReadinessFlapping", "RevocastSidecarIDConflict",
	"RevocastUndecodableEvents", "RevocastDroppedRevocations"}

// prometheus/alerts.yaml is a rule file Prometheus loads (its own parser:
// unknown fields, bad expressions and bad templates are errors), every
// expression selects only metrics the binaries export, and each alert has a
// severity and a summary.
func TestAlertRules(t *testing.T) {
	exported := exportedSeries(t)
	content := readFile(t, "prometheus/alerts.yaml")
	groups, errs := rulefmt.Parse([]byte(content), false, model.LegacyValidation, promql, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Error(err)
	}
	if groups == nil {
		t.FailNow()
	}
	seen := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			seen[r.Alert] = true
			if err := unexported(exported, r.Expr); err != nil {
				t.Errorf("%s: %v", r.Alert, err)
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs a severity label, a summary and a description", r.Alert)
			}
		}
	}
	for _, a := range wantAlerts {
		if !seen[a] {
			t.Errorf("no alert %s", a)
		}
	}
	// The same checks fail on a misspelled field, expression or metric.
	for _, bad := range []string{
		strings.Replace(content, "annotations:", "anotations:", 1),
		strings.Replace(content, "revocast_subscriber_stale == 1", "revocast_subscriber_stale === 1", 1),
	} {
		if _, errs := rulefmt.Parse([]byte(bad), false, model.LegacyValidation, promql, slog.New(slog.DiscardHandler)); len(errs) == 0 {
			t.Error("a broken rule file parses")
		}
	}
	if unexported(exported, "revocast_subscriber_cache_entrys / revocast_subscriber_cache_capacity") == nil {
		t.Error("a misspelled metric passes")
	}
}
