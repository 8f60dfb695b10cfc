package natsauth_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/internal/natstest"
)

const ledgerName = "REVOCAST_LEDGER"

// TestShippedCluster boots deployments/nats/node-{1,2,3}.conf with TLS and
// the auth.conf of a fresh natsauth.Init, and proves each role's grants
// and refusals with a real client per identity, over TLS, each refusal
// observed as the server's permissions violation.
func TestShippedCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	e := startEnv(t)
	t.Run("connect", func(t *testing.T) { testConnect(t, e) })
	t.Run("routes", func(t *testing.T) { testRoutes(t, e) })
	t.Run("sidecar", func(t *testing.T) { testSidecar(t, e) })
	t.Run("issuer", func(t *testing.T) { testIssuer(t, e) })
	t.Run("front", func(t *testing.T) { testFront(t, e) })
	t.Run("operator", func(t *testing.T) { testOperator(t, e) })
}

func testConnect(t *testing.T, e *env) {
	t.Run("anonymous client is refused", func(t *testing.T) {
		nc, err := e.cl.Dial(0)
		if err == nil {
			nc.Close()
			t.Fatal("connected without credentials")
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("err = %v, want an authorization violation", err)
		}
	})
	t.Run("client without the cluster's CA cannot connect", func(t *testing.T) {
		// Not even asking for TLS: the server requires it, and the client
		// cannot verify the server with the system's roots.
		opts := natsauth.ClientOptions(e.credsFile(t, natsauth.Front), natsauth.Front, "")
		nc, err := nats.Connect(e.cl.Servers[0].ClientURL(), opts...)
		if err == nil {
			nc.Close()
			t.Fatal("connected without verifying the server against the cluster's CA")
		}
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("err = %v, want an unknown certificate authority", err)
		}
	})
	t.Run("credentials of another operator are refused", func(t *testing.T) {
		other, err := natsauth.Generate()
		if err != nil {
			t.Fatal(err)
		}
		creds, err := other.Mint(natsauth.Front, "front", nil)
		if err != nil {
			t.Fatal(err)
		}
		opts, err := natsauth.CredsOptions(creds, natsauth.Front, "")
		if err != nil {
			t.Fatal(err)
		}
		nc, err := e.cl.Dial(1, opts...)
		if err == nil {
			nc.Close()
			t.Fatal("connected with a foreign operator's credentials")
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("err = %v, want an authorization violation", err)
		}
	})
}

func testSidecar(t *testing.T, e *env) {
	ctx := context.Background()
	front := e.connect(t, natsauth.Front, "")
	sc := e.connect(t, natsauth.Sidecar, "sc-a")

	t.Run("replays and follows REVOCAST through the consumer named after it", func(t *testing.T) {
		for i := range 3 {
			ok(t, "store an event", func(ctx context.Context) error {
				_, err := front.jsPublish(ctx, tokenSubject(fmt.Sprint("before-", i)), []byte("event"))
				return err
			})
		}
		st, err := sc.js.Stream(ctx, events.DefaultStreamName)
		if err != nil {
			t.Fatal(err)
		}
		last := st.CachedInfo().State.LastSeq
		cfg := jetstream.ConsumerConfig{
			Name: natsauth.SidecarConsumer("sc-a"), DeliverPolicy: jetstream.DeliverAllPolicy,
			AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, Replicas: 1, InactiveThreshold: time.Minute,
		}
		seqs := make(chan uint64, 1024)
		consume := func(cfg jetstream.ConsumerConfig) jetstream.ConsumeContext {
			cons, err := st.CreateOrUpdateConsumer(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			cc, err := cons.Consume(func(m jetstream.Msg) {
				md, _ := m.Metadata()
				seqs <- md.Sequence.Stream
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cons.Info(ctx); err != nil {
				t.Fatal(err)
			}
			return cc
		}
		until := func(want uint64) {
			t.Helper()
			natstest.Eventually(t, 10*time.Second, fmt.Sprintf("sidecar at sequence %d", want), func() bool {
				for {
					select {
					case s := <-seqs:
						if s >= want {
							return true
						}
					default:
						return false
					}
				}
			})
		}
		cc := consume(cfg)
		until(last) // replayed
		var next uint64
		ok(t, "store an event", func(ctx context.Context) (err error) {
			next, err = front.jsPublish(ctx, tokenSubject("follow"), []byte("event"))
			return err
		})
		until(next) // followed
		cc.Stop()

		// A sidecar that lost its place deletes its consumer and creates it
		// again from the next sequence.
		if err := st.DeleteConsumer(ctx, cfg.Name); err != nil {
			t.Fatal(err)
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, next+1
		cc = consume(cfg)
		defer cc.Stop()
		ok(t, "store an event", func(ctx context.Context) (err error) {
			next, err = front.jsPublish(ctx, tokenSubject("resumed"), []byte("event"))
			return err
		})
		until(next)
		sc.noViolations(t)
	})

	t.Run("publishes its own status and receives presence probes", func(t *testing.T) {
		status, err := front.nc.SubscribeSync(natsauth.StatusPrefix + ">")
		if err != nil {
			t.Fatal(err)
		}
		defer status.Unsubscribe()
		probes, err := sc.nc.SubscribeSync(events.PresenceProbeSubject)
		if err != nil {
			t.Fatal(err)
		}
		defer probes.Unsubscribe()
		if err := errors.Join(front.nc.Flush(), sc.nc.Flush()); err != nil {
			t.Fatal(err)
		}
		if err := front.nc.Publish(events.PresenceProbeSubject, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := probes.NextMsg(5 * time.Second); err != nil {
			t.Fatalf("probe: %v", err)
		}
		for _, kind := range []string{"heartbeat", "applied", "outcome.front-origin-1"} {
			subj := natsauth.StatusPrefix + "sc-a." + kind
			if err := sc.nc.Publish(subj, []byte("{}")); err != nil {
				t.Fatal(err)
			}
			m, err := status.NextMsg(5 * time.Second)
			if err != nil || m.Subject != subj {
				t.Fatalf("front received %v, %v; want %s", m, err, subj)
			}
		}
		sc.noViolations(t)
	})

	t.Run("cannot publish revocations, ledger marks or registrations", func(t *testing.T) {
		for _, subj := range []string{tokenSubject("forged"), "revocast.ledger.token.forged", natsauth.RegistryPrefix + events.RealmKey("A")} {
			sc.refused(t, subj, func(ctx context.Context) error {
				_, err := sc.jsPublish(ctx, subj, []byte("forged"))
				return err
			})
		}
	})

	t.Run("cannot purge, delete or update a stream or the bucket, or delete a message", func(t *testing.T) {
		st, err := sc.js.Stream(ctx, events.DefaultStreamName)
		if err != nil {
			t.Fatal(err)
		}
		sc.refused(t, "$JS.API.STREAM.PURGE.REVOCAST", func(ctx context.Context) error { return st.Purge(ctx) })
		sc.refused(t, "$JS.API.STREAM.DELETE.REVOCAST", func(ctx context.Context) error {
			return sc.js.DeleteStream(ctx, events.DefaultStreamName)
		})
		sc.refused(t, "$JS.API.STREAM.UPDATE.REVOCAST", func(ctx context.Context) error {
			cfg := events.StreamOptions{Replicas: 3}.Config()
			cfg.MaxAge = time.Second
			_, err := sc.js.UpdateStream(ctx, cfg)
			return err
		})
		sc.refused(t, "$JS.API.STREAM.MSG.DELETE.REVOCAST", func(ctx context.Context) error { return st.DeleteMsg(ctx, 1) })
		sc.refused(t, "$JS.API.STREAM.CREATE.REVOCAST_SHADOW", func(ctx context.Context) error {
			_, err := sc.js.CreateStream(ctx, jetstream.StreamConfig{Name: "REVOCAST_SHADOW", Subjects: []string{"shadow.>"}})
			return err
		})
		sc.refused(t, "$JS.API.STREAM.DELETE.KV_REVOCAST_TOKENS", func(ctx context.Context) error {
			return sc.js.DeleteKeyValue(ctx, natsauth.Bucket)
		})
		sc.refused(t, "$JS.API.STREAM.PURGE.KV_REVOCAST_TOKENS", func(ctx context.Context) error {
			_, err := sc.nc.RequestWithContext(ctx, "$JS.API.STREAM.PURGE.KV_REVOCAST_TOKENS", nil)
			return err
		})
	})

	t.Run("cannot read or write the bucket", func(t *testing.T) {
		sc.refused(t, "$KV.REVOCAST_TOKENS.t.forged", func(ctx context.Context) error {
			_, err := sc.jsPublish(ctx, "$KV.REVOCAST_TOKENS.t.forged", []byte("forged"))
			return err
		})
		sc.refused(t, "$JS.API.STREAM.INFO.KV_REVOCAST_TOKENS", func(ctx context.Context) error {
			_, err := sc.js.KeyValue(ctx, natsauth.Bucket)
			return err
		})
	})

	t.Run("cannot create, read, pull from or delete another consumer", func(t *testing.T) {
		for _, name := range []string{"sc-b", "sc-a_1", "sc-a-2"} {
			sc.refused(t, "$JS.API.CONSUMER.CREATE.REVOCAST."+name, func(ctx context.Context) error {
				_, err := sc.js.CreateOrUpdateConsumer(ctx, events.DefaultStreamName, jetstream.ConsumerConfig{
					Name: name, AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true})
				return err
			})
		}
		sc.refused(t, "$JS.API.CONSUMER.CREATE.REVOCAST.sc-b.revocast.rev.>", func(ctx context.Context) error {
			_, err := sc.js.CreateOrUpdateConsumer(ctx, events.DefaultStreamName, jetstream.ConsumerConfig{
				Name: "sc-b", FilterSubject: events.StreamSubjects, AckPolicy: jetstream.AckNonePolicy})
			return err
		})
		sc.refused(t, "$JS.API.CONSUMER.CREATE.REVOCAST_LEDGER.sc-a", func(ctx context.Context) error {
			_, err := sc.js.CreateOrUpdateConsumer(ctx, ledgerName, jetstream.ConsumerConfig{
				Name: "sc-a", AckPolicy: jetstream.AckNonePolicy})
			return err
		})
		for _, api := range []string{"CONSUMER.INFO", "CONSUMER.MSG.NEXT", "CONSUMER.DELETE"} {
			subj := "$JS.API." + api + ".REVOCAST.sc-b"
			sc.refused(t, subj, func(ctx context.Context) error {
				_, err := sc.nc.RequestWithContext(ctx, subj, []byte(`{"batch":1}`))
				return err
			})
		}
		// nats.go's ordered consumer names itself <prefix>_<n>: not a name
		// a whole-token permission can grant (see TestPartialTokenWildcard).
		sc.refused(t, "$JS.API.CONSUMER.CREATE.REVOCAST.sc-a_1", func(ctx context.Context) error {
			st, err := sc.js.Stream(ctx, events.DefaultStreamName)
			if err != nil {
				return err
			}
			c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{NamePrefix: "sc-a"})
			if err != nil {
				return err
			}
			_, err = c.Next(jetstream.FetchContext(ctx))
			return err
		})
	})

	t.Run("cannot speak for another sidecar", func(t *testing.T) {
		sc.refusedPublish(t, natsauth.StatusPrefix+"sc-b.applied")
		sc.refusedPublish(t, natsauth.StatusPrefix+"sc-b.outcome.front-origin-1")
		sc.refusedPublish(t, events.PresenceProbeSubject)
	})

	t.Run("cannot read other inboxes or the status subjects", func(t *testing.T) {
		for _, subj := range []string{"_INBOX_front.>", "_INBOX_operator.>", "_INBOX_sidecar.sc-b.>", "_INBOX_issuer.sc-a.>",
			"_INBOX.>", natsauth.StatusPrefix + ">", natsauth.StatusPrefix + "sc-b.>", "revocast.rev.>", ">"} {
			sc.refusedSubscribe(t, subj)
		}
		// A sidecar named like a role's fixed inbox gets its own inbox only.
		front := e.connect(t, natsauth.Sidecar, "front")
		front.refusedSubscribe(t, "_INBOX_front.>")
	})
}

func testIssuer(t *testing.T, e *env) {
	ctx := context.Background()
	front := e.connect(t, natsauth.Front, "")
	answers, err := front.nc.QueueSubscribe(natsauth.RegistryPrefix+"*", "revocast-registry", func(m *nats.Msg) {
		_ = m.Respond([]byte(`{"registered":1,"realm_key":"` + m.Subject[len(natsauth.RegistryPrefix):] + `"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer answers.Unsubscribe()
	if err := front.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	iss := e.connect(t, natsauth.Issuer, "idp-a", "realm A")
	keyA, keyB := events.RealmKey("realm A"), events.RealmKey("realm B")

	t.Run("registers in its realm through the fronts' queue group, answered in its inbox", func(t *testing.T) {
		m, err := iss.nc.Request(natsauth.RegistryPrefix+keyA, []byte(`{"token_sha256":"..."}`), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if want := `"realm_key":"` + keyA + `"`; !strings.Contains(string(m.Data), want) {
			t.Fatalf("answer %s, want %s", m.Data, want)
		}
		iss.noViolations(t)
		front.noViolations(t)
	})

	t.Run("cannot register in another realm", func(t *testing.T) {
		iss.refused(t, natsauth.RegistryPrefix+keyB, func(ctx context.Context) error {
			_, err := iss.nc.RequestWithContext(ctx, natsauth.RegistryPrefix+keyB, []byte("{}"))
			return err
		})
		iss.refusedPublish(t, natsauth.RegistryPrefix+"*")
		iss.refusedPublish(t, natsauth.RegistryPrefix+"tokens")
	})

	t.Run("an issuer of two realms registers in both", func(t *testing.T) {
		both := e.connect(t, natsauth.Issuer, "idp-ab", "realm A", "realm B")
		for _, k := range []string{keyA, keyB} {
			if _, err := both.nc.Request(natsauth.RegistryPrefix+k, []byte("{}"), 5*time.Second); err != nil {
				t.Fatalf("realm key %s: %v", k, err)
			}
		}
		both.noViolations(t)
	})

	t.Run("cannot steer a front's answer to a subject the front may not publish to", func(t *testing.T) {
		// The reply subject is the requester's choice. With allow_responses
		// the front could answer on it whatever its permissions; without,
		// the server refuses the front's answer and nothing happens.
		st, err := front.js.Stream(ctx, events.DefaultStreamName)
		if err != nil {
			t.Fatal(err)
		}
		before := st.CachedInfo().State.Msgs
		if before == 0 {
			t.Fatal("the stream should hold the sidecar test's events")
		}
		front.errs.Clear()
		if err := iss.nc.PublishRequest(natsauth.RegistryPrefix+keyA, "$JS.API.STREAM.PURGE.REVOCAST", []byte("{}")); err != nil {
			t.Fatal(err)
		}
		front.errs.WaitViolation(t, 5*time.Second, "Publish", "$JS.API.STREAM.PURGE.REVOCAST")
		info, err := st.Info(ctx)
		if err != nil || info.State.Msgs != before {
			t.Fatalf("stream after the attempt: %v, %v; want %d messages", info, err, before)
		}
	})

	t.Run("cannot read registrations, revocations or other inboxes, or use JetStream", func(t *testing.T) {
		for _, subj := range []string{natsauth.RegistryPrefix + "*", natsauth.RegistryPrefix + keyA, "_INBOX_front.>",
			"_INBOX_issuer.idp-b.>", "_INBOX_sidecar.idp-a.>", "revocast.rev.>", natsauth.StatusPrefix + ">"} {
			iss.refusedSubscribe(t, subj)
		}
		iss.refused(t, "$JS.API.STREAM.INFO.REVOCAST", func(ctx context.Context) error {
			_, err := iss.js.Stream(ctx, events.DefaultStreamName)
			return err
		})
		iss.refusedPublish(t, tokenSubject("issuer-forged"))
		iss.refusedPublish(t, natsauth.StatusPrefix+"idp-a.applied")
	})
}
