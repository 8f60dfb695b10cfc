package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
)

// tailOpts say what events tail prints.
type tailOpts struct {
	full     bool // whole hashes, not their 12-digit prefixes
	maxItems int  // hashes shown per batch
}

func runEventsTail(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var o eventsOpts
	fs := newFlagSet("events tail", "Print revocation events as they are stored: time, sequence, kind, realm and names (a rule's scope;\n"+
		"informative for a token), hash prefixes and expiry. The stream holds no token, only revocation keys, and only\n"+
		"their first 12 hex digits are printed unless --full-hashes. Stops after --max events or on Ctrl-C.\n"+
		"Needs the operator's NATS identity (it reads REVOCAST).", stderr)
	o.register(fs)
	fromStart := fs.Bool("from-start", false, "begin with the oldest event the stream holds")
	since := fs.Duration("since", 0, "begin with the events stored this long ago (e.g. 10m)")
	maxEvents := fs.Int("max", 1000, "stop after this many events")
	var to tailOpts
	fs.BoolVar(&to.full, "full-hashes", false, "print whole revocation keys (64 hex digits), not 12-digit prefixes")
	fs.IntVar(&to.maxItems, "max-batch-items", 3, "hashes printed for each batch event (the rest are counted)")
	check := func() error {
		var errs []error
		if *fromStart && *since > 0 {
			errs = append(errs, errors.New("give --from-start or --since, not both"))
		}
		if *since < 0 {
			errs = append(errs, fmt.Errorf("--since must be positive, got %s", *since))
		}
		if *maxEvents < 1 || *maxEvents > 1_000_000 {
			errs = append(errs, fmt.Errorf("--max must be 1 to 1000000, got %d", *maxEvents))
		}
		if to.maxItems < 0 || to.maxItems > events.MaxBatch {
			errs = append(errs, fmt.Errorf("--max-batch-items must be 0 to %d, got %d", events.MaxBatch, to.maxItems))
		}
		return errors.Join(errs...)
	}
	if err := o.parse(fs, args, getenv, check); err != nil {
		return err
	}
	nc, js, err := o.connect("revocast-events-tail", stderr)
	if err != nil {
		return err
	}
	defer nc.Close()
	st, err := js.Stream(ctx, o.stream)
	if err != nil {
		return o.operatorHint(fmt.Errorf("stream %s: %w", o.stream, err))
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}
	switch {
	case *fromStart:
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	case *since > 0:
		t := time.Now().Add(-*since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	cons, err := st.OrderedConsumer(ctx, cfg)
	if err != nil {
		return o.operatorHint(fmt.Errorf("ordered consumer on %s: %w", o.stream, err))
	}
	it, err := cons.Messages()
	if err != nil {
		return o.operatorHint(fmt.Errorf("read %s: %w", o.stream, err))
	}
	defer it.Stop()
	for n := 0; n < *maxEvents; {
		m, err := it.Next(jetstream.NextContext(ctx))
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, nats.ErrTimeout) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", o.stream, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			continue
		}
		fmt.Fprintln(stdout, to.line(meta.Sequence.Stream, meta.Timestamp, m.Subject(), m.Data(), time.Now()))
		n++
	}
	return nil
}

// line renders one stored event.
func (to tailOpts) line(seq uint64, stored time.Time, subject string, data []byte, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s seq=%d ", stored.UTC().Format(time.RFC3339), seq)
	ev, err := events.Decode(data)
	if err != nil {
		fmt.Fprintf(&b, "unreadable subject=%s error=%s", quoteName(subject), quoteName(err.Error()))
		return b.String()
	}
	switch ev.Kind {
	case events.KindRule:
		fmt.Fprintf(&b, "rule scope=%s", ev.Scope)
		to.names(&b, &ev)
		fmt.Fprintf(&b, " issued_before=%s", ev.IssuedBefore.UTC().Format(time.RFC3339))
	case events.KindToken, events.KindJTI:
		fmt.Fprintf(&b, "%s key=%s", ev.Kind, to.hash(ev.Token))
		if ev.TokenType != "" {
			fmt.Fprintf(&b, " type=%s", quoteName(ev.TokenType))
		}
		to.names(&b, &ev)
	case events.KindTokens:
		fmt.Fprintf(&b, "batch tokens=%d", len(ev.Tokens))
		jti := 0
		for _, t := range ev.Tokens {
			if t.JTI {
				jti++
			}
		}
		if jti > 0 {
			fmt.Fprintf(&b, " jwt_ids=%d", jti)
		}
		b.WriteString(" keys=")
		for i, t := range ev.Tokens {
			if i == to.maxItems {
				fmt.Fprintf(&b, ",+%d more", len(ev.Tokens)-i)
				break
			}
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(to.hash(t.Token))
		}
	}
	if ev.Version < events.SchemaVersion {
		fmt.Fprintf(&b, " schema=%d", ev.Version)
	}
	fmt.Fprintf(&b, " expires=%s (in %s)", ev.ExpiresAt.UTC().Format(time.RFC3339), ev.ExpiresAt.Sub(now).Round(time.Second))
	if ev.RequestID != "" {
		fmt.Fprintf(&b, " request=%s", quoteName(ev.RequestID))
	}
	return b.String()
}

func (to tailOpts) names(b *strings.Builder, ev *events.Event) {
	for _, kv := range [][2]string{{"realm", ev.Realm}, {"user", ev.User}, {"client", ev.Client}} {
		if kv[1] != "" {
			fmt.Fprintf(b, " %s=%s", kv[0], quoteName(kv[1]))
		}
	}
}

func (to tailOpts) hash(s events.Sum) string {
	if to.full {
		return s.String()
	}
	return s.Short()
}

// quoteName renders text from the stream (names, which whoever revoked
// chose) as a Go string: no control character reaches the terminal, and at
// most 64 bytes of it.
func quoteName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.QuoteToASCII(strings.ToValidUTF8(s, "?"))
}
