package natsauth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/internal/natstest"
)

func testFront(t *testing.T, e *env) {
	ctx := context.Background()
	f := e.connect(t, natsauth.Front, "")

	t.Run("stores revocations and ledger marks written only if absent", func(t *testing.T) {
		ok(t, "store an event", func(ctx context.Context) error {
			_, err := f.jsPublish(ctx, tokenSubject("front-1"), []byte("event"), jetstream.WithMsgID("req-1.0"))
			return err
		})
		mark := "revocast.ledger.token." + tokenSubject("front-1")[len("revocast.rev.token."):]
		ok(t, "store a ledger mark", func(ctx context.Context) error {
			_, err := f.jsPublish(ctx, mark, nil, jetstream.WithExpectLastSequencePerSubject(0))
			return err
		})
		_, err := f.jsPublish(ctx, mark, nil, jetstream.WithExpectLastSequencePerSubject(0))
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
			t.Fatalf("second mark: %v, want wrong last sequence", err)
		}
		st, err := f.js.Stream(ctx, ledgerName)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.GetLastMsgForSubject(ctx, mark); err != nil {
			t.Fatal(err)
		}
		f.noViolations(t)
	})

	t.Run("counts the ledger with an ordered consumer", func(t *testing.T) {
		st, err := f.js.Stream(ctx, ledgerName)
		if err != nil {
			t.Fatal(err)
		}
		c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{HeadersOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Next(jetstream.FetchMaxWait(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Info(ctx); err != nil {
			t.Fatal(err)
		}
		f.noViolations(t)
	})

	t.Run("uses the registry bucket", func(t *testing.T) {
		kv, err := f.js.KeyValue(ctx, natsauth.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		w, err := kv.Watch(ctx, "t.*")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		if e := <-w.Updates(); e != nil {
			t.Fatalf("initial watch: %v, want the end-of-history marker", e)
		}
		if _, err := kv.Create(ctx, "t.abc", []byte("record"), jetstream.KeyTTL(time.Minute)); err != nil {
			t.Fatal(err)
		}
		rev, err := kv.Put(ctx, "t.abc", []byte("record 2"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Update(ctx, "t.abc", []byte("record 3"), rev); err != nil {
			t.Fatal(err)
		}
		if v, err := kv.Get(ctx, "t.abc"); err != nil || string(v.Value()) != "record 3" {
			t.Fatalf("get: %v, %v", v, err)
		}
		kst, err := f.js.Stream(ctx, "KV_"+natsauth.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kst.GetLastMsgForSubject(ctx, "$KV."+natsauth.Bucket+".t.abc"); err != nil {
			t.Fatal(err)
		}
		natstest.Eventually(t, 5*time.Second, "the watch sees the three writes", func() bool {
			for {
				select {
				case u := <-w.Updates():
					if u != nil && string(u.Value()) == "record 3" {
						return true
					}
				default:
					return false
				}
			}
		})
		if err := kv.Delete(ctx, "t.abc"); err != nil {
			t.Fatal(err)
		}
		f.noViolations(t)
	})

	t.Run("watches a registry larger than the flow-control window", func(t *testing.T) {
		// A watch is a push consumer: past 1 MiB in flight the server asks
		// the client to answer on $JS.FC, or it stops delivering.
		kv, err := f.js.KeyValue(ctx, natsauth.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		const n, size = 48, 64 << 10
		for i := range n {
			ok(t, "put", func(ctx context.Context) error {
				_, err := kv.Put(ctx, fmt.Sprintf("big.%d", i), bytes.Repeat([]byte{'x'}, size))
				return err
			})
		}
		w, err := kv.Watch(ctx, "big.*")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		got := 0
		deadline := time.After(10 * time.Second)
	watch:
		for {
			select {
			case u := <-w.Updates():
				if u == nil {
					break watch
				}
				got++
			case <-deadline:
				t.Fatalf("watch stalled after %d of %d entries; errors: %v", got, n, f.errs.All())
			}
		}
		if got != n {
			t.Fatalf("watch delivered %d of %d entries", got, n)
		}
		f.noViolations(t)
	})

	t.Run("cannot create, update, purge or delete a stream or the bucket, or delete a message", func(t *testing.T) {
		for _, name := range []string{events.DefaultStreamName, ledgerName, "KV_" + natsauth.Bucket} {
			st, err := f.js.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			f.refused(t, "$JS.API.STREAM.PURGE."+name, func(ctx context.Context) error { return st.Purge(ctx) })
			f.refused(t, "$JS.API.STREAM.DELETE."+name, func(ctx context.Context) error { return f.js.DeleteStream(ctx, name) })
			f.refused(t, "$JS.API.STREAM.MSG.DELETE."+name, func(ctx context.Context) error { return st.DeleteMsg(ctx, 1) })
			f.refused(t, "$JS.API.STREAM.UPDATE."+name, func(ctx context.Context) error {
				cfg := st.CachedInfo().Config
				cfg.MaxAge = time.Second
				_, err := f.js.UpdateStream(ctx, cfg)
				return err
			})
		}
		f.refused(t, "$JS.API.STREAM.CREATE.REVOCAST_SHADOW", func(ctx context.Context) error {
			_, err := f.js.CreateStream(ctx, jetstream.StreamConfig{Name: "REVOCAST_SHADOW", Subjects: []string{"shadow.>"}})
			return err
		})
		f.refused(t, "$JS.API.STREAM.CREATE.KV_SHADOW", func(ctx context.Context) error {
			_, err := f.nc.RequestWithContext(ctx, "$JS.API.STREAM.CREATE.KV_SHADOW", []byte(`{"name":"KV_SHADOW"}`))
			return err
		})
		// nats.go asks for the account's JetStream info before it creates a bucket.
		f.refused(t, "$JS.API.INFO", func(ctx context.Context) error {
			_, err := f.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "SHADOW"})
			return err
		})
		f.refused(t, "$JS.API.STREAM.DELETE.KV_REVOCAST_TOKENS", func(ctx context.Context) error {
			return f.js.DeleteKeyValue(ctx, natsauth.Bucket)
		})
	})

	t.Run("cannot read or consume the revocation stream", func(t *testing.T) {
		for _, subj := range []string{"$JS.API.STREAM.MSG.GET.REVOCAST", "$JS.API.DIRECT.GET.REVOCAST",
			"$JS.API.CONSUMER.CREATE.REVOCAST.front_1", "$JS.API.CONSUMER.MSG.NEXT.REVOCAST.sc-a"} {
			f.refused(t, subj, func(ctx context.Context) error {
				_, err := f.nc.RequestWithContext(ctx, subj, []byte(`{"seq":1}`))
				return err
			})
		}
	})

	t.Run("cannot speak for a sidecar or read another identity's inbox", func(t *testing.T) {
		f.refusedPublish(t, natsauth.StatusPrefix+"sc-a.applied")
		f.refusedPublish(t, natsauth.StatusPrefix+"sc-a.heartbeat")
		for _, subj := range []string{"_INBOX_sidecar.sc-a.>", "_INBOX_issuer.idp-a.>", "_INBOX_operator.>", "_INBOX.>", "revocast.rev.>"} {
			f.refusedSubscribe(t, subj)
		}
	})

	// What a compromised front can still do, so the README can say it.
	t.Run("residual: empties the bucket with a rollup message", func(t *testing.T) {
		kv, err := f.js.KeyValue(ctx, natsauth.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, "t.keep", []byte("record")); err != nil {
			t.Fatal(err)
		}
		m := nats.NewMsg("$KV." + natsauth.Bucket + ".t.x")
		m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupAll)
		if _, err := f.js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Get(ctx, "t.keep"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("after a rollup: %v, want the key gone", err)
		}
	})
}

func testOperator(t *testing.T, e *env) {
	ctx := context.Background()
	op := e.connect(t, natsauth.Operator, "")

	t.Run("creates, updates, purges and deletes streams", func(t *testing.T) {
		cfg := jetstream.StreamConfig{Name: "REVOCAST_SCRATCH", Subjects: []string{"revocast.scratch.>"}, Replicas: 3}
		st, err := op.js.CreateStream(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Description = "updated"
		if _, err := op.js.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		if _, err := op.jsPublish(ctx, "revocast.scratch.1", nil); err != nil {
			t.Fatal(err)
		}
		if err := st.Purge(ctx); err != nil {
			t.Fatal(err)
		}
		if err := op.js.DeleteStream(ctx, cfg.Name); err != nil {
			t.Fatal(err)
		}
		op.noViolations(t)
	})

	t.Run("cannot read sidecars' or issuers' inboxes", func(t *testing.T) {
		op.refusedSubscribe(t, "_INBOX_sidecar.sc-a.>")
		op.refusedSubscribe(t, "_INBOX_issuer.idp-a.>")
		op.refusedSubscribe(t, "_INBOX_front.>")
	})
}
