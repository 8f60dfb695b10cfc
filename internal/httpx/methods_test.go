package httpx

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Seen: the sidecar answered "CONNECT /v1/check/x" with 204. Both services
// refuse CONNECT and TRACE on every path, over a real connection.
func TestRefuseTunnels(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(RefuseTunnels(ok))
	defer srv.Close()
	for _, req := range []string{
		"CONNECT /v1/check/x HTTP/1.1\r\nHost: x\r\n\r\n",
		"CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n",
		"TRACE /v1/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n\r\n",
	} {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%q: %d", strings.SplitN(req, "\r", 2)[0], resp.StatusCode)
		}
		resp.Body.Close()
		c.Close()
	}
	resp, err := http.Get(srv.URL + "/v1/check")
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("GET: %v %v", err, resp)
	}
	resp.Body.Close()
}
