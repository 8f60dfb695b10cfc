package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/registry"
)

// Behind the access log and the per-route metrics, a handler still reaches
// its connection through http.ResponseController: the registry feed moves
// its read deadline so a large body that keeps flowing is not cut by the
// server's ReadTimeout. (The metrics' status writer hid it: the feed's
// 64 MiB registration was cut after 30 s.)
func TestHandlersReachTheirConnection(t *testing.T) {
	feed := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
			http.Error(w, "read deadline: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			http.Error(w, "write deadline: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	h := New(Options{Metrics: publisher.NewMetrics(prometheus.NewRegistry()), Registry: feed})
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Post(srv.URL+registry.Route, "application/x-ndjson", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}
