package natstest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Errors records a connection's asynchronous errors, which is how the
// server reports a permissions violation: pass Option() to nats.Connect.
type Errors struct {
	mu   sync.Mutex
	errs []error
}

// Option installs the recorder as the connection's error handler.
func (e *Errors) Option() nats.Option {
	return nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		e.mu.Lock()
		e.errs = append(e.errs, err)
		e.mu.Unlock()
	})
}

// Clear forgets the errors recorded so far.
func (e *Errors) Clear() {
	e.mu.Lock()
	e.errs = nil
	e.mu.Unlock()
}

// All returns the errors recorded so far.
func (e *Errors) All() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}

// Violation returns the recorded permissions violation for op ("Publish" or
// "Subscription") on subject, or nil.
func (e *Errors) Violation(op, subject string) error {
	want := "Permissions Violation for " + op + " to \"" + subject + "\""
	for _, err := range e.All() {
		if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), want) {
			return err
		}
	}
	return nil
}

// WaitViolation waits (up to timeout) until the server has reported a
// permissions violation for op on subject.
func (e *Errors) WaitViolation(t testing.TB, timeout time.Duration, op, subject string) {
	t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for e.Violation(op, subject) == nil {
		select {
		case <-deadline:
			t.Fatalf("timed out after %v waiting for a permissions violation for %s to %s; errors: %v", timeout, op, subject, e.All())
		case <-tick.C:
		}
	}
}
