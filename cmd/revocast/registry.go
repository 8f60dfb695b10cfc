package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/registry"
)

// errRegistryNotReady: the registry's bucket is not open yet.
var errRegistryNotReady = errors.New("token registry not open yet")

// lazyRegistry is the registry the front serves with from its start; it
// answers "unavailable" until the bucket is open.
type lazyRegistry struct {
	s atomic.Pointer[registry.Store]
}

var (
	_ publisher.Registry = (*lazyRegistry)(nil)
	_ registry.Registrar = (*lazyRegistry)(nil)
)

func (l *lazyRegistry) store() (*registry.Store, error) {
	if s := l.s.Load(); s != nil {
		return s, nil
	}
	return nil, errRegistryNotReady
}

func (l *lazyRegistry) Lookup(ctx context.Context, sum events.Sum, realms []string) ([]publisher.Record, error) {
	s, err := l.store()
	if err != nil {
		return nil, err
	}
	return s.Lookup(ctx, sum, realms)
}

func (l *lazyRegistry) Find(ctx context.Context, sc publisher.Scope) ([]publisher.Record, error) {
	s, err := l.store()
	if err != nil {
		return nil, err
	}
	return s.Find(ctx, sc)
}

func (l *lazyRegistry) Register(ctx context.Context, recs []publisher.Record) []error {
	s, err := l.store()
	if err != nil {
		errs := make([]error, len(recs))
		for i := range errs {
			errs[i] = fmt.Errorf("%w: %w", publisher.ErrUnavailable, err)
		}
		return errs
	}
	return s.Register(ctx, recs)
}

func (l *lazyRegistry) close() {
	if s := l.s.Load(); s != nil {
		s.Close()
	}
}

func registryMode(s string) (publisher.RegistryMode, error) {
	switch m := publisher.RegistryMode(s); m {
	case publisher.Advisory, publisher.Authoritative:
		return m, nil
	}
	return "", fmt.Errorf("--registry must be %s or %s, got %q", publisher.Advisory, publisher.Authoritative, s)
}
