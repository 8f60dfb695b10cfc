package auth

import "sync"

// flights let concurrent attempts with the same presentation from the same
// address share one: the first (the leader) authenticates, the others wait
// for its answer. Fifty parallel requests with the right secret, before it
// is remembered, take one failure from the budget and one hash, not fifty
// (and are not refused for having spent the address's budget on
// themselves); the same wrong secret sent in parallel is one failure.
type flights struct {
	mu sync.Mutex
	m  map[[32]byte]*flight
}

type flight struct {
	done chan struct{}
	p    *Principal
	err  error
}

// join returns key's flight, and whether the caller leads it (and must land it).
func (f *flights) join(key [32]byte) (*flight, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl := f.m[key]; fl != nil {
		return fl, false
	}
	fl := &flight{done: make(chan struct{})}
	f.m[key] = fl
	return fl, true
}

// land gives the leader's answer to the flight's waiters.
func (f *flights) land(key [32]byte, fl *flight, p *Principal, err error) {
	f.mu.Lock()
	delete(f.m, key)
	f.mu.Unlock()
	fl.p, fl.err = p, err
	close(fl.done)
}
