package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// watchedStore is the real store, with the size of each Register call noted.
type watchedStore struct {
	*Store
	mu    sync.Mutex
	calls []int
}

func (w *watchedStore) Register(ctx context.Context, recs []publisher.Record) []error {
	w.mu.Lock()
	w.calls = append(w.calls, len(recs))
	w.mu.Unlock()
	return w.Store.Register(ctx, recs)
}

func (w *watchedStore) registerCalls() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int(nil), w.calls...)
}

func lines(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(line(fmt.Sprint(prefix, i), "") + "\n")
	}
	return b.String()
}

// SEEN (H1): the feed kept every record of the body and registered in
// chunks of 10,000, so a 64 MiB body took a gigabyte. It streams: the first
// chunk is stored while the body is still arriving, and no Register call
// takes more than chunkLines records.
func TestIngestStreamsInChunks(t *testing.T) {
	ws := &watchedStore{Store: openStore(t)}
	pr, pw := io.Pipe()
	streamed := make(chan bool, 1)
	go func() {
		defer pw.Close()
		_, _ = io.WriteString(pw, lines("stream-", 0, chunkLines+500))
		deadline := time.Now().Add(10 * time.Second)
		for len(ws.registerCalls()) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond) // polling, with a deadline
		}
		streamed <- len(ws.registerCalls()) > 0
		_, _ = io.WriteString(pw, lines("stream-", chunkLines+500, 2*chunkLines+700))
	}()
	p := auth.Superuser(auth.KindClient, "x")
	res := ingest(context.Background(), ws, p, limits{maxLifetime: 24 * time.Hour, maxLines: DefaultMaxLines}, pr, false)
	if !<-streamed {
		t.Error("nothing was stored while the body was still arriving")
	}
	if res.Registered != 2*chunkLines+700 || len(res.Errors) != 0 || res.Error != "" {
		t.Fatalf("%+v", res)
	}
	for _, n := range ws.registerCalls() {
		if n > chunkLines {
			t.Fatalf("a Register call of %d records (chunks are at most %d lines)", n, chunkLines)
		}
	}
}

// Across chunks, duplicates are the store's to judge: an identical record
// again registers (counted per line), a different one is a conflict.
func TestDuplicatesAcrossChunks(t *testing.T) {
	s := openStore(t)
	p := auth.Superuser(auth.KindClient, "x")
	dup := line("dup", "") // once: its expiry is read off the clock, which may pass a second while the fill is made
	body := dup + "\n" + lines("fill-", 0, chunkLines+10) + dup + "\n" + strings.Replace(dup, `"app"`, `"other"`, 1) + "\n"
	res := ingest(context.Background(), s, p, limits{maxLifetime: 24 * time.Hour, maxLines: DefaultMaxLines}, strings.NewReader(body), false)
	last := chunkLines + 13
	if res.Registered != chunkLines+12 || len(res.Errors) != 1 || res.Errors[0].Line != last ||
		!strings.Contains(res.Errors[0].Error, ErrConflict.Error()) {
		t.Fatalf("%+v", res)
	}
}

// endless is n bytes of the line "{}" repeated, made as they are read.
type endless struct{ n, read int }

func (e *endless) Read(p []byte) (int, error) {
	if e.read >= e.n {
		return 0, io.EOF
	}
	k := min(len(p), e.n-e.read)
	for i := 0; i < k; i++ {
		p[i] = "{}\n"[(e.read+i)%3]
	}
	e.read += k
	return k, nil
}

// SEEN (H1): 64 MiB of "{}" lines kept a core busy for 30 s. The line cap
// stops reading at its first line over the cap, and says so.
func TestLineCapRefusesQuickly(t *testing.T) {
	h := NewHandler(&fakeRegistrar{}, Options{Auth: testAuth})
	body := &endless{n: 64 << 20}
	r := httptest.NewRequest(http.MethodPost, Route, body)
	r.ContentLength = -1
	r.Header.Set("Content-Type", "application/x-ndjson")
	r.Header.Set("Authorization", basic("issuer"))
	w := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(w, r)
	took := time.Since(start)
	var res Result
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	t.Logf("refused after %v, %d bytes read: %s", took, body.read, res.Error)
	want := fmt.Sprintf("more than %d lines (the line cap, --max-registry-lines): nothing from line %d on was read", DefaultMaxLines, DefaultMaxLines+1)
	if w.Code != 400 || !strings.Contains(res.Error, want) || res.LastStoredLine == nil || *res.LastStoredLine != 0 ||
		len(res.Errors) != maxReportedErrors || res.ErrorsOmitted != DefaultMaxLines-maxReportedErrors {
		t.Fatalf("%d %.400s", w.Code, w.Body)
	}
	if body.read > 2<<20 {
		t.Fatalf("read %d bytes of the body after the cap (500,000 lines of 3 bytes)", body.read)
	}
	if !raceEnabled && took > 5*time.Second { // about 1 s here; 10 s under the race detector
		t.Fatalf("refusing took %v", took)
	}
}

func TestLineCapOption(t *testing.T) {
	s := openStore(t)
	h := NewHandler(s, Options{Auth: testAuth, MaxLines: 3})
	code, res, raw := post(t, h, "application/x-ndjson", lines("cap-", 0, 5), basic("issuer"))
	if code != 200 || res.Registered != 3 || res.LastStoredLine == nil || *res.LastStoredLine != 3 ||
		!strings.Contains(res.Error, "more than 3 lines") {
		t.Fatalf("%d %s", code, raw)
	}
	if code, _, raw := post(t, h, "application/x-ndjson", lines("cap-ok-", 0, 3), basic("issuer")); code != 200 || raw != `{"registered":3}`+"\n" {
		t.Fatalf("exactly the cap, with its last line ending: %d %s", code, raw)
	}
}

// serveFeed serves h with the server's ReadTimeout at readTimeout.
func serveFeed(t *testing.T, h http.Handler, readTimeout time.Duration) string {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = readTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// postStream sends what write writes to the feed as NDJSON.
func postStream(t *testing.T, url string, write func(w *io.PipeWriter)) (int, Result, string) {
	t.Helper()
	pr, pw := io.Pipe()
	go write(pw)
	req, _ := http.NewRequest(http.MethodPost, url+Route, pr)
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", basic("issuer"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var res Result
	_ = json.Unmarshal(b, &res)
	return resp.StatusCode, res, string(b)
}

// SEEN (H1): a body cut by the server's read timeout was reported only as
// errors_omitted. A cut is the answer's error, naming the last line stored.
func TestCutBodyReportsLastStoredLine(t *testing.T) {
	s := openStore(t)
	url := serveFeed(t, NewHandler(s, Options{Auth: testAuth, ChunkTimeout: time.Second}), time.Second)
	stall := make(chan struct{})
	defer close(stall)
	code, res, raw := postStream(t, url, func(w *io.PipeWriter) {
		defer w.Close()
		_, _ = io.WriteString(w, lines("cut-", 0, 2*chunkLines+499)+`{"token":"bad"}`+"\n"+`{"token":"half`)
		<-stall // and send nothing more: the server's read deadline cuts the body
	})
	want := fmt.Sprintf("nothing from line %d on was read", 2*chunkLines+501)
	if code != 200 || res.Registered != 2*chunkLines+499 || len(res.Errors) != 1 || res.Errors[0].Line != 2*chunkLines+500 ||
		!strings.Contains(res.Error, "could not read the body") || !strings.Contains(res.Error, want) ||
		res.LastStoredLine == nil || *res.LastStoredLine != 2*chunkLines+499 {
		t.Fatalf("%d %.600s", code, raw)
	}
}

// A large body that keeps flowing is not cut by the server's ReadTimeout:
// the feed moves the read deadline after each chunk.
func TestFlowingBodyOutlivesReadTimeout(t *testing.T) {
	s := openStore(t)
	const readTimeout = time.Second
	url := serveFeed(t, NewHandler(s, Options{Auth: testAuth, ChunkTimeout: readTimeout}), readTimeout)
	const chunks = 12
	start := time.Now()
	code, res, raw := postStream(t, url, func(w *io.PipeWriter) {
		defer w.Close()
		tick := time.NewTicker(readTimeout / 4) // pacing the sender, not waiting for anything
		defer tick.Stop()
		for i := 0; i < chunks; i++ {
			_, _ = io.WriteString(w, lines(fmt.Sprint("flow-", i, "-"), 0, chunkLines))
			<-tick.C
		}
	})
	if took := time.Since(start); took < 2*readTimeout {
		t.Fatalf("the body took only %v: not longer than the read timeout", took)
	}
	if code != 200 || raw != fmt.Sprintf(`{"registered":%d}`+"\n", chunks*chunkLines) {
		t.Fatalf("%d %.600s", code, raw)
	}
	_ = res
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r    io.Reader
	read int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

// A store that fails a whole chunk (NATS is down) stops the reading: a big
// body does not cost a store timeout per chunk to say so, and the answer is
// 503 with the line to resume from.
func TestFailingStoreStopsReading(t *testing.T) {
	ns := natstest.Start(t)
	s, err := ensureOpen(natstest.Connect(t, ns), StoreOptions{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	h := NewHandler(s, Options{Auth: testAuth})
	code, _, raw := post(t, h, "application/x-ndjson", lines("before-", 0, 10), basic("issuer"))
	if code != 200 {
		t.Fatalf("%d %s", code, raw)
	}
	natstest.Stop(ns)

	body := &countingReader{r: strings.NewReader(lines("down-", 0, 30*chunkLines))}
	r := httptest.NewRequest(http.MethodPost, Route, body)
	r.Header.Set("Content-Type", "application/x-ndjson")
	r.Header.Set("Authorization", basic("issuer"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var res Result
	_ = json.Unmarshal(w.Body.Bytes(), &res)
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || res.Registered != 0 || res.LastStoredLine == nil || *res.LastStoredLine != 0 ||
		!strings.Contains(res.Error, "the token store is failing") || len(res.Errors) == 0 {
		t.Fatalf("%d %.500s", w.Code, w.Body)
	}
	if total := body.r.(*strings.Reader).Size(); int64(body.read) > total/5 {
		t.Fatalf("read %d of %d bytes after the store failed", body.read, total)
	}
}
