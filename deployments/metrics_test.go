package deployments_test

import (
	"context"
	"regexp"
	"sort"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/cache"
	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/subscriber"
)

// recorder is a registry that remembers every metric registered on it, so
// that a vector with no series yet is not missed.
type recorder struct {
	*prometheus.Registry
	names []string
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names = append(r.names, m[1])
		}
	}
	return r.Registry.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// tokenCache is a deny-cache that holds nothing.
type tokenCache struct{}

func (tokenCache) Add(context.Context, []cache.Entry) []cache.Failure { return nil }
func (tokenCache) Contains(events.Sum) bool                           { return false }
func (tokenCache) Health() error                                      { return nil }
func (tokenCache) Stats() cache.Stats                                 { return cache.Stats{} }
func (tokenCache) Capacity() int64                                    { return 1 }
func (tokenCache) Clear()                                             {}

var (
	seriesOnce sync.Once
	series     map[string]bool
)

// exportedSeries are the series names the binaries export: the front's and
// the sidecar's metrics registered as the binaries register them, with the
// Go and process collectors both add; a histogram's _bucket, _count and
// _sum, a summary's _count and _sum.
func exportedSeries(t *testing.T) map[string]bool {
	t.Helper()
	seriesOnce.Do(func() {
		reg := &recorder{Registry: prometheus.NewRegistry()}
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		m := publisher.NewMetrics(reg)
		// A vector has series once it has labels.
		m.Published.WithLabelValues("token")
		m.Propagation.WithLabelValues("timeout")
		m.Requests.WithLabelValues("route", "200")
		m.RequestDuration.WithLabelValues("route").Observe(0)
		srv := natstest.Start(t)
		nc := natstest.Connect(t, srv)
		if _, err := subscriber.New(subscriber.Config{ID: "metrics", Stream: events.DefaultStreamName}, nc, tokenCache{},
			zerolog.Nop(), reg); err != nil {
			t.Fatal(err)
		}
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		series = map[string]bool{}
		gathered := map[string]bool{}
		for _, f := range families {
			name := f.GetName()
			gathered[name] = true
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				series[name+"_bucket"], series[name+"_count"], series[name+"_sum"] = true, true, true
			case dto.MetricType_SUMMARY:
				series[name], series[name+"_count"], series[name+"_sum"] = true, true, true
			default:
				series[name] = true
			}
		}
		for _, n := range reg.names {
			if !gathered[n] {
				t.Errorf("%s is registered but has no series: give it labels in exportedSeries", n)
			}
		}
	})
	if series == nil {
		t.FailNow()
	}
	return series
}

// The list is what the binaries export: the README's metrics and the
// collectors' are in it, a misspelled name is not.
func TestExportedSeries(t *testing.T) {
	s := exportedSeries(t)
	for _, n := range []string{"revocast_subscriber_revoke_to_applied_seconds_bucket", "revocast_subscriber_cache_capacity",
		"revocast_publisher_live_subscribers", "revocast_publisher_http_request_duration_seconds_count",
		"go_goroutines", "process_resident_memory_bytes", "go_gc_duration_seconds_count"} {
		if !s[n] {
			t.Errorf("%s is not exported", n)
		}
	}
	if s["revocast_subscriber_cache_entry"] || s["revocast_subscriber_revoke_to_applied_seconds"] {
		t.Error("a name nothing exports is listed")
	}
	if testing.Verbose() {
		var names []string
		for n := range s {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Log(names)
	}
}
