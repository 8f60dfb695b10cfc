package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/eventsio"
	"github.com/revocast/revocast/internal/jwttest"
	"github.com/revocast/revocast/internal/natsauth"
)

// revocastRun runs the binary to completion (at most two minutes) and
// returns its standard output and error.
func revocastRun(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// revocastMust is revocastRun that fails the test on an error.
func revocastMust(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errOut, err := revocastRun(t, args...)
	if err != nil {
		t.Fatalf("revocast %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out, errOut
}

// Disaster recovery through the real binary, on revocast dev's NATS with
// the operator's credentials: an export of single tokens, a bulk revocation
// (a batch), a JWT ID and rules; the streams deleted; revocast init; the
// import. The dev sidecar, and a sidecar started afterwards, deny
// everything they denied before (tokens, the JWT ID, JWTs a rule covers),
// the fronts count imported tokens as revoked already, and a second import
// stores nothing.
func TestE2EDisasterRecoveryExportImport(t *testing.T) {
	dir := t.TempDir()
	d := startDev(t, dir, nil)
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })
	operator := filepath.Join(dir, "nats", natsauth.CredsFile(natsauth.Operator))
	natsArgs := []string{"--nats-url", d.nats, "--nats-creds", operator}

	for _, tok := range []string{"dr-single-1", "dr-single-2"} {
		if r := esRevoke(t, d.front, `{"token":"`+tok+`"}`); r.body != fmt.Sprintf(counts, 1, 0, 0) {
			t.Fatalf("revoke %s: %d %s", tok, r.code, r.body)
		}
	}
	lines, bulk := pairs("dr-bulk", "saml1", "alice", testID, 30) // 60 tokens: a batch event, and a realm_user rule
	register(t, d.front, lines)
	if r := esRevoke(t, d.front, `{"username":"alice","realm_name":"saml1"}`); r.body != fmt.Sprintf(counts, 60, 0, 0) {
		t.Fatalf("revoke alice: %d %s", r.code, r.body)
	}
	if r := esRevoke(t, d.front, `{"realm_name":"saml9"}`); r.code != 200 {
		t.Fatalf("revoke realm saml9: %d %s", r.code, r.body)
	}
	r := httpDo(t, "POST", d.front+"/v1/revocations", "application/json",
		`{"jwt_id":{"iss":"https://idp.example.com","jti":"dr-jti"}}`, "Authorization", testBasic)
	if r.code != 200 {
		t.Fatalf("revoke a JWT ID: %d %s", r.code, r.body)
	}
	key := jwttest.Key(t)
	iat := time.Now().Add(-time.Minute).Unix()
	jwts := []string{
		jwttest.ES256(t, key, jwt.MapClaims{"iss": "https://idp.example.com", "jti": "dr-jti", "sub": "x"}),
		jwttest.ES256(t, key, jwt.MapClaims{"iss": "saml1", "sub": "alice", "iat": iat}),  // the realm_user rule
		jwttest.ES256(t, key, jwt.MapClaims{"iss": "saml9", "sub": "anyone", "iat": iat}), // the realm rule
	}
	revoked := append(append([]string{"dr-single-1", "dr-single-2"}, bulk...), jwts...)
	allowed := []string{"never-revoked", jwttest.ES256(t, key, jwt.MapClaims{"iss": "saml1", "sub": "bob", "iat": iat})}
	waitFor(t, "the dev sidecar denying everything revoked", func() bool { return allDenied(d.side, revoked) })

	out, _ := revocastMust(t, append([]string{"events", "info", "--json", "--listen", "1s"}, natsArgs...)...)
	var info infoReport
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("events info --json: %v\n%s", err, out)
	}
	if k := info.Kinds; k["token"].Messages != 2 || k["batch"].Messages != 1 || k["batch"].Tokens != 60 ||
		k["jwt_id"].Messages != 1 || k["rule"].Messages != 2 || info.Ledger == nil || info.Ledger.TokenMarks != 63 || info.Ledger.RuleMarks != 2 {
		t.Fatalf("events info: %s", out)
	}
	if len(info.Sidecars) != 1 || info.Sidecars[0].ID != "dev" || info.Sidecars[0].Lag == nil || *info.Sidecars[0].Lag != 0 {
		t.Fatalf("events info sidecars: %+v", info.Sidecars)
	}
	tail, _ := revocastMust(t, append([]string{"events", "tail", "--from-start", "--max", "6"}, natsArgs...)...)
	if n := strings.Count(tail, "\n"); n != 6 || !strings.Contains(tail, "batch tokens=60") ||
		!strings.Contains(tail, `rule scope=realm_user realm="saml1" user="alice"`) ||
		!strings.Contains(tail, "key="+events.TokenKey("dr-single-1").Short()+" ") ||
		strings.Contains(tail, events.TokenKey("dr-single-1").String()) {
		t.Fatalf("events tail (%d lines):\n%s", n, tail)
	}

	// A front's identity may not read REVOCAST: the command says which identity it needs.
	_, errOut, err := revocastRun(t, "events", "export", "--nats-url", d.nats, "--nats-creds", d.frontCreds(), "--nats-timeout", "1s")
	if err == nil || !strings.Contains(errOut, "need the operator's identity") {
		t.Fatalf("export with a front's credentials: %v\n%s", err, errOut)
	}

	file := filepath.Join(t.TempDir(), "revocations.ndjson")
	_, progress := revocastMust(t, append([]string{"events", "export", "--out", file}, natsArgs...)...)
	if !strings.Contains(progress, "export: 65 records from 6 events") {
		t.Fatalf("export said: %s", progress)
	}
	records := exportRecords(t, file)
	if len(records) != 65 {
		t.Fatalf("the export holds %d records, want 2 tokens, 60 batch tokens, a JWT ID and 2 rules (65)", len(records))
	}

	// The disaster: both streams gone, as on a lost volume.
	nc, err := nats.Connect(d.nats, natsauth.ClientOptions(operator, natsauth.Operator, "")...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{events.DefaultStreamName, events.StreamOptions{}.LedgerName()} {
		if err := js.DeleteStream(context.Background(), s); err != nil {
			t.Fatalf("delete %s: %v", s, err)
		}
	}
	waitFor(t, "the dev sidecar forgetting every revocation with the stream", func() bool {
		return check(d.side, "dr-single-1") == 204 && check(d.side, jwts[1]) == 204
	})

	revocastMust(t, append([]string{"init"}, natsArgs...)...)
	out, progress = revocastMust(t, append([]string{"events", "import", "--in", file}, natsArgs...)...)
	var sum importSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("import summary: %v: %s", err, out)
	}
	if sum.Records != 65 || sum.Stored != 65 || sum.Present != 0 || sum.LedgerStored != 65 || sum.LastStoredLine != 66 {
		t.Fatalf("import: %s\n%s", out, progress)
	}

	side2 := start(t, nil, "subscriber", "--id", "after-dr", "--subscriber-addr", "127.0.0.1:0", "--nats-url", d.nats,
		"--nats-creds", d.sidecarCreds(t, "after-dr"))
	side2URL := side2.addr("subscriber")
	waitFor(t, "a sidecar started after the import ready", func() bool { return httpDo(t, "GET", side2URL+"/readyz", "", "").code == 200 })
	for name, side := range map[string]string{"the dev sidecar": d.side, "a new sidecar": side2URL} {
		waitFor(t, name+" denying everything denied before", func() bool { return allDenied(side, revoked) })
		for _, tok := range allowed {
			if c := check(side, tok); c != 204 {
				t.Fatalf("%s answers %d for a token nobody revoked", name, c)
			}
		}
	}
	// The ledger marks came back: the front counts these tokens as revoked already.
	if r := esRevoke(t, d.front, `{"token":"dr-single-1"}`); r.body != fmt.Sprintf(counts, 0, 1, 0) {
		t.Fatalf("revoking an imported token again: %s", r.body)
	}

	seq := lastSeq(t, js, events.DefaultStreamName)
	lseq := lastSeq(t, js, events.StreamOptions{}.LedgerName())
	out, _ = revocastMust(t, append([]string{"events", "import", "--in", file}, natsArgs...)...)
	sum = importSummary{}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Stored != 0 || sum.LedgerStored != 0 || sum.Present != 65 {
		t.Fatalf("a second import: %s (%v)", out, err)
	}
	if s, l := lastSeq(t, js, events.DefaultStreamName), lastSeq(t, js, events.StreamOptions{}.LedgerName()); s != seq || l != lseq {
		t.Fatalf("a second import stored something: the streams went from %d/%d to %d/%d", seq, lseq, s, l)
	}
}

// exportRecords reads an export file's records.
func exportRecords(t *testing.T, path string) []eventsio.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, eventsio.MaxLine)
	if !sc.Scan() {
		t.Fatal("an empty export")
	}
	if _, err := eventsio.ParseHeader(sc.Bytes()); err != nil {
		t.Fatal(err)
	}
	var out []eventsio.Record
	for sc.Scan() {
		r, err := eventsio.ParseRecord(sc.Bytes())
		if err != nil {
			t.Fatalf("export line %d: %v", len(out)+2, err)
		}
		out = append(out, r)
	}
	return out
}

func lastSeq(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	st, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().State.LastSeq
}
