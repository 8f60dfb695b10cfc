package server

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/revocast/revocast/publisher"
)

// clientAddress resolves each request's client address once and stores it
// in the request's context, where publisher.ClientIP finds it.
func clientAddress(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := resolveClient(publisher.PeerIP(r), r.Header.Values("X-Forwarded-For"), trusted)
		next.ServeHTTP(w, r.WithContext(publisher.WithClientIP(r.Context(), ip)))
	})
}

// resolveClient returns the client's address: the TCP peer's, unless the
// peer is a trusted proxy; then the rightmost X-Forwarded-For entry that is
// not itself a trusted proxy (all are: the leftmost). Entries right of it
// were written by trusted proxies; anything left of it, by whoever. An
// entry that is no address stops the walk at the trusted proxy that wrote it.
func resolveClient(peer string, forwardedFor []string, trusted []netip.Prefix) string {
	client, ok := parseHop(peer)
	if !ok || !isTrusted(client, trusted) {
		return peer
	}
	var hops []string
	for _, v := range forwardedFor {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0 && isTrusted(client, trusted); i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			break
		}
		client = hop
	}
	return client.String()
}

// parseHop parses an address as proxies write it: "192.0.2.1", "2001:db8::1",
// or with a port ("192.0.2.1:443", "[2001:db8::1]:443").
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
