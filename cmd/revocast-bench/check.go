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

	// The second baseline: the same requests to a server that answers 204
	// and does nothing else.
	empty, emptyURL, emptyErr := e.startEmptyHTTP(ctx)
	var viaEmpty func(time.Duration) closed
	if emptyErr == nil {
		emptyClient := loadClient(clients)
		viaEmpty = func(d time.Duration) closed {
			return closedLoop(ctx, clients, d, func(w, i int) error {
				tok, _ := pick(w, i)
				code, err := check(ctx, emptyClient, emptyURL, tok)
				if err == nil && code != http.StatusNoContent {
					err = fmt.Errorf("the empty handler answered %d", code)
				}
				return err
			})
		}
	} else if ctx.Err() != nil {
		return emptyErr
	} else {
		h.note("check: the empty net/http server did not start: %v", emptyErr)
	}

	h.progress("check: warming up")
	viaHTTP(h.sc.warmup)
	if viaRedis != nil {
		viaRedis(h.sc.warmup)
	}
	if viaEmpty != nil {
		viaEmpty(h.sc.warmup)
	}
	var hr, rr, er closed
	rounds := 2
	for r := range rounds {
		d := h.sc.checkDur / time.Duration(rounds)
		if viaRedis != nil {
			h.progress("check: round %d/%d: redis EXISTS, %d clients, %s", r+1, rounds, clients, d)
			rr.merge(viaRedis(d))
		}
		if viaEmpty != nil {
			h.progress("check: round %d/%d: empty net/http handler, %d clients, %s", r+1, rounds, clients, d)
			er.merge(viaEmpty(d))
		}
		h.progress("check: round %d/%d: GET /v1/check, %d clients, %s", r+1, rounds, clients, d)
		hr.merge(viaHTTP(d))
	}
	if hr.errs > 0 || rr.errs > 0 || er.errs > 0 {
		h.note("check: %d HTTP checks, %d Redis checks and %d requests to the empty handler failed or answered wrong (first: %v / %v / %v)",
			hr.errs, rr.errs, er.errs, hr.firstErr, rr.firstErr, er.firstErr)
	}
	h.progress("check: %.0f checks/s (redis %.0f/s, empty net/http handler %.0f/s)", hr.rate(), rr.rate(), er.rate())

	m := fmt.Sprintf("check: `GET /v1/check`, %d clients, %s revoked", clients, count(n))
	base, baseLat, rat, ok := "not measured: "+fmt.Sprint(redisErr), "—", "—", "no"
	if viaRedis != nil {
		base, baseLat, rat = perSec(rr.rate())+" Redis EXISTS", ms(pct(rr.lat, .5))+" / "+ms(pct(rr.lat, .99)), ratio(hr.rate(), rr.rate())
		ok = met(rr.rate() > 0 && hr.rate() >= rr.rate())
	}
	h.add(row{measure: m, figure: perSec(hr.rate()) + " checks", baseline: base, ratio: rat, target: "≥ 1.0× Redis", met: ok})
	h.add(row{measure: m + ": p50 / p99", figure: ms(pct(hr.lat, .5)) + " / " + ms(pct(hr.lat, .99)), baseline: baseLat,
		ratio: "—", target: "—", met: "—"})
	me := m + ", beside an empty net/http handler (204 to every request, its own process, the same clients)"
	eBase, eLat, eRatio := "not measured: "+fmt.Sprint(emptyErr), "—", "—"
	if viaEmpty != nil {
		eBase, eLat, eRatio = perSec(er.rate())+" empty handler", ms(pct(er.lat, .5))+" / "+ms(pct(er.lat, .99)), ratio(hr.rate(), er.rate())
	}
	h.add(row{measure: me, figure: perSec(hr.rate()) + " checks", baseline: eBase, ratio: eRatio, target: "—", met: "—"})
	h.add(row{measure: me + ": p50 / p99", figure: ms(pct(hr.lat, .5)) + " / " + ms(pct(hr.lat, .99)), baseline: eLat,
		ratio: "—", target: "—", met: "—"})
	if viaRedis != nil && viaEmpty != nil && hr.rate() < rr.rate() {
		h.boundCheck(hr.rate(), rr.rate(), er.rate())
	}

	side.stop() // the in-process check runs alone
	if empty != nil {
		empty.stop()
	}
	return h.inprocCheck(ctx, e, tokens)
}
