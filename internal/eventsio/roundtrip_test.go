package eventsio

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/publisher"
)

// node is a JetStream server with the streams, and a store on it.
type node struct {
	s     *server.Server
	js    jetstream.JetStream
	store *publisher.JetStreamStore
}

func newNode(t *testing.T, storeTimeout time.Duration) *node {
	t.Helper()
	s := natstest.Start(t)
	nc := natstest.Connect(t, s)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.EnsureStream(context.Background(), js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := publisher.NewJetStreamStore(nc, storeTimeout, publisher.StoreMetrics{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &node{s: s, js: js, store: st}
}

// append stores entries, 500 at a time (see appendSlice).
func (n *node) append(t *testing.T, entries ...publisher.Entry) {
	t.Helper()
	for from := 0; from < len(entries); from += appendSlice {
		part := entries[from:min(from+appendSlice, len(entries))]
		for i, o := range n.store.Append(context.Background(), part) {
			if o.Status != publisher.Stored {
				t.Fatalf("storing %s: %v %v", part[i].Subject, o.Status, o.Err)
			}
		}
	}
}

func (n *node) event(t *testing.T, ev events.Event, id string) publisher.Entry {
	t.Helper()
	e, err := publisher.EventEntry(ev, events.DefaultStreamName, id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (n *node) lastSeq(t *testing.T, stream string) uint64 {
	t.Helper()
	st, err := n.js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().State.LastSeq
}

// populate stores what a front would for: two single tokens (one in realm
// saml1), a JWT ID, a bulk revocation of 1,200 tokens in three batches (realm
// bulk), two rules, a legacy (schema 1) token, and a token about to expire;
// with the ledger marks the front writes.
func populate(t *testing.T, n *node, now time.Time) {
	t.Helper()
	ledger := events.StreamOptions{}.LedgerName()
	exp := now.Add(time.Hour).Truncate(time.Second)
	single := events.NewTokenRevocation(events.TokenKey("single"), events.AccessToken, exp, now)
	single.Realm, single.User = "saml1", "alice"
	jti := events.NewJTIRevocation(events.JTIKey("https://idp", "j-1"), exp, now)
	legacy := events.NewTokenRevocation(events.LegacyTokenKey("legacy"), "", exp, now)
	legacy.Version = events.LegacyKeyVersion
	soon := events.NewTokenRevocation(events.TokenKey("soon"), "", now.Add(2*time.Second), now)
	realm := events.NewRule(events.Rule{Scope: events.ScopeRealm, Realm: "saml1"}, now, 2*time.Hour)
	consent := events.NewRule(events.Rule{Scope: events.ScopeConsent, Realm: "saml1", User: "bob", Client: "app"}, now, 2*time.Hour)
	var entries []publisher.Entry
	for i, ev := range []events.Event{single, jti, legacy, soon, realm, consent} {
		entries = append(entries, n.event(t, ev, fmt.Sprintf("req-%d", i)))
	}
	n.append(t, entries...)
	entries = entries[:0]
	var items []events.TokenItem
	for i := range 1200 {
		items = append(items, events.TokenItem{Token: events.TokenKey(fmt.Sprintf("bulk-%d", i)), ExpiresAt: exp.Add(time.Duration(i) * time.Second)})
	}
	for b := 0; b*events.MaxBatch < len(items); b++ {
		part := items[b*events.MaxBatch : min((b+1)*events.MaxBatch, len(items))]
		entries = append(entries, n.event(t, events.NewTokenBatch("bulkreq", b, part, now), fmt.Sprintf("bulk-%d", b)))
	}
	n.append(t, entries...)
	entries = entries[:0]
	for _, it := range items {
		entries = append(entries, publisher.LedgerEntry(it.Token, "bulk", it.ExpiresAt, ledger, "bulk."+it.Token.String()))
	}
	entries = append(entries,
		publisher.LedgerEntry(single.Token, "saml1", exp, ledger, "m1"),
		publisher.LedgerEntry(jti.Token, "", exp, ledger, "m2"),
		publisher.LedgerRuleEntry(realm.Rule(), realm.ExpiresAt, ledger, "m3"))
	n.append(t, entries...)
}

func export(t *testing.T, n *node, now time.Time) ([]byte, ExportResult) {
	t.Helper()
	var buf bytes.Buffer
	res, err := Export(context.Background(), n.js, ExportOptions{Now: func() time.Time { return now }}, &buf)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	return buf.Bytes(), res
}

func importFile(t *testing.T, n *node, file []byte, o ImportOptions) (ImportResult, error) {
	t.Helper()
	o.Store = n.store
	return Import(context.Background(), n.js, o, bytes.NewReader(file))
}

// key names a record without what an import may change (its batch's
// name, its time left).
func keys(t *testing.T, file []byte) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(file))
	sc.Buffer(nil, MaxLine)
	sc.Scan() // the header
	for sc.Scan() {
		r, err := ParseRecord(sc.Bytes())
		if err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		out = append(out, fmt.Sprintf("%s v%d %s jti=%t batch=%t realm_key=%s realm=%s %s %s exp=%s ib=%s",
			r.Kind, r.V, r.Token, r.JTI, r.Batch, r.RealmKey, r.Realm, r.Rule(), r.TokenType,
			r.ExpiresAt.Format(time.RFC3339Nano), r.IssuedBefore.Format(time.RFC3339)))
	}
	sort.Strings(out)
	return out
}

// An export imported into a fresh server holds the same revocations (the
// same export comes out of it), with every ledger mark; importing it again
// stores nothing, and neither does importing the first server's export
// into the first server.
func TestExportImportRoundTrip(t *testing.T) {
	now := time.Now().UTC()
	src := newNode(t, 30*time.Second)
	populate(t, src, now)
	file, res := export(t, src, now)
	if res.Records != 2+1+1+1200+2 || res.Events != 6+3 || res.LedgerMarks != 1202 {
		t.Fatalf("export: %+v (the token about to expire counts: it is live at export)", res)
	}
	// A second later the 2 s token has a second left; import after it expired.
	later := now.Add(3 * time.Second)

	dst := newNode(t, 30*time.Second)
	ir, err := importFile(t, dst, file, ImportOptions{Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	want := ImportResult{Header: ir.Header, Records: 1206, Expired: 1, Stored: 1205, StoredEvents: 5 + 3,
		LedgerStored: 1203 + 2, LastStoredLine: 1207}
	if ir != want {
		t.Fatalf("import:\n got %+v\nwant %+v", ir, want)
	}
	again, _ := export(t, dst, now)
	srcKeys, dstKeys := keys(t, file), keys(t, again)
	srcKeys = without(srcKeys, events.TokenKey("soon").String())
	if strings.Join(srcKeys, "\n") != strings.Join(dstKeys, "\n") {
		t.Fatalf("the imported stream exports other revocations:\n%s\n---\n%s", strings.Join(srcKeys, "\n"), strings.Join(dstKeys, "\n"))
	}

	seq, lseq := dst.lastSeq(t, events.DefaultStreamName), dst.lastSeq(t, events.StreamOptions{}.LedgerName())
	ir, err = importFile(t, dst, file, ImportOptions{Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	if ir.Stored != 0 || ir.LedgerStored != 0 || ir.Present != 1205 || ir.LedgerPresent != 1203 {
		t.Fatalf("a second import: %+v, want nothing stored", ir)
	}
	if s, l := dst.lastSeq(t, events.DefaultStreamName), dst.lastSeq(t, events.StreamOptions{}.LedgerName()); s != seq || l != lseq {
		t.Fatalf("a second import moved the streams from %d/%d to %d/%d", seq, lseq, s, l)
	}
}

func without(keys []string, hash string) []string {
	var out []string
	for _, k := range keys {
		if !strings.Contains(k, hash) {
			out = append(out, k)
		}
	}
	return out
}

// A stream that holds a later revocation of a token keeps it; an earlier one
// is replaced; a rule keeps the later of both times.
func TestImportNeverShortensARevocation(t *testing.T) {
	now := time.Now().UTC()
	n := newNode(t, 5*time.Second)
	hour := now.Add(time.Hour).Truncate(time.Second)
	later := events.NewTokenRevocation(events.TokenKey("kept"), "", hour.Add(time.Hour), now)
	earlier := events.NewTokenRevocation(events.TokenKey("replaced"), "", hour.Add(-30*time.Minute), now)
	rule := events.NewRule(events.Rule{Scope: events.ScopeUser, User: "u"}, now, 90*time.Minute)
	n.append(t, n.event(t, later, "a"), n.event(t, earlier, "b"), n.event(t, rule, "c"))

	ib := now.Add(-time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	file := fmt.Sprintf(`{"format":"revocast-events","version":1,"stream":"REVOCAST"}
{"kind":"token","v":2,"token_sha256":"%s","expires_at":"%s"}
{"kind":"token","v":2,"token_sha256":"%s","expires_at":"%s"}
{"kind":"rule","v":2,"scope":"user","user":"u","issued_before":"%s","expires_at":"%s"}
`, events.TokenKey("kept"), hour.Format(time.RFC3339), events.TokenKey("replaced"), hour.Format(time.RFC3339),
		ib, now.Add(3*time.Hour).Format(time.RFC3339))
	ir, err := importFile(t, n, []byte(file), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ir.Present != 1 || ir.Stored != 2 {
		t.Fatalf("import: %+v, want the later token kept and the rest stored", ir)
	}
	st, _ := n.js.Stream(context.Background(), events.DefaultStreamName)
	get := func(subject string) events.Event {
		m, err := st.GetLastMsgForSubject(context.Background(), subject)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := events.Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	if ev := get(events.TokenSubject(events.TokenKey("kept"))); !ev.ExpiresAt.Equal(later.ExpiresAt) {
		t.Fatalf("the later revocation was shortened to %s", ev.ExpiresAt)
	}
	if ev := get(events.TokenSubject(events.TokenKey("replaced"))); !ev.ExpiresAt.Equal(hour) {
		t.Fatalf("the earlier revocation is still there, until %s", ev.ExpiresAt)
	}
	ev := get(rule.Subject())
	if !ev.IssuedBefore.Equal(rule.IssuedBefore) || !ev.ExpiresAt.Equal(now.Add(3*time.Hour).Truncate(time.Second)) {
		t.Fatalf("the rule is issued before %s until %s; want the stored %s and the imported %s",
			ev.IssuedBefore, ev.ExpiresAt, rule.IssuedBefore, now.Add(3*time.Hour).Truncate(time.Second))
	}
}

// A bad line stops the import, naming it and the last line stored (the
// chunks before it); fixed, the import resumes from the line after and
// stores the rest, and a whole import again stores nothing. The same when
// storing fails: the ledger stream is gone.
func TestImportFailsNamingTheLineAndResumes(t *testing.T) {
	now := time.Now().UTC()
	exp := now.Add(time.Hour).Format(time.RFC3339)
	var b strings.Builder
	b.WriteString(`{"format":"revocast-events","version":1,"stream":"REVOCAST"}` + "\n")
	for i := range 25 {
		fmt.Fprintf(&b, `{"kind":"token","v":2,"batch":%t,"token_sha256":"%s","expires_at":"%s"}`+"\n",
			i%2 == 0, events.TokenKey(fmt.Sprint(i)), exp)
	}
	good := b.String()
	lines := strings.Split(good, "\n")
	lines[18] = `{"kind":"token","v":2,"token_sha256":"not a hash","expires_at":"` + exp + `"}` // line 19
	bad := strings.Join(lines, "\n")

	n := newNode(t, 2*time.Second)
	o := ImportOptions{ChunkLines: 10} // lines 2-11, 12-21, 22-26
	_, err := importFile(t, n, []byte(bad), o)
	var ie *ImportError
	if !errors.As(err, &ie) || ie.Line != 19 || ie.LastStoredLine != 11 || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("import of a file with a bad line 19: %v", err)
	}
	o.ResumeFromLine = ie.LastStoredLine + 1
	ir, err := importFile(t, n, []byte(good), o)
	if err != nil {
		t.Fatal(err)
	}
	if ir.Skipped != 10 || ir.Stored != 15 || ir.LastStoredLine != 26 {
		t.Fatalf("resumed import: %+v", ir)
	}
	ir, err = importFile(t, n, []byte(good), ImportOptions{ChunkLines: 10})
	if err != nil || ir.Stored != 0 || ir.Present != 25 || ir.LedgerStored != 0 {
		t.Fatalf("the whole file again: %+v %v", ir, err)
	}

	fresh := newNode(t, 2*time.Second)
	if err := fresh.js.DeleteStream(context.Background(), events.StreamOptions{}.LedgerName()); err != nil {
		t.Fatal(err)
	}
	_, err = importFile(t, fresh, []byte(good), ImportOptions{ChunkLines: 10})
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "ledger") {
		t.Fatalf("import without a ledger: %v", err)
	}
}
