package elasticsearch

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// The WWW-Authenticate challenges Elasticsearch sends with a 401.
var challenges = []string{`Basic realm="security", charset="UTF-8"`, `Bearer realm="security"`, `ApiKey`}

const invalidateAction = "cluster:admin/xpack/security/token/invalidate"

// authenticate checks Basic (Elasticsearch users) or ApiKey credentials. It
// returns the user name presented, for the 401's message.
func (h *Handler) authenticate(r *http.Request) (*auth.Principal, string, error) {
	hdr := r.Header.Get("Authorization")
	if id, secret, ok := auth.ParseBasic(hdr); ok {
		p, err := h.opts.Auth.Authenticate(auth.KindUser, publisher.ClientIP(r), auth.Creds{ID: id, Secret: secret})
		return p, id, err
	}
	if id, key, ok := auth.ParseAPIKey(hdr); ok {
		p, err := h.opts.Auth.Authenticate(auth.KindAPIKey, publisher.ClientIP(r), auth.Creds{ID: id, Secret: key})
		return p, id, err
	}
	return nil, "", errNoCredentials
}

// errNoCredentials: no Basic or ApiKey credentials at all.
var errNoCredentials = fmt.Errorf("%w: no credentials", auth.ErrBadCredentials)

// fail renders any failure (authentication's or the core's) the way
// Elasticsearch would; user is the name presented, for a 401.
func (h *Handler) fail(rp *reply, user string, err error) {
	f := publisher.Classify(err)
	if f.RetryAfter > 0 {
		rp.w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	switch f.Kind {
	case publisher.KindUnauthenticated:
		if errors.Is(err, errNoCredentials) {
			h.unauthorized(rp, fmt.Sprintf("missing authentication credentials for REST request [%s]", Route))
			return
		}
		h.unauthorized(rp, fmt.Sprintf("unable to authenticate user [%s] for REST request [%s]", truncate(user, 256), Route))
	case publisher.KindRateLimited:
		rp.sendError(http.StatusTooManyRequests, "security_exception",
			fmt.Sprintf("%s for REST request [%s]; retry after [%d] seconds", f.RateLimitMessage(), Route, f.RetryAfter), nil)
	case publisher.KindForbidden:
		rp.sendError(http.StatusForbidden, "security_exception", forbiddenReason(f.Forbidden), nil)
	case publisher.KindWrongClient:
		rp.sendError(http.StatusForbidden, "security_exception",
			fmt.Sprintf("action [%s] is unauthorized for this token: it was issued to another client", invalidateAction), nil)
	case publisher.KindOverBudget:
		// Elasticsearch's own answer to a request that would exceed a memory limit.
		rp.sendError(http.StatusTooManyRequests, "circuit_breaking_exception", f.Budget.Error(), nil)
	case publisher.KindInvalid:
		rp.sendError(http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: "+err.Error()+";", nil)
	default:
		h.opts.Log.Error().Err(err).Msg("invalidate token failed")
		rp.sendError(http.StatusServiceUnavailable, "unavailable_shards_exception",
			"the revocation stream is unavailable: nothing was revoked; retry the request",
			&ErrorCause{Type: "exception", Reason: err.Error()})
	}
}

func (h *Handler) unauthorized(rp *reply, reason string) {
	for _, c := range challenges {
		rp.w.Header().Add("WWW-Authenticate", c)
	}
	rp.sendErrorWithHeader(http.StatusUnauthorized, "security_exception", reason, nil,
		map[string][]string{"WWW-Authenticate": challenges})
}

func forbiddenReason(fe *publisher.ForbiddenError) string {
	user := ""
	if fe.Principal != nil {
		user = fe.Principal.ID
	}
	base := fmt.Sprintf("action [%s] is unauthorized for user [%s]", invalidateAction, user)
	switch {
	case fe.Op != "":
		return base + ", this action is granted by the cluster privileges [manage_token,manage_security,all]"
	case fe.AllRealms:
		return base + " in every realm (the request reaches all realms, or a token whose realm is unknown)"
	default:
		return base + fmt.Sprintf(" in realm [%s]", fe.Realm)
	}
}
