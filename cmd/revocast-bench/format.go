package main

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// row is one line of the results table.
type row struct {
	measure, figure, baseline, ratio, target, met string
}

// add appends a row to the results.
func (h *harness) add(r row) {
	h.mu.Lock()
	h.rows = append(h.rows, r)
	h.mu.Unlock()
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// count renders n with thousands separators.
func count(n int) string {
	s := strconv.Itoa(n)
	out := ""
	for len(s) > 3 {
		out = "," + s[len(s)-3:] + out
		s = s[:len(s)-3]
	}
	return s + out
}

func perSec(v float64) string { return count(int(math.Round(v))) + "/s" }

// sig renders v with 3 significant digits (at most 2 decimals past 100).
func sig(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func ms(d time.Duration) string { return sig(float64(d)/1e6) + " ms" }

// msF renders seconds as milliseconds ("n/a" when not measured).
func msF(s float64) string {
	if math.IsNaN(s) {
		return "n/a"
	}
	return sig(s*1e3) + " ms"
}

func us(d time.Duration) string { return sig(float64(d)/1e3) + " µs" }

func secs(d time.Duration) string { return sig(d.Seconds()) + " s" }

func mib(b int64) string { return sig(float64(b)/(1<<20)) + " MiB" }

// ratio renders a/b ("—" when b is zero or either is not a number).
func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func ratioD(a, b time.Duration) string { return ratio(float64(a), float64(b)) }
