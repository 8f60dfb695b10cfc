package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress prints a line on standard error every interval while work runs:
// what line() says, and the rate of count since the last line. stop prints
// nothing more and waits for the printer to end.
func progress(w io.Writer, interval time.Duration, count func() int64, line func(n int64, rate float64) string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		last, lastAt := count(), time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				n := count()
				rate := float64(n-last) / now.Sub(lastAt).Seconds()
				last, lastAt = n, now
				fmt.Fprintln(w, line(n, rate))
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// perSecond renders a rate for progress lines.
func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
