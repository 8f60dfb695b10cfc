//go:build !race

package rfc7009

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Seen: 40 parallel wrong passwords from one address took the front from
// 63 MB to 1.5 GB: each reached argon2id (19 MiB), twice for form-encoded
// Basic credentials. Two hundred at once, from two hundred addresses so no
// budget stops them, must keep the process within 150 MiB of where it was,
// answer each 401 or 429 with Retry-After, and still let the right password
// in. Memory is measured without the race detector, which inflates it.
func TestWrongPasswordBurstStaysBounded(t *testing.T) {
	core := &fakeCore{}
	srv := httptest.NewServer(New(core, Options{Auth: newStore(10, 10)})) // the default limits
	defer srv.Close()
	const n = 200
	runtime.GC()
	debug.FreeOSMemory()
	before := procStatusKB(t, "VmRSS")
	peak := peakRSS(t)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { codes[i] = revokeFrom(t, srv.URL, i, basicEncoded(oddID, fmt.Sprint("wrong", i))) })
	}
	wg.Wait()
	growth := peak() - before
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	t.Logf("RSS %d MiB before, peak %+d MiB during %d parallel wrong passwords; answers %v", before>>10, growth>>10, n, count)
	if count[401]+count[429] != n {
		t.Errorf("answers %v, want only 401 and 429", count)
	}
	if growth > 150<<10 {
		t.Errorf("RSS grew by %d MiB, want at most 150", growth>>10)
	}
	if c := revokeFrom(t, srv.URL, 0, basicEncoded(oddID, oddSecret)); c != 200 {
		t.Fatalf("the right password afterwards: %d", c)
	}
}

// revokeFrom revokes a token with authorization from the loopback address
// 127.0.1.i (Linux answers on all of 127/8) and returns the status; a 429
// must say when to retry.
func revokeFrom(t *testing.T, url string, i int, authorization string) int {
	from := &net.TCPAddr{IP: net.IPv4(127, 0, 1+byte(i/250), 1+byte(i%250))}
	dialer := &net.Dialer{LocalAddr: from}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		}}}
	req, err := http.NewRequest(http.MethodPost, url+Route, strings.NewReader("token=abc"))
	if err != nil {
		t.Error(err)
		return 0
	}
	req.Header.Set("Content-Type", formType)
	req.Header.Set("Authorization", authorization)
	resp, err := client.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	resp.Body.Close()
	if resp.StatusCode == 429 {
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
			t.Errorf("429 with Retry-After %q", resp.Header.Get("Retry-After"))
		}
	}
	return resp.StatusCode
}

// peakRSS starts watching the resident set and returns what reports its
// peak since, in KiB: VmHWM after resetting it (clear_refs 5), else the
// largest VmRSS sampled every millisecond.
func peakRSS(t *testing.T) func() int64 {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err == nil {
		return func() int64 { return procStatusKB(t, "VmHWM") }
	}
	var mu sync.Mutex
	top := procStatusKB(t, "VmRSS")
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
			v := procStatusKB(t, "VmRSS")
			mu.Lock()
			top = max(top, v)
			mu.Unlock()
		}
	}()
	return func() int64 {
		close(done)
		mu.Lock()
		defer mu.Unlock()
		return top
	}
}

// procStatusKB reads a "Name:  123 kB" line of /proc/self/status.
func procStatusKB(t *testing.T, name string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", sc.Text(), err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/self/status", name)
	return 0
}
