package rfc7009

import (
	"net/http"

	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// authenticate authenticates the client (RFC 6749 section 2.3) by its Basic
// credentials, its client_id and client_secret body parameters, or both when
// they agree. It answers every failure the same way, whether the id exists.
func (h *Handler) authenticate(r *http.Request, form map[string]string) (*auth.Principal, *oauthError) {
	hdrs := r.Header.Values("Authorization")
	bodyID, bodySecret := form[paramClientID], form[paramClientSecret]
	var candidates []auth.Creds
	switch {
	case len(hdrs) > 1:
		return nil, invalidRequest("the Authorization header is given more than once")
	case len(hdrs) == 1:
		// Basic is the only scheme here: any other (or a malformed Basic) is
		// a failed authentication, with the challenge saying what to use.
		id, secret, ok := auth.ParseBasic(hdrs[0])
		if !ok {
			return nil, unauthorized(true)
		}
		candidates = auth.BasicCandidates(id, secret)
		if bodyID != "" || bodySecret != "" {
			candidates = agreeing(candidates, bodyID, bodySecret)
			if len(candidates) == 0 {
				return nil, invalidRequest("client credentials in the Authorization header and the body differ")
			}
		}
		if secret == "" { // a public client: revocast only knows confidential ones
			return nil, unauthorized(true)
		}
	case bodyID == "" && bodySecret == "":
		return nil, unauthorized(true)
	case bodyID == "" || bodySecret == "":
		return nil, unauthorized(false)
	default:
		candidates = []auth.Creds{{ID: bodyID, Secret: bodySecret}}
	}

	p, err := h.opts.Auth.Authenticate(auth.KindClient, publisher.ClientIP(r), candidates...)
	if err != nil {
		return nil, h.failure(r, nil, err, len(hdrs) > 0)
	}
	return p, nil
}

// agreeing returns the Basic readings that the body's client_id and
// client_secret (each optional) agree with. The body is already
// form-decoded, so it also tells which reading of Basic the client meant.
func agreeing(candidates []auth.Creds, id, secret string) []auth.Creds {
	var out []auth.Creds
	for _, c := range candidates {
		if (id == "" || id == c.ID) && (secret == "" || secret == c.Secret) {
			out = append(out, c)
		}
	}
	return out
}
