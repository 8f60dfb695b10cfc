package eventsio

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/revocast/revocast/events"
)

// Records returns the live records of one stored event: one per token of a
// batch, one for a token, a JWT ID or a rule; none once expired.
// realmKeyOf gives a token's realm key from its ledger mark ("" unknown);
// it is consulted for batch tokens only, since a single token's event
// names its realm.
func Records(ev *events.Event, realmKeyOf func(events.Sum) string, now time.Time) []Record {
	ttl := func(exp time.Time) int64 { return int64(exp.Sub(now) / time.Second) }
	switch ev.Kind {
	case events.KindRule:
		if !ev.ExpiresAt.After(now) {
			return nil
		}
		return []Record{{Kind: KindRule, V: ev.Version, Scope: ev.Scope, IssuedBefore: ev.IssuedBefore.UTC(),
			Realm: ev.Realm, User: ev.User, Client: ev.Client, Session: ev.Session, ExpiresAt: ev.ExpiresAt.UTC(),
			TTLSeconds: ttl(ev.ExpiresAt), RevokedAt: ev.RevokedAt.UTC()}}
	case events.KindToken, events.KindJTI:
		if !ev.ExpiresAt.After(now) {
			return nil
		}
		return []Record{{Kind: KindToken, V: ev.Version, Token: ev.Token, JTI: ev.Kind == events.KindJTI,
			TokenType: ev.TokenType, RealmKey: events.RealmKey(ev.Realm), Realm: ev.Realm, User: ev.User, Client: ev.Client,
			ExpiresAt: ev.ExpiresAt.UTC(), TTLSeconds: ttl(ev.ExpiresAt), RevokedAt: ev.RevokedAt.UTC()}}
	case events.KindTokens:
		out := make([]Record, 0, len(ev.Tokens))
		for _, t := range ev.Tokens {
			if !t.ExpiresAt.After(now) {
				continue
			}
			rk := ""
			if realmKeyOf != nil {
				rk = realmKeyOf(t.Token)
			}
			out = append(out, Record{Kind: KindToken, V: ev.Version, Token: t.Token, JTI: t.JTI, Batch: true,
				TokenType: t.TokenType, RealmKey: rk, ExpiresAt: t.ExpiresAt.UTC(), TTLSeconds: ttl(t.ExpiresAt),
				RevokedAt: ev.RevokedAt.UTC()})
		}
		return out
	}
	return nil
}

// event returns the event storing a token or rule record on its own.
func (r *Record) event() events.Event {
	ev := events.Event{Version: r.V, Realm: r.Realm, User: r.User, Client: r.Client,
		ExpiresAt: r.ExpiresAt.UTC(), RevokedAt: r.RevokedAt.UTC()}
	switch {
	case r.Kind == KindRule:
		ev.Kind, ev.Scope, ev.IssuedBefore, ev.Session = events.KindRule, r.Scope, r.IssuedBefore.UTC(), r.Session
	case r.JTI:
		ev.Kind, ev.Token = events.KindJTI, r.Token
	default:
		ev.Kind, ev.Token, ev.TokenType = events.KindToken, r.Token, r.TokenType
	}
	return ev
}

// item is a batch record as a batch event's token.
func (r *Record) item() events.TokenItem {
	return events.TokenItem{Token: r.Token, TokenType: r.TokenType, ExpiresAt: r.ExpiresAt.UTC(), JTI: r.JTI}
}

// realmKey is the realm key of a token record's ledger mark.
func (r *Record) realmKey() string {
	if r.RealmKey != "" {
		return r.RealmKey
	}
	return events.RealmKey(r.Realm)
}

// batchID names an imported batch after its records (every one of them,
// expired or not, so the name does not change as time passes): the same
// records make the same subject, which is how a second import finds it.
func batchID(v int, recs []Record) string {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(v))
	h.Write(n[:])
	for i := range recs {
		r := &recs[i]
		h.Write(r.Token[:])
		binary.BigEndian.PutUint64(n[:], uint64(r.ExpiresAt.UnixNano()))
		h.Write(n[:])
		flags := byte(0)
		if r.JTI {
			flags = 1
		}
		h.Write([]byte{flags})
		binary.BigEndian.PutUint64(n[:], uint64(len(r.TokenType)))
		h.Write(n[:])
		h.Write([]byte(r.TokenType))
	}
	return "imp-" + hex.EncodeToString(h.Sum(nil))[:40]
}
