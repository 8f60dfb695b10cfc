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

// authenticate checks Basic (Elasticsearch users) or ApiKey credentials and
// answers 401 or 429 itself when they do not pass.
func (h *Handler) authenticate(rp *reply, r *http.Request) (*auth.Principal, bool) {
	hdr := r.Header.Get("Authorization")
	var (
		p    *auth.Principal
		err  error
		user string
	)
	if id, secret, ok := auth.ParseBasic(hdr); ok {
		user = id
		p, err = h.opts.Auth.Authenticate(auth.KindUser, publisher.ClientIP(r), auth.Creds{ID: id, Secret: secret})
	} else if id, key, ok := auth.ParseAPIKey(hdr); ok {
		user = id
		p, err = h.opts.Auth.Authenticate(auth.KindAPIKey, publisher.ClientIP(r), auth.Creds{ID: id, Secret: key})
	} else {
		h.unauthorized(rp, fmt.Sprintf("missing authentication credentials for REST request [%s]", Route))
		return nil, false
	}
	var rl *auth.RateLimitedError
	switch {
	case err == nil:
		return p, true
	case errors.As(err, &rl):
		secs := rl.Seconds()
		rp.w.Header().Set("Retry-After", strconv.Itoa(secs))
		rp.sendError(http.StatusTooManyRequests, "security_exception",
			fmt.Sprintf("too many failed authentication attempts for REST request [%s]; retry after [%d] seconds", Route, secs), nil)
	default:
		h.unauthorized(rp, fmt.Sprintf("unable to authenticate user [%s] for REST request [%s]", truncate(user, 256), Route))
	}
	return nil, false
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
