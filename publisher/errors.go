package publisher

import (
	"errors"

	"github.com/revocast/revocast/publisher/auth"
)

// ErrorKind is what a format needs to know to answer a failure; each format
// renders every kind in its own shape.
type ErrorKind int

// Kinds of failures.
const (
	// KindUnavailable: nothing was stored; retry (503 with Retry-After).
	KindUnavailable ErrorKind = iota
	// KindUnauthenticated: unknown id or wrong secret (401; which one is not said).
	KindUnauthenticated
	// KindRateLimited: too many failed attempts, or secret verification is
	// saturated (429 with Retry-After).
	KindRateLimited
	// KindForbidden: the principal may not use the format or act in a realm
	// (Failure.Forbidden says which).
	KindForbidden
	// KindWrongClient: the token was issued to another client.
	KindWrongClient
	// KindInvalid: the request is malformed.
	KindInvalid
	// KindOverBudget: the request would break a quota or a sidecar's
	// capacity (Failure.Budget says which); retrying does not help until
	// revocations expire.
	KindOverBudget
)

func (k ErrorKind) String() string {
	return [...]string{"unavailable", "unauthenticated", "rate_limited", "forbidden", "wrong_client", "invalid", "over_budget"}[k]
}

// Failure is a classified error.
type Failure struct {
	Kind ErrorKind
	// RetryAfter is the Retry-After in whole seconds (rate limits and
	// outages); 0 for none.
	RetryAfter int
	// Busy: rate limited because too many secrets are being verified, not
	// because of failed attempts.
	Busy      bool
	Forbidden *ForbiddenError // KindForbidden
	Budget    *BudgetError    // KindOverBudget
	Err       error
}

// RetryAfterOutage is the Retry-After of a failure to store.
const RetryAfterOutage = 1

// RateLimitMessage says why a KindRateLimited failure was refused.
func (f Failure) RateLimitMessage() string {
	if f.Busy {
		return "too many authentications in progress"
	}
	return "too many failed authentication attempts"
}

// Classify says what err means for the caller; the one place that maps the
// core's and authentication's errors to kinds. Anything unknown is an
// outage: nothing was stored and the caller may retry.
func Classify(err error) Failure {
	f := Failure{Err: err}
	var rl *auth.RateLimitedError
	switch {
	case errors.As(err, &rl):
		f.Kind, f.RetryAfter, f.Busy = KindRateLimited, rl.Seconds(), rl.Busy
	case errors.Is(err, auth.ErrRateLimited):
		f.Kind, f.RetryAfter = KindRateLimited, 1
	case errors.Is(err, auth.ErrBadCredentials):
		f.Kind = KindUnauthenticated
	case errors.As(err, &f.Forbidden):
		f.Kind = KindForbidden
	case errors.Is(err, ErrWrongClient):
		f.Kind = KindWrongClient
	case errors.As(err, &f.Budget):
		f.Kind = KindOverBudget
	case errors.Is(err, ErrInvalidRequest):
		f.Kind = KindInvalid
	default:
		f.Kind, f.RetryAfter = KindUnavailable, RetryAfterOutage
	}
	return f
}
