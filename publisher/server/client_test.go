package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/rs/zerolog"

	"github.com/revocast/revocast/publisher"
)

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

func TestResolveClient(t *testing.T) {
	proxies := prefixes("10.0.0.0/8", "2001:db8:ff::/48")
	for _, c := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no trusted proxy: the peer, whatever it says", "198.51.100.1", []string{"203.0.113.9"}, "198.51.100.1"},
		{"a trusted proxy without the header", "10.0.0.1", nil, "10.0.0.1"},
		{"one proxy", "10.0.0.1", []string{"203.0.113.9"}, "203.0.113.9"},
		{"a forged entry left of the real one", "10.0.0.1", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"two proxies", "10.0.0.1", []string{"1.2.3.4, 203.0.113.9, 10.2.2.2"}, "203.0.113.9"},
		{"headers in order", "10.0.0.1", []string{"1.2.3.4", "203.0.113.9, 10.2.2.2"}, "203.0.113.9"},
		{"all trusted: the leftmost", "10.0.0.1", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"with ports and brackets", "10.0.0.1", []string{"[2001:db8::7]:4711, 10.2.2.2:80"}, "2001:db8::7"},
		{"IPv6 proxy, IPv4-mapped client", "2001:db8:ff::1", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"IPv4-mapped peer", "::ffff:10.0.0.1", []string{"203.0.113.9"}, "203.0.113.9"},
		{"garbage stops at the proxy that wrote it", "10.0.0.1", []string{"203.0.113.9, unknown, 10.2.2.2"}, "10.2.2.2"},
		{"an empty entry likewise", "10.0.0.1", []string{""}, "10.0.0.1"},
		{"a peer that is no address", "@", []string{"203.0.113.9"}, "@"},
	} {
		if got := resolveClient(c.peer, c.xff, proxies); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if got := resolveClient("10.0.0.1", []string{"203.0.113.9"}, nil); got != "10.0.0.1" {
		t.Errorf("no trusted proxies configured: %q", got)
	}
}

// Wrap resolves the client once for the handlers (publisher.ClientIP) and
// the access log keeps the TCP peer, adding the client when it differs.
func TestWrapResolvesTheClient(t *testing.T) {
	var logs bytes.Buffer
	h := Wrap(zerolog.New(&logs), prefixes("10.0.0.0/8"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, publisher.ClientIP(r))
	}))
	for _, c := range []struct{ peer, xff, client, logged string }{
		{"10.1.2.3:5555", "1.2.3.4, 198.51.100.7", "198.51.100.7", "198.51.100.7"},
		{"192.0.2.8:5555", "198.51.100.7", "192.0.2.8", ""},
	} {
		logs.Reset()
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.RemoteAddr = c.peer
		r.Header.Set("X-Forwarded-For", c.xff)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Body.String() != c.client {
			t.Errorf("peer %s: the handler saw client %q, want %q", c.peer, w.Body, c.client)
		}
		var line map[string]any
		if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
			t.Fatalf("access log %q: %v", logs.String(), err)
		}
		peer, _, _ := net.SplitHostPort(c.peer)
		if line["peer"] != peer || (c.logged == "" && line["client"] != nil) || (c.logged != "" && line["client"] != c.logged) {
			t.Errorf("access log %s: want peer %s, client %q", logs.String(), peer, c.logged)
		}
	}
}
