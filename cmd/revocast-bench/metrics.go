package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// scrape reads a process's /metrics (Prometheus text format) into
// "name{labels}" → value.
func scrape(ctx context.Context, base string) (map[string]float64, error) {
	body, err := get(ctx, base+"/metrics")
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, l := range strings.Split(body, "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			continue
		}
		out[l[:i]] = v
	}
	return out, nil
}

// histogram is a Prometheus histogram's cumulative buckets.
type histogram struct {
	le    []float64 // upper bounds, ascending, +Inf last
	count []float64 // cumulative counts
}

// histogramOf extracts the histogram name from scraped metrics.
func histogramOf(m map[string]float64, name string) (histogram, error) {
	var h histogram
	prefix := name + `_bucket{le="`
	type b struct{ le, n float64 }
	var bs []b
	for k, v := range m {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		le, err := strconv.ParseFloat(strings.TrimSuffix(rest, `"}`), 64)
		if err != nil {
			return h, fmt.Errorf("histogram %s: bucket %q: %w", name, k, err)
		}
		bs = append(bs, b{le, v})
	}
	if len(bs) == 0 {
		return h, fmt.Errorf("no histogram %s in the metrics", name)
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	for _, x := range bs {
		h.le, h.count = append(h.le, x.le), append(h.count, x.n)
	}
	return h, nil
}

// sub returns h minus an earlier scrape of the same histogram.
func (h histogram) sub(earlier histogram) histogram {
	out := histogram{le: h.le, count: make([]float64, len(h.count))}
	for i := range h.count {
		out.count[i] = h.count[i]
		if i < len(earlier.count) {
			out.count[i] -= earlier.count[i]
		}
	}
	return out
}

// add returns the sum of two histograms with the same buckets.
func (h histogram) add(o histogram) histogram {
	if len(h.le) == 0 {
		return o
	}
	out := histogram{le: h.le, count: make([]float64, len(h.count))}
	for i := range h.count {
		out.count[i] = h.count[i] + o.count[i]
	}
	return out
}

func (h histogram) total() float64 {
	if len(h.count) == 0 {
		return 0
	}
	return h.count[len(h.count)-1]
}

// quantile interpolates linearly within the bucket that holds q, as
// Prometheus' histogram_quantile does; NaN when empty.
func (h histogram) quantile(q float64) float64 {
	n := h.total()
	if n == 0 {
		return math.NaN()
	}
	rank := q * n
	for i, c := range h.count {
		if c < rank {
			continue
		}
		lo, below := 0.0, 0.0
		if i > 0 {
			lo, below = h.le[i-1], h.count[i-1]
		}
		if math.IsInf(h.le[i], 1) {
			return lo // beyond the last bound: its lower bound
		}
		if c == below {
			return h.le[i]
		}
		return lo + (h.le[i]-lo)*(rank-below)/(c-below)
	}
	return h.le[len(h.le)-1]
}
