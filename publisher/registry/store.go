package registry

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
)

// DefaultBucket is the registry's KeyValue bucket.
const DefaultBucket = "REVOCAST_TOKENS"

// ErrConflict: the token is already registered with other details.
var ErrConflict = errors.New("the token is already registered with other details")

// StoreOptions configure a Store.
type StoreOptions struct {
	Bucket   string // DefaultBucket when empty
	Replicas int    // 1 when zero
	// Timeout bounds one Register call's writes (5s when zero).
	Timeout time.Duration
}

// Store is the registry on a JetStream KeyValue bucket.
type Store struct {
	kv      jetstream.KeyValue
	stream  jetstream.Stream
	pipe    *publisher.Pipeline
	multi   *multiLast
	prefix  string // "$KV.<bucket>."
	timeout time.Duration
}

var _ publisher.Registry = (*Store)(nil)

// Open creates (or updates) the bucket and returns the store.
func Open(ctx context.Context, nc *nats.Conn, o StoreOptions) (*Store, error) {
	o = o.withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	kv, err := js.KeyValue(ctx, o.Bucket)
	if err != nil {
		return nil, fmt.Errorf("registry: bucket %s: %w", o.Bucket, err)
	}
	stream, err := js.Stream(ctx, "KV_"+o.Bucket)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	pipe, err := publisher.NewPipeline(nc, 0)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	multi, err := newMultiLast(nc, "KV_"+o.Bucket)
	if err != nil {
		pipe.Close()
		return nil, err
	}
	return &Store{kv: kv, stream: stream, pipe: pipe, multi: multi, prefix: "$KV." + o.Bucket + ".", timeout: o.Timeout}, nil
}

func (o StoreOptions) withDefaults() StoreOptions {
	if o.Bucket == "" {
		o.Bucket = DefaultBucket
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	return o
}

// BucketConfig is the registry's KeyValue bucket: per-key TTL (marker TTL
// one minute), one revision per key, file storage.
func BucketConfig(o StoreOptions) jetstream.KeyValueConfig {
	o = o.withDefaults()
	return jetstream.KeyValueConfig{
		Bucket:         o.Bucket,
		Description:    "revocast token registry",
		History:        1,
		Storage:        jetstream.FileStorage,
		Replicas:       o.Replicas,
		LimitMarkerTTL: time.Minute,
		MaxValueSize:   512 << 10,
	}
}

// EnsureBucket creates the bucket, or updates it to BucketConfig: stream
// administration, for the operator identity (revocast init, or a front with
// --manage-streams).
func EnsureBucket(ctx context.Context, js jetstream.JetStream, o StoreOptions) error {
	if _, err := js.CreateOrUpdateKeyValue(ctx, BucketConfig(o)); err != nil {
		return fmt.Errorf("registry: bucket %s: %w", o.withDefaults().Bucket, err)
	}
	return nil
}

// Close releases the store's subscriptions.
func (s *Store) Close() {
	s.pipe.Close()
	s.multi.close()
}

// Register stores records and returns, per record, nil or why it was not
// registered. Each record is all or nothing: its record key (its realm's
// and its token's) is claimed first (the first registration of a token in
// a realm wins; registering identical details again is fine; another
// realm's record of the same token is another record), then it is written to an index entry of its scope
// (one entry holds up to maxIndexBatch records registered together); a
// claim whose index entry cannot be written is rolled back.
func (s *Store) Register(ctx context.Context, recs []publisher.Record) []error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	errs := make([]error, len(recs))
	now := time.Now()
	claims := make([]*nats.Msg, len(recs))
	for i := range recs {
		claims[i] = s.msg(recordKey(&recs[i]), encode(&recs[i]), recs[i].ExpiresAt, now, "0")
	}
	acks := s.pipe.PublishAll(ctx, claims)
	fresh := make([]bool, len(recs))
	var idx []int
	for i, a := range acks {
		switch {
		case a.Err == nil:
			fresh[i] = true
			idx = append(idx, i)
		case isWrongLastSeq(a.Err):
			if errs[i] = s.reclaim(ctx, &recs[i], now); errs[i] == nil {
				idx = append(idx, i)
			}
		default:
			errs[i] = fmt.Errorf("could not store: %w", a.Err)
		}
	}
	groups := groupByScope(recs, idx)
	index := make([]*nats.Msg, len(groups))
	for g, members := range groups {
		batch := make([]publisher.Record, len(members))
		exp := time.Time{}
		for k, i := range members {
			batch[k] = recs[i]
			if recs[i].ExpiresAt.After(exp) {
				exp = recs[i].ExpiresAt
			}
		}
		index[g] = s.msg(indexKey(&batch[0], nuid.Next()), encodeBatch(batch), exp, now, "")
	}
	for g, a := range s.pipe.PublishAll(ctx, index) {
		if a.Err == nil {
			continue
		}
		for _, i := range groups[g] {
			errs[i] = fmt.Errorf("could not store the index: %w", a.Err)
			if fresh[i] {
				_ = s.kv.Delete(context.WithoutCancel(ctx), recordKey(&recs[i]))
			}
		}
	}
	return errs
}

// groupByScope splits the records at idx into groups of one scope (realm,
// user, client) of at most maxIndexBatch.
func groupByScope(recs []publisher.Record, idx []int) [][]int {
	type scope struct{ realm, user, client string }
	open := map[scope]int{} // scope → its group being filled
	var groups [][]int
	for _, i := range idx {
		k := scope{recs[i].Realm, recs[i].User, recs[i].Client}
		g, ok := open[k]
		if !ok || len(groups[g]) >= maxIndexBatch {
			g = len(groups)
			groups = append(groups, nil)
			open[k] = g
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// reclaim handles a record key that already holds a message: identical
// details are fine; a deletion marker, an expiry marker or an expired record
// (the server removes it within a second) is replaced; anything else is a
// conflict.
func (s *Store) reclaim(ctx context.Context, r *publisher.Record, now time.Time) error {
	last, err := s.stream.GetLastMsgForSubject(ctx, s.prefix+recordKey(r))
	if err != nil {
		return fmt.Errorf("could not read the existing record: %w", err)
	}
	if last.Header.Get("KV-Operation") == "" && last.Header.Get("Nats-Marker-Reason") == "" {
		prev, err := decode(last.Data)
		switch {
		case err == nil && sameRecord(&prev, r):
			return nil
		case err != nil || prev.ExpiresAt.After(now):
			return ErrConflict
		}
	}
	m := s.msg(recordKey(r), encode(r), r.ExpiresAt, now, strconv.FormatUint(last.Sequence, 10))
	if a := s.pipe.PublishAll(ctx, []*nats.Msg{m}); a[0].Err != nil {
		if isWrongLastSeq(a[0].Err) {
			return ErrConflict
		}
		return fmt.Errorf("could not store: %w", a[0].Err)
	}
	return nil
}

func (s *Store) msg(key string, data []byte, exp, now time.Time, expectSeq string) *nats.Msg {
	m := nats.NewMsg(s.prefix + key)
	m.Data = data
	m.Header.Set(jetstream.MsgTTLHeader, strconv.FormatInt(int64(events.MsgTTL(exp, now)/time.Second), 10)+"s")
	if expectSeq != "" {
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, expectSeq)
	}
	return m
}

func isWrongLastSeq(err error) bool {
	var ae *jetstream.APIError
	return errors.As(err, &ae) && (ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) // the latter on replicated streams
}

func sameRecord(a, b *publisher.Record) bool {
	return a.Sum == b.Sum && a.JTI == b.JTI && a.Type == b.Type && a.Realm == b.Realm && a.User == b.User &&
		a.Client == b.Client && a.Parent == b.Parent && a.ExpiresAt.Equal(b.ExpiresAt)
}
