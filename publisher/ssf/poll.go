package ssf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// pollRequest is RFC 8936's poll request body.
type pollRequest struct {
	Ack               []string             `json:"ack,omitempty"`
	SetErrs           map[string]errorBody `json:"setErrs,omitempty"`
	MaxEvents         int                  `json:"maxEvents"`
	ReturnImmediately bool                 `json:"returnImmediately"`
}

// pollResponse is RFC 8936's poll response body.
type pollResponse struct {
	Sets          map[string]string `json:"sets"`
	MoreAvailable bool              `json:"moreAvailable"`
}

// RunPollers polls every poll transmitter until ctx is done, each on at
// most one front at a time (a lease on the ledger stream).
func (r *Receiver) RunPollers(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range r.transmitters {
		if t.cfg.Poll == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			log := r.log.With().Str("transmitter", t.cfg.Name).Logger()
			l := newLease(r.js, r.ledger, t.cfg.Name, r.origin, r.leaseTTL, log, func(held bool) {
				v := 0.0
				if held {
					v = 1
				}
				r.m.leader.WithLabelValues(t.cfg.Name).Set(v)
			})
			l.run(ctx, func(lctx context.Context) { r.poll(lctx, t, log) })
		}()
	}
	wg.Wait()
}

// poll polls t until ctx ends. A SET is acknowledged (in the next request)
// only once what it implies is stored; a refused SET is reported in
// setErrs; a SET that could not be stored is neither, so the transmitter
// delivers it again. Nothing is kept across restarts or leaders: what was
// stored but not acknowledged comes again and is recognized as a replay.
func (r *Receiver) poll(ctx context.Context, t *transmitter, log zerolog.Logger) {
	var acks []string
	errs := map[string]errorBody{}
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
		resp, err := r.pollOnce(ctx, t, pollRequest{Ack: acks, SetErrs: errs, MaxEvents: t.cfg.Poll.MaxEvents})
		if err != nil {
			if ctx.Err() == nil {
				log.Warn().Err(err).Msg("poll failed; acknowledgements kept for the next request")
			}
			backoff = min(max(2*backoff, time.Second), 30*time.Second)
			continue
		}
		acks, errs, backoff = nil, map[string]errorBody{}, 0
		jtis := make([]string, 0, len(resp.Sets))
		for jti := range resp.Sets {
			jtis = append(jtis, jti)
		}
		sort.Strings(jtis)
		if len(jtis) > t.cfg.Poll.MaxEvents {
			jtis = jtis[:t.cfg.Poll.MaxEvents] // the rest comes again
		}
		for _, jti := range jtis {
			if peek(resp.Sets[jti]).Jti != jti {
				errs[jti] = errorBody{Err: string(CodeInvalidRequest), Description: "the SET's jti is not the key it was delivered under"}
				continue
			}
			_, err := r.apply(ctx, t, resp.Sets[jti], "poll")
			var e *Error
			switch {
			case err == nil:
				acks = append(acks, jti)
			case errors.As(err, &e):
				errs[jti] = errorBody{Err: string(e.Code), Description: e.Description}
			default:
				// Not stored: neither acknowledged nor refused; it comes again.
				backoff = time.Second
			}
			if backoff > 0 {
				break
			}
		}
	}
}

// maxPollBody bounds a poll response: maxEvents SETs and their keys.
func maxPollBody(maxEvents int) int64 { return int64(maxEvents)*(MaxTokenLen+2048) + 4096 }

// pollOnce sends one poll request (a long poll: the transmitter may hold it
// until SETs are available) and reads the answer.
func (r *Receiver) pollOnce(ctx context.Context, t *transmitter, pr pollRequest) (*pollResponse, error) {
	body, err := json.Marshal(pr)
	if err != nil {
		return nil, fmt.Errorf("poll request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Poll.Timeout+10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.cfg.Poll.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("poll request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+t.pollToken)
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("poll: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxPollBody(t.cfg.Poll.MaxEvents)+1))
	if err != nil {
		return nil, fmt.Errorf("poll: %w", err)
	}
	if int64(len(b)) > maxPollBody(t.cfg.Poll.MaxEvents) {
		return nil, fmt.Errorf("poll: the answer is larger than %d bytes", maxPollBody(t.cfg.Poll.MaxEvents))
	}
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		_ = json.Unmarshal(b, &eb)
		return nil, fmt.Errorf("poll: the transmitter answered %d %s: %s", resp.StatusCode, truncate(eb.Err, 64), truncate(eb.Description, 256))
	}
	var pr2 pollResponse
	if err := json.Unmarshal(b, &pr2); err != nil {
		return nil, fmt.Errorf("poll: the answer is not RFC 8936's: %w", err)
	}
	return &pr2, nil
}
