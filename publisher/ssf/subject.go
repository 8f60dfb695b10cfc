package ssf

import (
	"bytes"
	"encoding/json"

	"github.com/revocast/revocast/events"
)

// Subject identifier formats (RFC 9493 and SSF 1.0) revocast maps; any
// other is answered invalid_request and counted as unmapped.
const (
	FormatIssSub  = "iss_sub"
	FormatEmail   = "email"
	FormatOpaque  = "opaque"
	FormatJWTID   = "jwt_id"
	FormatComplex = "complex"
)

// subjectID is one simple subject identifier.
type subjectID struct {
	Format string `json:"format"`
	Iss    string `json:"iss"`
	Sub    string `json:"sub"`
	Email  string `json:"email"`
	ID     string `json:"id"`
	Jti    string `json:"jti"`
}

// Subject is what a SET names: a simple subject (User holds it, whatever
// its format), or a complex one's members.
type Subject struct {
	Format  string // the top-level format: a simple one, or "complex"
	User    *subjectID
	Session *subjectID
	Tenant  *subjectID
	// Others lists a complex subject's members revocast does not use
	// (device, application, org_unit, group): they narrow the subject, so
	// ignoring them revokes more, never less.
	Others []string
}

var complexMembers = []string{"user", "session", "tenant", "device", "application", "org_unit", "group"}

// parseSubject reads a subject identifier: a simple one, or a complex one
// (format "complex", or no format and complex members) whose members are
// simple.
func parseSubject(raw json.RawMessage) (*Subject, *Error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, refuse(CodeInvalidRequest, "a subject identifier must be a JSON object")
	}
	var format string
	if f, ok := m["format"]; ok && json.Unmarshal(f, &format) != nil {
		return nil, refuse(CodeInvalidRequest, "a subject's format must be a string")
	}
	isComplex := format == FormatComplex
	if format == "" {
		for _, k := range complexMembers {
			if _, ok := m[k]; ok {
				isComplex = true
			}
		}
	}
	if !isComplex {
		id, e := parseSimple(raw)
		if e != nil {
			return nil, e
		}
		return &Subject{Format: id.Format, User: id}, nil
	}
	s := &Subject{Format: FormatComplex}
	for _, k := range complexMembers {
		v, ok := m[k]
		if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			continue
		}
		id, e := parseSimple(v)
		if e != nil {
			return nil, refuse(CodeInvalidRequest, "the %s member of a complex subject: %s", k, e.Description)
		}
		switch k {
		case "user":
			s.User = id
		case "session":
			s.Session = id
		case "tenant":
			s.Tenant = id
		default:
			s.Others = append(s.Others, k)
		}
	}
	if s.User == nil && s.Session == nil && s.Tenant == nil && len(s.Others) == 0 {
		return nil, refuse(CodeInvalidRequest, "a complex subject without members")
	}
	return s, nil
}

func parseSimple(raw json.RawMessage) (*subjectID, *Error) {
	var id subjectID
	if err := json.Unmarshal(raw, &id); err != nil {
		return nil, refuse(CodeInvalidRequest, "a subject identifier must be a JSON object of strings")
	}
	if id.Format == "" {
		return nil, refuse(CodeInvalidRequest, "a subject identifier without a format")
	}
	if id.Format == FormatComplex {
		return nil, refuse(CodeInvalidRequest, "a complex subject's members must be simple subjects")
	}
	for _, f := range []string{id.Format, id.Iss, id.Sub, id.Email, id.ID, id.Jti} {
		if len(f) > events.MaxNameLen {
			return nil, refuse(CodeInvalidRequest, "a subject member is longer than %d bytes", events.MaxNameLen)
		}
	}
	need := func(ok bool, what string) *Error {
		if !ok {
			return refuse(CodeInvalidRequest, "a subject of format %s needs %s", quote(id.Format), what)
		}
		return nil
	}
	switch id.Format {
	case FormatIssSub:
		return &id, need(id.Iss != "" && id.Sub != "", "iss and sub")
	case FormatEmail:
		return &id, need(id.Email != "", "email")
	case FormatOpaque:
		return &id, need(id.ID != "", "id")
	case FormatJWTID:
		return &id, need(id.Iss != "" && id.Jti != "", "iss and jti")
	}
	return &id, nil // a format revocast does not map: the mapping says so
}
