package jwtclaims

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/revocast/revocast/events"
)

// MaxTokenLen bounds the tokens Parse looks at.
const MaxTokenLen = 16 << 10

// ErrNotJWT is returned for a token that is not a readable JWS compact JWT.
var ErrNotJWT = errors.New("not a JWT")

// Claims are the claims revocast reads. Zero values mean absent.
type Claims struct {
	Issuer   string
	Subject  string
	Client   string // azp, or client_id (RFC 9068) when azp is absent
	JTI      string // the JWT ID
	Session  string // sid: the session the token belongs to
	IssuedAt time.Time
	Expiry   time.Time
}

type raw struct {
	Iss      *string  `json:"iss"`
	Sub      *string  `json:"sub"`
	Azp      *string  `json:"azp"`
	Jti      *string  `json:"jti"`
	Sid      *string  `json:"sid"`
	ClientID *string  `json:"client_id"`
	Iat      *float64 `json:"iat"`
	Exp      *float64 `json:"exp"`
}

// Parse reads the claims of a JWS compact JWT (see events.SigningInputEnd)
// without verifying it.
func Parse(token string) (Claims, error) {
	var c Claims
	if len(token) > MaxTokenLen {
		return c, ErrNotJWT
	}
	end, ok := events.SigningInputEnd(token)
	if !ok {
		return c, ErrNotJWT
	}
	return ParsePayload(token[strings.IndexByte(token, '.')+1 : end])
}

// ParsePayload reads the claims of a JWS payload segment (base64url).
func ParsePayload(payload string) (Claims, error) {
	var c Claims
	payload = strings.TrimRight(payload, "=")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return c, ErrNotJWT
	}
	var r raw
	if err := json.Unmarshal(b, &r); err != nil {
		return c, ErrNotJWT
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	c.Issuer, c.Subject = str(r.Iss), str(r.Sub)
	c.Client = str(r.Azp)
	if c.Client == "" {
		c.Client = str(r.ClientID)
	}
	c.JTI, c.Session = str(r.Jti), str(r.Sid)
	c.IssuedAt = numericDate(r.Iat)
	c.Expiry = numericDate(r.Exp)
	return c, nil
}

// numericDate converts a JWT NumericDate (seconds since the epoch, possibly
// fractional). Values that are not finite or are out of range are absent.
func numericDate(f *float64) time.Time {
	if f == nil || math.IsNaN(*f) || math.IsInf(*f, 0) || *f < 0 || *f > 1e11 {
		return time.Time{}
	}
	sec, frac := math.Modf(*f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}
