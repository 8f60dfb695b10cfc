package natsauth

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
)

// embedded starts a single JetStream server in operator mode with tr, as
// "revocast dev" will.
func embedded(t *testing.T, tr *Trust) *server.Server {
	t.Helper()
	o := &server.Options{ServerName: "natsauth", Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true}
	if err := tr.ConfigureServer(o); err != nil {
		t.Fatal(err)
	}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(func() { natstest.Stop(s) })
	return s
}

type conn struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	errs *natstest.Errors
}

// dial connects in process with freshly minted credentials and the given
// inbox prefix.
func dial(t *testing.T, s *server.Server, tr *Trust, r Role, name, inbox string, realms ...string) *conn {
	t.Helper()
	creds, err := tr.Mint(r, name, realms)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := CredsOptions(creds, r, name)
	if err != nil {
		t.Fatal(err)
	}
	c := &conn{errs: &natstest.Errors{}}
	opts = append(opts, nats.InProcessServer(s), c.errs.Option(), nats.CustomInboxPrefix(inbox))
	if c.nc, err = nats.Connect("", opts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.nc.Close)
	if c.js, err = jetstream.New(c.nc); err != nil {
		t.Fatal(err)
	}
	return c
}

func createStreams(t *testing.T, op *conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := events.EnsureStream(ctx, op.js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := op.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: Bucket}); err != nil {
		t.Fatal(err)
	}
}

// The in-memory trust runs an embedded server in operator mode whose
// components connect in process with minted credentials (revocast dev).
func TestConfigureServerInProcess(t *testing.T) {
	tr, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	s := embedded(t, tr)
	op := dial(t, s, tr, Operator, "operator", InboxPrefix(Operator, ""))
	createStreams(t, op)
	front := dial(t, s, tr, Front, "front", InboxPrefix(Front, ""))
	ctx := context.Background()
	if _, err := front.js.Publish(ctx, events.StreamSubjects[:len(events.StreamSubjects)-1]+"token.x", []byte("e")); err != nil {
		t.Fatal(err)
	}
	sc := dial(t, s, tr, Sidecar, "sc-1", InboxPrefix(Sidecar, "sc-1"))
	cons, err := sc.js.CreateOrUpdateConsumer(ctx, events.DefaultStreamName, jetstream.ConsumerConfig{
		Name: SidecarConsumer("sc-1"), AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := sc.nc.Publish(StatusPrefix+"sc-2.applied", nil); err != nil {
		t.Fatal(err)
	}
	sc.errs.WaitViolation(t, 5*time.Second, "Publish", StatusPrefix+"sc-2.applied")
}

// withScope signs the account JWT again with role r's scope edited: the
// designs this package does not ship, to show why.
func (tr *Trust) withScope(t *testing.T, r Role, edit func(*jwt.UserScope)) {
	t.Helper()
	ac := tr.accountClaims()
	pub, _ := tr.roles[r].PublicKey()
	s, _ := ac.SigningKeys.GetScope(pub)
	edit(s.(*jwt.UserScope))
	var err error
	if tr.accJWT, err = ac.Encode(tr.operator); err != nil {
		t.Fatal(err)
	}
}
