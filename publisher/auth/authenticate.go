package auth

import "time"

// Creds is one id and secret to try.
type Creds struct{ ID, Secret string }

// Authenticate verifies credentials of kind, presented from peer (the
// client's address). Several candidates may be given for one presentation
// (RFC 6749's form-encoded Basic credentials are tried decoded and as they
// are): only those whose id exists are verified (none: one dummy hash),
// and a failure counts once. Attempts with the same presentation from the
// same address at the same time share one answer (flights).
//
// A secret verified recently answers at once. Otherwise a failure is taken
// from the address's budget and from the id's at that address, before
// anything is hashed (none left: a *RateLimitedError); and unless the id
// authenticated from this address before, from the id's own budget: when
// failures from elsewhere have spent it, the attempt waits (at most
// MaxSlowdown) rather than being refused. The secret is then verified under
// the global bound (its queue full: a *RateLimitedError matching ErrBusy).
// A success, or ErrBusy, gives the failure back. It returns
// ErrBadCredentials or a *RateLimitedError.
func (s *Store) Authenticate(kind Kind, peer string, creds ...Creds) (*Principal, error) {
	if len(creds) == 0 {
		return nil, ErrBadCredentials
	}
	addr := addrKey(peer)
	parts := []string{"presentation", string(kind), addr}
	for _, c := range creds {
		parts = append(parts, c.ID, c.Secret)
	}
	key := s.cache.sum(parts...)
	fl, lead := s.flights.join(key)
	if !lead {
		<-fl.done
		return fl.p, fl.err
	}
	var p *Principal
	err := ErrBadCredentials // what the waiters get should this panic
	defer func() { s.flights.land(key, fl, p, err) }()
	p, err = s.authenticate(kind, addr, creds)
	return p, err
}

func (s *Store) authenticate(kind Kind, addr string, creds []Creds) (*Principal, error) {
	cands := s.candidates(kind, creds)
	for _, c := range cands {
		if s.cache.has(kind, c.Creds, s.now()) {
			s.known.add(pairKey(kind, c.ID, addr), s.now())
			return c.e.principal, nil
		}
	}
	id := creds[0].ID
	if len(cands) > 0 {
		id = cands[0].ID
	}
	a, err := s.take(kind, id, addr)
	if err != nil {
		return nil, err
	}
	if a.wait > 0 {
		s.sleep(a.wait) // holding no verification slot
	}
	p, err := s.verify(kind, creds[0], cands)
	switch {
	case err != nil:
		a.giveBack()
		return nil, err
	case p == nil:
		return nil, ErrBadCredentials
	}
	a.giveBack()
	s.known.add(pairKey(kind, p.ID, addr), s.now())
	return p, nil
}

func pairKey(kind Kind, id, addr string) string { return string(kind) + "\x00" + id + "\x00" + addr }

// attempt is the failure one presentation took from each budget (by key;
// id is "" when the id's budget was not touched) and how long it waits.
type attempt struct {
	s              *Store
	addr, pair, id string
	wait           time.Duration
}

func (s *Store) take(kind Kind, id, addr string) (*attempt, error) {
	now := s.now()
	a := &attempt{s: s, addr: "addr\x00" + addr, pair: "pair\x00" + pairKey(kind, id, addr)}
	if wait := s.failures.take(a.addr, now); wait > 0 {
		return nil, &RateLimitedError{RetryAfter: max(wait, time.Second)}
	}
	if wait := s.failures.take(a.pair, now); wait > 0 {
		s.failures.give(a.addr, now)
		return nil, &RateLimitedError{RetryAfter: max(wait, time.Second)}
	}
	if !s.known.has(pairKey(kind, id, addr), now) {
		idKey := "id\x00" + string(kind) + "\x00" + id
		var took bool
		if a.wait, took = s.failures.slow(idKey, now, MaxSlowdown); took {
			a.id = idKey
		}
	}
	return a, nil
}

func (a *attempt) giveBack() {
	now := a.s.now()
	a.s.failures.give(a.addr, now)
	a.s.failures.give(a.pair, now)
	if a.id != "" {
		a.s.failures.give(a.id, now)
	}
}
