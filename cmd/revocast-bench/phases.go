package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// phases reads the front's log line per revocation ("revoked", with
// plan_ms, store_ms, confirm_ms and took_ms) and returns each phase's
// durations; ok is false when the log holds none.
func phases(logPath string) (map[string][]time.Duration, bool, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, false, fmt.Errorf("front log: %w", err)
	}
	defer f.Close()
	out := map[string][]time.Duration{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if !bytes.Contains(sc.Bytes(), []byte(`"message":"revoked"`)) {
			continue
		}
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		for _, k := range []string{"plan_ms", "store_ms", "confirm_ms", "took_ms"} {
			if v, ok := l[k].(float64); ok {
				out[k] = append(out[k], time.Duration(v*float64(time.Millisecond)))
			}
		}
	}
	return out, len(out["took_ms"]) > 0, sc.Err()
}

// phaseRow says where a request's time goes inside the front.
func (h *harness) phaseRow(measure, logPath string) {
	p, ok, err := phases(logPath)
	if err != nil || !ok {
		return
	}
	f := func(k string) string { return ms(pct(p[k], .5)) + " / " + ms(pct(p[k], .99)) }
	h.add(row{measure: measure + ": inside the front, p50 / p99 (its log): plan (registry lookup), store (event + ledger mark), total",
		figure: "plan " + f("plan_ms") + "; store " + f("store_ms") + "; total " + f("took_ms"), baseline: "—",
		ratio: "—", target: "—", met: "—"})
}
