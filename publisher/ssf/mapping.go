package ssf

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/revocast/revocast/publisher"
)

// Event types revocast acts on.
const (
	caep = "https://schemas.openid.net/secevent/caep/event-type/"
	risc = "https://schemas.openid.net/secevent/risc/event-type/"
	ssf  = "https://schemas.openid.net/secevent/ssf/event-type/"

	CAEPSessionRevoked        = caep + "session-revoked"
	CAEPCredentialChange      = caep + "credential-change"
	CAEPTokenClaimsChange     = caep + "token-claims-change"
	RISCAccountDisabled       = risc + "account-disabled"
	RISCAccountPurged         = risc + "account-purged"
	RISCCredentialCompromise  = risc + "credential-compromise"
	RISCSessionsRevoked       = risc + "sessions-revoked"
	SSFVerification           = ssf + "verification"
	SSFStreamUpdated          = ssf + "stream-updated"
	BackchannelLogoutEvent    = "http://schemas.openid.net/event/backchannel-logout"
	keycloakAllSessions       = "ALL"
	unmappedEvent, unmappedSu = "event", "subject"
)

// userEvents revoke every token of their subject's user.
var userEvents = map[string]bool{CAEPCredentialChange: true, RISCAccountDisabled: true, RISCAccountPurged: true,
	RISCCredentialCompromise: true, RISCSessionsRevoked: true}

// unmapped is a signal revocast cannot act on: answered invalid_request,
// counted by what (event or subject).
type unmapped struct {
	what string
	err  *Error
}

// mapSET turns a verified SET into the requests it implies (none for the
// stream's own control events).
func (r *Receiver) mapSET(t *transmitter, s *SET) ([]publisher.Request, *unmapped, *Error) {
	var out []publisher.Request
	for _, ev := range s.Events {
		switch {
		case ev.Type == SSFVerification || ev.Type == SSFStreamUpdated:
			continue // the stream's own control events: nothing to revoke
		case ev.Type != CAEPSessionRevoked && ev.Type != CAEPTokenClaimsChange && !userEvents[ev.Type]:
			return nil, &unmapped{unmappedEvent, refuse(CodeInvalidRequest,
				"event type %s is not one revocast acts on (CAEP session-revoked, credential-change, token-claims-change; RISC account-disabled, account-purged, credential-compromise, sessions-revoked)",
				quote(ev.Type))}, nil
		}
		at, e := eventTime(s, ev)
		if e != nil {
			return nil, nil, e
		}
		sub, e := r.subjectOf(s, ev)
		if e != nil {
			return nil, nil, e
		}
		req, um, e := r.mapEvent(t, s, ev.Type, sub, at)
		if um != nil || e != nil {
			return nil, um, e
		}
		out = append(out, req)
	}
	return out, nil, nil
}

// mapEvent maps one revoking event.
func (r *Receiver) mapEvent(t *transmitter, s *SET, typ string, sub *Subject, at time.Time) (publisher.Request, *unmapped, *Error) {
	var req publisher.Request
	if sub != nil && sub.User != nil && sub.User.Format == FormatJWTID && sub.Format != FormatComplex {
		// One JWT by issuer and JWT ID: the narrowest thing a signal names.
		realm := r.issuerRealm(sub.User.Iss)
		if !t.allows(realm) {
			return req, nil, refuse(CodeAccessDenied, "the JWT's issuer is in realm %s, which this transmitter may not affect", quote(realm))
		}
		return publisher.Request{Realm: realm, JWTID: &publisher.JWTID{Issuer: sub.User.Iss, ID: sub.User.Jti}}, nil, nil
	}
	if typ == CAEPTokenClaimsChange {
		return req, &unmapped{unmappedSu, refuse(CodeInvalidRequest,
			"token-claims-change is acted on for a jwt_id subject only (the token whose claims changed), not %s", subjectFormat(sub))}, nil
	}
	realm, e := r.realmOf(t, sub)
	if e != nil {
		return req, nil, e
	}
	if typ == CAEPSessionRevoked {
		sid := s.Sid
		if sub != nil && sub.Session != nil {
			if sub.Session.Format != FormatOpaque {
				return req, &unmapped{unmappedSu, refuse(CodeInvalidRequest,
					"a session subject of format %s cannot be mapped (want opaque, the session id)", quote(sub.Session.Format))}, nil
			}
			sid = sub.Session.ID
		}
		if sid != "" && !(sid == keycloakAllSessions && sub != nil && sub.User != nil) {
			return publisher.Request{Realm: realm, Session: sid, IssuedBefore: at}, nil, nil
		}
	}
	// Every token of the user (Keycloak names "every session" ALL).
	if sub == nil || sub.User == nil {
		return req, &unmapped{unmappedSu, refuse(CodeInvalidRequest, "the event names no user (nor, for session-revoked, a session)")}, nil
	}
	user, um := r.userOf(sub.User, realm)
	if um != nil {
		return req, um, nil
	}
	return publisher.Request{Realm: realm, User: user, IssuedBefore: at}, nil, nil
}

// subjectOf returns the event's subject: the SET's sub_id (SSF 1.0), or
// the subject member of the event (the drafts before it); nil when there
// is none.
func (r *Receiver) subjectOf(s *SET, ev Event) (*Subject, *Error) {
	raw := s.SubID
	if len(raw) == 0 {
		var legacy struct {
			Subject json.RawMessage `json:"subject"`
		}
		if json.Unmarshal(ev.Payload, &legacy) == nil && len(legacy.Subject) > 0 && string(legacy.Subject) != "null" {
			raw = legacy.Subject
		}
	}
	if len(raw) == 0 {
		return nil, nil
	}
	return parseSubject(raw)
}

// eventTime is when the event happened: its event_timestamp, else the SET's iat.
func eventTime(s *SET, ev Event) (time.Time, *Error) {
	var p struct {
		At json.RawMessage `json:"event_timestamp"`
	}
	if json.Unmarshal(ev.Payload, &p) != nil || len(p.At) == 0 {
		return s.IssuedAt, nil
	}
	at, ok := numericDate(p.At)
	if !ok {
		return time.Time{}, refuse(CodeInvalidRequest, "event_timestamp must be a NumericDate")
	}
	return at, nil
}

// realmOf is the realm a subject's user or session belongs to: its complex
// subject's tenant (an opaque id naming the realm), else an iss_sub user's
// issuer's realm, else the transmitter's realm. It must be one the
// transmitter may affect.
func (r *Receiver) realmOf(t *transmitter, sub *Subject) (string, *Error) {
	realm := t.defaultRealm
	switch {
	case sub != nil && sub.Tenant != nil:
		if sub.Tenant.Format != FormatOpaque {
			return "", refuse(CodeInvalidRequest, "a tenant of format %s cannot be mapped to a realm (want opaque, the realm's name)", quote(sub.Tenant.Format))
		}
		realm = sub.Tenant.ID
	case sub != nil && sub.User != nil && sub.User.Format == FormatIssSub:
		realm = r.issuerRealm(sub.User.Iss)
	}
	if !t.allows(realm) {
		return "", refuse(CodeAccessDenied, "realm %s is not one this transmitter may affect", quote(realm))
	}
	return realm, nil
}

// userOf names the user as the realm's user claim does: sub (iss_sub),
// email (email), or an opaque id taken as it is.
func (r *Receiver) userOf(id *subjectID, realm string) (string, *unmapped) {
	claim := r.userClaim(realm)
	cannot := func() (string, *unmapped) {
		return "", &unmapped{unmappedSu, refuse(CodeInvalidRequest,
			"realm %s names its users by the %s claim; a subject of format %s cannot be mapped to it", quote(realm), quote(claim), quote(id.Format))}
	}
	switch id.Format {
	case FormatIssSub:
		if claim != "sub" {
			return cannot()
		}
		return id.Sub, nil
	case FormatEmail:
		if claim != "email" {
			return cannot()
		}
		return id.Email, nil
	case FormatOpaque:
		return id.ID, nil
	}
	return "", &unmapped{unmappedSu, refuse(CodeInvalidRequest,
		"subject format %s cannot be mapped to a user (iss_sub, email, opaque; jwt_id names one token)", quote(id.Format))}
}

func (r *Receiver) issuerRealm(iss string) string {
	if realm, ok := r.issuerRealms[iss]; ok {
		return realm
	}
	return iss
}

func (r *Receiver) userClaim(realm string) string {
	if c := r.userClaims[realm]; c != "" {
		return c
	}
	return "sub"
}

func subjectFormat(s *Subject) string {
	if s == nil {
		return "no subject"
	}
	return fmt.Sprintf("a subject of format %s", quote(s.Format))
}
