package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/internal/natstest"
)

// connectAs connects to a dev's NATS with a role's credentials file and
// records the permission violations the server reports.
func connectAs(t *testing.T, url, creds string, r natsauth.Role, name string) (*nats.Conn, *natstest.Errors) {
	t.Helper()
	errs := &natstest.Errors{}
	nc, err := nats.Connect(url, append(natsauth.ClientOptions(creds, r, name), errs.Option())...)
	if err != nil {
		t.Fatalf("connect as %s %s: %v", r, name, err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

// Seen against dev's anonymous NATS listener, with a few lines of nats.go:
// the streams purged and deleted, a rule a hundred years ahead, an
// undecodable event, 500 fake sidecars, forged watermarks and failure
// reports, a realm-B token registered through the bus. Now the listener
// takes no anonymous client, and with a sidecar's (or a realm-A issuer's)
// credentials every one of those is refused by the server; after it all, a
// restarted sidecar still denies what was revoked.
func TestE2EBusAttacksAreRefused(t *testing.T) {
	dir := t.TempDir()
	d := startDev(t, dir, nil)
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })
	if r := esRevoke(t, d.front, `{"token":"revoked-before-the-attack"}`); r.code != 200 {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}

	if nc, err := nats.Connect(d.nats, nats.Timeout(2*time.Second)); err == nil {
		nc.Close()
		t.Fatal("an anonymous client connected to revocast dev's NATS")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("anonymous connect refused with %v, want an authorization error", err)
	}

	side, errs := connectAs(t, d.nats, filepath.Join(dir, "nats", "sidecar-dev.creds"), natsauth.Sidecar, "dev")
	js, err := jetstream.New(side)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		api    string // the JetStream API subject the server must refuse
		attack func(ctx context.Context) error
	}{
		{"$JS.API.STREAM.PURGE." + events.DefaultStreamName, func(ctx context.Context) error {
			st, err := js.Stream(ctx, events.DefaultStreamName)
			if err != nil {
				return err
			}
			return st.Purge(ctx)
		}},
		{"$JS.API.STREAM.DELETE." + events.StreamOptions{}.LedgerName(), func(ctx context.Context) error {
			return js.DeleteStream(ctx, events.StreamOptions{}.LedgerName())
		}},
		{"$JS.API.STREAM.DELETE.KV_REVOCAST_TOKENS", func(ctx context.Context) error { return js.DeleteKeyValue(ctx, "REVOCAST_TOKENS") }},
		{"$JS.API.STREAM.UPDATE." + events.DefaultStreamName, func(ctx context.Context) error {
			_, err := js.UpdateStream(ctx, events.StreamOptions{}.Config())
			return err
		}},
		{"$JS.API.CONSUMER.CREATE." + events.DefaultStreamName + ".other", func(ctx context.Context) error {
			_, err := js.CreateOrUpdateConsumer(ctx, events.DefaultStreamName, jetstream.ConsumerConfig{Name: "other"})
			return err
		}},
	} {
		// A refused API request gets no answer: the violation says why.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := a.attack(ctx)
		cancel()
		if err == nil {
			t.Errorf("a sidecar's credentials could use %s", a.api)
		}
		errs.WaitViolation(t, 5*time.Second, "Publish", a.api)
	}
	rule := events.NewRule(events.Rule{Scope: events.ScopeRealm, Realm: "saml1"}, time.Now().AddDate(100, 0, 0), 200*365*24*time.Hour)
	ruleData, _ := rule.Encode()
	hb, _ := json.Marshal(events.Heartbeat{Instance: "forged", Ready: true, Healthy: true})
	failure, _ := json.Marshal(events.FailureReport{Instance: "forged", RequestID: "r", Failures: []events.Failure{{Error: "<b>forged</b>"}}})
	for _, p := range []struct {
		subject string
		data    []byte
	}{
		{rule.Subject(), ruleData},
		{events.TokenSubject(events.TokenKey("x")), []byte("\x00garbage")},
		{events.LedgerSubject(events.TokenKey("x")), nil},
		{events.HeartbeatSubject("fake-1"), hb},
		{events.WatermarkSubject("victim"), events.Watermark{Instance: "forged", Seq: 1 << 63}.Encode()},
		{events.FailuresSubject("victim", "anyfront"), failure},
		{events.RegistrySubject("saml1"), []byte(`{}`)},
	} {
		if err := side.Publish(p.subject, p.data); err != nil {
			t.Fatal(err)
		}
		errs.WaitViolation(t, 5*time.Second, "Publish", p.subject)
	}

	issuerCreds := filepath.Join(t.TempDir(), "idp-a.creds")
	if b, err := exec.Command(binary, "nats-creds", "--dir", filepath.Join(dir, "nats"), "--role", "issuer", "--name", "idp-a",
		"--realm", "A", "--out", issuerCreds).CombinedOutput(); err != nil {
		t.Fatalf("nats-creds: %v %s", err, b)
	}
	issuer, ierrs := connectAs(t, d.nats, issuerCreds, natsauth.Issuer, "idp-a")
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	line := `{"token":"b-token","type":"access_token","realm":"B","username":"u","client_id":"thief","expires_at":"` + exp + `"}`
	if err := issuer.Publish(events.RegistrySubject("B"), []byte(line)); err != nil {
		t.Fatal(err)
	}
	ierrs.WaitViolation(t, 5*time.Second, "Publish", events.RegistrySubject("B"))
	msg, err := issuer.Request(events.RegistrySubject("A"), []byte(strings.Replace(line, `"realm":"B"`, `"realm":"A"`, 1)), 5*time.Second)
	if err != nil || !strings.Contains(string(msg.Data), `"registered":1`) {
		t.Fatalf("the issuer in its own realm: %v %s", err, msg.Data)
	}

	d.stop()
	d2 := startDev(t, dir, nil)
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d2.side+"/readyz", "", "").code == 200 })
	if c := check(d2.side, "revoked-before-the-attack"); c != 401 {
		t.Fatalf("after the attacks and a restart, the revoked token answers %d", c)
	}
	if c := check(d2.side, "never-revoked"); c != 204 {
		t.Fatalf("an unrevoked token after the attacks: %d (a forged rule or event got through?)", c)
	}
}
