package natsauth_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/internal/natstest"
)

// env is the shipped cluster running with a trust made by natsauth.Init.
type env struct {
	trust string // the trust directory
	cl    *natstest.Shipped
	next  int // the node the next client connects to
}

// startEnv runs nats-init's logic and make-certs.sh, boots the shipped
// node configurations with the generated auth.conf, and creates the
// streams and the bucket as the operator.
func startEnv(t *testing.T) *env {
	t.Helper()
	e := &env{trust: filepath.Join(t.TempDir(), "trust")}
	if _, _, err := natsauth.Init(e.trust); err != nil {
		t.Fatal(err)
	}
	authConf, err := os.ReadFile(filepath.Join(e.trust, natsauth.AuthConfFile))
	if err != nil {
		t.Fatal(err)
	}
	e.cl = natstest.StartShipped(t, natstest.ShippedOptions{
		DeployDir: "../../deployments/nats",
		AuthConf:  authConf,
		Connect:   natsauth.ClientOptions(filepath.Join(e.trust, natsauth.CredsFile(natsauth.Operator)), natsauth.Operator, ""),
	})
	op := e.connect(t, natsauth.Operator, "")
	ctx := context.Background()
	natstest.Eventually(t, 30*time.Second, "R3 streams and bucket created", func() bool {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		o := events.StreamOptions{Replicas: 3}
		if _, err := op.js.CreateOrUpdateStream(c, o.Config()); err != nil {
			return false
		}
		if _, err := op.js.CreateOrUpdateStream(c, o.LedgerConfig()); err != nil {
			return false
		}
		_, err := op.js.CreateOrUpdateKeyValue(c, bucketConfig())
		return err == nil
	})
	return e
}

// bucketConfig is the registry's bucket (publisher/registry.Open), R3.
func bucketConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:         natsauth.Bucket,
		Description:    "revocast token registry",
		History:        1,
		Storage:        jetstream.FileStorage,
		Replicas:       3,
		LimitMarkerTTL: time.Minute,
		MaxValueSize:   512 << 10,
	}
}

// credsFile returns the credentials nats-init wrote for the operator or the front.
func (e *env) credsFile(t *testing.T, role natsauth.Role) string {
	t.Helper()
	return filepath.Join(e.trust, natsauth.CredsFile(role))
}

// client is one identity's connection, with the errors the server sent it.
type client struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	errs *natstest.Errors
}

// connect mints credentials for role and name (the operator and the front
// use the files nats-init wrote), writes them 0600 and connects over TLS,
// each client to the next node.
func (e *env) connect(t *testing.T, role natsauth.Role, name string, realms ...string) *client {
	t.Helper()
	file := filepath.Join(e.trust, natsauth.CredsFile(role))
	if role == natsauth.Sidecar || role == natsauth.Issuer {
		creds, err := natsauth.Mint(e.trust, role, name, realms)
		if err != nil {
			t.Fatal(err)
		}
		file = filepath.Join(t.TempDir(), name+".creds")
		if err := os.WriteFile(file, creds, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := &client{errs: &natstest.Errors{}}
	opts := append(natsauth.ClientOptions(file, role, name), c.errs.Option(), nats.Name(string(role)+" "+name))
	c.nc = e.cl.Connect(t, e.next%len(e.cl.Servers), opts...)
	e.next++
	var err error
	if c.js, err = jetstream.New(c.nc); err != nil {
		t.Fatal(err)
	}
	return c
}

// ok runs op, which must succeed.
func ok(t *testing.T, what string, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := op(ctx); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// refused runs op and requires the server to refuse it: a permissions
// violation for publishing to subject (a JetStream API request is a
// publish), and then op must fail too.
func (c *client) refused(t *testing.T, subject string, op func(ctx context.Context) error) {
	t.Helper()
	c.errs.Clear()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- op(ctx) }()
	c.errs.WaitViolation(t, 5*time.Second, "Publish", subject)
	cancel()
	if err := <-done; err == nil {
		t.Fatalf("publishing to %s was reported as a violation, yet the call succeeded", subject)
	}
}

// refusedPublish publishes (core NATS) and requires the server to refuse it.
func (c *client) refusedPublish(t *testing.T, subject string) {
	t.Helper()
	c.errs.Clear()
	if err := c.nc.Publish(subject, []byte("forged")); err != nil {
		t.Fatal(err)
	}
	c.errs.WaitViolation(t, 5*time.Second, "Publish", subject)
}

// refusedSubscribe subscribes and requires the server to refuse it.
func (c *client) refusedSubscribe(t *testing.T, subject string) {
	t.Helper()
	c.errs.Clear()
	sub, err := c.nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	c.errs.WaitViolation(t, 5*time.Second, "Subscription", subject)
}

// noViolations requires that the server refused nothing so far.
func (c *client) noViolations(t *testing.T) {
	t.Helper()
	if err := c.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, err := range c.errs.All() {
		if errors.Is(err, nats.ErrPermissionViolation) {
			t.Fatalf("unexpected refusal: %v", err)
		}
	}
}

// jsPublish stores data on subject and returns the stream sequence.
func (c *client) jsPublish(ctx context.Context, subject string, data []byte, opts ...jetstream.PublishOpt) (uint64, error) {
	ack, err := c.js.Publish(ctx, subject, data, opts...)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// tokenSubject returns the event subject of a made-up token.
func tokenSubject(s string) string { return events.TokenSubject(events.Sum(sha256.Sum256([]byte(s)))) }
