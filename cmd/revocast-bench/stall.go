package main

import (
	"context"
	"fmt"
	"time"
)

// measureStall: revocations at a fixed rate on a front with the default
// propagation wait and one sidecar; more sidecars join in the middle. It
// counts the requests sent from the moment they were started until one
// second after the front counted them all live that waited the whole
// propagation timeout or carry a timeout_exception.
func (h *harness) measureStall(ctx context.Context) error {
	e, err := h.newEnv(ctx, "stall")
	if err != nil {
		return err
	}
	defer e.close()
	f, err := e.startFront(ctx, "front")
	if err != nil {
		return err
	}
	if _, err := e.startSidecars(ctx, "side", 1, 1, f); err != nil {
		return err
	}
	if err := waitLive(ctx, f, 1); err != nil {
		return err
	}
	const propagation = time.Second // the front's default --propagation-timeout
	join := h.sc.stallJoin
	rate := h.sc.stallRate
	client := loadClient(256)
	stop := make(chan struct{})
	var launch, joined time.Duration
	var joinErr error
	start := time.Now()
	go func() {
		defer close(stop)
		time.Sleep(2 * h.sc.warmup) // load before the join
		launch = time.Since(start)
		h.progress("stall: %d sidecars join while %d revocations/s run", join, rate)
		if _, joinErr = e.startSidecars(ctx, "join", 2, join, f); joinErr != nil {
			return
		}
		if joinErr = waitLive(ctx, f, join+1); joinErr != nil {
			return
		}
		joined = time.Since(start)
		time.Sleep(time.Second + 100*time.Millisecond) // the first second after (answers in flight are awaited)
	}()
	shots := openLoop(ctx, rate, rate*120, stop, func(i int) (bool, error) {
		return h.revokeToken(ctx, client, f.url, fmt.Sprintf("stall-%s-%d", h.nonce, i))
	})
	<-stop // the joining goroutine is done with launch, joined and joinErr
	if joinErr != nil {
		return joinErr
	}
	var inWindow, waited, timeouts, failed, afterJoin, afterWaited int
	for _, s := range shots {
		if s.at < launch || s.at > joined+time.Second {
			continue
		}
		inWindow++
		slow := s.err == nil && (s.lat >= propagation*95/100 || s.flag)
		if s.err != nil {
			failed++
		}
		if s.err == nil && s.lat >= propagation*95/100 {
			waited++
		}
		if s.flag {
			timeouts++
		}
		if s.at >= joined {
			afterJoin++
			if slow {
				afterWaited++
			}
		}
	}
	h.progress("stall: %d requests from the start of the join to 1 s after: %d waited the propagation timeout, %d timeout exceptions, %d failed",
		inWindow, waited, timeouts, failed)
	if failed > 0 {
		h.note("stall: %d requests failed during the join", failed)
	}
	h.add(row{measure: fmt.Sprintf("start-up stall: %d sidecars join at %d revocations/s: requests that waited the 1 s propagation timeout / carry a timeout_exception", join, rate),
		figure:   fmt.Sprintf("%d / %d of %d (first second after they all joined: %d of %d)", waited, timeouts, inWindow, afterWaited, afterJoin),
		baseline: "—", ratio: "—", target: "none", met: met(inWindow > 0 && waited == 0 && timeouts == 0)})
	return nil
}
