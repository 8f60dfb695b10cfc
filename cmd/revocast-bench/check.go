package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// measureCheck: GET /v1/check on a sidecar holding the revoked tokens,
// beside a Redis deny-list (EXISTS through go-redis) holding the same keys,
// with the same closed-loop load generator and concurrency, in alternating
// rounds; then the in-process check.
func (h *harness) measureCheck(ctx context.Context) error {
	e, err := h.newEnv(ctx, "check")
	if err != nil {
		return err
	}
	defer e.close()
	n := h.sc.checkRevoked
	revoked := func(i int) string { return fmt.Sprintf("chk-%s-%d", h.nonce, i) }
	h.progress("check: loading %d revocations into the stream", n)
	if _, err := e.loadRevocations(ctx, n, revoked); err != nil {
		return err
	}
	side, err := e.startSidecar(ctx, "check")
	if err != nil {
		return err
	}
	if err := waitReady(ctx, side.child, side.url); err != nil {
		return err
	}
	// Half the checks ask about a revoked token, half about one nobody revoked.
	tokens := make([]string, 2*n)
	for i := range n {
		tokens[2*i], tokens[2*i+1] = revoked(i), fmt.Sprintf("live-%s-%d", h.nonce, i)
	}
	pick := func(w, i int) (string, bool) {
		k := (w*104729 + i*7) % len(tokens)
		return tokens[k], k%2 == 0
	}
	clients := h.sc.checkClients
	client := loadClient(clients)
	viaHTTP := func(d time.Duration) closed {
		return closedLoop(ctx, clients, d, func(w, i int) error {
			tok, rev := pick(w, i)
			code, err := check(ctx, client, side.url, tok)
			if err == nil && (code == http.StatusUnauthorized) != rev {
				err = fmt.Errorf("check of a token revoked=%v answered %d", rev, code)
			}
			return err
		})
	}

	rd, redisErr := h.startRedis(ctx, e.dir)
	var viaRedis func(time.Duration) closed
	if redisErr == nil {
		defer rd.stop()
		rc := rd.client(clients)
		defer rc.Close()
		h.progress("check: loading the same %d keys into redis-server", n)
		if err := loadDenyList(ctx, rc, n, revoked); err != nil {
			return err
		}
		viaRedis = func(d time.Duration) closed {
			return closedLoop(ctx, clients, d, func(w, i int) error {
				tok, rev := pick(w, i)
				// The resource server hashes the token, as the sidecar does.
				found, err := rc.Exists(ctx, denyKey(opaqueKey(tok))).Result()
				if err == nil && (found == 1) != rev {
					err = fmt.Errorf("EXISTS of a token revoked=%v answered %d", rev, found)
				}
				return err
			})
		}
	} else if !errors.Is(redisErr, errNoRedis) {
		return redisErr
	}

	h.progress("check: warming up")
	viaHTTP(h.sc.warmup)
	if viaRedis != nil {
		viaRedis(h.sc.warmup)
	}
	var hr, rr closed
	rounds := 2
	for r := range rounds {
		d := h.sc.checkDur / time.Duration(rounds)
		if viaRedis != nil {
			h.progress("check: round %d/%d: redis EXISTS, %d clients, %s", r+1, rounds, clients, d)
			rr.merge(viaRedis(d))
		}
		h.progress("check: round %d/%d: GET /v1/check, %d clients, %s", r+1, rounds, clients, d)
		hr.merge(viaHTTP(d))
	}
	if hr.errs > 0 || rr.errs > 0 {
		h.note("check: %d HTTP checks and %d Redis checks failed or answered wrong (first: %v / %v)", hr.errs, rr.errs, hr.firstErr, rr.firstErr)
	}
	h.progress("check: %.0f checks/s (redis %.0f/s)", hr.rate(), rr.rate())

	m := fmt.Sprintf("check: `GET /v1/check`, %d clients, %s revoked", clients, count(n))
	base, baseLat, rat, ok := "not measured: "+fmt.Sprint(redisErr), "—", "—", "no"
	if viaRedis != nil {
		base, baseLat, rat = perSec(rr.rate())+" Redis EXISTS", ms(pct(rr.lat, .5))+" / "+ms(pct(rr.lat, .99)), ratio(hr.rate(), rr.rate())
		ok = met(rr.rate() > 0 && hr.rate() >= rr.rate())
	}
	h.add(row{measure: m, figure: perSec(hr.rate()) + " checks", baseline: base, ratio: rat, target: "≥ 1.0× Redis", met: ok})
	h.add(row{measure: m + ": p50 / p99", figure: ms(pct(hr.lat, .5)) + " / " + ms(pct(hr.lat, .99)), baseline: baseLat,
		ratio: "—", target: "—", met: "—"})

	side.stop() // the in-process check runs alone
	return h.inprocCheck(ctx, e, tokens)
}
