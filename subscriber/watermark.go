package subscriber

import (
	"sync"
	"time"

	"github.com/revocast/revocast/cache"
)

// watermarkInterval is the least time between two watermarks of a sidecar.
// Following a busy stream, a watermark per applied event cost each sidecar
// a publication (a wake-up of the client's flusher and a write) and every
// front a message to read; coalesced, the first watermark after a quiet
// spell still leaves at once, and a later one waits at most this long.
const watermarkInterval = 2 * time.Millisecond

// applyState is what applying events reuses from one batch to the next,
// and the coalescing of watermarks. The batch fields are guarded by
// batchMu, the watermark fields by wmMu.
type applyState struct {
	batchTokens int           // tokens (and events) in the batch being collected
	entries     []cache.Entry // the cache entries of the batch being applied

	wmMu      sync.Mutex
	wmLast    time.Time   // when the last watermark was published
	wmPending bool        // a watermark is due when wmTimer fires
	wmTimer   *time.Timer // publishes the pending watermark
}

// keep holds on to entries' array for the next batch, unless a replay
// made it large.
func (a *applyState) keep(entries []cache.Entry) {
	if cap(entries) <= 4*maxBatchTokens {
		a.entries = entries[:0]
	} else {
		a.entries = nil
	}
}

// announce publishes the watermark (the last sequence reported) now if
// none went out in the last watermarkInterval, and otherwise once the
// interval is over, with whatever is reported then. Watermarks are
// published one at a time, so they never go out of order.
func (s *Subscriber) announce() {
	a := &s.ap
	a.wmMu.Lock()
	defer a.wmMu.Unlock()
	if a.wmPending {
		return // the pending one will carry this sequence
	}
	now := time.Now()
	if wait := watermarkInterval - now.Sub(a.wmLast); wait > 0 {
		a.wmPending = true
		if a.wmTimer == nil {
			a.wmTimer = time.AfterFunc(wait, s.announceDue)
		} else {
			a.wmTimer.Reset(wait)
		}
		return
	}
	a.wmLast = now
	s.publishWatermark(s.reported.Load())
}

// announceDue publishes the pending watermark.
func (s *Subscriber) announceDue() {
	a := &s.ap
	a.wmMu.Lock()
	defer a.wmMu.Unlock()
	a.wmPending = false
	a.wmLast = time.Now()
	s.publishWatermark(s.reported.Load())
}
