package main

import (
	"context"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// loadClient is the load generator's HTTP client: keep-alive, up to n
// connections per host kept open.
func loadClient(n int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 2 * n, MaxIdleConnsPerHost: 2 * n, IdleConnTimeout: time.Minute, DisableCompression: true,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}}
}

// closed is what a closed-loop load measured: the latency of every
// operation that succeeded, the failures and the time it ran.
type closed struct {
	lat      []time.Duration
	errs     int
	firstErr error
	elapsed  time.Duration
}

// rate is successful operations per second.
func (c closed) rate() float64 {
	if c.elapsed <= 0 {
		return 0
	}
	return float64(len(c.lat)) / c.elapsed.Seconds()
}

// merge adds another round of the same load.
func (c *closed) merge(o closed) {
	c.lat = append(c.lat, o.lat...)
	c.errs += o.errs
	if c.firstErr == nil {
		c.firstErr = o.firstErr
	}
	c.elapsed += o.elapsed
}

// closedLoop runs op from clients goroutines, each starting its next
// operation when the last one ended, for d. worker and i identify the call.
func closedLoop(ctx context.Context, clients int, d time.Duration, op func(worker, i int) error) closed {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	res := make([]closed, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &res[w]
			r.lat = make([]time.Duration, 0, 4096)
			for i := 0; ctx.Err() == nil; i++ {
				t := time.Now()
				if err := op(w, i); err != nil {
					if ctx.Err() != nil {
						return // cut by the end of the round
					}
					r.errs++
					if r.firstErr == nil {
						r.firstErr = err
					}
					continue
				}
				r.lat = append(r.lat, time.Since(t))
			}
		}()
	}
	wg.Wait()
	var all closed
	for _, r := range res {
		all.merge(r)
	}
	all.elapsed = time.Since(start)
	return all
}

// shot is one operation of an open-loop load.
type shot struct {
	at   time.Duration // sent, since the load started
	lat  time.Duration
	err  error
	flag bool // what op reported (e.g. a timeout_exception in the answer)
}

// openLoop sends n operations at a fixed rate, each on its own goroutine
// whatever the others are doing (at most maxInFlight at once), and returns
// them in order. stop ends it early (nil: never).
func openLoop(ctx context.Context, perSecond, n int, stop <-chan struct{}, op func(i int) (bool, error)) []shot {
	shots := make([]shot, n)
	interval := time.Second / time.Duration(perSecond)
	const maxInFlight = 4096
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	sent := 0
loop:
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-ctx.Done():
				break loop
			case <-stop:
				break loop
			case <-time.After(d):
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t := time.Now()
			flag, err := op(i)
			shots[i] = shot{at: t.Sub(start), lat: time.Since(t), err: err, flag: flag}
		}()
	}
	wg.Wait()
	return shots[:sent]
}

// pct returns the q quantile (0..1) of lat (nearest rank; 0 when empty).
func pct(lat []time.Duration, q float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	k := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}
