package ssf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/revocast/revocast/events"
)

// maxEventsPerSET bounds the events of one SET (SSF sends one).
const maxEventsPerSET = 8

// SET is a verified Security Event Token's claims.
type SET struct {
	Issuer   string
	Audience []string
	IssuedAt time.Time
	Expiry   time.Time // zero: none (SSF SETs carry none)
	JTI      string
	// SubID is the top-level sub_id (SSF 1.0), nil when absent.
	SubID json.RawMessage
	// Sid is a top-level sid claim, "" when absent.
	Sid    string
	Events []Event // sorted by type
}

// Event is one member of a SET's events claim.
type Event struct {
	Type    string
	Payload json.RawMessage // a JSON object
}

type setClaims struct {
	Iss    *string                    `json:"iss"`
	Aud    json.RawMessage            `json:"aud"`
	Iat    json.RawMessage            `json:"iat"`
	Exp    json.RawMessage            `json:"exp"`
	Jti    *string                    `json:"jti"`
	SubID  json.RawMessage            `json:"sub_id"`
	Sid    *string                    `json:"sid"`
	Events map[string]json.RawMessage `json:"events"`
}

// ParseSET reads the claims of a SET's verified payload; every error is an
// invalid_request naming what is wrong.
func ParseSET(payload []byte) (*SET, *Error) {
	var c setClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, refuse(CodeInvalidRequest, "the SET's claims are not a JSON object: %s", err.Error())
	}
	s := &SET{}
	if c.Iss == nil || *c.Iss == "" || len(*c.Iss) > events.MaxNameLen {
		return nil, refuse(CodeInvalidRequest, "iss must be a string of 1 to %d bytes", events.MaxNameLen)
	}
	s.Issuer = *c.Iss
	if c.Jti == nil || *c.Jti == "" || len(*c.Jti) > events.MaxNameLen {
		return nil, refuse(CodeInvalidRequest, "jti must be a string of 1 to %d bytes", events.MaxNameLen)
	}
	s.JTI = *c.Jti
	var ok bool
	if s.IssuedAt, ok = numericDate(c.Iat); !ok {
		return nil, refuse(CodeInvalidRequest, "iat must be a NumericDate")
	}
	if len(c.Exp) > 0 {
		if s.Expiry, ok = numericDate(c.Exp); !ok {
			return nil, refuse(CodeInvalidRequest, "exp must be a NumericDate")
		}
	}
	aud, err := audiences(c.Aud)
	if err != nil {
		return nil, refuse(CodeInvalidRequest, "%s", err.Error())
	}
	s.Audience = aud
	if len(c.SubID) > 0 && !isObject(c.SubID) {
		return nil, refuse(CodeInvalidRequest, "sub_id must be a JSON object (a subject identifier)")
	}
	s.SubID = c.SubID
	if c.Sid != nil {
		if *c.Sid == "" || len(*c.Sid) > events.MaxNameLen {
			return nil, refuse(CodeInvalidRequest, "sid must be a string of 1 to %d bytes", events.MaxNameLen)
		}
		s.Sid = *c.Sid
	}
	if len(c.Events) == 0 || len(c.Events) > maxEventsPerSET {
		return nil, refuse(CodeInvalidRequest, "events must name 1 to %d events", maxEventsPerSET)
	}
	for typ, p := range c.Events {
		if !isObject(p) {
			return nil, refuse(CodeInvalidRequest, "the payload of event %s is not a JSON object", quote(typ))
		}
		s.Events = append(s.Events, Event{Type: typ, Payload: p})
	}
	sort.Slice(s.Events, func(i, j int) bool { return s.Events[i].Type < s.Events[j].Type })
	return s, nil
}

// checkSET checks what depends on the transmitter and the time: issuer,
// audience, freshness. window is how long a SET is remembered after it
// was applied: an older one could be a replay nobody remembers, and can
// no longer affect a live token anyway.
func checkSET(s *SET, issuer, audience string, now time.Time, window time.Duration) *Error {
	switch {
	case s.Issuer != issuer:
		return refuse(CodeInvalidIssuer, "iss %s is not this transmitter's issuer", quote(s.Issuer))
	case !slices.Contains(s.Audience, audience):
		return refuse(CodeInvalidAudience, "aud does not name %s", quote(audience))
	}
	return checkTimes(s.IssuedAt, s.Expiry, now, window)
}

func checkTimes(iat, exp time.Time, now time.Time, window time.Duration) *Error {
	switch {
	case iat.After(now.Add(events.MaxClockSkew)):
		return refuse(CodeInvalidRequest, "iat is %s in the future", iat.Sub(now).Round(time.Second))
	case iat.Before(now.Add(-window)):
		return refuse(CodeInvalidRequest, "iat is more than %s ago: too old to be told from a replay", window)
	case !exp.IsZero() && exp.Before(now.Add(-events.MaxClockSkew)):
		return refuse(CodeInvalidRequest, "the token expired at %s", exp.Format(time.RFC3339))
	}
	return nil
}

func isObject(raw json.RawMessage) bool {
	b := bytes.TrimSpace(raw)
	return len(b) > 1 && b[0] == '{'
}

// String names a SET in logs: its issuer and jti, never its subject.
func (s *SET) String() string { return fmt.Sprintf("iss=%s jti=%s", quote(s.Issuer), quote(s.JTI)) }
