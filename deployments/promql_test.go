package deployments_test

import (
	"fmt"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// promql is Prometheus's own PromQL parser, with its default functions.
var promql = parser.NewParser(parser.Options{})

// metricNames parses an expression and returns the metric names it selects.
func metricNames(expr string) ([]string, error) {
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	var missing error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name == "" {
			missing = fmt.Errorf("%s selects no metric by name", vs)
		}
		names = append(names, name)
		return nil
	})
	return names, missing
}

// unexported returns the names an expression uses that the binaries do not
// export, or a parse error.
func unexported(exported map[string]bool, expr string) error {
	names, err := metricNames(expr)
	if err != nil {
		return err
	}
	var bad []string
	for _, n := range names {
		if !exported[n] {
			bad = append(bad, n)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("no binary exports %s", strings.Join(bad, ", "))
	}
	return nil
}
