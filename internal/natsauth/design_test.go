package natsauth

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
)

// Evidence for the three places where the shipped roles differ from the
// first design. Each test grants what that design granted and shows what
// goes wrong.

// NATS wildcards are whole tokens: "{{name()}}_*" is the literal token
// "sc-a_*", so confining a sidecar to consumers named "<id>_<n>" (nats.go's
// ordered consumers with NamePrefix) grants no consumer at all, and
// granting "*" would grant every sidecar's consumer. The shipped grant is
// the one consumer named exactly after the sidecar.
func TestPartialTokenWildcardGrantsNothing(t *testing.T) {
	tr, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	tr.withScope(t, Sidecar, func(s *jwt.UserScope) {
		s.Template.Pub.Allow = nil
		s.Template.Pub.Allow.Add("$JS.API.STREAM.INFO.REVOCAST",
			"$JS.API.CONSUMER.CREATE.REVOCAST.{{name()}}_*", "$JS.API.CONSUMER.CREATE.REVOCAST.{{name()}}_*.>",
			"$JS.API.CONSUMER.MSG.NEXT.REVOCAST.{{name()}}_*", "$JS.API.CONSUMER.DELETE.REVOCAST.{{name()}}_*")
	})
	s := embedded(t, tr)
	createStreams(t, dial(t, s, tr, Operator, "operator", InboxPrefix(Operator, "")))
	sc := dial(t, s, tr, Sidecar, "sc-a", InboxPrefix(Sidecar, "sc-a"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := sc.js.Stream(ctx, events.DefaultStreamName)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{NamePrefix: "sc-a"})
		done <- err
	}()
	sc.errs.WaitViolation(t, 5*time.Second, "Publish", "$JS.API.CONSUMER.CREATE.REVOCAST.sc-a_1")
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the ordered consumer was created")
	}
}

// allow_responses lets a client publish once to the reply subject of any
// message it received, whatever its publish permissions, and the reply
// subject is the requester's choice: a front answering registrations with
// it publishes its answer wherever an issuer says. Measured here: the
// answer lands on a sidecar's status subject, which fronts may not publish
// to; and a front answering with an empty body (an acknowledgement) purges
// the revocation stream when the issuer names $JS.API.STREAM.PURGE.REVOCAST.
// (publisher/registry's answer, {"registered":N,...}, did not purge when
// tried: JetStream's strict request parsing refuses unknown fields, a
// protection by accident of the answer's format.) The
// shipped front may publish to issuers' inboxes (_INBOX_issuer.*.>) and no
// other reply subject.
func TestAllowResponsesIsAConfusedDeputy(t *testing.T) {
	tr, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	tr.withScope(t, Front, func(s *jwt.UserScope) {
		s.Template.Pub.Allow.Remove("_INBOX_issuer.*.>")
		s.Template.Resp = &jwt.ResponsePermission{MaxMsgs: 1, Expires: time.Minute}
	})
	s := embedded(t, tr)
	op := dial(t, s, tr, Operator, "operator", InboxPrefix(Operator, ""))
	createStreams(t, op)
	front := dial(t, s, tr, Front, "front", InboxPrefix(Front, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := front.js.Publish(ctx, "revocast.rev.token.x", []byte("event")); err != nil {
		t.Fatal(err)
	}
	var ack atomic.Bool // answer with an empty body instead of publisher/registry's JSON
	sub, err := front.nc.QueueSubscribe(RegistryPrefix+"*", "revocast-registry", func(m *nats.Msg) {
		if ack.Load() {
			_ = m.Respond(nil)
			return
		}
		_ = m.Respond([]byte(`{"registered":0}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	status, err := op.nc.SubscribeSync(StatusPrefix + ">")
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(front.nc.Flush(), op.nc.Flush()); err != nil {
		t.Fatal(err)
	}
	iss := dial(t, s, tr, Issuer, "idp", InboxPrefix(Issuer, "idp"), "realm A")
	realm := RegistryPrefix + events.RealmKey("realm A")

	if err := iss.nc.PublishRequest(realm, StatusPrefix+"sc-a.applied", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if m, err := status.NextMsg(5 * time.Second); err != nil || m.Subject != StatusPrefix+"sc-a.applied" {
		t.Fatalf("got %v, %v; want the front's answer on the sidecar's status subject", m, err)
	}
	if err := front.nc.Publish(StatusPrefix+"sc-a.applied", nil); err != nil {
		t.Fatal(err)
	}
	front.errs.WaitViolation(t, 5*time.Second, "Publish", StatusPrefix+"sc-a.applied")

	ack.Store(true)
	if err := iss.nc.PublishRequest(realm, "$JS.API.STREAM.PURGE.REVOCAST", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	st, err := op.js.Stream(ctx, events.DefaultStreamName)
	if err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, "the issuer purging the stream through the front", func() bool {
		info, err := st.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
}

// One inbox namespace for every name ("_INBOX_<name>") lets a sidecar
// named "front" subscribe to the fronts' inbox and read their JetStream
// answers (registry records, acknowledgements). The shipped prefixes put
// sidecars and issuers under their role's token.
func TestSharedInboxNamespaceLeaksTheFrontsReplies(t *testing.T) {
	tr, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	tr.withScope(t, Sidecar, func(s *jwt.UserScope) {
		s.Template.Sub.Allow.Remove(InboxPrefix(Sidecar, "{{name()}}") + ".>")
		s.Template.Sub.Allow.Add("_INBOX_{{name()}}.>")
	})
	s := embedded(t, tr)
	createStreams(t, dial(t, s, tr, Operator, "operator", InboxPrefix(Operator, "")))
	spy := dial(t, s, tr, Sidecar, "front", "_INBOX_front")
	replies, err := spy.nc.SubscribeSync("_INBOX_front.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := spy.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	front := dial(t, s, tr, Front, "front", InboxPrefix(Front, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := front.js.Publish(ctx, "revocast.rev.token.x", []byte("event")); err != nil {
		t.Fatal(err)
	}
	if _, err := replies.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("the sidecar named front did not receive the front's acknowledgement: %v", err)
	}
	spy.noViolations(t)
}

func (c *conn) noViolations(t *testing.T) {
	t.Helper()
	for _, err := range c.errs.All() {
		t.Fatalf("unexpected error: %v", err)
	}
}

// A front may create consumers on the ledger and the bucket, a sidecar its
// own consumer on the revocation stream, and a push consumer's deliver
// subject is not a publish of theirs: the server delivers stored messages
// to any subject, a sidecar's status or a realm's registry subject
// included, and the front chooses what it stored in the bucket. The message
// arrives under the stream's subject, not the deliver subject, so whoever
// takes a sidecar's id or a realm from a message's subject, with its
// prefix checked (never from its body), is not fooled.
func TestPushConsumerDeliversUnderTheStreamSubject(t *testing.T) {
	tr, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	s := embedded(t, tr)
	op := dial(t, s, tr, Operator, "operator", InboxPrefix(Operator, ""))
	createStreams(t, op)
	status := StatusPrefix + "sc-a.applied"
	sub, err := op.nc.SubscribeSync(status)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	front := dial(t, s, tr, Front, "front", InboxPrefix(Front, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := front.js.KeyValue(ctx, Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "forged", []byte(`{"subscriber":"sc-a","seq":999}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := front.js.CreateOrUpdateConsumer(ctx, "KV_"+Bucket, jetstream.ConsumerConfig{Name: "push",
		DeliverSubject: status, AckPolicy: jetstream.AckNonePolicy, FilterSubject: "$KV." + Bucket + ".forged"}); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no delivery to the status subject: %v", err)
	}
	if m.Subject != "$KV."+Bucket+".forged" || string(m.Data) != `{"subscriber":"sc-a","seq":999}` {
		t.Fatalf("delivered as %s %q", m.Subject, m.Data)
	}

	registry := RegistryPrefix + events.RealmKey("realm B")
	if sub, err = op.nc.SubscribeSync(registry); err != nil {
		t.Fatal(err)
	}
	if err := op.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := front.js.Publish(ctx, "revocast.rev.token.x", []byte("event")); err != nil {
		t.Fatal(err)
	}
	sc := dial(t, s, tr, Sidecar, "sc-a", InboxPrefix(Sidecar, "sc-a"))
	if _, err := sc.js.CreateOrUpdateConsumer(ctx, events.DefaultStreamName, jetstream.ConsumerConfig{Name: SidecarConsumer("sc-a"),
		DeliverSubject: registry, AckPolicy: jetstream.AckNonePolicy}); err != nil {
		t.Fatal(err)
	}
	if m, err = sub.NextMsg(5 * time.Second); err != nil || m.Subject != "revocast.rev.token.x" {
		t.Fatalf("delivered %v, %v; want the event under its stream subject", m, err)
	}
}
