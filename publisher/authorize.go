package publisher

import (
	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher/auth"
)

// Authorization happens in two steps. Before anything is read, the principal
// must be allowed the request's format and every realm the request names
// (preauthorize); planning then reads the registry only in realms the
// principal may act in (lookupRealms), so a token registered in another
// realm looks exactly like an unknown one and is never revealed; and every
// token and rule the plan reaches is authorized again before anything is
// stored (authorize).

// need refuses a principal that may not act in realm ("" is every realm).
func need(p *auth.Principal, realm string) error {
	if p.InRealm(realm) {
		return nil
	}
	return &ForbiddenError{Principal: p, Realm: realm, AllRealms: realm == ""}
}

// preauthorize checks what the request itself names: the format, the realm
// it names, and for a user without a realm, every realm.
func preauthorize(req *Request) error {
	p := req.Principal
	if p == nil {
		return &ForbiddenError{Op: req.Op}
	}
	if !p.Can(req.Op) {
		return &ForbiddenError{Principal: p, Op: req.Op}
	}
	if req.Realm != "" {
		if err := need(p, req.Realm); err != nil {
			return err
		}
	}
	if req.Token == nil && req.JWTID == nil && req.Realm == "" { // a user in every realm
		return need(p, "")
	}
	return nil
}

// lookupRealms returns the realms whose registry records a request may
// read: the realm it names, else the principal's (nil: every realm).
func lookupRealms(req *Request) []string {
	switch {
	case req.Realm != "":
		return []string{req.Realm}
	case req.Principal.AllRealms():
		return nil
	}
	return req.Principal.Realms()
}

// authorize checks that the principal may act in every realm the plan
// reaches: each token's realm (an unknown realm needs every realm) and each
// rule's (a user in every realm needs every realm).
func authorize(req *Request, targets []target, rules []events.Rule) error {
	if err := preauthorize(req); err != nil {
		return err
	}
	for _, t := range targets {
		if err := need(req.Principal, t.realm); err != nil {
			return err
		}
	}
	for _, r := range rules {
		if err := need(req.Principal, r.Realm); err != nil {
			return err
		}
	}
	return nil
}
