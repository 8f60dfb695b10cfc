package httpx

import "net/http"

// RefuseTunnels answers CONNECT and TRACE with 405 before h sees them, on
// every path: a 2xx to CONNECT turns the connection into a tunnel for HTTP/1
// clients and proxies (a request desync in front of Go before 1.26.9), and
// TRACE echoes headers, credentials included.
func RefuseTunnels(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect || r.Method == http.MethodTrace {
			w.Header().Set("Connection", "close")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = w.Write([]byte(`{"error":"method_not_allowed","reason":"CONNECT and TRACE are not served"}` + "\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
