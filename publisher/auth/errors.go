package auth

import (
	"errors"
	"fmt"
	"time"
)

// Errors of Authenticate.
var (
	// ErrBadCredentials: unknown id or wrong secret (which one is not said).
	ErrBadCredentials = errors.New("bad credentials")
	// ErrRateLimited: too many failed attempts from this address, or for
	// this id from this address; or ErrBusy.
	ErrRateLimited = errors.New("too many failed authentication attempts")
	// ErrBusy: too many secrets are being verified already. It also
	// matches ErrRateLimited, so callers answer both with 429.
	ErrBusy = errors.New("too many authentications in progress")
	// ErrConfig wraps configuration problems.
	ErrConfig = errors.New("invalid credentials configuration")
)

// RateLimitedError says when to try again; it matches ErrRateLimited, and
// ErrBusy when Busy.
type RateLimitedError struct {
	RetryAfter time.Duration
	// Busy: the attempt was refused before its secret was verified because
	// the verification queue was full; it counts as no failure.
	Busy bool
}

func (e *RateLimitedError) Error() string {
	cause := ErrRateLimited
	if e.Busy {
		cause = ErrBusy
	}
	return fmt.Sprintf("%s: retry after %s", cause, e.RetryAfter.Round(time.Second))
}

// Seconds is RetryAfter in whole seconds for a Retry-After header: rounded
// up (a client that waits as told is not refused again), at least 1.
func (e *RateLimitedError) Seconds() int {
	return max(1, int((e.RetryAfter+time.Second-1)/time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) true, and errors.Is(err, ErrBusy)
// when Busy.
func (e *RateLimitedError) Is(target error) bool {
	return target == ErrRateLimited || (e.Busy && target == ErrBusy)
}
