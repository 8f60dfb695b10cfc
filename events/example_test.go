package events_test

import (
	"fmt"
	"time"

	"github.com/revocast/revocast/events"
)

// A token is known to revocast only by its SHA-256, in lowercase hex.
func ExampleTokenKey() {
	sum := events.TokenKey("dGhpcyBpcyBub3QgYSByZWFsIHRva2Vu")
	fmt.Println(sum)
	fmt.Println(sum.Short())
	// Output:
	// ed9b8d5df73033404778531c07b5dd195250fc4ab1ac9e9ed94b270a18455de9
	// ed9b8d5df730
}

// Subjects carry hashes, never the token or a user's name.
func ExampleTokenSubject() {
	fmt.Println(events.TokenSubject(events.TokenKey("abc")))
	r := events.Rule{Scope: events.ScopeRealmUser, Realm: "saml1", User: "my.user>*"}
	fmt.Println(r.Subject())
	// Output:
	// revocast.rev.token.ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
	// revocast.rev.rule.realm_user.7a4b9040706eae4f20c2fb645d0401989391dd8e34ad0cba2c52ace2d2ce9ae8
}

// The stream keeps the latest revocation per subject and forgets each one
// when the last token it can affect has expired.
func ExampleStreamOptions_Config() {
	cfg := events.StreamOptions{Replicas: 3}.Config()
	fmt.Println(cfg.Name, cfg.Subjects, cfg.Replicas, cfg.MaxMsgsPerSubject, cfg.AllowMsgTTL, cfg.Duplicates)
	// Output:
	// REVOCAST [revocast.rev.>] 3 1 true 2m0s
}

// A token revocation is encoded as versioned JSON.
func ExampleEvent_Encode() {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	ev := events.NewTokenRevocation(events.TokenKey("abc"), events.AccessToken, now.Add(time.Hour), now)
	b, _ := ev.Encode()
	fmt.Println(string(b))
	// Output:
	// {"v":2,"kind":"token","token_sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","token_type":"access_token","expires_at":"2026-11-21T11:00:00Z","revoked_at":"2026-11-21T10:00:00Z"}
}

// The per-message TTL is whole seconds, at least one.
func ExampleMsgTTL() {
	now := time.Now()
	fmt.Println(events.MsgTTL(now.Add(1500*time.Millisecond), now))
	fmt.Println(events.MsgTTL(now.Add(-time.Hour), now))
	fmt.Println(events.MsgTTL(now.AddDate(300, 0, 0), now) == events.MaxMsgTTL)
	// Output:
	// 2s
	// 1s
	// true
}
